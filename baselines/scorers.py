"""The baselines without training: RAND and VisRank (PopRank is `metrics.auc.evaluate_popularity`).

Each returns a score_block_fn for `metrics.auc.evaluate_scores`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from data.core import RecDataset

_RNG_ALG = "philox"


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
