"""WARP's loss and rank weight (per sample; the objective sums them over the batch).

BPR's loss is `data.bpr.bpr_loss`, the one DVBPR minimises too.
"""

from __future__ import annotations

import tensorflow as tf


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
