"""The paper's baselines (Table III): RAND, PopRank, WARP, BPR-MF, VisRank, FM, VBPR.

    config = baselines_config.get_config("bprmf")
    result = baselines.train_baseline(config, ds, workdir)   # result["test"]["auc"]

Every model here scores a user-item pair as x_ui = b_i + p_u . q_i, which
is what `metrics.auc.evaluate_embeddings` evaluates (user embedding p_u, item
embedding q_i, item bias b_i); only RAND and VisRank use their own score
functions through `metrics.auc.evaluate_scores`. The global offset alpha and
the user bias beta_u of eqs. 1 and 2 shift all of a user's scores equally,
so they cancel in BPR's x_ui - x_uj and in every per-user AUC: they are
left out.

  BPR-MF (eq. 1):  p_u = gamma_u,            q_i = gamma_i,            b_i = beta_i
  VBPR (eq. 2):    p_u = [gamma_u; theta_u], q_i = [gamma_i; E^T f_i], b_i = beta_i + beta'.f_i
  FM:              p_u = e_u,                q_i = e_i + V^T f_i,      b_i = w_i + w'.f_i
  WARP:            as BPR-MF, trained with the WARP loss.

FM is LightFM's model with user features = identity and item features =
identity + visual features: the user's one embedding meets the item's own
embedding (user x item) and the embedded visual features (user x visual
feature); item x feature interactions are left out, as the paper says.

Training is one fused `tf.function` that runs many steps per call: a step
draws B triplets from stateless RNG keyed on (seed, step) (so a run's
batches do not depend on how it is chunked), gathers the rows it needs,
and updates only those rows (sparse Adagrad or SGD on `tf.IndexedSlices`).
The objective is a *sum* over the batch, so every sample moves its rows as
much as in one-sample SGD, whatever the batch size. Duplicate rows within
a batch have their updates summed, as in lock-free parallel SGD.

Sampling, by default the paper's protocol (as the DVBPR release and the
reference BPR-MF): the user uniform, the positive uniform among the user's
training items, the negative j uniform over *all* items, redrawn while it
is in the user's training set (`sampling="users"`, `negatives="uniform"`).
Draws that still hit after two redraws are masked out of the loss.
Departures, for comparison with other libraries: `sampling="pairs"`
(uniform over training pairs: Rendle et al. 2009's bootstrap over D_S,
LightFM's and implicit's), `negatives="popularity"` (the item of a random
training pair, as `implicit`) and `negatives="observed"` (uniform over the
items with training data only).

"observed" leaks the split. Factor rows of items without training data
start at zero, so such an item scores exactly its visual part (0 for MF);
under "observed" nothing ever moves them, while every item the model did
learn is pushed down as a negative. Items that exist only as held-out items
(45% of the Amazon interactions' test rows) then rank above everything
learned, and a model "finds" them without knowing anything about the user:
the scorer that knows only "this item has no training data" gets AUC 0.605
on that split (`metrics.auc.leak_diagnostic`). BPR-MF gets 0.708 there with
"observed" negatives, 0.528 with the paper's uniform ones; on the warm AUC
(items with training data only), which the leak cannot reach, uniform
negatives are the better model. Table III uses the paper's protocol.

Model selection (`train_baseline`): each (reg, K) of the grid is trained
with evaluation on validation every `eval_every` epochs and early stopping;
the point and epoch with the best validation AUC win, and the test AUC is
that model's. Where the dataset has no validation split (the Amazon
interactions ship only train/test), one training item per user with at
least two is moved, seeded by `validation_seed`, into a validation split
used for selection only; the winning (reg, K, epochs) is then retrained on
the full training split and evaluated on test.
"""

from __future__ import annotations

import dataclasses
import functools
import glob
import json
import math
import os
import time

import numpy as np
import tensorflow as tf
from absl import logging

from baselines.config import BaselineConfig
from common import layout, runtime
from data.core import RecDataset, sort_rows
from metrics import auc as auc_lib

_RNG_ALG = "philox"
# Times a negative that hit the user's training set is redrawn.
_NEGATIVE_REDRAWS = 2


# ---------------------------------------------------------------------------
# Triplet sampling, in-graph.


