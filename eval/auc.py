"""The paper's AUC, its cold-item variant and the authors' sampled-100 AUC.

For each held-out (user u, item i) row of a split, the paper (Section IV-A)
counts the fraction of items j the user never observed (in train,
validation or test) that are scored below i. We count ties as 1/2 — the
standard AUC, and the only choice under which a constant scorer gets 0.5.
Row AUCs are averaged per user, then over users. The cold-item AUC keeps the
rows whose held-out item had fewer than 5 training observations. The
sampled AUC is what the authors' code reports: the held-out item against 100
random items the user never observed.

Scores are computed for a block of users at a time on the device, and the
counting uses sum(sign(s_i - s_j)) over all items minus the same sum over
the user's observed items, so no per-user Python loop and no dense mask.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from data.core import RecDataset, interactions_csr

ScoreBlockFn = Callable[[tf.Tensor], tf.Tensor]


class _Queries:
    """Numpy bookkeeping for one split: rows, exclusions, sampled negatives."""

    def __init__(self, ds: RecDataset, split: str, sampled_negatives: int, seed: int):
        rows = ds.split(split)
        order = np.lexsort((rows[:, 1], rows[:, 0]))
        self.rows = rows[order].astype(np.int64)
        self.num_items = ds.num_items
        observed = np.unique(
            np.concatenate([ds.train, ds.validation, ds.test]).astype(np.int64), axis=0
        )
        obs_indptr, obs_items = interactions_csr(observed, ds.num_users)
        users = self.rows[:, 0]
        counts = obs_indptr[users + 1] - obs_indptr[users]
        # Exclusion pairs: for row r, every item its user observed.
        self.excl_row = np.repeat(np.arange(len(users)), counts)
        starts = np.repeat(obs_indptr[users], counts)
        offsets = np.arange(len(self.excl_row)) - np.repeat(np.cumsum(counts) - counts, counts)
        self.excl_item = obs_items[starts + offsets]
        self.num_negatives = (ds.num_items - counts).astype(np.float64)
        self.cold = ds.cold_items()[self.rows[:, 1]]
        self.sampled = self._sample(observed, sampled_negatives, seed)

    def _sample(self, observed: np.ndarray, n: int, seed: int) -> np.ndarray:
        """[rows, n] items drawn uniformly among those the row's user never observed."""
        rng = np.random.default_rng(seed)
        keys = np.sort(observed[:, 0] * self.num_items + observed[:, 1])
        users = self.rows[:, 0]
        sampled = rng.integers(0, self.num_items, size=(len(users), n))
        for _ in range(1000):
            probe = users[:, None] * self.num_items + sampled
            pos = np.searchsorted(keys, probe).clip(max=len(keys) - 1)
            bad = keys[pos] == probe if len(keys) else np.zeros_like(probe, bool)
            # Users who observed every item have nothing to sample; leave them.
            bad &= (self.num_negatives > 0)[:, None]
            if not bad.any():
                break
            sampled[bad] = rng.integers(0, self.num_items, size=int(bad.sum()))
        return sampled


@tf.function(reduce_retracing=True)
def _block_sums(scores, local_user, items, excl_local_row, excl_item, sampled):
    """Sign sums for the rows of one user block.

    Args:
      scores: [b, num_items] float32 scores of the block's users.
      local_user: [r] int32 row -> index of its user within the block.
      items: [r] int32 held-out item of each row.
      excl_local_row: [e] int32 exclusion pair -> row within the block.
      excl_item: [e] int32 excluded (observed) item.
      sampled: [r, n] int32 sampled negatives per row.

    Returns:
      all_sum: [r] float32 sum_j sign(s_i - s_j) over all items j.
      excl_sum: [r] float32 the same sum over the user's observed items.
      sampled_sum: [r] float32 the same sum over the sampled negatives.
    """
    row_scores = tf.gather(scores, local_user)
    pos = tf.gather(row_scores, items, axis=1, batch_dims=1)
    all_sum = tf.reduce_sum(tf.sign(pos[:, None] - row_scores), axis=1)
    excl_scores = tf.gather_nd(row_scores, tf.stack([excl_local_row, excl_item], axis=1))
    excl_sum = tf.math.unsorted_segment_sum(
        tf.sign(tf.gather(pos, excl_local_row) - excl_scores),
        excl_local_row,
        tf.shape(items)[0],
    )
    sampled_scores = tf.gather(row_scores, sampled, axis=1, batch_dims=1)
    sampled_sum = tf.reduce_sum(tf.sign(pos[:, None] - sampled_scores), axis=1)
    return all_sum, excl_sum, sampled_sum


