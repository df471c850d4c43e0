"""The GAN training loop: a real tiny run, resume after a stop, summaries, bad input."""

import dataclasses
import glob
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from common import runtime
from data import pipeline
from data.core import DataError, ItemImages
from gan_tf import losses, train_lib
from tests.testlib.gan import tiny_config, two_category_dataset


def _d_scores(trainer, images, category):
    """Mean D(x) on real images and on fakes of the same categories (fixed z), inference mode."""
    z = train_lib.sample_z(trainer.config, 10_000, len(images))
    fakes = trainer.generator([z, category], training=False)
    real = trainer.discriminator([images, category], training=False)
    fake = trainer.discriminator([fakes, category], training=False)
    return float(tf.reduce_mean(real)), float(tf.reduce_mean(fake))


def test_discriminator_learns_real_from_fake():
    """A few real steps: D(x) moves towards 1 and D(G(z)) stays below it, the D loss falls."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(), ds)
    trainer = train_lib.Trainer(config)
    batches = iter(pipeline.gan_dataset(ds, 16, 16, seed=0))
    probe = next(iter(pipeline.gan_dataset(ds, 16, 32, seed=1)))
    real0, fake0 = _d_scores(trainer, probe["image"], probe["category"])
    first = None
    for _ in range(12):
        batch = next(batches)
        out = trainer.train_step(batch["image"], batch["category"])
        first = first or {k: float(v) for k, v in out.items()}
    last = {k: float(v) for k, v in out.items()}
    real1, fake1 = _d_scores(trainer, probe["image"], probe["category"])
    assert int(trainer.step.numpy()) == 12
    # At initialisation D scores everything near 0 (real loss ~1).
    assert abs(real0) < 0.5 and abs(fake0) < 0.5
    assert real1 - fake1 > (real0 - fake0) + 0.2
    assert (real1 - 1) ** 2 < (real0 - 1) ** 2
    assert last["d_loss"] < first["d_loss"]
    assert last["d_real"] > last["d_fake"]


def test_nonsaturating_discriminator_learns_real_from_fake():
    """Under the logistic loss D's logits part: real above fake, and the D loss falls
    from its chance value 2 log 2 (both halves scored 0)."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(loss="nonsaturating"), ds)
    trainer = train_lib.Trainer(config)
    batches = iter(pipeline.gan_dataset(ds, 16, 16, seed=0))
    probe = next(iter(pipeline.gan_dataset(ds, 16, 32, seed=1)))
    real0, fake0 = _d_scores(trainer, probe["image"], probe["category"])
    outs = [
        {k: float(v) for k, v in trainer.train_step(b["image"], b["category"]).items()}
        for b in (next(batches) for _ in range(12))
    ]
    real1, fake1 = _d_scores(trainer, probe["image"], probe["category"])
    assert abs(outs[0]["d_loss"] - 2 * np.log(2)) < 0.25  # the LSGAN's starts near 1
    assert np.mean([o["d_loss"] for o in outs[-4:]]) < outs[0]["d_loss"] - 0.2
    assert real1 - fake1 > (real0 - fake0) + 0.2