class TripletSampler(tf.Module):
    """Draws (user, positive, negatives) as pure functions of a seed tensor.

    Args:
      train: [n, 2] int64 (user, item) training pairs.
      num_users: number of users.
      num_items: number of items.
      sampling: "pairs" or "users" (see the module docstring).
      negatives: "uniform" over items, or "popularity": the item of a
        uniformly drawn training pair (the `implicit` library's sampler).
    """

    def __init__(
        self,
        train: np.ndarray,
        num_users: int,
        num_items: int,
        sampling: str = "users",
        negatives: str = "uniform",
    ):
        super().__init__()
        if len(train) == 0:
            raise ValueError("Cannot train a baseline without training interactions.")
        train = sort_rows(train)
        self.num_items = int(num_items)
        self.sampling = sampling
        self.negative_sampling = negatives
        self._users = tf.constant(train[:, 0], tf.int32)
        self._items = tf.constant(train[:, 1], tf.int32)
        counts = np.bincount(train[:, 0], minlength=num_users)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        self._indptr = tf.constant(indptr, tf.int32)
        self._active = tf.constant(np.flatnonzero(counts), tf.int32)
        self._observed = tf.constant(np.unique(train[:, 1]), tf.int32)
        # (user * num_items + item) keys in a hash table: membership of a
        # batch of pairs costs one lookup each (a binary search over sorted
        # keys was 30x slower here).
        keys = tf.constant(train[:, 0] * num_items + train[:, 1], tf.int64)
        self._pairs = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(keys, tf.ones_like(keys, tf.int32)), 0
        )

    def positives(self, seed: tf.Tensor, batch_size: int) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns users, positive items: int32 [batch_size] each."""
        if self.sampling == "pairs":
            n = tf.shape(self._users)[0]
            idx = tf.random.stateless_uniform(
                [batch_size], seed, 0, n, dtype=tf.int32, alg=_RNG_ALG
            )
            return tf.gather(self._users, idx), tf.gather(self._items, idx)
        seeds = tf.random.experimental.stateless_split(seed, 2)
        n = tf.shape(self._active)[0]
        users = tf.gather(
            self._active,
            tf.random.stateless_uniform([batch_size], seeds[0], 0, n, dtype=tf.int32, alg=_RNG_ALG),
        )
        start = tf.gather(self._indptr, users)
        count = tf.gather(self._indptr, users + 1) - start
        u = tf.random.stateless_uniform([batch_size], seeds[1], alg=_RNG_ALG)
        offset = tf.minimum(tf.cast(u * tf.cast(count, tf.float32), tf.int32), count - 1)
        return users, tf.gather(self._items, start + offset)

    def is_positive(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        """bool, shape of `items`: whether (user, item) is a training pair.

        Args:
          users: int32 [B].
          items: int32 [B] or [B, T].
        """
        users = tf.cast(users, tf.int64)
        if items.shape.rank == 2:
            users = users[:, None]
        return self._pairs.lookup(users * self.num_items + tf.cast(items, tf.int64)) > 0

    def _draw(self, shape, seed):
        if self.negative_sampling == "uniform":
            return tf.random.stateless_uniform(
                shape, seed, 0, self.num_items, dtype=tf.int32, alg=_RNG_ALG
            )
        pool = self._items if self.negative_sampling == "popularity" else self._observed
        n = tf.shape(pool)[0]
        idx = tf.random.stateless_uniform(shape, seed, 0, n, dtype=tf.int32, alg=_RNG_ALG)
        return tf.gather(pool, idx)

    def negatives(self, users: tf.Tensor, seed: tf.Tensor, trials: int | None = None):
        """Items the users did not interact with in training.

        Args:
          users: int32 [B].
          seed: int32 [2] stateless seed.
          trials: None for one negative per user, else T per user.

        Returns:
          items: int32 [B] (or [B, T]) uniform over all items, redrawn where
            they were the user's training items.
          valid: bool, same shape; False where the draw still hit a
            training item after the redraws (mask it out of the loss).
        """
        shape = tf.shape(users) if trials is None else tf.stack([tf.shape(users)[0], trials])
        seeds = tf.random.experimental.stateless_split(seed, _NEGATIVE_REDRAWS + 1)
        items = self._draw(shape, seeds[0])
        for r in range(_NEGATIVE_REDRAWS):
            hit = self.is_positive(users, items)
            items = tf.where(hit, self._draw(shape, seeds[r + 1]), items)
        return items, tf.logical_not(self.is_positive(users, items))


# ---------------------------------------------------------------------------
# Models.


class FactorModel(tf.Module):
    """x_ui = b_i + p_u . q_i for BPR-MF / WARP ("mf"), VBPR and FM.

    Args:
      kind: "mf", "vbpr" or "fm".
      num_users: number of users.
      num_items: number of items.
      dim: K.
      features: [num_items, D] float32 visual features (vbpr / fm only).
      init_scale: std of the normal initialisation of factor rows.
      seed: seeds the initialisation.
      user_counts: optional [num_users] training interactions per user;
        users with none start at zero.
      item_counts: optional [num_items] training interactions per item;
        items with none start at zero.
    """

    def __init__(
        self,
        kind: str,
        num_users: int,
        num_items: int,
        dim: int,
        features: np.ndarray | None = None,
        init_scale: float = 0.1,
        seed: int = 0,
        user_counts: np.ndarray | None = None,
        item_counts: np.ndarray | None = None,
    ):
        super().__init__()
        if kind not in ("mf", "vbpr", "fm"):
            raise ValueError(f"Unknown factor model kind {kind!r}.")
        self.kind = kind
        self.num_users = num_users
        self.num_items = num_items
        rng = np.random.default_rng(seed)

        def normal(*shape, scale=init_scale, rows=None):
            value = rng.normal(0.0, scale, shape).astype(np.float32)
            if rows is not None:
                # Rows without training data start at zero (as `implicit`
                # does): an item nobody interacted with scores exactly its
                # visual part (0 for MF) instead of random noise.
                value[np.asarray(rows) == 0] = 0.0
            return tf.Variable(value)

        # gamma_u / e_u, gamma_i / e_i (or w_i's embedding), beta_i / w_i.
        self.user = normal(num_users, dim, rows=user_counts)
        self.item = normal(num_items, dim, rows=item_counts)
        self.bias = tf.Variable(tf.zeros([num_items]))
        self.user_rows = [self.user]
        self.item_rows = [self.item, self.bias]
        self.dense = []
        self.features = None
        if kind in ("vbpr", "fm"):
            if features is None:
                raise ValueError(f"{kind} needs visual features [num_items, D].")
            features = np.asarray(features, np.float32)
            if features.ndim != 2 or len(features) != num_items:
                raise ValueError(
                    f"{kind}: features must be [num_items={num_items}, D], got {features.shape}."
                )
            d = features.shape[1]
            self.features = tf.constant(features)
            # E (VBPR) or V (FM): [D, K]; beta' (VBPR) or w' (FM): [D].
            self.proj = normal(d, dim, scale=init_scale / math.sqrt(d))
            self.visual_bias = tf.Variable(tf.zeros([d]))
            self.dense = [self.proj, self.visual_bias]
        if kind == "vbpr":
            self.user_visual = normal(num_users, dim, rows=user_counts)  # theta_u
            self.user_rows.append(self.user_visual)

    @property
    def sparse_variables(self) -> list[tf.Variable]:
        return self.user_rows + self.item_rows

    def user_vectors(self, users: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """p_u and the squared norm of the user's own rows.

        Args:
          users: int32 [B].

        Returns:
          p: float32 [B, K] (VBPR: [B, 2K]).
          sq: float32 [B] sum of squares of the gathered rows (for L2).
        """
        rows = [tf.gather(v, users) for v in self.user_rows]
        p = rows[0] if len(rows) == 1 else tf.concat(rows, axis=-1)
        return p, tf.reduce_sum(tf.square(p), axis=-1)

    def item_vectors(self, items: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """q_i, b_i and the squared norm of the item's own rows.

        Args:
          items: int32 [...] any shape.

        Returns:
          q: float32 [..., K] (VBPR: [..., 2K]).
          b: float32 [...].
          sq: float32 [...] sum of squares of the gathered own rows (for L2;
            not of the shared visual parameters).
        """
        q = tf.gather(self.item, items)
        b = tf.gather(self.bias, items)
        sq = tf.reduce_sum(tf.square(q), axis=-1) + tf.square(b)
        if self.features is not None:
            f = tf.gather(self.features, items)
            fe = tf.tensordot(f, self.proj, axes=[[f.shape.rank - 1], [0]])
            b = b + tf.tensordot(f, self.visual_bias, axes=[[f.shape.rank - 1], [0]])
            q = q + fe if self.kind == "fm" else tf.concat([q, fe], axis=-1)
        return q, b, sq

    def score(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        """x_ui: float32 [B] for users [B], items [B]; [B, T] for items [B, T]."""
        p, _ = self.user_vectors(users)
        q, b, _ = self.item_vectors(items)
        if items.shape.rank == 2:
            return tf.einsum("bk,btk->bt", p, q) + b
        return tf.reduce_sum(p * q, axis=-1) + b

    def dense_penalty(self) -> tf.Tensor:
        """Sum of squares of the dense visual parameters (0 for MF)."""
        return tf.add_n([tf.reduce_sum(tf.square(v)) for v in self.dense] + [tf.constant(0.0)])

    def embeddings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(user_emb [U, K'], item_emb [I, K'], item_bias [I]) float32 for evaluation."""
        p, _ = self.user_vectors(tf.range(self.num_users))
        q, b, _ = self.item_vectors(tf.range(self.num_items))
        return p.numpy(), q.numpy(), b.numpy()


