"""The factor models of BPR-MF, WARP, VBPR and FM: x_ui = b_i + p_u . q_i.

Every trained baseline scores a user-item pair as x_ui = b_i + p_u . q_i,
which is what `metrics.auc.evaluate_embeddings` evaluates (user embedding
p_u, item embedding q_i, item bias b_i). The global offset alpha and the
user bias beta_u of eqs. 1 and 2 shift all of a user's scores equally, so
they cancel in BPR's x_ui - x_uj and in every per-user AUC: they are left
out.

  BPR-MF (eq. 1):  p_u = gamma_u,            q_i = gamma_i,            b_i = beta_i
  VBPR (eq. 2):    p_u = [gamma_u; theta_u], q_i = [gamma_i; E^T f_i], b_i = beta_i + beta'.f_i
  FM:              p_u = e_u,                q_i = e_i + V^T f_i,      b_i = w_i + w'.f_i
  WARP:            as BPR-MF, trained with the WARP loss.

FM is LightFM's model with user features = identity and item features =
identity + visual features: the user's one embedding meets the item's own
embedding (user x item) and the embedded visual features (user x visual
feature); item x feature interactions are left out, as the paper says.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from common import arrays

# The model kind of each trained baseline.
KINDS = {"bprmf": "mf", "warp": "mf", "vbpr": "vbpr", "fm": "fm"}


class FactorModel(tf.Module):
    """x_ui = b_i + p_u . q_i for BPR-MF / WARP ("mf"), VBPR and FM.

    Args:
      kind: "mf", "vbpr" or "fm".
      num_users: number of users.
      num_items: number of items.
      dim: K.
      features: [num_items, D] float32 visual features (vbpr / fm only),
        held without a copy where it can be (`common.arrays.constant`): do
        not write the array while the model lives.
      feature_scale: the model reads f_i / feature_scale (`feature_scale()`
        of the catalogue; 1: the features as given). Dividing the gathered
        rows, not the matrix, keeps one copy of a 3.8 GB matrix in memory.
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
        feature_scale: float = 1.0,
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
            if not feature_scale > 0:
                raise ValueError(f"{kind}: feature_scale must be > 0, got {feature_scale}.")
            d = features.shape[1]
            self.features = arrays.constant(features)
            # A variable, not a Python float: inside a tf.function a constant
            # divisor is rewritten as a multiplication by its reciprocal, which
            # is not bit-identical to numpy's f / scale.
            self.feature_scale = tf.Variable(float(feature_scale), trainable=False)
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
            f = tf.gather(self.features, items) / self.feature_scale
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
        """(user_emb [U, K'], item_emb [I, K'], item_bias [I]) float32 for evaluation.

        Items go through in blocks, so the visual models never gather a
        second [num_items, D] copy of the features.
        """
        p, _ = self.user_vectors(tf.range(self.num_users))
        block = self.num_items
        if self.features is not None:
            block = max(1, _EMBED_BLOCK_BYTES // (4 * int(self.features.shape[1])))
        q, b = [], []
        for start in range(0, self.num_items, block):
            q_block, b_block, _ = self.item_vectors(
                tf.range(start, min(start + block, self.num_items))
            )
            q.append(q_block.numpy())
            b.append(b_block.numpy())
        return p.numpy(), np.concatenate(q), np.concatenate(b)


# Features gathered per block of `FactorModel.embeddings` (~64 MB; the division by the
# scale makes a second block-sized temporary).
_EMBED_BLOCK_BYTES = 64 * 2**20


def feature_scale(features: np.ndarray) -> float:
    """The mean row L2 norm of [num_items, D] features (1 when it is 0).

    FM and VBPR read f_i / feature_scale (rows of norm ~1): one scalar for
    the whole catalogue keeps the geometry and makes the learning rate and
    init scale independent of the extractor.
    """
    scale = float(np.mean(arrays.row_norms(np.asarray(features, np.float32))))
    return scale if scale > 0 else 1.0
