"""DVBPR training: custom train step, evaluation, checkpoints, summaries, export.

    result = train_and_evaluate(config, dataset, workdir)

The loop is written out (no `Model.fit`) so that every piece the paper and
the project ask for is explicit:

- batches come from `data.pipeline.triplet_dataset`, whose batch b is a pure
  function of (seed, b); dropout noise is a pure function of (seed, step)
  (`models.dropout_noise`). With the model, the optimizer and the step
  restored from a checkpoint, a resumed run therefore repeats exactly what
  an uninterrupted run would have done (bit for bit when TF's op
  determinism is on; to float rounding otherwise);
- the latest checkpoint (WORKDIR/checkpoints) is written every
  `checkpoint_every_steps` steps and at every epoch end; the checkpoint with
  the best validation AUC is kept separately (WORKDIR/best), since the paper
  reports the model that is best on validation;
- a non-finite loss stops training with `TrainingDivergedError` before any
  checkpoint of the diverged weights is written;
- TensorBoard summaries go to WORKDIR/train (BPR loss, the two
  regularisers, triplets/s) and WORKDIR/validation (AUC all / cold /
  sampled-100, and the top-5 recommendations of a few fixed users);
- validation runs on a schedule (`train_eval.eval_interval`): every epoch when a
  validation pass is cheap next to an epoch of training (the embedded
  datasets), every few epochs when it is not (a short epoch over a
  234,892-item catalogue), and always after the last epoch;
- after training, the best checkpoint is evaluated on test and exported as
  a SavedModel (WORKDIR/export, `dvbpr_tf.export_lib`). The catalogue's
  embeddings and the validation figures of the weights at a given step
  are computed once: when the best checkpoint is the last one evaluated,
  the final evaluation only scores the test split.

Distribution: the model and optimizer live in a `tf.distribute` strategy's
scope. Every replica reads its own slice of the same global batch (its
positions in the batch travel with the data as 'row'), so a step on N
replicas computes the same objective and gradient as a single-device step
on the whole batch, dropout included.

`Trainer` keeps the step, the input it reads and the loop; its checkpoint
methods are in `dvbpr_tf.train_checkpoints`, its evaluation methods (the
end-of-epoch validation included) and the validation schedule in
`dvbpr_tf.train_eval`, the strategy in `dvbpr_tf.distribute`.
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from common import layout, runtime
from data import image_store, pipeline, preprocess
from data.core import DataError, RecDataset
from data.registry import DataOptions
from dvbpr_tf import distribute, export_lib, losses, models, optim, train_eval
from dvbpr_tf.config import DVBPRConfig
from dvbpr_tf.train_checkpoints import TrainerCheckpoints, TrainingDivergedError
from dvbpr_tf.train_eval import TrainerEvaluation
from metrics import auc as auc_lib

# Salt that separates the dropout stream from the triplet stream of one seed.
_DROPOUT_SALT = 0x0D0


class Trainer(TrainerCheckpoints, TrainerEvaluation):
    """Builds the model, optimizer, data and checkpoints of one run.

    Args:
      config: the hyper-parameters.
      dataset: a dataset with images.
      workdir: where checkpoints, summaries, history and the export go.
      strategy: the distribution strategy (built from `config.strategy`
        when None).
      auc_options: the metric definitions of every evaluation
        (`metrics.auc.AUCOptions()` when None).
      image_cache_dir: where a catalogue too large to hold decoded is
        decoded once into a memory-mapped file (`image_store.ImageStore`'s
        "cached" mode); None decodes its JPEGs per lookup.
    """

    def __init__(
        self,
        config: DVBPRConfig,
        dataset: RecDataset,
        workdir: str,
        strategy: tf.distribute.Strategy | None = None,
        auc_options: auc_lib.AUCOptions | None = None,
        image_cache_dir: str | None = None,
    ):
        if not dataset.has_images:
            raise DataError(
                f"DVBPR learns from item images, but dataset {dataset.name} has none; pick an "
                f"image dataset (e.g. --dataset=synthetic_fashion)."
            )
        if len(dataset.train) == 0:
            raise DataError(f"Dataset {dataset.name} has no training interactions.")
        self.config = config
        self.ds = dataset
        self.workdir = workdir
        self.auc_options = auc_options or auc_lib.AUCOptions()
        self.strategy = strategy or distribute.make_strategy(config.strategy)
        self.num_replicas = self.strategy.num_replicas_in_sync
        if config.batch_size % self.num_replicas:
            raise ValueError(
                f"--batch_size={config.batch_size} must be divisible by the "
                f"{self.num_replicas} replicas of --strategy={config.strategy}."
            )
        self.is_chief, task_id = distribute.worker_info(self.strategy)
        # Non-chief workers write their (identical) checkpoints to a private
        # folder, as tf.distribute requires every worker to save.
        self.ckpt_root = workdir if self.is_chief else os.path.join(workdir, f".worker{task_id}")
        self.steps_per_epoch = config.steps_per_epoch or pipeline.steps_per_epoch(
            dataset, config.batch_size
        )
        self.total_steps = config.epochs * self.steps_per_epoch
        self.eval_every = train_eval.eval_interval(config, dataset, self.steps_per_epoch)
        keras.utils.set_random_seed(config.seed)
        # The image store is built outside the strategy scope: its variables
        # stay single host-side copies (data.image_store).
        self.store = image_store.ImageStore(
            dataset.images, config.image_size, cache_dir=image_cache_dir
        )
        with self.strategy.scope():
            self.model = models.DVBPR(config, dataset.num_users)
            optimizer = keras.optimizers.Adam(
                learning_rate=config.learning_rate,
                beta_1=config.adam_beta1,
                beta_2=config.adam_beta2,
                epsilon=config.adam_epsilon,
            )
            if config.mixed_precision and models.compute_dtype_policy(config) == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            self.optimizer.build(self.model.trainable_variables)
        # Bookkeeping lives on the host, outside the strategy: plain variables.
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.best_val_auc = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
        self.best_step = tf.Variable(-1, dtype=tf.int64, trainable=False)
        self.checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            step=self.step,
            best_val_auc=self.best_val_auc,
            best_step=self.best_step,
        )
        self.latest = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(self.ckpt_root, layout.CHECKPOINTS), max_to_keep=2
        )
        self.best = tf.train.CheckpointManager(
            self.checkpoint, os.path.join(self.ckpt_root, layout.BEST), max_to_keep=1
        )
        self._train_step = None
        self._embed = None
        # (step, value) of the weights last embedded / validated: the weights
        # at a step are the same whether reached by training or by restoring
        # the checkpoint written at that step.
        self._item_emb_cache: tuple[int, np.ndarray] | None = None
        self._validation_cache: tuple[int, dict] | None = None

    # -- data --------------------------------------------------------------

    def _input_fn(self, start_step: int):
        """dataset_fn for `distribute_datasets_from_function`."""
        config, store = self.config, self.store
        global_batch = config.batch_size

        def input_fn(ctx: tf.distribute.InputContext) -> tf.data.Dataset:
            local = ctx.get_per_replica_batch_size(global_batch)
            per_pipeline = ctx.num_replicas_in_sync // ctx.num_input_pipelines
            first = ctx.input_pipeline_id * per_pipeline
            triplets = pipeline.triplet_dataset(
                self.ds,
                config.image_size,
                global_batch,
                config.seed,
                start_step=start_step,
                with_images=False,
            )

            def split(batch):
                # This pipeline's replicas, in order: the strategy hands
                # consecutive elements of one pipeline to its replicas.
                rows = tf.range(first * local, (first + per_pipeline) * local, dtype=tf.int32)
                out = {
                    k: tf.reshape(tf.gather(v, rows), [per_pipeline, local])
                    for k, v in batch.items()
                }
                out["row"] = tf.reshape(rows, [per_pipeline, local])
                return tf.data.Dataset.from_tensor_slices(out)

            def add_images(batch):
                # uint8: the step scales them on its device (a quarter of the bytes).
                batch["pos_image"] = store.lookup_uint8(batch["pos_item"])
                batch["neg_image"] = store.lookup_uint8(batch["neg_item"])
                return batch

            ds = triplets.flat_map(split).map(
                add_images, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
            )
            return ds.prefetch(tf.data.AUTOTUNE)

        return input_fn

    def make_iterator(self, start_step: int):
        """An iterator over distributed batches from global batch `start_step` on."""
        options = tf.distribute.InputOptions(experimental_fetch_to_device=True)
        dist = self.strategy.distribute_datasets_from_function(self._input_fn(start_step), options)
        return iter(dist)

    # -- steps -------------------------------------------------------------

    def _replica_step(self, batch, step):
        config, model = self.config, self.model
        rows = tf.concat([batch["row"], batch["row"] + config.batch_size], axis=0)
        seed = tf.random.experimental.stateless_fold_in(
            tf.stack([tf.constant(config.seed, tf.int64), step]), _DROPOUT_SALT
        )
        noise = models.dropout_noise(config, seed, 2 * config.batch_size, rows)
        # The pipeline delivers uint8 at S x S; this is the scaling of
        # `preprocess.preprocess_images` (the same ops; inside this tf.function
        # they can be 1 ulp off the eager floats, see `tf_to_unit_range`).
        batch = dict(batch)
        for key in ("pos_image", "neg_image"):
            batch[key] = preprocess.preprocess_images(batch[key], config.image_size)

        def compute(batch, noise):
            with tf.GradientTape() as tape:
                x_ui, x_uj, theta_u = model(batch, dropout_noise=noise)
                terms = losses.dvbpr_objective(
                    x_ui,
                    x_uj,
                    theta_u,
                    model.phi.kernels(),
                    lambda_theta=config.lambda_theta,
                    weight_decay=config.weight_decay,
                    global_batch_size=config.batch_size,
                    num_replicas=self.num_replicas,
                )
                loss = terms["loss"]
                if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                    loss = self.optimizer.scale_loss(loss)
            grads = tape.gradient(loss, model.trainable_variables)
            return terms, grads

        if config.jit_compile:
            compute = tf.function(compute, jit_compile=True)
        terms, grads = compute(batch, noise)
        if optim.fused_adam_supported(self.optimizer, self.num_replicas):
            optim.apply_adam(self.optimizer, grads, model.trainable_variables)
        else:
            self.optimizer.apply(grads, model.trainable_variables)
        return terms

    def train_step(self, iterator) -> dict[str, tf.Tensor]:
        """Runs one global step; returns the objective's terms summed over replicas."""
        if self._train_step is None:

            @tf.function
            def train_step(iterator, step):
                per_replica = self.strategy.run(self._replica_step, args=(next(iterator), step))
                return {
                    k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                    for k, v in per_replica.items()
                }

            self._train_step = train_step
        out = self._train_step(iterator, tf.constant(int(self.step), tf.int64))
        self.step.assign_add(1)
        return out

    def run_steps(self, num_steps: int, iterator=None) -> list[dict[str, float]]:
        """Runs `num_steps` steps from the current step; returns their terms."""
        iterator = iterator or self.make_iterator(int(self.step))
        return [
            {k: float(v) for k, v in self.train_step(iterator).items()} for _ in range(num_steps)
        ]

    # -- the loop ----------------------------------------------------------

    def fit(self) -> list[dict]:
        """Trains to `config.epochs`, evaluating on validation every `eval_every` epochs.

        Resumes from the latest checkpoint of the workdir. Returns the
        history of the evaluated epochs (also written to
        WORKDIR/history.json); the last epoch is always evaluated.

        Raises:
          TrainingDivergedError: the loss became NaN or infinite.
        """
        config, spe = self.config, self.steps_per_epoch
        start = self.restore_latest()
        history = [h for h in self._read_history() if h["step"] <= start]
        writers = self._writers()
        progress = (
            runtime.Progress(max(self.total_steps - start, 0), "steps", prefix="dvbpr train")
            if self.is_chief
            else None
        )
        iterator = self.make_iterator(start) if start < self.total_steps else None
        if self.is_chief and start < self.total_steps:
            logging.info(
                "Validation every %d epoch(s) and after the last (%s).",
                self.eval_every,
                "eval_every_epochs"
                if config.eval_every_epochs
                else f"a validation pass within {config.eval_budget:g} of the training FLOPs",
            )
        window = {"time": time.perf_counter(), "steps": 0, "sums": {}}
        while int(self.step) < self.total_steps:
            terms = self.train_step(iterator)
            step = int(self.step)
            values = {k: float(v) for k, v in terms.items()}
            if not np.isfinite(values["loss"]):
                raise TrainingDivergedError(
                    f"Loss is {values['loss']} at step {step} (epoch {(step - 1) // spe + 1}; "
                    f"bpr {values['bpr']}, reg_theta {values['reg_theta']}, reg_cnn "
                    f"{values['reg_cnn']}). Training stopped. {self._keep_message()}"
                )
            window["steps"] += 1
            for k, v in values.items():
                window["sums"][k] = window["sums"].get(k, 0.0) + v
            if progress:
                progress.update(
                    step - start,
                    extra=f"epoch {(step - 1) // spe + 1}/{config.epochs} loss {values['bpr']:.4f}",
                )
            if step % config.summary_every_steps == 0 or step % spe == 0:
                self._write_train_summaries(writers, window, step)
            if step % spe == 0:
                epoch = step // spe
                if epoch % self.eval_every == 0 or step == self.total_steps:
                    history.append(self._end_epoch(epoch, writers))
                    self._write_history(history)
                self.save_latest()
            elif step % config.checkpoint_every_steps == 0:
                self.save_latest()
        if progress:
            progress.update(int(self.step) - start, force=True)
        return history

    def _writers(self):
        if not self.is_chief:
            return None
        return {
            name: tf.summary.create_file_writer(os.path.join(self.workdir, name))
            for name in (layout.TRAIN_LOGS, layout.VALIDATION_LOGS)
        }

    def _write_train_summaries(self, writers, window, step) -> None:
        now = time.perf_counter()
        if writers and window["steps"]:
            rate = window["steps"] * self.config.batch_size / max(now - window["time"], 1e-9)
            with writers[layout.TRAIN_LOGS].as_default(step=step):
                for k, v in window["sums"].items():
                    tf.summary.scalar(k, v / window["steps"])
                tf.summary.scalar("triplets_per_sec", rate)
        window.update(time=now, steps=0, sums={})

    def _history_path(self) -> str:
        return os.path.join(self.ckpt_root, layout.HISTORY)

    def _read_history(self) -> list[dict]:
        try:
            with open(self._history_path()) as f:
                return json.load(f)
        except FileNotFoundError:
            return []

    def _write_history(self, history: list[dict]) -> None:
        runtime.atomic_write_text(self._history_path(), runtime.to_json(history, indent=2) + "\n")