# ---------------------------------------------------------------------------
# Losses (per sample; the objective sums them over the batch).


def bpr_loss(x_ui: tf.Tensor, x_uj: tf.Tensor) -> tf.Tensor:
    """-ln sigmoid(x_ui - x_uj): float32 [B] >= 0."""
    return tf.nn.softplus(-(x_ui - x_uj))


def warp_rank_weight(violated: tf.Tensor, num_items: int) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """WARP's choice of negative and its rank weight.

    Weston et al. (2011) draw negatives one at a time until one scores
    within the margin of the positive; if that took N draws, the positive's
    rank is estimated as floor((num_items - 1) / N) and the update is
    weighted by L(rank) ~ log(rank). Here the T draws are made at once and
    the first violating one is taken, which is the same distribution.

    Args:
      violated: bool [B, T], whether draw t violates the margin.
      num_items: catalogue size.

    Returns:
      first: int32 [B] index of the first violating draw (0 if none).
      found: bool [B] whether any draw violated.
      weight: float32 [B] log(max(1, floor((num_items - 1) / (first + 1)))),
        0 where none violated.
    """
    found = tf.reduce_any(violated, axis=1)
    first = tf.argmax(tf.cast(violated, tf.int32), axis=1, output_type=tf.int32)
    trials = tf.cast(first + 1, tf.float32)
    rank = tf.floor((num_items - 1) / trials)
    weight = tf.math.log(tf.maximum(rank, 1.0))
    return first, found, tf.where(found, weight, 0.0)


