"""The two array operations of the design equations: Delta and eq. 11's draws.

- `nearest_upscale` is Delta (eqs. 9, 10): G's R x R images to Phi's
  S x S input by nearest neighbour, differentiable.
- `sample_without_replacement` is eq. 11: k restarts per query drawn
  without replacement with p(e_t) = softmax(x-hat)_t.

Both are used by `design.optimize.Designer` and tested on their own.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def nearest_upscale(images: tf.Tensor, size: int) -> tf.Tensor:
    """Delta: nearest-neighbour resize to size x size, differentiable.

    Output pixel i samples input pixel floor((i + 0.5) * R / size) (pixel
    centres), so an integer factor repeats every pixel exactly.

    Args:
      images: [N, R, R, C] float32.
      size: output side.

    Returns:
      [N, size, size, C] float32.
    """
    r = images.shape[1]
    if r == size:
        return images
    index = np.minimum(((np.arange(size) + 0.5) * r / size).astype(np.int64), r - 1)
    index = tf.constant(index, tf.int32)
    return tf.gather(tf.gather(images, index, axis=1), index, axis=2)


def sample_without_replacement(values: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Eq. 11: k indices per row, drawn one after another without replacement, p ~ exp(values).

    Uses the Gumbel-top-k identity: the k largest of values + Gumbel noise
    are distributed as k successive softmax draws without replacement.

    Args:
      values: [Q, m] float objective values x-hat.
      k: draws per row (<= m).
      rng: the random source.

    Returns:
      int64 [Q, k], in draw order.
    """
    values = np.asarray(values, np.float64)
    if values.ndim != 2 or not 1 <= k <= values.shape[1]:
        raise ValueError(f"Need values [Q, m] and 1 <= k <= m; got {values.shape}, k={k}.")
    keys = values + rng.gumbel(size=values.shape)
    return np.argsort(-keys, axis=1, kind="stable")[:, :k]
