"""The baselines without training: RAND and VisRank (PopRank is `metrics.auc.evaluate_popularity`).

Each returns a score_block_fn for `metrics.auc.evaluate_scores`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import tensorflow as tf

from common import arrays
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


class VisRankItems(NamedTuple):
    """VisRank's item side, computed once per catalogue (`visrank_items`).

    Attributes:
      features: float32 [num_items, D]; rows L2-normalised for "cosine".
      sq_norms: float32 [num_items] squared row norms ("sqeuclidean"), else None.
      metric: "cosine" or "sqeuclidean".
    """

    features: tf.Tensor
    sq_norms: tf.Tensor | None
    metric: str


def visrank_items(features: np.ndarray, metric: str = "cosine") -> VisRankItems:
    """VisRank's item tensors from [num_items, D] float32 features.

    Memory: "cosine" makes one normalised copy of the features (a chunk of
    rows at a time, no temporaries as large as the matrix); "sqeuclidean"
    shares the caller's array (`common.arrays.constant`). At 234,892 x 4,096
    a copy is 3.8 GB, so the scorer is built from these once, not per split.
    """
    features = np.asarray(features, np.float32)
    if features.ndim != 2:
        raise ValueError(f"VisRank: features must be [num_items, D], got {features.shape}.")
    step = arrays.chunk_rows(features)
    if metric == "cosine":
        norms = np.maximum(arrays.row_norms(features), 1e-12)
        unit = arrays.aligned_empty(features.shape)
        for start in range(0, len(features), step):
            rows = slice(start, start + step)
            np.divide(features[rows], norms[rows, None], out=unit[rows])
        return VisRankItems(arrays.constant(unit), None, metric)
    if metric == "sqeuclidean":
        f = arrays.constant(features)
        sq = tf.concat(
            [
                tf.reduce_sum(tf.square(f[start : start + step]), axis=1)
                for start in range(0, len(features), step)
            ]
            or [tf.zeros([0])],
            axis=0,
        )
        return VisRankItems(f, sq, metric)
    raise ValueError(f"Unknown VisRank metric {metric!r}.")


def visrank_scorer(ds: RecDataset, features, metric: str = "cosine"):
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
      features: `VisRankItems` (from `visrank_items`; share one between
        scorers of the same catalogue), or [num_items, D] float32.
      metric: "sqeuclidean" or "cosine" (ignored for `VisRankItems`).

    Returns:
      score_block_fn: int32 [b] users -> float32 [b, num_items].
    """
    items = features if isinstance(features, VisRankItems) else visrank_items(features, metric)
    f, sq, metric = items
    if f.shape[0] != ds.num_items:
        raise ValueError(f"VisRank: features must be [num_items={ds.num_items}, D], got {f.shape}.")
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