def warp_loss(x_ui: tf.Tensor, x_uj: tf.Tensor, weight: tf.Tensor, margin: float = 1.0):
    """weight * max(0, margin - x_ui + x_uj): float32 [B] >= 0."""
    return weight * tf.nn.relu(margin - x_ui + x_uj)


# ---------------------------------------------------------------------------
# Optimisers on sparse rows.


class SparseOptimizer(tf.Module):
    """Adagrad or SGD that updates only the rows a gradient touches.

    Adagrad keeps one accumulator per *row* for the sparse [N, K] tables
    (row-wise Adagrad, the usual choice for embedding tables: the mean of
    the squared row gradient is accumulated) and one per coordinate for
    dense and 1-D parameters. A row's accumulator is a K-th of the memory
    traffic of per-coordinate Adagrad, which is what bounds a step on CPU.

    Args:
      variables: the variables it will update (accumulators are made for
        each under Adagrad).
      kind: "adagrad" or "sgd".
      learning_rate: step size.
      initial_accumulator: Adagrad's starting accumulator.
      sparse: per variable, whether it is a row table updated through
        `tf.IndexedSlices` (row-wise accumulators when 2-D).
    """

    def __init__(
        self,
        variables,
        kind: str,
        learning_rate: float,
        initial_accumulator: float,
        sparse: list[bool] | None = None,
    ):
        super().__init__()
        sparse = sparse or [False] * len(variables)
        # Row-wise accumulators for sparse 2-D tables only.
        self.rowwise = [
            bool(s) and v.shape.rank == 2 for s, v in zip(sparse, variables, strict=True)
        ]
        self.kind = kind
        self.lr = float(learning_rate)
        self.acc = []
        init = float(initial_accumulator)
        if kind == "adagrad":
            self.acc = [
                tf.Variable(tf.fill(tf.shape(v)[:1] if rowwise else tf.shape(v), init))
                for v, rowwise in zip(variables, self.rowwise, strict=True)
            ]

    def apply(self, grads, variables) -> None:
        """Applies `grads` (dense or `tf.IndexedSlices`) to `variables` (same order as built)."""
        for n, (g, v) in enumerate(zip(grads, variables, strict=True)):
            if g is not None:
                self.apply_one(n, g, v)

    def apply_one(self, n: int, g, v) -> None:
        """Applies gradient `g` to `v`, the `n`-th variable this optimiser was built for."""
        if isinstance(g, tf.IndexedSlices):
            if self.kind == "sgd":
                v.scatter_sub(tf.IndexedSlices(self.lr * g.values, g.indices))
                return
            acc = self.acc[n]
            sq = tf.square(g.values)
            if self.rowwise[n]:
                sq = tf.reduce_mean(sq, axis=1)
            acc.scatter_add(tf.IndexedSlices(sq, g.indices))
            scale = tf.math.rsqrt(tf.gather(acc, g.indices))
            if self.rowwise[n]:
                scale = scale[:, None]
            v.scatter_sub(tf.IndexedSlices(self.lr * g.values * scale, g.indices))
        elif self.kind == "sgd":
            v.assign_sub(self.lr * g)
        else:
            acc = self.acc[n]
            acc.assign_add(tf.square(g))
            v.assign_sub(self.lr * g * tf.math.rsqrt(acc))


