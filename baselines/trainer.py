"""Fused BPR / WARP training of a `FactorModel`: many sparse steps per call.

Training is one fused `tf.function` that runs many steps per call: a step
draws B triplets (`data.bpr.TripletSampler`, keyed on (seed, step), so a
run's batches do not depend on how it is chunked), gathers the rows it
needs, and updates only those rows (sparse Adagrad or SGD on
`tf.IndexedSlices`). The objective is a *sum* over the batch, so every
sample moves its rows as much as in one-sample SGD, whatever the batch
size. Duplicate rows within a batch have their updates summed, as in
lock-free parallel SGD. Negatives that still hit the user's training set
after the sampler's redraws are masked out of the loss.
"""

from __future__ import annotations

import functools
import os

import numpy as np
import tensorflow as tf

from baselines.losses import warp_loss, warp_rank_weight
from baselines.models import FactorModel
from baselines.optim import SparseOptimizer
from data.bpr import TripletSampler, bpr_loss


def _join_gradients(grads):
    """One gradient from the gradients of a batch's slices: rows concatenated, dense summed."""
    if len(grads) == 1:
        return grads[0]
    if isinstance(grads[0], tf.IndexedSlices):
        return tf.IndexedSlices(
            tf.concat([g.values for g in grads], axis=0),
            tf.concat([g.indices for g in grads], axis=0),
            grads[0].dense_shape,
        )
    return tf.add_n(grads)