@pytest.mark.parametrize("mode", ["separate", "joint"])
def test_batch_norm_sees_real_and_fake_as_configured(mode):
    """The step's D scores and loss equal a reference of its mode and differ from the other
    mode's; "separate" updates the moving statistics twice (real, then fake), "joint" once."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(d_batch_norm=mode), ds)
    trainer = train_lib.Trainer(config)
    d, batch = trainer.discriminator, next(iter(pipeline.gan_dataset(ds, 16, 16, seed=0)))
    images, category = batch["image"], batch["category"]
    # The step's fakes: G in training mode on step 0's z (batch statistics only, so
    # this call's side effect on G's moving statistics does not change them).
    fakes = trainer.generator([train_lib.sample_z(config, 0, 16), category], training=True)
    # conv1's output is the input of D's first batch norm (conv0 has none).
    conv1 = tf.keras.Model(d.inputs, d.get_layer("conv1").output)
    pre_bn = {
        "real": conv1([images, category]).numpy(),
        "fake": conv1([fakes, category]).numpy(),
    }
    reference = {}
    for form in ("separate", "joint"):
        if form == "separate":
            real = d([images, category], training=True)
            fake = d([fakes, category], training=True)
        else:
            both = d([tf.concat([images, fakes], 0), tf.concat([category] * 2, 0)], training=True)
            real, fake = both[:16], both[16:]
        reference[form] = np.array(
            [
                float(tf.reduce_mean((real - 1) ** 2) + tf.reduce_mean(fake**2)),
                float(tf.reduce_mean(real)),
                float(tf.reduce_mean(fake)),
            ]
        )
    # The reference calls above moved the moving statistics: start from where they are.
    bn = d.get_layer("conv1_bn")
    mean0, var0 = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    out = trainer.train_step(images, category)
    got = np.array([float(out[k]) for k in ("d_loss", "d_real", "d_fake")])
    other = "joint" if mode == "separate" else "separate"
    np.testing.assert_allclose(got, reference[mode], rtol=1e-4, atol=1e-5)
    assert np.abs(got - reference[other]).max() > 100 * (1e-4 * np.abs(got).max() + 1e-5)

    # Batch statistics over batch and space, biased variance (Keras's), momentum m.
    def stats(x):
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        return x.mean(0), x.var(0)

    m = config.bn_momentum
    (mean_r, var_r), (mean_f, var_f) = stats(pre_bn["real"]), stats(pre_bn["fake"])
    if mode == "separate":
        want_mean = m * (m * mean0 + (1 - m) * mean_r) + (1 - m) * mean_f
        want_var = m * (m * var0 + (1 - m) * var_r) + (1 - m) * var_f
    else:
        mean_b, var_b = stats(np.concatenate([pre_bn["real"], pre_bn["fake"]]))
        want_mean, want_var = m * mean0 + (1 - m) * mean_b, m * var0 + (1 - m) * var_b
    np.testing.assert_allclose(bn.moving_mean.numpy(), want_mean, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), want_var, rtol=1e-4, atol=1e-6)


def test_r1_penalty_is_half_gamma_times_the_squared_input_gradient():
    """d_r1_gamma / 2 * mean |grad_x D(x, c)|^2 over the real batch, the gradient checked by
    central differences; the step reports it, and D's update differs from the plain loss's."""
    ds = two_category_dataset(size=8)
    gamma = 3.0
    config = train_lib.config_for_dataset(
        tiny_config(
            resolution=8, g_widths=(8,), channels=1, d_batch_norm="separate", d_r1_gamma=gamma
        ),
        ds,
    )
    trainer = train_lib.Trainer(config)
    rng = np.random.default_rng(0)
    real = tf.constant(rng.uniform(-1, 1, (2, 8, 8, 1)), tf.float32)
    fakes = tf.constant(rng.uniform(-1, 1, (2, 8, 8, 1)), tf.float32)
    category = tf.constant([0, 1], tf.int32)
    _, _, penalty = trainer._discriminate_with_penalty(real, category, fakes, category)

    # "separate": the real scores depend on the real images only, so the
    # penalty's gradient is that of F(x) = sum_i D(x_i, c_i) (training mode).
    score_sum = tf.function(
        lambda x: tf.reduce_sum(trainer.discriminator([x, category], training=True))
    )
    flat = real.numpy().reshape(-1).astype(np.float64)
    eps = 1e-2
    grads = np.zeros_like(flat)
    for j in range(flat.size):
        step = np.zeros_like(flat)
        step[j] = eps
        up = float(score_sum(tf.constant((flat + step).reshape(2, 8, 8, 1), tf.float32)))
        down = float(score_sum(tf.constant((flat - step).reshape(2, 8, 8, 1), tf.float32)))
        grads[j] = (up - down) / (2 * eps)
    expected = 0.5 * gamma * np.mean(np.sum(grads.reshape(2, -1) ** 2, axis=1))
    assert float(penalty) == pytest.approx(expected, rel=0.02)
    assert expected > 0

    plain = train_lib.Trainer(dataclasses.replace(config, d_r1_gamma=0.0))
    for net, other_net in [
        (plain.discriminator, trainer.discriminator),
        (plain.generator, trainer.generator),
    ]:
        for weight, other in zip(net.weights, other_net.weights, strict=True):
            other.assign(weight)
    out = trainer.train_step(real, category)
    plain_out = plain.train_step(real, category)
    assert "d_r1_loss" in out and "d_r1_loss" not in plain_out
    assert float(out["d_r1_loss"]) > 0
    assert float(out["d_loss"]) == pytest.approx(float(plain_out["d_loss"]), rel=1e-5)
    moved = [
        float(tf.reduce_max(tf.abs(a - b)))
        for a, b in zip(
            trainer.discriminator.trainable_weights,
            plain.discriminator.trainable_weights,
            strict=True,
        )
    ]
    assert max(moved) > 1e-6
    with pytest.raises(ValueError, match="d_r1_gamma"):
        tiny_config(d_r1_gamma=-1.0)


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_alternating_update_steps_g_through_the_updated_d(update):
    """Alternating (the paper, the release): G's loss is taken through D after D's step."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(update=update), ds)
    trainer = train_lib.Trainer(config)
    g, d = trainer.generator, trainer.discriminator
    g_before = [w.numpy() for w in g.weights]
    d_before = [w.numpy() for w in d.weights]
    batch = next(iter(pipeline.gan_dataset(ds, 16, 16, seed=0)))
    images, category = batch["image"], batch["category"]
    z = train_lib.sample_z(config, 0, 16)
    out = trainer.train_step(images, category)
    d_after = [w.numpy() for w in d.weights]

    def g_loss_with(d_weights):
        # G as before the step; D in the given state; both in training mode as the step runs them.
        for w, v in zip(g.weights, g_before, strict=True):
            w.assign(v)
        for w, v in zip(d.weights, d_weights, strict=True):
            w.assign(v)
        fakes = g([z, category], training=True)
        scores = trainer._discriminate(images, category, fakes, category)[1]
        return float(tf.reduce_mean(tf.square(scores - 1.0)))

    through_updated_d = g_loss_with(d_after)
    through_initial_d = g_loss_with(d_before)
    assert abs(through_updated_d - through_initial_d) > 1e-3
    expected = through_updated_d if update == "alternating" else through_initial_d
    assert float(out["g_loss"]) == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_mode_seeking_loss_matches_numpy():
    rng = np.random.default_rng(0)
    fakes = rng.uniform(-1, 1, (6, 4, 4, 3)).astype(np.float32)
    z = rng.uniform(-1, 1, (6, 5)).astype(np.float32)
    ratio = np.abs(fakes[:3] - fakes[3:]).mean() / np.abs(z[:3] - z[3:]).mean()
    got = float(losses.mode_seeking_loss(tf.constant(fakes), tf.constant(z)))
    assert got == pytest.approx(1.0 / (ratio + 1e-5), rel=1e-5)
    # Pooled to a 2x2 grid: the distance between 2x2 block means.
    blocks = fakes.reshape(6, 2, 2, 2, 2, 3).mean(axis=(2, 4))
    ratio = np.abs(blocks[:3] - blocks[3:]).mean() / np.abs(z[:3] - z[3:]).mean()
    got = float(losses.mode_seeking_loss(tf.constant(fakes), tf.constant(z), pool=2))
    assert got == pytest.approx(1.0 / (ratio + 1e-5), rel=1e-5)
    # A G that ignores z is penalised by 1 / epsilon.
    same = np.concatenate([fakes[:3], fakes[:3]])
    assert float(losses.mode_seeking_loss(tf.constant(same), tf.constant(z))) == pytest.approx(
        1e5, rel=1e-3
    )


