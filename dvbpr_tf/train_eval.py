"""DVBPR's validation during training: its schedule and the catalogue's embeddings.

`eval_interval` decides how many epochs pass between two validation passes
(`dvbpr_tf.train_lib.Trainer.eval_every`); `TrainerEvaluation` is the part
of `Trainer` that embeds the catalogue, scores a split, validates at an
epoch's end (keeping the best checkpoint, writing the validation
summaries) and draws the summaries' recommendation grid, computing the
embeddings and validation figures of the weights at a step once.
"""

from __future__ import annotations

import math
import time

import numpy as np
import tensorflow as tf
from absl import logging

from common import layout, runtime
from data import pipeline
from data.core import RecDataset
from dvbpr_tf import models
from dvbpr_tf.config import DVBPRConfig
from metrics import auc as auc_lib

# What one (validation row, catalogue item) pair of the full AUC costs, in
# FLOPs of the CNN: benchmarks/bench_full_auc.py measured the scores' matmul
# plus the fused sign sums at ~4 ns per pair (64,583 x 234,892 at K = 10 in
# 66 s, on this 2-core CPU under other jobs' load), a few hundred FLOPs at
# its ~88 GFLOP/s matmul rate. The schedule needs the order of magnitude.
_AUC_PAIR_FLOPS = 256


def eval_interval(config: DVBPRConfig, dataset: RecDataset, steps_per_epoch: int) -> int:
    """Epochs between two validation passes during training.

    `config.eval_every_epochs` when set; otherwise the smallest interval
    whose training costs at least 1 / `config.eval_budget` times one
    validation pass, both counted in FLOPs (`models.forward_flops`; the
    AUC's pairs at `_AUC_PAIR_FLOPS`), so the schedule does not depend on
    the machine's load.

    Args:
      config: the hyper-parameters.
      dataset: the dataset (its catalogue and validation rows set the cost).
      steps_per_epoch: training steps per epoch.

    Returns:
      int >= 1.
    """
    if config.eval_every_epochs:
        return config.eval_every_epochs
    validation = dataset.num_items * (
        models.forward_flops(config)["total"] + len(dataset.validation) * _AUC_PAIR_FLOPS
    )
    epoch = steps_per_epoch * config.batch_size * models.train_flops_per_triplet(config)
    return max(1, math.ceil(validation / (config.eval_budget * max(epoch, 1))))


