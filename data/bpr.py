"""BPR's triplets and objective: the one sampler and the one loss of DVBPR and the baselines.

    sampler = bpr.TripletSampler(ds, bpr.SamplerConfig(seed=0))
    batch = sampler.sample(step, batch_size)     # {'user', 'pos_item', 'neg_item', 'valid'}
    loss = bpr.bpr_loss(x_ui, x_uj)              # -log sigmoid(x_ui - x_uj) per triplet

Batches are pure functions of `(seed, step)`, drawn in TF ops from
stateless Philox streams: a run resumed at step k sees the batches an
uninterrupted run sees, and no Python runs per example.

The protocol (`metrics.protocol.SAMPLINGS`, `NEGATIVES`; the first of each
is the paper's, as the DVBPR release and the reference BPR-MF draw):

- `sampling="users"`: the user uniform over users with training items,
  the positive uniform among that user's training items. "pairs": uniform
  over training pairs (Rendle et al. 2009's bootstrap over D_S; LightFM's
  and implicit's), so active users are drawn more often.
- `negatives="uniform"`: j uniform over *all* items, redrawn while it is in
  the user's training set. "popularity": the item of a uniformly drawn
  training pair (`implicit`). "observed": uniform over items with training
  data only.

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

Two random streams, kept because each one's seeded numbers are published
(the demo's DVBPR figures, the baselines' Table III runs) and a stream
cannot change without changing them (`SamplerConfig.rng_stream`):

- "dvbpr" (DVBPR's): `[seed, step]` is split into user, positive and
  negative keys; an index below n is a full-range int64 draw mod n (bias
  below n / 2**63); negatives are redrawn, keyed by `fold_in(key, round)`,
  in a vectorised while loop until none is a training item, so every
  triplet is valid (a user owning every candidate is refused up front).
- "baselines": `[seed, step]` is split into three keys (positives,
  negatives, unused); an index below n is a ranged int32 draw (positives
  under "users": a float draw scaled by the user's count); negatives are
  redrawn at most twice, and draws that still hit come back with
  `valid=False`, to be masked out of the loss (about 1 in 10^5 on sparse
  data).

Membership of (user, item) in the training set is one hash-table lookup
per pair, on `user * num_items + item` keys. DVBPR's sampler used a binary
search of the sorted keys; the lookup made its `triplet_dataset` (without
images, paper-sized synthetic data: 64,583 users, 234,892 items, 548k
pairs) 3-5x faster: 110k -> 430k triplets/s at batch 128, 0.7-1.2M ->
2.1-4.0M at batch 1024 (back-to-back runs on 2 shared cores).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import tensorflow as tf

from data.core import DataError, RecDataset
from metrics.protocol import NEGATIVES, SAMPLINGS

# Philox gives the same stream on every device; "auto_select" may not.
_RNG_ALG = "philox"
# The "baselines" stream: times a negative that hit the user's training set is redrawn.
_NEGATIVE_REDRAWS = 2
RNG_STREAMS = ("dvbpr", "baselines")


def bpr_loss(x_ui: tf.Tensor, x_uj: tf.Tensor) -> tf.Tensor:
    """BPR's objective per triplet, -log sigmoid(x_ui - x_uj).

    softplus(-x) equals -log sigmoid(x) but does not overflow for large |x|.

    Args:
      x_ui: [B] (or [B, T]) float32 scores of the positive items.
      x_uj: float32 scores of the negative items, the shape of `x_ui`.

    Returns:
      float32, the shape of `x_ui`, >= 0.
    """
    return tf.nn.softplus(-(x_ui - x_uj))


@dataclasses.dataclass(frozen=True)
class SamplerConfig:
    """How a `TripletSampler` draws (see the module docstring).

    Attributes:
      seed: the stream's seed.
      sampling: how (u, i) is drawn, one of `metrics.protocol.SAMPLINGS`.
      negatives: how j is drawn, one of `metrics.protocol.NEGATIVES`.
      rng_stream: "dvbpr" (DVBPR's draws: negatives redrawn until valid) or
        "baselines" (the baselines' draws: two redraws, then a mask).
    """

    seed: int = 0
    sampling: str = "users"
    negatives: str = "uniform"
    rng_stream: str = "dvbpr"

    def __post_init__(self):
        for name, value, allowed in (
            ("sampling", self.sampling, SAMPLINGS),
            ("negatives", self.negatives, NEGATIVES),
            ("rng_stream", self.rng_stream, RNG_STREAMS),
        ):
            if value not in allowed:
                raise ValueError(f"SamplerConfig.{name}={value!r}; use one of {allowed}.")


def _hold(array, dtype: tf.DType, as_variable: bool) -> tf.Tensor | tf.Variable:
    """`array` as a host-side constant, or non-trainable variable (see `TripletSampler`)."""
    with tf.device("/cpu:0"):
        value = tf.convert_to_tensor(array, dtype)
        return tf.Variable(value, trainable=False) if as_variable else value


class TripletSampler(tf.Module):
    """Draws BPR triplets (u, i, j) from a dataset's training pairs, in TF ops.

    Args:
      ds: the dataset; only `train`, `num_users`, `num_items` (and, for
        errors, `name` and `user_ids`) are read.
      config: the seed, the protocol and the random stream.
      as_variables: hold the tables in host-side variables, for tf.data:
        it captures a variable by handle, whereas a constant is serialised
        into the dataset's graph whenever tf.data optimises it. False holds
        constants, which a `tf.function` step reads faster (the baselines'
        trainer: 3-20% more BPR-MF steps per second in
        `benchmarks/bench_bprmf.py` on a shared 2-core machine).

    Raises:
      DataError: no training interactions; or, in the "dvbpr" stream, a
        user owns every negative candidate (no negative exists for them and
        the redraw loop would not end).
    """

    def __init__(
        self, ds: RecDataset, config: SamplerConfig = SamplerConfig(), *, as_variables: bool = True
    ):
        super().__init__()
        if len(ds.train) == 0:
            raise DataError(f"Dataset {ds.name} has no training interactions to sample from.")
        self.config = config
        self.num_items = int(ds.num_items)
        indptr, indices = ds.train_csr()
        counts = np.diff(indptr)
        users_of_rows = np.repeat(np.arange(ds.num_users, dtype=np.int64), counts)
        observed = np.unique(indices)
        keys = np.unique(users_of_rows * self.num_items + indices)
        if config.rng_stream == "dvbpr":
            pool = self.num_items if config.negatives == "uniform" else len(observed)
            _refuse_full_users(ds, keys // self.num_items, pool, config.negatives)
        # Each stream's tables in the dtype of its draws (int64 / int32): no casts per step.
        dtype = tf.int64 if config.rng_stream == "dvbpr" else tf.int32
        hold = functools.partial(_hold, dtype=dtype, as_variable=as_variables)
        self._active = hold(np.flatnonzero(counts))
        self._indptr = hold(indptr)
        self._indices = hold(indices)  # the positives; the popularity pool
        self._row_users = hold(users_of_rows)
        self._observed = hold(observed)
        # One lookup per pair (see the module docstring for the speed).
        with tf.device("/cpu:0"):
            keys = tf.constant(keys, tf.int64)
            self._pairs = tf.lookup.StaticHashTable(
                tf.lookup.KeyValueTensorInitializer(keys, tf.ones_like(keys, tf.int32)), 0
            )

    def in_train(self, users: tf.Tensor, items: tf.Tensor) -> tf.Tensor:
        """bool, the shape of `items`: whether (user, item) is a training pair.

        Args:
          users: int32 or int64 [B].
          items: int32 or int64 [B] or [B, T].
        """
        users = tf.cast(users, tf.int64)
        if items.shape.rank == 2:
            users = users[:, None]
        return self._pairs.lookup(users * self.num_items + tf.cast(items, tf.int64)) > 0

    def sample(
        self, step: tf.Tensor, batch_size: int, trials: int | None = None
    ) -> dict[str, tf.Tensor]:
        """Batch `step` of the stream: a pure function of (seed, step).

        Args:
          step: scalar int; the batch's index in the stream.
          batch_size: B.
          trials: None for one negative per triplet; T for [B, T]
            candidates per triplet (WARP).

        Returns:
          {'user': int32 [B], 'pos_item': int32 [B], 'neg_item': int32 [B]
          (or [B, T]), 'valid': bool like 'neg_item', False where the
          negative is a training item of the user (the "baselines" stream
          only; mask it out of the loss)}.
        """
        key = tf.stack([tf.constant(self.config.seed, tf.int64), tf.cast(step, tf.int64)])
        if self.config.rng_stream == "dvbpr":
            users, pos, neg, valid = self._sample_dvbpr(key, batch_size, trials)
        else:
            users, pos, neg, valid = self._sample_baselines(key, batch_size, trials)
        return {
            "user": tf.cast(users, tf.int32),
            "pos_item": tf.cast(pos, tf.int32),
            "neg_item": tf.cast(neg, tf.int32),
            "valid": valid,
        }

    def _negative_pool(self) -> tf.Tensor | tf.Variable | None:
        """Items j is drawn from (None: all items)."""
        return {"uniform": None, "popularity": self._indices, "observed": self._observed}[
            self.config.negatives
        ]

    # -- The "dvbpr" stream. ------------------------------------------------

    def _sample_dvbpr(self, key, batch_size, trials):
        user_key, pos_key, neg_key = tf.unstack(
            tf.random.experimental.stateless_split(key, num=3, alg=_RNG_ALG)
        )

        def draw(seed, modulus, shape=(batch_size,)):
            # Full-range int64 draws mod n: the bias is below n / 2**63.
            bits = tf.random.stateless_uniform(
                shape, seed=seed, minval=None, maxval=None, dtype=tf.int64, alg=_RNG_ALG
            )
            return tf.math.floormod(bits, modulus)

        if self.config.sampling == "pairs":
            rows = draw(user_key, tf.shape(self._indices, out_type=tf.int64)[0])
            users, pos = tf.gather(self._row_users, rows), tf.gather(self._indices, rows)
        else:
            n = tf.shape(self._active, out_type=tf.int64)[0]
            users = tf.gather(self._active, draw(user_key, n))
            start = tf.gather(self._indptr, users)
            count = tf.gather(self._indptr, users + 1) - start
            pos = tf.gather(self._indices, start + draw(pos_key, count))

        shape = [batch_size] if trials is None else [batch_size, trials]
        pool = self._negative_pool()

        def draw_negatives(seed):
            if pool is None:
                return draw(seed, self.num_items, shape)
            return tf.gather(pool, draw(seed, tf.shape(pool, out_type=tf.int64)[0], shape))

        def redraw(i, neg, bad):
            seed = tf.random.experimental.stateless_fold_in(neg_key, i, alg=_RNG_ALG)
            neg = tf.where(bad, draw_negatives(seed), neg)
            return i + 1, neg, self.in_train(users, neg)

        _, neg, _ = tf.while_loop(
            lambda i, neg, bad: tf.reduce_any(bad),
            redraw,
            (tf.constant(0, tf.int64), tf.zeros(shape, tf.int64), tf.ones(shape, bool)),
        )
        return users, pos, neg, tf.ones(shape, bool)

    # -- The "baselines" stream. --------------------------------------------

    def _sample_baselines(self, key, batch_size, trials):
        seeds = tf.random.experimental.stateless_split(key, 3)
        users, pos = self._positives_baselines(seeds[0], batch_size)
        neg, valid = self._negatives_baselines(users, seeds[1], trials)
        return users, pos, neg, valid

    def _positives_baselines(self, seed, batch_size):
        if self.config.sampling == "pairs":
            n = tf.shape(self._indices)[0]
            rows = tf.random.stateless_uniform(
                [batch_size], seed, 0, n, dtype=tf.int32, alg=_RNG_ALG
            )
            return tf.gather(self._row_users, rows), tf.gather(self._indices, rows)
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
        return users, tf.gather(self._indices, start + offset)

    def _negatives_baselines(self, users, seed, trials):
        shape = tf.shape(users) if trials is None else tf.stack([tf.shape(users)[0], trials])
        pool = self._negative_pool()

        def draw(seed):
            if pool is None:
                return tf.random.stateless_uniform(
                    shape, seed, 0, self.num_items, dtype=tf.int32, alg=_RNG_ALG
                )
            n = tf.shape(pool)[0]
            rows = tf.random.stateless_uniform(shape, seed, 0, n, dtype=tf.int32, alg=_RNG_ALG)
            return tf.gather(pool, rows)

        seeds = tf.random.experimental.stateless_split(seed, _NEGATIVE_REDRAWS + 1)
        items = draw(seeds[0])
        for r in range(_NEGATIVE_REDRAWS):
            items = tf.where(self.in_train(users, items), draw(seeds[r + 1]), items)
        return items, tf.logical_not(self.in_train(users, items))


def _refuse_full_users(ds: RecDataset, key_users: np.ndarray, pool: int, negatives: str):
    """DataError naming the users whose distinct training items cover all `pool` candidates."""
    distinct = np.bincount(key_users, minlength=ds.num_users)
    full = np.flatnonzero(distinct >= pool)
    if len(full):
        what = "items" if negatives == "uniform" else "items with training data"
        raise DataError(
            f"Dataset {ds.name}: user(s) {', '.join(ds.user_ids[full[:10]])} interacted "
            f"with every one of the {pool} {what} in train, so no negative item "
            f"exists for them; drop those users."
        )