@pytest.mark.parametrize("update", ["alternating", "simultaneous"])
def test_mode_seeking_pairs_share_a_category_and_steer_g(update):
    """With g_mode_seeking_weight, fakes i and i + B/2 are drawn for the same category, the
    step reports the term on G's pre-step images, and G's update follows g_loss + w * term."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(update=update, g_mode_seeking_weight=2.0), ds)
    trainer = train_lib.Trainer(config)
    plain = train_lib.Trainer(dataclasses.replace(config, g_mode_seeking_weight=0.0))
    for net, other_net in [
        (trainer.discriminator, plain.discriminator),
        (trainer.generator, plain.generator),
    ]:
        for weight, other in zip(net.weights, other_net.weights, strict=True):
            other.assign(weight)
    g_before = [w.numpy() for w in trainer.generator.weights]
    batch = next(iter(pipeline.gan_dataset(ds, 16, 16, seed=0)))
    images, category = batch["image"], batch["category"]
    assert not np.array_equal(category[:8].numpy(), category[8:].numpy())
    z = train_lib.sample_z(config, 0, 16)
    out = trainer.train_step(images, category)
    plain_out = plain.train_step(images, category)
    assert "g_mode_seeking_loss" in out and "g_mode_seeking_loss" not in plain_out

    paired = tf.tile(category[:8], [2])
    probe = train_lib.Trainer(config)
    for w, v in zip(probe.generator.weights, g_before, strict=True):
        w.assign(v)
    fakes = probe.generator([z, paired], training=True)
    expected = float(losses.mode_seeking_loss(fakes, z))
    assert float(out["g_mode_seeking_loss"]) == pytest.approx(expected, rel=1e-4)
    moved = [
        float(tf.reduce_max(tf.abs(a - b)))
        for a, b in zip(
            trainer.generator.trainable_weights, plain.generator.trainable_weights, strict=True
        )
    ]
    assert max(moved) > 1e-6
    with pytest.raises(ValueError, match="batch_size must be even"):
        tiny_config(g_mode_seeking_weight=1.0, batch_size=15)
    with pytest.raises(ValueError, match="g_mode_seeking_weight"):
        tiny_config(g_mode_seeking_weight=-1.0)
    with pytest.raises(ValueError, match="g_mode_seeking_pool"):
        tiny_config(g_mode_seeking_pool=3)


def test_weight_average_of_g_follows_its_decay_and_is_what_samples():
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(g_ema_decay=0.75), ds)
    trainer = train_lib.Trainer(config)
    average = trainer.sampling_generator
    assert average is not trainer.generator
    before = [w.numpy() for w in average.trainable_variables]
    np.testing.assert_array_equal(before[0], trainer.generator.trainable_variables[0].numpy())
    batch = next(iter(pipeline.gan_dataset(ds, 16, 16, seed=0)))
    trainer.train_step(batch["image"], batch["category"])
    after_g = [w.numpy() for w in trainer.generator.trainable_variables]
    for old, new, got in zip(before, after_g, average.trainable_variables, strict=True):
        np.testing.assert_allclose(got.numpy(), 0.75 * old + 0.25 * new, rtol=1e-5, atol=1e-7)
    assert not np.allclose(after_g[0], before[0])
    # Its batch-norm statistics are its own: they moved, and differ from G's.
    moving = [w for w in average.weights if "moving_mean" in w.name]
    g_moving = [w for w in trainer.generator.weights if "moving_mean" in w.name]
    assert any(np.abs(w.numpy()).max() > 0 for w in moving)
    assert any(not np.allclose(a.numpy(), b.numpy()) for a, b in zip(moving, g_moving, strict=True))
    # Samples come from the average.
    z = train_lib.sample_z(config, 0, 4)
    c = tf.constant([0, 1, 0, 1])
    np.testing.assert_allclose(
        trainer.generate(z, c).numpy(), average([z, c], training=False).numpy(), atol=1e-6
    )


def test_learning_rates_fall_linearly_to_zero_over_the_runs_tail():
    """lr_decay_fraction=0.5 of 8 steps: both rates constant to step 4, then linear to 0 at 8;
    at rate 0 a training step leaves the weights as they were."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(
        tiny_config(lr_decay_fraction=0.5, learning_rate=2e-4, d_learning_rate=1e-4), ds
    )
    trainer = train_lib.Trainer(config, total_steps=8)
    batches = iter(pipeline.gan_dataset(ds, 16, 16, seed=0))
    seen = []
    for _ in range(8):
        seen.append(
            (float(trainer.g_optimizer.learning_rate), float(trainer.d_optimizer.learning_rate))
        )
        batch = next(batches)
        trainer.train_step(batch["image"], batch["category"])
    left = np.array([1, 1, 1, 1, 1, 0.75, 0.5, 0.25])
    np.testing.assert_allclose(seen, np.stack([2e-4 * left, 1e-4 * left], 1), rtol=1e-6)
    assert float(trainer.g_optimizer.learning_rate) == 0.0
    before = [w.numpy() for w in trainer.generator.trainable_variables]
    batch = next(batches)
    trainer.train_step(batch["image"], batch["category"])
    for old, new in zip(before, trainer.generator.trainable_variables, strict=True):
        np.testing.assert_array_equal(old, new.numpy())
    # Without the fraction (or without a known length) the rates stay constant.
    for plain in (
        train_lib.Trainer(dataclasses.replace(config, lr_decay_fraction=0.0), total_steps=8),
        train_lib.Trainer(config),
    ):
        plain.g_optimizer.iterations.assign(8)
        assert float(plain.g_optimizer.learning_rate) == pytest.approx(2e-4)
    with pytest.raises(ValueError, match="lr_decay_fraction"):
        tiny_config(lr_decay_fraction=1.5)


