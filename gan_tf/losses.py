"""The GAN losses: the paper's least-squares eq. 7, and the non-saturating logistic one.

"lsgan" (the paper's, every preset's):

    min_D  E[(D(x, c) - 1)^2] + E[D(G(z, c), c)^2]
    min_G  E[(D(G(z, c), c) - 1)^2]

"nonsaturating" (Goodfellow et al. 2014's practical form, StyleGAN's; D's
score is a logit):

    min_D  E[softplus(-D(x, c))] + E[softplus(D(G(z, c), c))]
    min_G  E[softplus(-D(G(z, c), c))]

In both, G's loss is the mean of a per-image term (`generator_loss_per_image`)
that design's realism penalty reuses, so that designing in z asks D what G
was trained to ask it.

The LSGAN discriminator loss is *not* halved. The release halves it; under Adam a
constant factor on a loss leaves the updates unchanged (up to epsilon), so
the only visible difference is that our logged D loss is twice the
release's.
"""

from __future__ import annotations

import tensorflow as tf

from gan_tf.config import LOSSES


def _check(loss: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}.")


def discriminator_loss(
    real_scores: tf.Tensor, fake_scores: tf.Tensor, loss: str = "lsgan"
) -> tf.Tensor:
    """D's loss on one real and one fake batch.

    Args:
      real_scores: float32 [B] D scores of real images.
      fake_scores: float32 [B'] D scores of generated images.
      loss: "lsgan": mean((D(x) - 1)^2) + mean(D(G(z))^2); "nonsaturating":
        mean(softplus(-D(x))) + mean(softplus(D(G(z)))), i.e. the cross
        entropy of sigmoid(D) against 1 for real and 0 for fake.

    Returns:
      float32 scalar >= 0.
    """
    _check(loss)
    if loss == "nonsaturating":
        return tf.reduce_mean(tf.nn.softplus(-real_scores)) + tf.reduce_mean(
            tf.nn.softplus(fake_scores)
        )
    return tf.reduce_mean(tf.square(real_scores - 1.0)) + tf.reduce_mean(tf.square(fake_scores))


def generator_loss_per_image(fake_scores: tf.Tensor, loss: str = "lsgan") -> tf.Tensor:
    """What G minimises for each generated image: L_real on it.

    Args:
      fake_scores: float32 [B] D scores of generated images.
      loss: "lsgan": (D(G(z)) - 1)^2; "nonsaturating": softplus(-D(G(z))) =
        -log sigmoid(D(G(z))).

    Returns:
      float32 [B] >= 0, 0 where D is sure the image is real.
    """
    _check(loss)
    if loss == "nonsaturating":
        return tf.nn.softplus(-fake_scores)
    return tf.square(fake_scores - 1.0)


def generator_loss(fake_scores: tf.Tensor, loss: str = "lsgan") -> tf.Tensor:
    """G's loss: the batch mean of `generator_loss_per_image`.

    Args:
      fake_scores: float32 [B] D scores of generated images.
      loss: one of LOSSES.

    Returns:
      float32 scalar >= 0.
    """
    return tf.reduce_mean(generator_loss_per_image(fake_scores, loss))


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