# ---------------------------------------------------------------------------
# The trainer.


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
      sampler: draws the triplets.
      loss: "bpr" or "warp".
      reg: lambda of the per-sample L2 on touched rows.
      reg_dense: lambda of the once-per-batch L2 on dense visual parameters.
      batch_size: triplets per step.
      optimizer: "adagrad" or "sgd".
      learning_rate: step size.
      adagrad_init: Adagrad's initial accumulator.
      warp_max_trials: negatives drawn per positive by WARP.
      warp_margin: WARP's margin.
      seed: the RNG seed of the batches.
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
        seed: int = 0,
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
        self.seed = int(seed)
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
        seeds = tf.random.experimental.stateless_split(
            tf.stack([tf.constant(self.seed, tf.int64), step]), 3
        )
        users, pos = self.sampler.positives(seeds[0], self.batch_size)
        if self.loss_kind == "bpr":
            neg, mask = self.sampler.negatives(users, seeds[1])
            weight = tf.ones_like(neg, tf.float32)
        else:
            cand, valid = self.sampler.negatives(users, seeds[1], self.warp_max_trials)
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


# ---------------------------------------------------------------------------
# Scorers without training.


def random_scorer(num_items: int, seed: int = 0):
    """RAND: score_block_fn giving i.i.d. uniform scores, fixed per (seed, block)."""

    def block(users):
        first = tf.cast(users[0], tf.int64)
        n = tf.shape(users)[0]
        return tf.random.stateless_uniform(
            tf.stack([n, num_items]), tf.stack([tf.constant(seed, tf.int64), first]), alg=_RNG_ALG
        )

    return block


def visrank_scorer(ds: RecDataset, features: np.ndarray, metric: str = "cosine"):
    """VisRank: items scored by minus their mean visual distance to the user's items.

    With m_u = mean_{i in I_u} f_i (the user's mean training feature):

      sqeuclidean: score_uj = -mean_i ||f_j - f_i||^2
                            = 2 f_j.m_u - ||f_j||^2 - mean_i ||f_i||^2
      cosine:      score_uj = mean_i cos(f_j, f_i) = f^_j . mean_i f^_i

    (f^ = f / ||f||), so a block of users costs one sparse [b, I] x [I, D]
    product for the means and one [b, D] x [D, I] product for the scores;
    no item x item matrix is ever formed. Users without training items get
    m_u = 0.

    Args:
      ds: the dataset (its `train` split defines I_u).
      features: [num_items, D] float32.
      metric: "sqeuclidean" or "cosine".

    Returns:
      score_block_fn: int32 [b] users -> float32 [b, num_items].
    """
    feats = np.asarray(features, np.float32)
    if feats.ndim != 2 or len(feats) != ds.num_items:
        raise ValueError(
            f"VisRank: features must be [num_items={ds.num_items}, D], got {feats.shape}."
        )
    if metric == "cosine":
        feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
    elif metric != "sqeuclidean":
        raise ValueError(f"Unknown VisRank metric {metric!r}.")
    f = tf.constant(feats)
    sq = tf.reduce_sum(tf.square(f), axis=1)
    indptr, indices = ds.train_csr()

    def block(users):
        users = np.asarray(users.numpy() if hasattr(users, "numpy") else users, np.int64)
        counts = indptr[users + 1] - indptr[users]
        rows = np.repeat(np.arange(len(users)), counts)
        starts = np.repeat(indptr[users] - (np.cumsum(counts) - counts), counts)
        cols = indices[starts + np.arange(len(rows))]
        vals = np.repeat(1.0 / np.maximum(counts, 1), counts).astype(np.float32)
        sp = tf.sparse.SparseTensor(
            np.stack([rows, cols], axis=1).astype(np.int64), vals, [len(users), ds.num_items]
        )
        mean = tf.sparse.sparse_dense_matmul(sp, f)
        dots = tf.matmul(mean, f, transpose_b=True)
        if metric == "cosine":
            return dots
        mean_sq = tf.sparse.sparse_dense_matmul(sp, sq[:, None])
        return 2.0 * dots - sq[None, :] - mean_sq

    return block


# ---------------------------------------------------------------------------
# Selection and the library entry point.


def carve_validation(ds: RecDataset, seed: int = 0) -> RecDataset:
    """Moves one random training item per user (with >= 2) into validation.

    For datasets published with train/test only (the Amazon interactions):
    the carved validation is used to select hyper-parameters and epochs,
    never to report.

    Args:
      ds: a dataset with an empty validation split.
      seed: which item is moved.

    Returns:
      A copy with the reduced `train` and the carved `validation`.
    """
    rng = np.random.default_rng(seed)
    train = sort_rows(ds.train)
    counts = np.bincount(train[:, 0], minlength=ds.num_users)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    users = np.flatnonzero(counts >= 2)
    picked = indptr[users] + (rng.random(len(users)) * counts[users]).astype(np.int64)
    keep = np.ones(len(train), bool)
    keep[picked] = False
    return dataclasses.replace(
        ds,
        train=train[keep],
        validation=sort_rows(train[picked]),
        info={**ds.info, "validation": f"carved from train, one item per user, seed {seed}"},
    )