def test_train_export_resume_and_summaries(tmp_path):
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(epochs=2), ds)
    workdir = str(tmp_path / "run")
    runtime.write_config(workdir, config)
    first = train_lib.train_and_export(config, ds, workdir, max_steps=3, write_export=False)
    assert first["steps"] == 3 and first["steps_this_session"] == 3
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")).endswith("-3")
    # A restart continues from the checkpoint; epochs=2 over 63 labelled items is 6 steps.
    second = train_lib.train_and_export(config, ds, workdir)
    assert second["steps"] == 6 and second["steps_this_session"] == 3
    assert second["epochs"] == pytest.approx(2.0)
    export_pb = os.path.join(workdir, "export", "saved_model.pb")
    assert json.load(open(os.path.join(workdir, "export", "gan_metadata.json")))["step"] == 6
    # Finished: a third call trains nothing, and the export is already of step 6.
    stamp = os.path.getmtime(export_pb)
    third = train_lib.train_and_export(config, ds, workdir)
    assert third["steps_this_session"] == 0 and third["steps"] == 6
    assert os.path.getmtime(export_pb) == stamp

    # Batches and z are functions of the step: 3 + 3 steps equal 6 uninterrupted ones.
    whole = str(tmp_path / "whole")
    train_lib.train_and_export(config, ds, whole, write_export=False)
    a, b = train_lib.Trainer(config), train_lib.Trainer(config)
    a.checkpoint.restore(tf.train.latest_checkpoint(whole + "/checkpoints")).expect_partial()
    b.checkpoint.restore(tf.train.latest_checkpoint(workdir + "/checkpoints")).expect_partial()
    for x, y in zip(a.generator.get_weights(), b.generator.get_weights(), strict=True):
        np.testing.assert_allclose(x, y, atol=1e-4)

    # TensorBoard: both losses every log step, one image per category per epoch.
    tags = {}
    for path in glob.glob(os.path.join(workdir, "tensorboard", "events.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                tags.setdefault(value.tag, set()).add(event.step)
    assert {2, 4, 6} <= tags["losses/d_loss"] and {2, 4, 6} <= tags["losses/g_loss"]
    assert tags["samples/0_dark"] == {3, 6} and tags["samples/1_bright"] == {3, 6}
    grid = tf.io.decode_png(open(os.path.join(workdir, "samples.png"), "rb").read()).numpy()
    assert grid.shape == (2 * 16, 4 * 16, 3)

    # Resuming with a different architecture is refused with the differing field.
    other = dataclasses.replace(config, d_widths=(4, 8))
    with pytest.raises(ValueError, match="d_widths"):
        train_lib.check_resumable(workdir, other)
    train_lib.check_resumable(workdir, dataclasses.replace(config, epochs=5))
    assert train_lib.load_config(workdir) == config
    # D's form is part of the run: a change of either field is refused too.
    for field, value in (("d_condition_layers", 3), ("d_batch_norm", "separate")):
        with pytest.raises(ValueError, match=f"{field}: .* -> {value!r}.*the same flags"):
            train_lib.check_resumable(workdir, dataclasses.replace(config, **{field: value}))

    # A config.json written before the two fields existed describes a run that
    # trained D as the small presets do: it loads and resumes as that run.
    fields = json.load(open(os.path.join(workdir, "config.json")))
    del fields["d_condition_layers"], fields["d_batch_norm"]
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(fields, f)
    assert train_lib.load_config(workdir) == config
    assert (config.d_condition_layers, config.d_batch_norm) == (2, "joint")
    train_lib.check_resumable(workdir, config)
    release_form = dataclasses.replace(config, d_condition_layers=2 + 1, d_batch_norm="separate")
    with pytest.raises(
        ValueError,
        match=r"d_condition_layers: 2 -> 3; d_batch_norm: 'joint' -> 'separate'\). Its "
        r"config.json predates d_batch_norm and d_condition_layers: .*cannot be resumed.*"
        r"python -m gan_tf.export",
    ):
        train_lib.check_resumable(workdir, release_form)

    # The newer fields too: a run from before d_augment, g_stride1_depth or d_stem_width
    # existed trained without them (one stride-1 conv per stage, no stem).
    del fields["d_augment"], fields["g_stride1_depth"], fields["d_stem_width"]
    with open(os.path.join(workdir, "config.json"), "w") as f:
        json.dump(fields, f)
    assert train_lib.load_config(workdir) == config
    train_lib.check_resumable(workdir, config)


def test_bad_datasets_are_refused():
    ds = two_category_dataset()
    no_categories = dataclasses.replace(ds, categories=None, category_names=())
    with pytest.raises(DataError, match="no item categories"):
        train_lib.config_for_dataset(tiny_config(), no_categories)
    no_images = dataclasses.replace(ds, images=None)
    with pytest.raises(DataError, match="no item images"):
        train_lib.config_for_dataset(tiny_config(), no_images)
    unknown = dataclasses.replace(ds, categories=np.full(ds.num_items, -1))
    with pytest.raises(DataError, match="unknown"):
        train_lib.config_for_dataset(tiny_config(), unknown)
    with pytest.raises(ValueError, match="categories"):
        train_lib.train_and_export(tiny_config(num_categories=3, category_names=()), ds, "/tmp/x")


def test_grey_detection_and_grid():
    ds = two_category_dataset()
    assert not train_lib.grey_images(ds)
    grey = ds.images.pixels[..., :1].repeat(3, -1)
    ds_grey = dataclasses.replace(ds, images=ItemImages(pixels=grey))
    assert train_lib.grey_images(ds_grey)
    images = np.arange(6 * 2 * 2 * 1).reshape(6, 2, 2, 1)
    grid = train_lib.image_grid(images, rows=2)
    assert grid.shape == (4, 6, 1)
    np.testing.assert_array_equal(grid[2:4, 2:4], images[4])  # row 1, column 1


def test_config_json_roundtrip(tmp_path):
    config = tiny_config()
    runtime.write_config(str(tmp_path), config)
    assert train_lib.load_config(str(tmp_path)) == config
    release_form = tiny_config(d_condition_layers=3, d_batch_norm="separate")
    runtime.write_config(str(tmp_path), release_form)
    assert train_lib.load_config(str(tmp_path)) == release_form
    assert json.load(open(tmp_path / "config.json"))["g_widths"] == [16, 8]


def test_binary_overrides_reach_the_config(tmp_path):
    """Architecture and update flags of `python -m gan_tf.train` land in config.json."""
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    workdir = str(tmp_path / "gan")
    flags = [
        "--dataset=synthetic_fashion/tiny",
        "--resolution=32",
        "--max_steps=1",
        "--g_dense_width=32",
        "--g_widths=16,8,8",
        "--g_stride1_stages=2",  # the 32 px default has 3, so the flag is seen
        "--g_stride1_depth=2",
        "--d_widths=8,16,16,16",
        "--d_stem_width=4",
        "--g_ema_decay=0",
        "--update=simultaneous",
        "--d_learning_rate=0.0003",  # not the 32 px default (4e-4), so the flag is seen
        "--d_r1_gamma=5",
        "--g_mode_seeking_weight=0.5",
        "--g_mode_seeking_pool=4",
        "--lr_decay_fraction=0.25",
        "--d_augment=translation,cutout",
        "--beta1=0",
        "--beta2=0.9",
        "--loss=nonsaturating",
        f"--workdir={workdir}",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "gan_tf.train", *flags],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(os.path.join(workdir, "config.json")) as f:
        config = json.load(f)
    assert config["g_dense_width"] == 32
    assert config["g_widths"] == [16, 8, 8]
    assert config["g_stride1_stages"] == 2
    assert config["g_stride1_depth"] == 2
    assert config["d_widths"] == [8, 16, 16, 16]
    assert config["d_stem_width"] == 4
    assert config["g_ema_decay"] == 0.0
    assert config["update"] == "simultaneous"
    assert config["d_learning_rate"] == 0.0003
    assert config["d_r1_gamma"] == 5.0
    assert config["g_mode_seeking_weight"] == 0.5
    assert config["g_mode_seeking_pool"] == 4
    assert config["lr_decay_fraction"] == 0.25
    assert config["d_augment"] == "translation,cutout"
    assert (config["beta1"], config["beta2"]) == (0.0, 0.9)
    assert config["loss"] == "nonsaturating"
    with open(os.path.join(workdir, "export", "gan_metadata.json")) as f:
        assert json.load(f)["loss"] == "nonsaturating"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["steps"] == 1
    # --resolution=32 chose the 32 px default; the dataset's own (64 px) default is named too.
    assert result["preset"] == "tuned32_stddev_fastd_s1all_stem"
    assert result["dataset_default_preset"] == "regularised64_b16_slowd_ema99"


def test_adam_betas_reach_both_optimizers():
    trainer = train_lib.Trainer(tiny_config(beta1=0.0, beta2=0.9))
    for optimizer in (trainer.g_optimizer, trainer.d_optimizer):
        assert (optimizer.beta_1, optimizer.beta_2) == (0.0, 0.9)
