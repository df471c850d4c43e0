"""The project's one image convention, in NumPy and TensorFlow.

Models see float images in [-1, 1] (x = (u - 127.5) / 127.5 for uint8 u);
files, stores and figures hold uint8 [0, 255]. Grey images are [..., 1]
and become RGB by repeating the channel (the recommender's input is RGB,
the Fashion-MNIST GAN's output is grey). Everything that scales or tiles
images calls these: a drifted copy would silently skew Table IV's
comparison of generated and real images.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def to_unit_range(images_uint8: np.ndarray) -> np.ndarray:
    """NumPy uint8 [..., C] in [0, 255] -> float32 [..., C] in [-1, 1]."""
    return (np.asarray(images_uint8, np.float32) - 127.5) / 127.5


def to_uint8(images: np.ndarray) -> np.ndarray:
    """NumPy float [..., C] in [-1, 1] -> uint8 [0, 255] (clipped, rounded); uint8 passes through."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return np.round(np.clip(images * 127.5 + 127.5, 0, 255)).astype(np.uint8)


def tf_to_unit_range(images_uint8: tf.Tensor) -> tf.Tensor:
    """TF uint8 (or any integer/float dtype holding [0, 255]) -> float32 in [-1, 1]."""
    return (tf.cast(images_uint8, tf.float32) - 127.5) / 127.5


def tf_to_uint8(images: tf.Tensor) -> tf.Tensor:
    """TF float in [-1, 1] -> uint8 [0, 255] (clipped, rounded), as `to_uint8`."""
    return tf.cast(tf.round(tf.clip_by_value(images * 127.5 + 127.5, 0.0, 255.0)), tf.uint8)


def grey_to_rgb(images: np.ndarray) -> np.ndarray:
    """NumPy [..., H, W, 1 or 3] -> [..., H, W, 3]: a grey channel is repeated."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def tf_grey_to_rgb(images: tf.Tensor) -> tf.Tensor:
    """TF [N, H, W, 1 or 3] -> [N, H, W, 3]: a grey channel is tiled to three."""
    if images.shape[-1] == 1:
        return tf.tile(images, [1, 1, 1, 3])
    return images