def _kind(model: str) -> str:
    return {"bprmf": "mf", "warp": "mf", "vbpr": "vbpr", "fm": "fm"}[model]


def normalize_features(features: np.ndarray) -> np.ndarray:
    """Features divided by their mean row L2 norm (float32), so rows have norm ~1.

    One scalar for the whole catalogue keeps the geometry and makes the
    learning rate and init scale of FM and VBPR independent of the extractor.
    """
    features = np.asarray(features, np.float32)
    scale = float(np.mean(np.linalg.norm(features, axis=1)))
    return features / scale if scale > 0 else features


def fit(
    config: BaselineConfig,
    ds: RecDataset,
    reg: float,
    dim: int,
    *,
    features: np.ndarray | None = None,
    epochs: int | None = None,
    eval_split: str | None = "validation",
    summary_writer=None,
    auc_options: auc_lib.AUCOptions | None = None,
) -> dict:
    """Trains one (reg, K) point of a factor baseline with early stopping.

    Args:
      config: the model's config (model, optimiser, epochs, ...).
      ds: data; trains on `ds.train`.
      reg: lambda of this point.
      dim: K of this point.
      features: [num_items, D] float32 (FM / VBPR; already normalised).
      epochs: overrides `config.epochs` (retraining to a selected length).
      eval_split: split evaluated every `config.eval_every` epochs for early
        stopping and selection; None trains for `epochs` without evaluating.
      summary_writer: optional tf.summary writer for validation curves.
      auc_options: the metric definitions of the evaluations.

    Returns:
      dict with `best_auc` (the kept model's validation `config.select_on`
      AUC, NaN without evaluation), `best_epoch`, `epochs_run`, `history`
      [(epoch, that AUC, loss)], `embeddings` (user_emb, item_emb, item_bias) of the kept
      model, `metrics` (the kept model's full evaluation dict), `seconds`
      and `samples_per_second`.
    """
    epochs = config.epochs if epochs is None else epochs
    model = FactorModel(
        _kind(config.model),
        ds.num_users,
        ds.num_items,
        dim,
        features=features,
        init_scale=config.init_scale,
        seed=config.seed,
        user_counts=np.bincount(ds.train[:, 0], minlength=ds.num_users),
        item_counts=ds.item_train_counts(),
    )
    sampler = TripletSampler(
        ds.train, ds.num_users, ds.num_items, config.sampling, config.negatives
    )
    trainer = Trainer(
        model,
        sampler,
        loss="warp" if config.model == "warp" else "bpr",
        reg=reg,
        reg_dense=config.reg_dense,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        learning_rate=config.learning_rate,
        adagrad_init=config.adagrad_init,
        warp_max_trials=config.warp_max_trials,
        warp_margin=config.warp_margin,
        seed=config.seed,
        jit_compile=config.jit_compile,
    )
    steps_per_epoch = max(1, math.ceil(len(ds.train) / config.batch_size))
    best = dict(auc=-math.inf, epoch=0, embeddings=None, metrics=None)
    history = []
    stale = 0
    start = time.perf_counter()
    train_seconds = 0.0
    epoch = 0
    progress = runtime.Progress(epochs, "epochs", prefix=f"{config.model} K={dim} reg={reg:g}")
    while epoch < epochs:
        chunk = min(config.eval_every, epochs - epoch)
        t0 = time.perf_counter()
        loss = float(trainer.train_steps(tf.constant(chunk * steps_per_epoch)))
        train_seconds += time.perf_counter() - t0
        epoch += chunk
        if not np.isfinite(loss):
            logging.warning("%s K=%d reg=%g diverged at epoch %d.", config.model, dim, reg, epoch)
            break
        if eval_split is None:
            history.append((epoch, float("nan"), loss))
            progress.update(epoch, f"loss {loss:.4f}")
            continue
        emb = model.embeddings()
        metrics = _evaluate(ds, eval_split, *emb, config, auc_options)
        score = metrics[config.select_on]
        history.append((epoch, score, loss))
        progress.update(
            epoch,
            f"loss {loss:.4f} {eval_split} AUC {metrics['auc']:.4f} warm {metrics['auc_warm']:.4f}",
        )
        if summary_writer is not None:
            with summary_writer.as_default(step=epoch):
                for key in auc_lib.METRICS:
                    tf.summary.scalar(f"{eval_split}/{key}", metrics[key])
                tf.summary.scalar("train/loss", loss)
        if score > best["auc"]:
            best.update(auc=score, epoch=epoch, embeddings=emb, metrics=metrics)
            stale = 0
        else:
            stale += 1
            if stale >= config.patience:
                break
    if best["embeddings"] is None:
        best.update(auc=float("nan"), epoch=epoch, embeddings=model.embeddings())
    samples = int(trainer.step.numpy()) * config.batch_size
    return dict(
        best_auc=float(best["auc"]),
        best_epoch=int(best["epoch"]),
        epochs_run=epoch,
        history=history,
        embeddings=best["embeddings"],
        metrics=best["metrics"],
        seconds=time.perf_counter() - start,
        samples_per_second=samples / max(train_seconds, 1e-9),
    )


