"""Differentiable augmentation of D's inputs (DiffAugment, Zhao et al. 2020).

A GAN trained on a few thousand images lets D memorise them: D's scores
on the training images drift apart from its scores on any other real image,
and G is pushed towards the memorised set (few modes, low recall). DiffAugment
shows D every image, real and fake alike, through the same random
transformations, differentiable so that G's gradient flows back through them;
D can no longer key on exact pixels, and G, which is scored only through the
augmentation, is not taught to draw it (the transformations are applied to
both sides, so their distribution cancels out of the comparison).

Policies (`config.D_AUGMENT_POLICIES`), applied in this order, each with its own
random draw per image:

- "color": brightness + U(-0.5, 0.5); on 3 channels saturation (each pixel
  pulled away from or towards its grey level by a factor U(0, 2)); contrast
  (each image pulled away from or towards its mean by U(0.5, 1.5)).
- "translation": a shift of up to 1/8 of the side in each direction, the
  uncovered border filled with 0 (mid grey in [-1, 1]).
- "cutout": a square of half the side, centred anywhere in the image, set
  to 0.

Every draw is a pure function of a seed (stateless random ops), so that a
resumed run sees the augmentations an uninterrupted one would.

Measured on fashion_mnist_users it did not raise recall: the small presets'
D could not keep up through it, and a wider one drew cleaner garments that
the ImageNet features rate lower (`GANConfig.d_augment`, README).
"""

from __future__ import annotations

import tensorflow as tf

# DiffAugment's ratios: the shift as a share of the side, and the cutout's side.
TRANSLATION_RATIO = 0.125
CUTOUT_RATIO = 0.5


def _uniform(seed: tf.Tensor, index: int, shape, minval, maxval, dtype=tf.float32) -> tf.Tensor:
    """U(minval, maxval) of `shape` from the `index`th stream of `seed` (integers: maxval
    excluded)."""
    return tf.random.stateless_uniform(
        shape,
        seed=_substream(seed, index),
        minval=minval,
        maxval=maxval,
        dtype=dtype,
        alg="philox",
    )


def _substream(seed: tf.Tensor, index: int) -> tf.Tensor:
    """The seed of one draw of a call: independent draws for brightness, shift, cutout..."""
    return seed + tf.constant([index, 0], seed.dtype)


def _color(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    batch = tf.shape(images)[0]
    images = images + _uniform(seed, 1, [batch, 1, 1, 1], -0.5, 0.5)
    if images.shape[-1] == 3:
        grey = tf.reduce_mean(images, axis=3, keepdims=True)
        images = (images - grey) * _uniform(seed, 2, [batch, 1, 1, 1], 0.0, 2.0) + grey
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * _uniform(seed, 3, [batch, 1, 1, 1], 0.5, 1.5) + mean


def _translation(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    side = images.shape[1]
    shift = int(side * TRANSLATION_RATIO + 0.5)
    batch = tf.shape(images)[0]
    # Offsets in [-shift, shift], one per image and axis.
    offsets = _uniform(seed, 4, [batch, 2], -shift, shift + 1, tf.int32)
    padded = tf.pad(images, [[0, 0], [shift, shift], [shift, shift], [0, 0]])
    # Output pixel (i, j) of image b reads padded (i + shift - dy_b, j + shift - dx_b):
    # the content moves by (dy_b, dx_b).
    positions = tf.range(side, dtype=tf.int32)[None, :] + shift
    rows = positions - offsets[:, :1]
    cols = positions - offsets[:, 1:]
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(images, cols, axis=2, batch_dims=1)


def _cutout(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    side = images.shape[1]
    size = int(side * CUTOUT_RATIO + 0.5)
    batch = tf.shape(images)[0]
    # The square's top-left corner, so that its centre is anywhere in the image
    # (the square may hang over the border).
    corners = _uniform(seed, 5, [batch, 2], -(size // 2), side - size // 2, tf.int32)
    positions = tf.range(side, dtype=tf.int32)[None, :]
    inside_rows = (positions >= corners[:, :1]) & (positions < corners[:, :1] + size)
    inside_cols = (positions >= corners[:, 1:]) & (positions < corners[:, 1:] + size)
    inside = inside_rows[:, :, None] & inside_cols[:, None, :]
    return images * tf.cast(~inside, images.dtype)[..., None]


_AUGMENTATIONS = {"color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(images: tf.Tensor, policies: tuple[str, ...], seed: tf.Tensor) -> tf.Tensor:
    """The images through each policy in turn, a fresh random draw per image.

    Args:
      images: float32 [B, R, R, C] in [-1, 1] (the output may leave it:
        brightness and contrast are not clipped, as in DiffAugment).
      policies: names from `config.D_AUGMENT_POLICIES`, in their order
        (`GANConfig.d_augment_policies`).
      seed: int64 [2], the stateless seed of this call's draws.

    Returns:
      float32 [B, R, R, C], differentiable with respect to `images`.
    """
    for name in policies:
        images = _AUGMENTATIONS[name](images, seed)
    return images
