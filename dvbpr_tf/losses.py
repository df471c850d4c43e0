"""The BPR objective of DVBPR (paper eq. 5) and its regularisers.

For a batch of B triplets (u, i, j), with x_uij = x_ui - x_uj, the release
maximises sum_b log sigmoid(x_uij) minus two `tf.nn.l2_loss` penalties. We
minimise the same objective divided by B (Adam does not see the constant):

    bpr       = mean_b softplus(-x_uij)                 (= -mean log sigmoid)
    reg_theta = lambda_theta / B * sum_b ||theta_ub||^2 / 2
    reg_cnn   = weight_decay / B * sum_W ||W||^2 / 2
    loss      = bpr + reg_theta + reg_cnn

The per-triplet BPR term, `data.bpr.bpr_loss`, is the baselines' too; softplus(-x)
equals -log sigmoid(x) but does not overflow for large |x|.
The three terms are returned separately because only `bpr` says how well
the ranking is learnt; the penalties are reported on their own.
"""

from __future__ import annotations

import tensorflow as tf

from data.bpr import bpr_loss


def l2_half(tensors) -> tf.Tensor:
    """sum over `tensors` of ||t||^2 / 2 (what `tf.nn.l2_loss` sums), float32."""
    # One fused L2Loss op per tensor: square-then-sum would write a temporary
    # the size of each kernel and backpropagate through a broadcast of it
    # (full6's kernel alone is 38M floats, read and written several times).
    return tf.add_n([tf.nn.l2_loss(tf.cast(t, tf.float32)) for t in tensors])


def dvbpr_objective(
    x_ui: tf.Tensor,
    x_uj: tf.Tensor,
    theta_u: tf.Tensor,
    kernels,
    *,
    lambda_theta: float,
    weight_decay: float,
    global_batch_size: int,
    num_replicas: int = 1,
) -> dict[str, tf.Tensor]:
    """One replica's share of the batch objective.

    Each replica sees `global_batch_size / num_replicas` triplets; summing the
    returned values over replicas gives the global objective, so gradients
    summed by the distribution strategy are the single-device gradients.

    Args:
      x_ui: [b] float32 positive scores of this replica's triplets.
      x_uj: [b] float32 negative scores.
      theta_u: [b, K] float32 user vectors of the triplets.
      kernels: CNN kernels (weight decay applies to these only, as in the
        release; not to biases and not to theta).
      lambda_theta: weight of the theta penalty.
      weight_decay: weight of the kernel penalty.
      global_batch_size: B, triplets per step over all replicas.
      num_replicas: replicas in sync.

    Returns:
      dict of float32 scalars: 'loss' (what is minimised), 'bpr',
      'reg_theta', 'reg_cnn'.
    """
    scale = 1.0 / float(global_batch_size)
    bpr = tf.reduce_sum(bpr_loss(x_ui, x_uj)) * scale
    reg_theta = lambda_theta * l2_half([theta_u]) * scale
    # Every replica holds all kernels; each adds 1/num_replicas of the term.
    reg_cnn = weight_decay * l2_half(kernels) * (scale / num_replicas)
    return {
        "loss": bpr + reg_theta + reg_cnn,
        "bpr": bpr,
        "reg_theta": reg_theta,
        "reg_cnn": reg_cnn,
    }