def _point_key(reg: float, dim: int) -> str:
    return f"K{dim}_reg{reg:g}"


def _evaluate(ds, split, user_emb, item_emb, item_bias, config, auc_options) -> dict:
    return auc_lib.evaluate_embeddings(
        ds,
        split,
        user_emb,
        item_emb,
        item_bias,
        user_block=config.eval_user_block,
        options=auc_options,
        seed=config.seed,
    )


def _write_hparams_run(logdir: str, hparams: dict, metrics: dict) -> None:
    """One TensorBoard HParams run: its hparams and its final metrics."""
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default(step=0):
        hp.hparams(hparams)
        for name, value in metrics.items():
            if value is not None and np.isfinite(value):
                tf.summary.scalar(name, value)
    writer.close()


def train_baseline(
    config: BaselineConfig,
    dataset: RecDataset,
    workdir: str,
    features: np.ndarray | None = None,
    auc_options: auc_lib.AUCOptions | None = None,
) -> dict:
    """Trains (with selection on validation) and evaluates one baseline.

    Resumable: each grid point's outcome is written to
    `workdir/grid/<point>.json` when it finishes and is not retrained on a
    rerun; the kept model's embeddings go to `workdir/best.npz`.

    Args:
      config: the baseline's config (`baselines_config.get_config`).
      dataset: the data. Validation drives selection; when it is empty a
        validation is carved from train (see `carve_validation`).
      workdir: where config.json, grid results, TensorBoard runs
        (`tensorboard/<point>`) and result.json go.
      features: [num_items, D] float32 visual features; required by
        visrank, fm and vbpr (see `data.features.load_features`).
      auc_options: the metric definitions (`metrics.auc.AUCOptions()` if None).

    Returns:
      dict (also written to `workdir/result.json`): `model`, `dataset`,
      `selection` ("validation" or "carved_from_train"), `hparams` (the
      chosen reg, dim, epochs), `validation` and `test` (each the
      `metrics.auc` dict: auc, auc_cold, auc_warm, auc_sampled100, users,
      cold_users, warm_users, rows), `leak` (`metrics.auc.leak_diagnostic` of
      the test split), `protocol` (sampling, negatives and the metric
      definitions), `grid` (one entry per point), `seconds`.
    """
    start = time.perf_counter()
    auc_options = auc_options or auc_lib.AUCOptions()
    os.makedirs(workdir, exist_ok=True)
    runtime.write_config(workdir, dict(dataset=dataset.name, baseline=config, auc=auc_options))
    if config.visual:
        if features is None:
            raise ValueError(
                f"--model={config.model} needs visual features: pass features= (e.g. from "
                "data.features.load_features(ds, extractor, cache_dir))."
            )
        features = np.asarray(features, np.float32)
        if features.shape[0] != dataset.num_items or features.ndim != 2:
            raise ValueError(
                f"features must be [num_items={dataset.num_items}, D], got {features.shape}."
            )
    carved = len(dataset.validation) == 0
    select_ds = carve_validation(dataset, config.validation_seed) if carved else dataset
    selection = "carved_from_train" if carved else "validation"
    result = dict(
        model=config.model,
        dataset=dataset.name,
        selection=selection,
        protocol=protocol(config, auc_options),
        leak=auc_lib.leak_diagnostic(dataset, "test"),
        hparams={},
        grid=[],
    )

    if not config.trained:
        kwargs = dict(user_block=config.eval_user_block, options=auc_options, seed=config.seed)

        def evaluate(ds, split):
            if config.model == "poprank":
                return auc_lib.evaluate_popularity(ds, split, **kwargs)
            if config.model == "rand":
                scorer = random_scorer(ds.num_items, config.seed)
            else:
                scorer = visrank_scorer(ds, features, config.visrank_metric)
            return auc_lib.evaluate_scores(ds, split, scorer, **kwargs)

        if config.model == "visrank":
            result["hparams"] = dict(metric=config.visrank_metric)
        result["validation"] = evaluate(select_ds, "validation")
        result["test"] = evaluate(dataset, "test")
        return _finish(result, workdir, start)

    feats = normalize_features(features) if features is not None else None
    best = None
    points = config.grid_points()
    # Each point also reports its epochs (`fit`); this line says where the
    # whole search stands.
    grid_progress = runtime.Progress(
        len(points), "grid points", interval=10.0, prefix=f"{config.model} grid", quiet_start=True
    )
    for done, (reg, dim) in enumerate(points, 1):
        key = _point_key(reg, dim)
        path = os.path.join(workdir, "grid", key + ".json")
        if os.path.exists(path):
            with open(path) as f:
                point = json.load(f)
            if point.get("protocol") != result["protocol"]:
                raise ValueError(
                    f"{path} was trained under protocol {point.get('protocol')}, not "
                    f"{result['protocol']}: use another --workdir, or delete {workdir}/grid to "
                    "retrain every point."
                )
            logging.info("Grid point %s already done (AUC %.4f); skipped.", key, point["auc"])
        else:
            writer = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard", key))
            out = fit(
                config,
                select_ds,
                reg,
                dim,
                features=feats,
                summary_writer=writer,
                auc_options=auc_options,
            )
            writer.close()
            point = dict(
                key=key,
                reg=reg,
                dim=dim,
                auc=out["best_auc"],
                best_epoch=out["best_epoch"],
                epochs_run=out["epochs_run"],
                seconds=out["seconds"],
                samples_per_second=out["samples_per_second"],
                validation=out["metrics"],
                protocol=result["protocol"],
            )
            _write_hparams_run(
                os.path.join(workdir, "tensorboard", key),
                dict(model=config.model, dataset=dataset.name, reg=float(reg), dim=int(dim)),
                {"hparams/validation_auc": out["best_auc"]},
            )
            is_best = best is None or (np.isfinite(point["auc"]) and point["auc"] > best["auc"])
            if is_best and not carved:
                user_emb, item_emb, item_bias = out["embeddings"]
                npz = os.path.join(workdir, "best.npz")
                tmp = npz + ".tmp.npz"
                np.savez(tmp, user=user_emb, item=item_emb, bias=item_bias, key=key)
                os.replace(tmp, npz)
            runtime.atomic_write_text(path, runtime.to_json(point, indent=2) + "\n")
        result["grid"].append(point)
        if best is None or (np.isfinite(point["auc"]) and point["auc"] > best["auc"]):
            best = point
        grid_progress.update(done, f"best {best['key']} AUC {best['auc']:.4f}")
    grid_progress.update(len(points), force=True)
    result["hparams"] = dict(reg=best["reg"], dim=best["dim"], epochs=best["best_epoch"])
    result["validation"] = best["validation"]
    if carved:
        # Retrain on the full training split for the selected length.
        out = fit(
            config,
            dataset,
            best["reg"],
            best["dim"],
            features=feats,
            epochs=max(best["best_epoch"], 1),
            eval_split=None,
        )
        emb = out["embeddings"]
    else:
        with np.load(os.path.join(workdir, "best.npz")) as z:
            if str(z["key"]) != best["key"]:
                raise RuntimeError(
                    f"{workdir}/best.npz holds {z['key']}, not the selected {best['key']}: "
                    "delete the workdir's grid/ folder and rerun."
                )
            emb = (z["user"], z["item"], z["bias"])
    result["test"] = _evaluate(dataset, "test", *emb, config, auc_options)
    return _finish(result, workdir, start)


def _finish(result: dict, workdir: str, start: float) -> dict:
    result["seconds"] = time.perf_counter() - start
    runtime.atomic_write_text(
        os.path.join(workdir, layout.RESULT), runtime.to_json(result, indent=2) + "\n"
    )
    logging.info(
        "%s on %s: test AUC %.4f (cold %.4f, warm %.4f), selected %s on %s. Split: %s.",
        result["model"],
        result["dataset"],
        result["test"]["auc"],
        result["test"]["auc_cold"],
        result["test"]["auc_warm"],
        result["hparams"],
        result["selection"],
        auc_lib.format_leak(result["leak"]),
    )
    return result


def protocol(config: BaselineConfig, auc_options: auc_lib.AUCOptions) -> dict:
    """How a baseline's triplets were drawn and its AUCs defined (for result files and tables)."""
    return dict(
        sampling=config.sampling,
        negatives=config.negatives,
        select_on=config.select_on,
        cold_threshold=auc_options.cold_threshold,
        sampled_auc=auc_options.sampled_auc,
    )


def clear_grid(workdir: str) -> None:
    """Forgets finished grid points (so that a rerun retrains them)."""
    for path in glob.glob(os.path.join(workdir, "grid", "*.json")):
        os.unlink(path)
