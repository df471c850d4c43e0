"""The GAN SavedModel: reload in a TF-only subprocess, equal outputs, bad input errors."""

import dataclasses
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from data.core import DataError
from exports import gan as gan_exports
from gan_tf import train_lib
from tests.testlib.gan import tiny_config, two_category_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GAN trained a few steps on real data and exported."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(), ds)
    workdir = str(tmp_path_factory.mktemp("gan"))
    result = train_lib.train_and_export(config, ds, workdir, max_steps=4)
    trainer = train_lib.Trainer(config)
    trainer.checkpoint.restore(
        tf.train.latest_checkpoint(workdir + "/checkpoints")
    ).expect_partial()
    return config, trainer, result["export"]


_RELOAD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf

    m = tf.saved_model.load(sys.argv[1])
    meta = {k: v.numpy() for k, v in m.metadata().items()}
    k, r, c = int(meta["num_categories"]), int(meta["resolution"]), int(meta["channels"])
    z = np.random.default_rng(0).uniform(-1, 1, (3 * k, int(meta["z_dim"]))).astype(np.float32)
    cat = np.repeat(np.arange(k, dtype=np.int32), 3)
    out = m.generate(tf.constant(z), tf.constant(cat))
    sig = m.signatures["generate"](z=tf.constant(z), category=tf.constant(cat))
    score = m.discriminate(out["images"], tf.constant(cat))["score"]
    np.savez(sys.argv[2], z=z, category=cat, images=out["images"].numpy(),
             images_uint8=out["images_uint8"].numpy(), sig_images=sig["images"].numpy(),
             score=score.numpy())
    print(json.dumps({"modules": sorted(m for m in sys.modules if m.split(".")[0] in
                      ("gan_tf", "data", "eval", "common", "keras", "dvbpr_tf", "design")),
                      "names": [n.decode() for n in meta["category_names"]], "k": k,
                      "r": r, "c": c}))
    """
)


def test_reload_in_tensorflow_only_subprocess(trained, tmp_path):
    config, trainer, path = trained
    out_file = str(tmp_path / "out.npz")
    proc = subprocess.run(
        [sys.executable, "-c", _RELOAD, path, out_file],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(tmp_path),  # not the repo: nothing of the project is importable by accident
        env={**os.environ, "PYTHONPATH": "", "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    # Only TensorFlow: no project package and not even Keras as a Python module.
    assert [m for m in info["modules"] if not m.startswith("keras")] == []
    assert (info["k"], info["r"], info["c"]) == (2, 16, 3)
    assert info["names"] == ["dark", "bright"]
    got = np.load(out_file)
    n = 3 * 2
    assert got["images"].shape == (n, 16, 16, 3) and got["images"].dtype == np.float32
    assert got["images_uint8"].dtype == np.uint8
    assert np.abs(got["images"]).max() <= 1.0
    np.testing.assert_array_equal(got["sig_images"], got["images"])
    expected_uint8 = np.round(np.clip(got["images"] * 127.5 + 127.5, 0, 255)).astype(np.uint8)
    np.testing.assert_array_equal(got["images_uint8"], expected_uint8)
    assert got["score"].shape == (n,) and got["score"].dtype == np.float32
    # Same numbers as the trained networks in this process (inference mode).
    want = trainer.generator([got["z"], got["category"]], training=False).numpy()
    np.testing.assert_allclose(got["images"], want, atol=1e-5)
    want_score = trainer.discriminator([want, got["category"]], training=False).numpy()
    np.testing.assert_allclose(got["score"], want_score, atol=1e-4)
    assert json.load(open(os.path.join(path, gan_exports.METADATA_FILE)))["step"] == 4


def test_loaded_gan_checks_arguments(trained):
    _, _, path = trained
    gan = gan_exports.load_gan(os.path.dirname(path))  # a workdir holding export/ works too
    assert (gan.resolution, gan.channels, gan.z_dim, gan.num_categories) == (16, 3, 100, 2)
    samples = gan.sample(per_category=5, seed=1)
    assert samples["images"].shape == (10, 16, 16, 3)
    np.testing.assert_array_equal(samples["category"], [0] * 5 + [1] * 5)
    assert gan.discriminate(samples["images"], samples["category"]).shape == (10,)
    with pytest.raises(ValueError, match=r"z must be \[N, 100\]"):
        gan.generate(np.zeros([2, 64]), [0, 1])
    with pytest.raises(ValueError, match=r"Unknown category id\(s\) \[2, 7\].*dark, bright"):
        gan.generate(np.zeros([3, 100]), [0, 2, 7])
    with pytest.raises(ValueError, match="one per row"):
        gan.generate(np.zeros([3, 100]), [0, 1])
    with pytest.raises(ValueError, match="integer"):
        gan.generate(np.zeros([2, 100]), [0.0, 1.0])
    with pytest.raises(ValueError, match=r"images must be \[N, 16, 16, 3\]"):
        gan.discriminate(np.zeros([2, 32, 32, 3]), [0, 1])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        gan.discriminate(np.full([2, 16, 16, 3], 255.0), [0, 1])


def test_graph_asserts_reject_bad_input(trained):
    _, _, path = trained
    m = tf.saved_model.load(path)
    z = tf.zeros([2, 100])
    with pytest.raises(tf.errors.InvalidArgumentError, match="unknown category id.*dark, bright"):
        m.generate(z, tf.constant([0, 5]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="must be in"):
        m.generate(z, tf.constant([-1, 0]))
    with pytest.raises(tf.errors.InvalidArgumentError, match="one id per row"):
        m.generate(z, tf.constant([0, 1, 1]))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"in \[-1, 1\]"):
        m.discriminate(tf.fill([2, 16, 16, 3], 3.0), tf.constant([0, 1]))
    with pytest.raises((TypeError, ValueError)):  # the input signature fixes z's width
        m.generate(tf.zeros([2, 64]), tf.constant([0, 1]))


def test_load_gan_refuses_other_directories(tmp_path):
    with pytest.raises(DataError, match="No SavedModel"):
        gan_exports.load_gan(str(tmp_path))

    class NotAGan(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def score(self, x):
            return {"score": x}

    other = str(tmp_path / "other")
    tf.saved_model.save(NotAGan(), other)
    with pytest.raises(DataError, match="not a GAN export.*generate"):
        gan_exports.load_gan(other)

    class WrongSignature(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 64], tf.float32)] * 2)
        def generate(self, z, category):
            return {"images": z}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)] * 2)
        def discriminate(self, images, category):
            return {"score": images}

        @tf.function(input_signature=[])
        def metadata(self):
            return {
                "resolution": tf.constant(16),
                "channels": tf.constant(3),
                "z_dim": tf.constant(100),
                "num_categories": tf.constant(2),
                "category_names": tf.constant(["a", "b"]),
            }

    wrong = str(tmp_path / "wrong")
    tf.saved_model.save(WrongSignature(), wrong)
    with pytest.raises(DataError, match="signatures that do not fit"):
        gan_exports.load_gan(wrong)


@pytest.mark.parametrize(
    "n_conditioned, stddev_group, batch_norm",
    [(0, 0, "separate"), (3, 0, "separate"), (3, 4, "separate"), (3, 0, "none")],
)
def test_export_of_other_discriminator_forms(tmp_path, n_conditioned, stddev_group, batch_norm):
    """The export's D equals the trained Keras D for an unconditioned D and for one
    conditioned on every layer's input (the score layer's too), trained with separate
    batch-norm calls, with and without the minibatch-stddev plane, and without batch norm."""
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(
        tiny_config(
            d_condition_layers=n_conditioned,
            d_batch_norm=batch_norm,
            d_stddev_group=stddev_group,
        ),
        ds,
    )
    workdir = str(tmp_path / "run")
    path = train_lib.train_and_export(config, ds, workdir, max_steps=2)["export"]
    trainer = train_lib.Trainer(config)
    trainer.checkpoint.restore(
        tf.train.latest_checkpoint(workdir + "/checkpoints")
    ).expect_partial()
    rng = np.random.default_rng(3)
    images = rng.uniform(-1, 1, (8, 16, 16, 3)).astype(np.float32)
    category = np.array([0, 1] * 4, np.int32)
    gan = gan_exports.load_gan(path)
    for c in (category, 1 - category):
        want = trainer.discriminator([images, c], training=False).numpy()
        np.testing.assert_allclose(
            gan.discriminate(images, c), want, atol=1e-5 * np.abs(want).max()
        )
    # The category matters exactly when D is conditioned.
    change = np.abs(gan.discriminate(images, 1 - category) - gan.discriminate(images, category))
    assert (change.max() > 1e-3 * np.abs(want).max()) == bool(n_conditioned)


def test_realism_penalty_is_g_loss_per_image_under_the_trained_loss(trained, tmp_path):
    """design's realism term: (D - 1)^2 for the LSGAN, softplus(-D) for the logistic loss;
    an export without the key (written before it existed) is read as an LSGAN."""
    rng = np.random.default_rng(5)
    images = tf.constant(rng.uniform(-1, 1, (6, 16, 16, 3)).astype(np.float32))
    category = tf.constant([0, 1] * 3)
    _, _, lsgan_path = trained
    ds = two_category_dataset()
    config = train_lib.config_for_dataset(tiny_config(loss="nonsaturating"), ds)
    logistic_path = train_lib.train_and_export(config, ds, str(tmp_path / "ns"), max_steps=3)[
        "export"
    ]
    for path, want in [
        (lsgan_path, lambda s: (s - 1.0) ** 2),
        (logistic_path, lambda s: np.log1p(np.exp(-s))),
    ]:
        gan = gan_exports.load_generator(path)
        score = gan.discriminate(images, category).numpy()
        penalty = gan.realism_penalty(images, category).numpy()
        np.testing.assert_allclose(penalty, want(score.astype(np.float64)), rtol=1e-5, atol=1e-6)
        assert penalty.shape == (6,) and np.ptp(score) > 0
    with open(os.path.join(logistic_path, gan_exports.METADATA_FILE)) as f:
        assert json.load(f)["loss"] == "nonsaturating"

    class OldExport:
        """The discriminate of an export from before 'realism_penalty'."""

        def discriminate(self, images, category):
            return {gan_exports.SCORE: tf.reduce_mean(images, axis=[1, 2, 3])}

    old = dataclasses.replace(gan, module=OldExport())
    score = tf.reduce_mean(images, axis=[1, 2, 3]).numpy()
    np.testing.assert_allclose(old.realism_penalty(images, category), (score - 1.0) ** 2, rtol=1e-6)


def test_export_from_checkpoint(trained, tmp_path):
    config, trainer, path = trained
    workdir = os.path.dirname(path)
    from common import runtime

    runtime.write_config(workdir, config)
    again = gan_exports.load_gan(train_lib.export_from_checkpoint(workdir, str(tmp_path / "re")))
    z = np.random.default_rng(0).uniform(-1, 1, (4, 100)).astype(np.float32)
    c = np.array([0, 1, 0, 1])
    np.testing.assert_allclose(
        again.generate(z, c)["images"],
        gan_exports.load_gan(path).generate(z, c)["images"],
        atol=1e-6,
    )
    assert gan_exports.exported_step(str(tmp_path / "re")) == 4
    # A named checkpoint is exported, not the latest (gan_tf.export passes the one it recorded).
    other = train_lib.Trainer(config)
    other.step.assign(99)
    named = other.checkpoint.save(str(tmp_path / "other" / "ckpt"))
    chosen = train_lib.export_from_checkpoint(workdir, str(tmp_path / "named"), checkpoint=named)
    assert gan_exports.exported_step(chosen) == 99
    with pytest.raises(DataError, match="No config.json"):
        train_lib.export_from_checkpoint(str(tmp_path))