class Trainer(tf.Module):
    """Fused BPR / WARP training of a `FactorModel`.

    Args:
      model: the model to train.
      sampler: draws the triplets (its config holds the seed of the batches).
      loss: "bpr" or "warp".
      reg: lambda of the per-sample L2 on touched rows.
      reg_dense: lambda of the once-per-batch L2 on dense visual parameters.
      batch_size: triplets per step.
      optimizer: "adagrad" or "sgd".
      learning_rate: step size.
      adagrad_init: Adagrad's initial accumulator.
      warp_max_trials: negatives drawn per positive by WARP.
      warp_margin: WARP's margin.
      jit_compile: compile the update with XLA (much faster steps on CPU;
        a few seconds of compilation per trainer).
      gradient_shards: the batch's gradients are computed in this many
        contiguous slices side by side (XLA runs each compiled function on
        one core) and joined exactly; None: one per CPU core, at most one
        per 8,192 triplets.
    """

    def __init__(
        self,
        model: FactorModel,
        sampler: TripletSampler,
        *,
        loss: str = "bpr",
        reg: float = 0.0,
        reg_dense: float = 0.0,
        batch_size: int = 1024,
        optimizer: str = "adagrad",
        learning_rate: float = 0.05,
        adagrad_init: float = 0.1,
        warp_max_trials: int = 10,
        warp_margin: float = 1.0,
        jit_compile: bool = True,
        gradient_shards: int | None = None,
    ):
        super().__init__()
        if loss not in ("bpr", "warp"):
            raise ValueError(f"Unknown loss {loss!r}.")
        self.model = model
        self.sampler = sampler
        self.loss_kind = loss
        self.reg = float(reg)
        self.reg_dense = float(reg_dense)
        self.batch_size = int(batch_size)
        self.warp_max_trials = int(warp_max_trials)
        self.warp_margin = float(warp_margin)
        self.variables_ = model.sparse_variables + model.dense
        sparse = [True] * len(model.sparse_variables) + [False] * len(model.dense)
        self.optimizer = SparseOptimizer(
            self.variables_, optimizer, learning_rate, adagrad_init, sparse
        )
        self.step = tf.Variable(0, dtype=tf.int64)
        if gradient_shards is None:
            gradient_shards = min(os.cpu_count() or 1, max(1, self.batch_size // 8192))
        bounds = np.linspace(0, self.batch_size, int(gradient_shards) + 1).astype(int)
        self._shards = [
            (int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a
        ]
        # The gradients, then one update per variable: the updates touch
        # disjoint tables, so the executor runs them side by side (XLA runs a
        # row scatter on one core; the item table's and the user table's
        # then share the machine).
        self._gradients_fn = self._gradients
        self._apply_fns = [
            functools.partial(self.optimizer.apply_one, n) for n in range(len(self.variables_))
        ]
        if jit_compile:
            # XLA compiles the row scatters into tight loops: 8x faster than
            # TF's ResourceScatterSub kernel on CPU, for a few seconds of
            # compilation. Sampling stays outside (hash tables do not compile).
            self._gradients_fn = tf.function(self._gradients, jit_compile=True)
            self._apply_fns = [tf.function(f, jit_compile=True) for f in self._apply_fns]

    def _objective(self, users, pos, neg, mask, weight=None, dense_penalty=True):
        """Summed loss over the batch (float32 scalar) and the mean data loss.

        `dense_penalty=False` leaves out the once-per-batch L2 on the dense
        visual parameters (added by one slice only when the batch is sliced).
        """
        m = self.model
        p, p_sq = m.user_vectors(users)
        q, b, q_sq = m.item_vectors(tf.concat([pos, neg], axis=0))
        qi, qj = tf.split(q, 2, axis=0)
        bi, bj = tf.split(b, 2, axis=0)
        si, sj = tf.split(q_sq, 2, axis=0)
        x_ui = tf.reduce_sum(p * qi, axis=-1) + bi
        x_uj = tf.reduce_sum(p * qj, axis=-1) + bj
        if self.loss_kind == "bpr":
            data = bpr_loss(x_ui, x_uj)
        else:
            data = warp_loss(x_ui, x_uj, weight, self.warp_margin)
        mask = tf.cast(mask, tf.float32)
        data_sum = tf.reduce_sum(mask * data)
        penalty = 0.5 * self.reg * tf.reduce_sum(mask * (p_sq + si + sj))
        if m.dense and dense_penalty:
            penalty += 0.5 * self.reg_dense * m.dense_penalty()
        count = tf.maximum(tf.reduce_sum(mask), 1.0)
        return data_sum + penalty, data_sum / count

    def _train_step(self, step):
        trials = None if self.loss_kind == "bpr" else self.warp_max_trials
        batch = self.sampler.sample(step, self.batch_size, trials)
        users, pos = batch["user"], batch["pos_item"]
        if self.loss_kind == "bpr":
            neg, mask = batch["neg_item"], batch["valid"]
            weight = tf.ones_like(neg, tf.float32)
        else:
            cand, valid = batch["neg_item"], batch["valid"]
            x_ui = self.model.score(users, pos)
            x_uc = self.model.score(users, cand)
            violated = tf.logical_and(valid, x_uc > x_ui[:, None] - self.warp_margin)
            first, mask, weight = warp_rank_weight(violated, self.model.num_items)
            neg = tf.gather(cand, first, batch_dims=1)
        return self._update(users, pos, neg, mask, weight)

    def _gradients(self, users, pos, neg, mask, weight, dense_penalty=True):
        """(summed data loss, valid triplets, gradients: one per variable) of a batch slice."""
        with tf.GradientTape() as tape:
            total, data = self._objective(users, pos, neg, mask, weight, dense_penalty)
        count = tf.reduce_sum(tf.cast(mask, tf.float32))
        return data * tf.maximum(count, 1.0), count, tape.gradient(total, self.variables_)

    def _update(self, users, pos, neg, mask, weight):
        """One optimiser step on a given batch; returns the mean data loss."""
        batch = (users, pos, neg, mask, weight)
        parts = [
            self._gradients_fn(*[t[a:b] for t in batch], dense_penalty=k == 0)
            for k, (a, b) in enumerate(self._shards)
        ]
        data_sum = tf.add_n([part[0] for part in parts])
        count = tf.add_n([part[1] for part in parts])
        for n, (apply_fn, v) in enumerate(zip(self._apply_fns, self.variables_, strict=True)):
            grads = [part[2][n] for part in parts]
            if grads[0] is not None:
                apply_fn(_join_gradients(grads), v)
        return data_sum / tf.maximum(count, 1.0)

    @tf.function
    def train_steps(self, num_steps: tf.Tensor) -> tf.Tensor:
        """Runs `num_steps` steps from `self.step`; returns the last mean data loss."""
        data = tf.constant(0.0)
        for _ in tf.range(num_steps):
            data = self._train_step(self.step)
            self.step.assign_add(1)
        return data