class TrainerEvaluation:
    """The evaluation methods of `dvbpr_tf.train_lib.Trainer` (its base class).

    They read the trainer's `config`, `ds`, `store`, `model`, `step` and
    `auc_options`, and keep the per-step caches that `Trainer.__init__`
    creates: `_embed`, `_item_emb_cache` and `_validation_cache`.
    `_end_epoch` also keeps the best checkpoint (`best`, `best_val_auc`,
    `best_step`, and `_check_finite_weights` of `TrainerCheckpoints`).
    """

    def item_embeddings(self) -> np.ndarray:
        """[num_items, K] float32 Phi(X_i) of the whole catalogue (no dropout).

        Computed once per step of the weights (see `_item_emb_cache`).
        """
        step = int(self.step)
        if self._item_emb_cache is not None and self._item_emb_cache[0] == step:
            return self._item_emb_cache[1]
        if self._embed is None:
            self._embed = tf.function(
                self.model.item_embedding,
                jit_compile=self.config.jit_compile,
                reduce_retracing=True,
            )
        out = np.zeros([self.ds.num_items, self.config.embedding_dim], np.float32)
        batches = pipeline.item_dataset(
            self.ds, self.config.image_size, self.config.eval_batch_size, store=self.store
        )
        progress = runtime.Progress(
            self.ds.num_items, "images", interval=10.0, prefix="embed catalogue", quiet_start=True
        )
        done = 0
        for batch in batches:
            items = batch["item"].numpy()
            out[items] = self._embed(batch["image"]).numpy()
            done += len(items)
            progress.update(done)
        progress.update(done, force=True)
        self._item_emb_cache = (step, out)
        return out

    def user_embeddings(self) -> np.ndarray:
        """[num_users, K] float32 theta."""
        return np.asarray(self.model.theta.numpy(), np.float32)

    def evaluate(self, splits=("validation",), item_emb=None) -> dict[str, dict]:
        """AUC of the current weights on `splits` (item embeddings computed once).

        The validation figures of the weights at a step are computed once
        (the same seed and options give the same figures).
        """
        step = int(self.step)
        item_emb = self.item_embeddings() if item_emb is None else item_emb
        own = self._item_emb_cache is not None and item_emb is self._item_emb_cache[1]
        user_emb = self.user_embeddings()
        out = {}
        for split in splits:
            cached = self._validation_cache
            if split == "validation" and own and cached is not None and cached[0] == step:
                out[split] = cached[1]
                continue
            out[split] = auc_lib.evaluate_embeddings(
                self.ds,
                split,
                user_emb,
                item_emb,
                user_block=self.config.eval_user_block,
                options=self.auc_options,
                seed=self.config.seed,
            )
            if split == "validation" and own:
                self._validation_cache = (step, out[split])
        return out

    def _end_epoch(self, epoch: int, writers) -> dict:
        t0 = time.perf_counter()
        item_emb = self.item_embeddings()
        metrics = self.evaluate(("validation",), item_emb=item_emb)["validation"]
        step = int(self.step)
        improved = metrics["auc"] > float(self.best_val_auc)
        if improved:
            self.best_val_auc.assign(metrics["auc"])
            self.best_step.assign(step)
            self._check_finite_weights()
            self.best.save(checkpoint_number=step)
        logging.info(
            "epoch %d (step %d): validation AUC %.4f, cold %.4f, warm %.4f, sampled-100 %.4f%s "
            "(%.1fs)",
            epoch,
            step,
            metrics["auc"],
            metrics["auc_cold"],
            metrics["auc_warm"],
            metrics["auc_sampled100"],
            " (best so far)" if improved else "",
            time.perf_counter() - t0,
        )
        if writers:
            with writers[layout.VALIDATION_LOGS].as_default(step=step):
                for key in auc_lib.METRICS:
                    tf.summary.scalar(key, metrics[key])
                tf.summary.image(
                    "top5_recommendations",
                    self.recommendation_grid(item_emb),
                    max_outputs=1,
                    description="Rows: fixed users. Column 0: the user's held-out validation "
                    "item; columns 1-5: the top-5 recommendations (train items excluded).",
                )
            writers[layout.VALIDATION_LOGS].flush()
        return {
            "epoch": epoch,
            "step": step,
            **{k: metrics[k] for k in auc_lib.METRICS},
        }

    def summary_users(self) -> np.ndarray:
        """The fixed users whose recommendations are drawn: spread over the id range."""
        users = (
            np.unique(self.ds.validation[:, 0])
            if len(self.ds.validation)
            else np.arange(self.ds.num_users)
        )
        n = min(self.config.summary_users, len(users))
        return users[np.linspace(0, len(users) - 1, n).astype(int)] if n else users[:0]

    def recommendation_grid(self, item_emb: np.ndarray, k: int = 5) -> np.ndarray:
        """[1, n*S, (k+1)*S, 3] uint8: per fixed user, the held-out item, then the top k.

        Items the user has in train are excluded from the top k.
        """
        users = self.summary_users()
        s = self.config.image_size
        if len(users) == 0:
            return np.zeros([1, s, s, 3], np.uint8)
        scores = self.user_embeddings()[users] @ item_emb.T
        train = self.ds.train
        for row, u in enumerate(users):
            scores[row, train[train[:, 0] == u, 1]] = -np.inf
        top = np.argsort(-scores, axis=1)[:, :k]
        held = np.array([self.ds.validation[self.ds.validation[:, 0] == u, 1][0] for u in users])
        items = np.concatenate([held[:, None], top], axis=1)
        images = self.store.lookup_uint8(tf.constant(items.reshape(-1), tf.int32)).numpy()
        grid = images.reshape(len(users), k + 1, s, s, 3).transpose(0, 2, 1, 3, 4)
        return grid.reshape(1, len(users) * s, (k + 1) * s, 3)
