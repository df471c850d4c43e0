"""The least-squares GAN losses of the paper's eq. 7.

    min_D  E[(D(x, c) - 1)^2] + E[D(G(z, c), c)^2]
    min_G  E[(D(G(z, c), c) - 1)^2]

The discriminator loss is *not* halved. The release halves it; under Adam a
constant factor on a loss leaves the updates unchanged (up to epsilon), so
the only visible difference is that our logged D loss is twice the
release's.
"""

from __future__ import annotations

import tensorflow as tf


def discriminator_loss(real_scores: tf.Tensor, fake_scores: tf.Tensor) -> tf.Tensor:
    """D's loss: mean((D(x) - 1)^2) + mean(D(G(z))^2).

    Args:
      real_scores: float32 [B] D scores of real images.
      fake_scores: float32 [B'] D scores of generated images.

    Returns:
      float32 scalar >= 0.
    """
    return tf.reduce_mean(tf.square(real_scores - 1.0)) + tf.reduce_mean(tf.square(fake_scores))


def generator_loss(fake_scores: tf.Tensor) -> tf.Tensor:
    """G's loss: mean((D(G(z)) - 1)^2), i.e. L_real on generated images.

    Args:
      fake_scores: float32 [B] D scores of generated images.

    Returns:
      float32 scalar >= 0.
    """
    return tf.reduce_mean(tf.square(fake_scores - 1.0))