def _per_user_mean(values: np.ndarray, users: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """Mean over users of the mean of their masked row values."""
    if not mask.any():
        return float("nan"), 0
    u, inverse = np.unique(users[mask], return_inverse=True)
    sums = np.bincount(inverse, weights=values[mask])
    counts = np.bincount(inverse)
    return float(np.mean(sums / counts)), int(len(u))


def evaluate_scores(
    ds: RecDataset,
    split: str,
    score_block_fn: ScoreBlockFn,
    *,
    user_block: int = 1024,
    sampled_negatives: int = 100,
    seed: int = 0,
) -> dict:
    """AUC (all items / cold items / sampled-100) of a scorer on a split.

    Args:
      ds: the dataset.
      split: "validation" or "test" (or "train").
      score_block_fn: maps user indices int32 [b] to float32 [b, num_items]
        scores. Called once per block of `user_block` users.
      user_block: users scored at a time; bounds memory at
        user_block x num_items floats.
      sampled_negatives: negatives per row of the sampled AUC.
      seed: seed of the sampled negatives.

    Returns:
      dict with `auc`, `auc_cold`, `auc_sampled100` (floats in [0, 1], NaN
      when undefined), `users` and `cold_users` (users averaged over) and
      `rows` (held-out interactions evaluated).
    """
    q = _Queries(ds, split, sampled_negatives, seed)
    n = len(q.rows)
    if n == 0:
        nan = float("nan")
        return dict(auc=nan, auc_cold=nan, auc_sampled100=nan, users=0, cold_users=0, rows=0)
    all_sum = np.zeros(n)
    excl_sum = np.zeros(n)
    sampled_sum = np.zeros(n)
    users = q.rows[:, 0]
    block_users = np.unique(users)
    for start in range(0, len(block_users), user_block):
        chunk = block_users[start : start + user_block]
        r0, r1 = np.searchsorted(users, [chunk[0], chunk[-1] + 1])
        e0, e1 = np.searchsorted(q.excl_row, [r0, r1])
        scores = score_block_fn(tf.constant(chunk, tf.int32))
        local_user = np.searchsorted(chunk, users[r0:r1])
        a, e, s = _block_sums(
            tf.convert_to_tensor(scores, tf.float32),
            tf.constant(local_user, tf.int32),
            tf.constant(q.rows[r0:r1, 1], tf.int32),
            tf.constant(q.excl_row[e0:e1] - r0, tf.int32),
            tf.constant(q.excl_item[e0:e1], tf.int32),
            tf.constant(q.sampled[r0:r1], tf.int32),
        )
        all_sum[r0:r1], excl_sum[r0:r1], sampled_sum[r0:r1] = a.numpy(), e.numpy(), s.numpy()
    valid = q.num_negatives > 0
    row_auc = 0.5 + (all_sum - excl_sum) / (2.0 * np.maximum(q.num_negatives, 1.0))
    row_sampled = 0.5 + sampled_sum / (2.0 * max(sampled_negatives, 1))
    auc, n_users = _per_user_mean(row_auc, users, valid)
    auc_cold, n_cold = _per_user_mean(row_auc, users, valid & q.cold)
    auc_sampled, _ = _per_user_mean(row_sampled, users, valid)
    return dict(
        auc=auc,
        auc_cold=auc_cold,
        auc_sampled100=auc_sampled,
        users=n_users,
        cold_users=n_cold,
        rows=int(valid.sum()),
    )


@tf.function(reduce_retracing=True)
def _embedding_scores(user_emb, item_emb, bias, users):
    """[b, num_items] float32 scores user_emb[users] . item_emb^T + bias.

    Module-level so that evaluating once per epoch reuses one trace.
    """
    return tf.matmul(tf.gather(user_emb, users), item_emb, transpose_b=True) + bias[None, :]


def evaluate_embeddings(
    ds: RecDataset,
    split: str,
    user_emb,
    item_emb,
    item_bias=None,
    **kwargs,
) -> dict:
    """`evaluate_scores` for x_ui = user_emb[u] . item_emb[i] (+ item_bias[i]).

    Args:
      ds: the dataset.
      split: split to evaluate.
      user_emb: [num_users, K] float32.
      item_emb: [num_items, K] float32.
      item_bias: optional [num_items] float32.
      **kwargs: passed to `evaluate_scores`.
    """
    user_emb = tf.convert_to_tensor(user_emb, tf.float32)
    item_emb = tf.convert_to_tensor(item_emb, tf.float32)
    if item_bias is None:
        item_bias = tf.zeros([item_emb.shape[0]], tf.float32)
    bias = tf.convert_to_tensor(item_bias, tf.float32)

    def block(users):
        return _embedding_scores(user_emb, item_emb, bias, users)

    return evaluate_scores(ds, split, block, **kwargs)


def evaluate_true_scores(ds: RecDataset, split: str, **kwargs) -> dict | None:
    """The oracle AUC: the simulator's true utilities, where the dataset has them."""
    if ds.true_scores is None:
        return None
    return evaluate_scores(
        ds, split, lambda users: np.asarray(ds.true_scores(users.numpy()), np.float32), **kwargs
    )


def evaluate_popularity(ds: RecDataset, split: str, **kwargs) -> dict:
    """PopRank: every user ranks items by their number of training observations."""
    counts = ds.item_train_counts().astype(np.float32)
    return evaluate_embeddings(
        ds,
        split,
        np.zeros((ds.num_users, 1), np.float32),
        np.zeros((ds.num_items, 1)),
        counts,
        **kwargs,
    )