def _split_metrics(m: dict | None) -> dict | None:
    if m is None:
        return None
    return {k: m[k] for k in auc_lib.METRICS}


def train_and_evaluate(
    config: DVBPRConfig,
    dataset: RecDataset,
    workdir: str,
    *,
    strategy: tf.distribute.Strategy | None = None,
    export: bool = True,
    baselines: bool = True,
    auc_options: auc_lib.AUCOptions | None = None,
    image_cache_dir: str | None = None,
    data_options: DataOptions | None = None,
) -> dict:
    """Trains DVBPR, evaluates the best-on-validation checkpoint, exports it.

    Rerunning with the same arguments after a kill resumes from the latest
    checkpoint and ends with the same result.

    Args:
      config: the hyper-parameters.
      dataset: a dataset with item images.
      workdir: checkpoints, summaries, history.json and export/ go here.
      strategy: overrides `config.strategy`.
      export: write the SavedModel to WORKDIR/export.
      baselines: also compute the popularity AUC and, when the dataset has
        true scores, the oracle AUC.
      auc_options: the metric definitions (`metrics.auc.AUCOptions()` if None).
      image_cache_dir: where a catalogue too large to hold decoded in memory
        is decoded once, at the model's size, into a memory-mapped file
        (`data.image_store.ImageStore`'s "cached" mode); None decodes JPEGs per
        lookup.
      data_options: the options `dataset` was loaded with, recorded in the
        export's catalogue.json.

    Returns:
      dict with 'validation' and 'test' ({auc, auc_cold, auc_warm,
      auc_sampled100} of the best checkpoint), 'best_epoch', 'epochs',
      'steps', 'history' (per-epoch validation), 'popularity' / 'oracle'
      (test AUCs, or None), 'leak' (`metrics.auc.leak_diagnostic` of the test
      split), 'protocol' (DVBPR's sampling and the metric definitions),
      'train_seconds' (setup, training and its validation passes),
      'setup_seconds' (the image store, incl. a cache's first decode, and
      the model), 'export' (path or None).

    Raises:
      TrainingDivergedError: NaN/inf loss; the last good checkpoint is kept.
      DataError: the dataset has no images or no training data.
    """
    t0 = time.perf_counter()
    auc_options = auc_options or auc_lib.AUCOptions()
    trainer = Trainer(
        config, dataset, workdir, strategy, auc_options, image_cache_dir=image_cache_dir
    )
    setup_seconds = time.perf_counter() - t0  # the image store (a cache's first decode) and model
    history = trainer.fit()
    train_seconds = time.perf_counter() - t0
    if not trainer.restore_best():
        logging.warning("No best checkpoint (no epoch finished); evaluating the current weights.")
    item_emb = trainer.item_embeddings()
    metrics = trainer.evaluate(("validation", "test"), item_emb=item_emb)
    best_step = int(trainer.best_step)
    result = {
        "dataset": dataset.name,
        "preset": config.preset,
        "validation": _split_metrics(metrics["validation"]),
        "test": _split_metrics(metrics["test"]),
        "best_epoch": best_step // trainer.steps_per_epoch if best_step > 0 else 0,
        "epochs": config.epochs,
        "steps": trainer.total_steps,
        "steps_per_epoch": trainer.steps_per_epoch,
        "eval_every_epochs": trainer.eval_every,
        "history": history,
        "train_seconds": train_seconds,
        "setup_seconds": setup_seconds,
        "popularity": None,
        "oracle": None,
        "leak": auc_lib.leak_diagnostic(dataset, "test"),
        # DVBPR's sampler is the release's: user uniform, negatives uniform
        # over all items outside the user's training set.
        "protocol": dict(
            sampling="users",
            negatives="uniform",
            cold_threshold=auc_options.cold_threshold,
            sampled_auc=auc_options.sampled_auc,
        ),
        "export": None,
    }
    if baselines:
        result["popularity"] = _split_metrics(
            auc_lib.evaluate_popularity(dataset, "test", options=auc_options, seed=config.seed)
        )
        result["oracle"] = _split_metrics(
            auc_lib.evaluate_true_scores(dataset, "test", options=auc_options, seed=config.seed)
        )
    if export and trainer.is_chief:
        path = os.path.join(workdir, layout.EXPORT)
        export_lib.export_recommender(
            trainer.model, dataset, config, path, item_emb=item_emb, data_options=data_options
        )
        result["export"] = path
    logging.info(
        "best epoch %d: test AUC %.4f (cold %.4f, warm %.4f, sampled-100 %.4f). Split: %s.",
        result["best_epoch"],
        result["test"]["auc"],
        result["test"]["auc_cold"],
        result["test"]["auc_warm"],
        result["test"]["auc_sampled100"],
        auc_lib.format_leak(result["leak"]),
    )
    return result
