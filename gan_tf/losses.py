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


def mode_seeking_loss(
    fakes: tf.Tensor, z: tf.Tensor, pool: int = 0, epsilon: float = 1e-5
) -> tf.Tensor:
    """The mode-seeking term of MSGAN (Mao et al. 2019), over pairs of the batch's halves.

    Image i of the first half and image i of the second half are a pair
    (the trainer gives both the same category). The ratio of their mean
    absolute distance to their noises' mean absolute distance, over all
    pairs, is what G should make large: two noises far apart should not
    draw the same garment. G minimises its reciprocal.

    Args:
      fakes: float32 [B, R, R, C] generated images, B even.
      z: float32 [B, Z] their noises.
      pool: 0, the distance between pixels (MSGAN's); or the side P of a
        P x P grid of area averages (R divisible by P) that the distance is
        taken on instead, so that only layout and colour count: pixel noise
        averages out and cannot buy distance.
      epsilon: keeps the reciprocal finite when G ignores z.

    Returns:
      float32 scalar > 0: 1 / (mean|G(z1) - G(z2)| / mean|z1 - z2| + epsilon).
    """
    if pool:
        window = fakes.shape[1] // pool
        fakes = tf.nn.avg_pool2d(fakes, window, window, "VALID")
    first_images, second_images = tf.split(fakes, 2, axis=0)
    first_z, second_z = tf.split(z, 2, axis=0)
    ratio = tf.reduce_mean(tf.abs(first_images - second_images)) / tf.reduce_mean(
        tf.abs(first_z - second_z)
    )
    return 1.0 / (ratio + epsilon)
