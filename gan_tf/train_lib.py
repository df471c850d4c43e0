"""Training loop of the category-conditional LSGAN.

`train_and_export(config, ds, workdir)` trains G and D on the items of `ds`
with a known category, writes TensorBoard summaries, checkpoints, and ends
with a SavedModel export (`gan_tf.export_lib`).

One step, two optimisers, two tapes over one forward pass: G makes a batch
of fakes for the real batch's categories (so c ~ p(c) as in eq. 7, and D
sees every category equally often as real and as fake), D scores the real
and the fake images, and both networks are updated from the same scores.
How D sees the two halves is `config.d_batch_norm`: "separate" (the
release, paper128 and release64) scores them in two training-mode calls,
real then fake, so each half is normalised by its own batch statistics and
both update the moving averages; "joint" (the small presets) scores them
together in one call on the concatenated batch, one set of batch-norm
statistics for both halves. The paper says the objectives are "optimized
alternately"; updating both from one forward pass costs one G forward and
one D forward less per step, which is what makes CPU runs possible. This
is the DCGAN-tutorial scheme; TF-GAN's default alternates.

Everything random is a pure function of `(config.seed, step)`: the batch
order (`data.pipeline.gan_dataset`), z (stateless uniform), and the weights'
initialisation (seeded). A run resumed from a checkpoint at step k sees the
batches and z an uninterrupted run sees from step k.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from common import layout, runtime
from common.images import tf_to_uint8
from data import image_store, pipeline
from data.core import DataError, RecDataset
from exports import common as export_paths
from exports import gan as gan_contract
from gan_tf import augment, export_lib, losses, networks
from gan_tf.config import GANConfig

# Fields that may change between a run and its resumption; every other field
# must match the checkpoint's run (architecture, data, optimiser).
_RESUMABLE_FIELDS = ("epochs", "log_every_steps", "checkpoint_every_seconds")
# Fields added to GANConfig after runs had been trained, with the value every
# such run used: a config.json without one describes a run trained that way
# (D conditioned on the image and conv0's maps, one joint batch-norm call),
# which resumes and re-exports as it was trained.
_FIELDS_BEFORE_THEY_EXISTED = {
    "d_condition_layers": 2,
    "d_batch_norm": "joint",
    "g_upsample": "transpose",
    "g_ema_decay": 0.0,
    "update": "simultaneous",
    "d_learning_rate": None,
    "d_stddev_group": 0,
    "d_r1_gamma": 0.0,
    "g_mode_seeking_weight": 0.0,
    "g_mode_seeking_pool": 0,
    "lr_decay_fraction": 0.0,
    "d_augment": "",
    "loss": "lsgan",
    "balance_categories": False,
    "g_stride1_depth": 1,
    "d_stem_width": 0,
}
# Offsets keep the z stream and the fixed sample z apart from other seeds.
_Z_STREAM = 7919
_FIXED_Z_STREAM = 104729
# D's input augmentations (d_augment): one stream per D pass of a step, so that the
# alternating update's G pass draws afresh, as DiffAugment does on every call.
_AUGMENT_STREAM = 15485863
_AUGMENT_PASS_STRIDE = 1000


def config_for_dataset(config: GANConfig, ds: RecDataset) -> GANConfig:
    """`config` with the dataset's categories; checks the dataset can train a GAN.

    Raises:
      DataError: no images, no categories, or no item with a known category.
    """
    if ds.images is None:
        raise DataError(f"Dataset {ds.name} has no item images; the GAN needs an image dataset.")
    if ds.categories is None or not ds.category_names:
        raise DataError(
            f"Dataset {ds.name} has no item categories; the conditional GAN needs them "
            f"(e.g. --dataset=synthetic_fashion or fashion_mnist_users)."
        )
    if not np.any(np.asarray(ds.categories) >= 0):
        raise DataError(f"Dataset {ds.name}: every item's category is unknown (-1).")
    return dataclasses.replace(
        config, num_categories=ds.num_categories, category_names=tuple(ds.category_names)
    )


def grey_images(ds: RecDataset, sample: int = 2048) -> bool:
    """Whether the dataset's decoded pixels are grey (R == G == B) on a sample of items.

    Datasets holding only encoded images report False (deciding would mean
    decoding them).
    """
    if ds.images is None or ds.images.pixels is None:
        return False
    pixels = ds.images.pixels[: min(sample, len(ds.images.pixels))]
    return bool(np.all(pixels[..., :1] == pixels[..., 1:]))


def labelled_items(ds: RecDataset) -> int:
    """Number of items with a known category (the GAN's training set)."""
    return int(np.sum(np.asarray(ds.categories) >= 0))


def steps_per_epoch(ds: RecDataset, batch_size: int) -> int:
    """Full batches per pass over the labelled items (gan_dataset drops none: batches span epochs)."""
    return max(1, labelled_items(ds) // batch_size)


def build_models(config: GANConfig) -> tuple[keras.Model, keras.Model]:
    """G and D with seeded initialisation."""
    keras.utils.set_random_seed(config.seed)
    return (
        networks.build_generator(config, seed=2 * config.seed),
        networks.build_discriminator(config, seed=2 * config.seed + 1),
    )


class LinearDecayTail(keras.optimizers.schedules.LearningRateSchedule):
    """A constant learning rate that falls linearly to 0 over a run's last steps.

    Args:
      learning_rate: the rate until `decay_start`.
      decay_start: the step the decay begins at (the rate is still
        `learning_rate` there).
      total_steps: the step the rate reaches 0 at (and stays at after).
    """

    def __init__(self, learning_rate: float, decay_start: int, total_steps: int):
        self.learning_rate = float(learning_rate)
        self.decay_start = int(decay_start)
        self.total_steps = int(total_steps)

    def __call__(self, step):
        step = tf.cast(step, tf.float32)
        span = float(max(self.total_steps - self.decay_start, 1))
        left = tf.clip_by_value((self.total_steps - step) / span, 0.0, 1.0)
        return self.learning_rate * left

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "decay_start": self.decay_start,
            "total_steps": self.total_steps,
        }


def _learning_rate_schedule(config: GANConfig, rate: float, total_steps: int | None):
    """`rate`, or its `LinearDecayTail` when config.lr_decay_fraction > 0 and the length is known."""
    if not config.lr_decay_fraction or total_steps is None:
        return rate
    decay_steps = round(config.lr_decay_fraction * total_steps)
    return LinearDecayTail(rate, total_steps - decay_steps, total_steps)


def _optimizer(config: GANConfig, variables, learning_rate) -> keras.optimizers.Optimizer:
    # Adam evaluates a schedule at its own iteration count, which the
    # checkpoint restores and which equals the trainer's step (one update
    # of each network per step).
    opt = keras.optimizers.Adam(learning_rate, beta_1=config.beta1, beta_2=config.beta2)
    # Slots exist before a checkpoint restore, so that they are restored too.
    opt.build(variables)
    return opt


def _step_seed(config: GANConfig, step, stream: int) -> tf.Tensor:
    """The stateless seed of one random stream at one step: int64 [2]."""
    return tf.stack([tf.constant(config.seed + stream, tf.int64), tf.cast(step, tf.int64)])


def sample_z(config: GANConfig, step, batch_size: int, stream: int = _Z_STREAM) -> tf.Tensor:
    """z ~ U(-1, 1)^z_dim for one step: float32 [batch_size, z_dim], a pure function of step."""
    return tf.random.stateless_uniform(
        [batch_size, config.z_dim],
        seed=_step_seed(config, step, stream),
        minval=-1.0,
        maxval=1.0,
        alg="philox",
    )


def fixed_samples_inputs(config: GANConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """The fixed z of the per-epoch grid: the same n z vectors for every category.

    Returns:
      z float32 [K * n, z_dim] and category int32 [K * n], category-major.
    """
    n, k = config.samples_per_category, config.num_categories
    z = sample_z(config, 0, n, stream=_FIXED_Z_STREAM)
    return tf.tile(z, [k, 1]), tf.repeat(tf.range(k, dtype=tf.int32), n)


def image_grid(images: np.ndarray, rows: int) -> np.ndarray:
    """Tiles images row-major into one picture.

    Args:
      images: [rows * cols, H, W, C] uint8 or float in [-1, 1].
      rows: number of rows.

    Returns:
      [rows * H, cols * W, C] of the input dtype.
    """
    images = np.asarray(images)
    n, h, w, c = images.shape
    cols = n // rows
    grid = images[: rows * cols].reshape(rows, cols, h, w, c).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * h, cols * w, c)


class Trainer:
    """G, D, their optimisers, the step function and the checkpoint.

    Args:
      config: the run's config (with the dataset's categories).
      total_steps: the run's length, which config.lr_decay_fraction's
        schedule needs (None: constant learning rates).
    """

    def __init__(self, config: GANConfig, total_steps: int | None = None):
        self.config = config
        self.generator, self.discriminator = build_models(config)
        self.g_optimizer = _optimizer(
            config,
            self.generator.trainable_variables,
            _learning_rate_schedule(config, config.learning_rate, total_steps),
        )
        d_learning_rate = config.d_learning_rate or config.learning_rate
        self.d_optimizer = _optimizer(
            config,
            self.discriminator.trainable_variables,
            _learning_rate_schedule(config, d_learning_rate, total_steps),
        )
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        parts = dict(
            step=self.step,
            generator=self.generator,
            discriminator=self.discriminator,
            g_optimizer=self.g_optimizer,
            d_optimizer=self.d_optimizer,
        )
        # The G that samples and is exported: the weight average, or G itself.
        self.sampling_generator = self.generator
        if config.g_ema_decay > 0:
            self.sampling_generator = networks.build_generator(config, seed=2 * config.seed)
            for average, weight in zip(
                self.sampling_generator.weights, self.generator.weights, strict=True
            ):
                average.assign(weight)
            parts["generator_ema"] = self.sampling_generator
        self.checkpoint = tf.train.Checkpoint(**parts)
        self.train_step = tf.function(self._train_step)
        self.generate = tf.function(
            lambda z, c: self.sampling_generator([z, c], training=False), reduce_retracing=True
        )

    def _train_step(self, images: tf.Tensor, category: tf.Tensor) -> dict[str, tf.Tensor]:
        """One update of D and G.

        Args:
          images: float32 [B, R, R, C] in [-1, 1], real.
          category: int32 [B], their categories (also the fakes' categories).

        Returns:
          {'d_loss', 'g_loss', 'd_real', 'd_fake'}: float32 scalars, the last
          two the mean D scores of the real and fake halves (logits under
          the non-saturating loss); d_loss is config.loss's D loss (eq. 7's
          for the LSGAN) alone. With d_r1_gamma > 0 also 'd_r1_loss', the R1 penalty that D
          minimises on top of it; with g_mode_seeking_weight > 0 also
          'g_mode_seeking_loss', the unweighted term G minimises on top of
          g_loss.
        """
        z = sample_z(self.config, self.step, tf.shape(images)[0])
        fake_category = category
        if self.config.g_mode_seeking_weight:
            # The mode-seeking pairs (image i and image i + B/2) must share a
            # category; the first half's categories are still a random draw
            # from the data, so c ~ p(c) holds for the fakes.
            half = tf.shape(category)[0] // 2
            fake_category = tf.tile(category[:half], [2])
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        if self.config.update == "alternating":
            # The paper's "optimized alternately", as the release runs it: a D
            # step on G's fakes, then a G step through the updated D (same z).
            fakes = self.generator([z, fake_category], training=True)
            with tf.GradientTape() as d_tape:
                real_scores, fake_scores, r1 = self._discriminate_with_penalty(
                    images, category, fakes, fake_category
                )
                d_loss = losses.discriminator_loss(real_scores, fake_scores, self.config.loss)
                d_objective = d_loss + r1
            self.d_optimizer.apply_gradients(
                zip(d_tape.gradient(d_objective, d_vars), d_vars, strict=True)
            )
            with tf.GradientTape() as g_tape:
                fakes = self.generator([z, fake_category], training=True)
                g_loss = losses.generator_loss(
                    self._discriminate(images, category, fakes, fake_category, augment_pass=1)[1],
                    self.config.loss,
                )
                g_objective, mode_seeking = self._with_mode_seeking(g_loss, fakes, z)
        else:
            # Both updates from one forward pass (the gradients of each loss
            # at the same point): one G and one D pass less per step.
            with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
                fakes = self.generator([z, fake_category], training=True)
                real_scores, fake_scores, r1 = self._discriminate_with_penalty(
                    images, category, fakes, fake_category
                )
                d_loss = losses.discriminator_loss(real_scores, fake_scores, self.config.loss)
                d_objective = d_loss + r1
                g_loss = losses.generator_loss(fake_scores, self.config.loss)
                g_objective, mode_seeking = self._with_mode_seeking(g_loss, fakes, z)
            self.d_optimizer.apply_gradients(
                zip(d_tape.gradient(d_objective, d_vars), d_vars, strict=True)
            )
        self.g_optimizer.apply_gradients(
            zip(g_tape.gradient(g_objective, g_vars), g_vars, strict=True)
        )
        if self.sampling_generator is not self.generator:
            self._update_average(z, fake_category)
        self.step.assign_add(1)
        out = {
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_real": tf.reduce_mean(real_scores),
            "d_fake": tf.reduce_mean(fake_scores),
        }
        if self.config.d_r1_gamma:
            out["d_r1_loss"] = r1
        if self.config.g_mode_seeking_weight:
            out["g_mode_seeking_loss"] = mode_seeking
        return out

    def _with_mode_seeking(self, g_loss, fakes, z) -> tuple[tf.Tensor, tf.Tensor]:
        """G's objective: g_loss plus the weighted mode-seeking term (0 when unused).

        Returns:
          float32 scalar objective and float32 scalar unweighted term.
        """
        weight = self.config.g_mode_seeking_weight
        if not weight:
            return g_loss, tf.constant(0.0)
        mode_seeking = losses.mode_seeking_loss(fakes, z, pool=self.config.g_mode_seeking_pool)
        return g_loss + weight * mode_seeking, mode_seeking

    def _discriminate_with_penalty(self, real, category, fakes, fake_category):
        """`_discriminate`'s scores, and the R1 penalty on the real images (0 when unused).

        Returns:
          float32 [B] real scores, float32 [B] fake scores, and the float32
          scalar d_r1_gamma / 2 * mean_i |grad_{x_i} D(x_i, c_i)|^2 over the
          real batch, differentiable with respect to D's weights.
        """
        gamma = self.config.d_r1_gamma
        if not gamma:
            return (*self._discriminate(real, category, fakes, fake_category), tf.constant(0.0))
        with tf.GradientTape() as input_tape:
            input_tape.watch(real)
            real_scores, fake_scores = self._discriminate(real, category, fakes, fake_category)
            # Each real image's score depends on its own pixels (and, through
            # batch norm's statistics, slightly on the others'): the gradient
            # of the sum is the per-image gradient up to that coupling.
            total = tf.reduce_sum(real_scores)
        grads = input_tape.gradient(total, real)
        penalty = 0.5 * gamma * tf.reduce_mean(tf.reduce_sum(tf.square(grads), axis=[1, 2, 3]))
        return real_scores, fake_scores, penalty

    def _update_average(self, z: tf.Tensor, category: tf.Tensor) -> None:
        """Moves the averaged G's weights towards G's; its batch-norm statistics follow itself.

        A training-mode pass of the averaged G on this step's z updates its
        moving statistics from its own activations (G's statistics describe
        G's weights, not the average's).
        """
        decay = self.config.g_ema_decay
        for average, weight in zip(
            self.sampling_generator.trainable_variables,
            self.generator.trainable_variables,
            strict=True,
        ):
            average.assign(decay * average + (1.0 - decay) * weight)
        self.sampling_generator([z, category], training=True)

    def _discriminate(
        self, real, category, fakes, fake_category, augment_pass: int = 0
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """D's training-mode scores of the real and the fake halves, as `config.d_batch_norm` says.

        With `config.d_augment`, D scores both halves through the augmentations
        (`gan_tf.augment`), each image with its own draw.

        Args:
          real: float32 [B, R, R, C], the real batch.
          category: int32 [B], its categories.
          fakes: float32 [B, R, R, C], G's images.
          fake_category: int32 [B], the categories G drew them for (the real
            batch's, or with mode seeking its first half's twice).
          augment_pass: which D pass of the step this is (0, or 1 for the
            alternating update's G pass): its augmentations' random stream.

        Returns:
          float32 [B] scores of `real` and float32 [B] scores of `fakes`.
        """
        policies = self.config.d_augment_policies
        if policies:
            stream = _AUGMENT_STREAM + _AUGMENT_PASS_STRIDE * augment_pass
            seed = _step_seed(self.config, self.step, stream)
            batch = tf.shape(real)[0]
            both = augment.diff_augment(tf.concat([real, fakes], 0), policies, seed)
            real, fakes = both[:batch], both[batch:]
        if self.config.d_batch_norm == "separate":
            # Two calls, as the release's D(inputs) and D(G, reuse=True): each
            # batch-norm layer normalises each half by that half's statistics
            # and updates its moving averages twice, real first.
            return (
                self.discriminator([real, category], training=True),
                self.discriminator([fakes, fake_category], training=True),
            )
        # "joint" (one set of statistics) or "none" (no batch norm: one call
        # is the same as two).
        batch = tf.shape(real)[0]
        scores = self.discriminator(
            [tf.concat([real, fakes], 0), tf.concat([category, fake_category], 0)], training=True
        )
        return scores[:batch], scores[batch:]


def check_resumable(workdir: str, config: GANConfig) -> None:
    """Refuses to resume a workdir whose checkpoints belong to a different config.

    Raises:
      ValueError: config.json in `workdir` differs in a field that the
        checkpoints depend on (the message lists them).
    """
    path = os.path.join(workdir, layout.CONFIG)
    if not os.path.exists(path) or not tf.train.latest_checkpoint(
        os.path.join(workdir, layout.CHECKPOINTS)
    ):
        return
    old, predated = _read_config_json(path)
    new = json.loads(runtime.to_json(config))
    changed = [k for k in new if k not in _RESUMABLE_FIELDS and old.get(k) != new[k]]
    if changed:
        diff = "; ".join(f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in changed)
        predates = sorted(set(changed) & predated)
        if predates:
            # An old paper128/release64 run: no flags make its D again.
            hint = (
                f" Its config.json predates {' and '.join(predates)}: that run trained D as "
                f"the small presets still do ({', '.join(f'{k}={old[k]!r}' for k in predates)}),"
                f" not in the release's form that paper128 and release64 now train, so it "
                f"cannot be resumed with them. Use a fresh --workdir, or export its latest "
                f"checkpoint as it is with `python -m gan_tf.export --workdir={workdir}`."
            )
        else:
            hint = " Use a fresh --workdir, or the same flags to resume."
        raise ValueError(
            f"--workdir={workdir} holds checkpoints of a run with a different config "
            f"({diff}).{hint}"
        )


def _read_config_json(path: str) -> tuple[dict, set[str]]:
    """A run's config.json, the fields it predates filled with what the run used.

    Returns:
      The JSON fields with every missing `_FIELDS_BEFORE_THEY_EXISTED` entry
      added, and the set of the names that were missing.
    """
    with open(path) as f:
        fields = json.load(f)
    missing = {k for k in _FIELDS_BEFORE_THEY_EXISTED if k not in fields}
    return {**fields, **{k: _FIELDS_BEFORE_THEY_EXISTED[k] for k in missing}}, missing


def train_and_export(
    config: GANConfig,
    ds: RecDataset,
    workdir: str,
    *,
    max_steps: int | None = None,
    export_path: str | None = None,
    write_export: bool = True,
) -> dict:
    """Trains (or resumes) the GAN and exports it.

    Args:
      config: from `config_for_dataset` (categories must match `ds`).
      ds: the dataset; trains on items with a known category.
      workdir: checkpoints, TensorBoard logs (`tensorboard/`), the latest
        sample grid (`samples.png`) and the export (`export/`) go here.
      max_steps: stop after this many steps in total (default: epochs *
        steps_per_epoch).
      export_path: where to export (default `workdir/export`).
      write_export: export at the end (skipped when the export there is
        already of the final step).

    Returns:
      Headline results: steps, epochs, final losses and D scores, seconds,
      steps per second of this session, export path.
    """
    if config.num_categories != ds.num_categories:
        raise ValueError(
            f"config has {config.num_categories} categories, dataset {ds.name} has "
            f"{ds.num_categories}; build the config with config_for_dataset."
        )
    os.makedirs(workdir, exist_ok=True)
    per_epoch = steps_per_epoch(ds, config.batch_size)
    total = config.epochs * per_epoch if max_steps is None else max_steps
    # The schedule decays over the run's epochs; --max_steps only stops it early.
    trainer = Trainer(config, total_steps=config.epochs * per_epoch)
    manager = tf.train.CheckpointManager(
        trainer.checkpoint, os.path.join(workdir, layout.CHECKPOINTS), max_to_keep=2
    )
    if manager.latest_checkpoint:
        trainer.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logging.info("Resumed from %s at step %d", manager.latest_checkpoint, trainer.step.numpy())
    start = int(trainer.step.numpy())
    writer = tf.summary.create_file_writer(os.path.join(workdir, layout.TENSORBOARD))
    fixed_z, fixed_c = fixed_samples_inputs(config)
    store = image_store.ImageStore(ds.images, config.resolution, config.channels)
    batches = pipeline.gan_dataset(
        ds,
        config.resolution,
        config.batch_size,
        config.seed,
        channels=config.channels,
        start_step=start,
        store=store,
        balance_categories=config.balance_categories,
    )
    logging.info(
        "Training the GAN on %d labelled items of %s: %d steps/epoch, steps %d..%d",
        labelled_items(ds),
        ds.name,
        per_epoch,
        start,
        total,
    )
    progress = runtime.Progress(max(total - start, 0), "steps", prefix="gan")
    last_save = time.perf_counter()
    metrics = {}
    losses = ""  # the last logged step's, repeated on the progress lines between
    step = start
    for batch in batches.take(max(total - start, 0)):
        out = trainer.train_step(batch["image"], batch["category"])
        step += 1
        epoch_end = step % per_epoch == 0 or step == total
        if step % config.log_every_steps == 0 or epoch_end:
            metrics = {k: float(v) for k, v in out.items()}
            if not all(math.isfinite(v) for v in metrics.values()):
                raise FloatingPointError(f"GAN training diverged at step {step}: {metrics}.")
            with writer.as_default(step=step):
                for k, v in metrics.items():
                    tf.summary.scalar(f"losses/{k}" if "loss" in k else f"scores/{k}", v)
            losses = (
                f"D {metrics['d_loss']:.3f} G {metrics['g_loss']:.3f} "
                f"D(x) {metrics['d_real']:.2f} D(G(z)) {metrics['d_fake']:.2f}"
            )
        # Every step (Progress prints at most every 5 s): at 128 px a step
        # takes seconds, and log_every_steps of them would be minutes of silence.
        progress.update(step - start, f"epoch {step / per_epoch:.2f} {losses}".rstrip())
        if epoch_end:
            _write_samples(trainer, config, fixed_z, fixed_c, writer, workdir, step)
        if epoch_end or time.perf_counter() - last_save > config.checkpoint_every_seconds:
            manager.save(checkpoint_number=step)
            last_save = time.perf_counter()
    writer.flush()
    if step == start and not os.path.exists(os.path.join(workdir, layout.SAMPLES)):
        _write_samples(trainer, config, fixed_z, fixed_c, writer, workdir, step)
    seconds = progress.elapsed
    path = export_path or os.path.join(workdir, export_paths.EXPORT_DIRNAME)
    if write_export and gan_contract.exported_step(path) != step:
        export_lib.export_gan(
            trainer.sampling_generator, trainer.discriminator, config, path, step=step
        )
    return {
        "steps": step,
        "epochs": step / per_epoch,
        "steps_this_session": step - start,
        "seconds_this_session": seconds,
        "steps_per_second": (step - start) / seconds if step > start else None,
        **metrics,
        "export": path if write_export else None,
    }


def _write_samples(trainer, config, fixed_z, fixed_c, writer, workdir, step) -> None:
    """The fixed-z grid: one TensorBoard image per category, and all categories in one PNG."""
    images = tf_to_uint8(trainer.generate(fixed_z, fixed_c)).numpy()
    n, names = config.samples_per_category, config.category_names
    with writer.as_default(step=step):
        for k in range(config.num_categories):
            name = names[k] if names else str(k)
            grid = image_grid(images[k * n : (k + 1) * n], rows=1)
            tf.summary.image(f"samples/{k}_{name}", grid[None])
    grid = image_grid(images, rows=config.num_categories)
    runtime.atomic_write_bytes(
        os.path.join(workdir, layout.SAMPLES), tf.io.encode_png(grid).numpy()
    )


def load_config(workdir: str) -> GANConfig:
    """The GANConfig a training run wrote into its workdir (config.json).

    A config.json written before a field existed gets the value its run used
    (`_FIELDS_BEFORE_THEY_EXISTED`), so an old workdir re-exports the D it
    trained.
    """
    path = os.path.join(workdir, layout.CONFIG)
    if not os.path.exists(path):
        raise DataError(f"No {layout.CONFIG} in --workdir={workdir}; is it a gan_tf.train workdir?")
    fields, _ = _read_config_json(path)
    for k in ("category_names", "g_widths", "d_widths"):
        fields[k] = tuple(fields[k])
    return GANConfig(**fields)


def export_from_checkpoint(
    workdir: str, export_path: str | None = None, checkpoint: str | None = None
) -> str:
    """Re-exports a checkpoint of a training workdir (the latest unless `checkpoint` names one).

    Raises:
      DataError: no config.json or no checkpoint in `workdir`.
    """
    config = load_config(workdir)
    latest = checkpoint or tf.train.latest_checkpoint(os.path.join(workdir, layout.CHECKPOINTS))
    if not latest:
        raise DataError(f"No checkpoint in {workdir}/{layout.CHECKPOINTS}; train first.")
    trainer = Trainer(config)
    trainer.checkpoint.restore(latest).assert_existing_objects_matched()
    return export_lib.export_gan(
        trainer.sampling_generator,
        trainer.discriminator,
        config,
        export_path or os.path.join(workdir, export_paths.EXPORT_DIRNAME),
        step=int(trainer.step.numpy()),
    )
