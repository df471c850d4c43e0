"""The project's one image convention, in NumPy and TensorFlow.

Models see float images in [-1, 1] (x = (u - 127.5) / 127.5 for uint8 u);
files, stores and figures hold uint8 [0, 255]. Grey images are [..., 1]
and become RGB by repeating the channel (the recommender's input is RGB,
the Fashion-MNIST GAN's output is grey). Everything that scales or tiles
images calls these: a drifted copy would silently skew Table IV's
comparison of generated and real images.

Float -> uint8 always clips, then rounds half to even (np.round and
tf.round agree), so the NumPy and TF versions give the same bytes.

Deliberately not here: RGB -> grey (BT.601 luma) has one definition,
inside `data.preprocess.resize_uint8` (it is applied to the resized float
pixels before rounding); EfficientNet-Lite's own (x - 127) / 128 input
is a layer of that network (`metrics.efficientnet_lite`), fed this
module's [-1, 1].
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def round_to_uint8(pixels: np.ndarray) -> np.ndarray:
    """NumPy float [...] on the [0, 255] scale -> uint8 [...] (clipped, then rounded)."""
    return np.round(np.clip(pixels, 0, 255)).astype(np.uint8)


def tf_round_to_uint8(pixels: tf.Tensor) -> tf.Tensor:
    """TF float [...] on the [0, 255] scale -> uint8 [...] (clipped, then rounded)."""
    return tf.cast(tf.round(tf.clip_by_value(pixels, 0.0, 255.0)), tf.uint8)


def to_unit_range(images_uint8: np.ndarray) -> np.ndarray:
    """NumPy uint8 [..., C] in [0, 255] -> float32 [..., C] in [-1, 1]."""
    return (np.asarray(images_uint8, np.float32) - 127.5) / 127.5


def to_uint8(images: np.ndarray) -> np.ndarray:
    """NumPy float [..., C] in [-1, 1] -> uint8 [0, 255] (clipped, rounded); uint8 passes through.

    The arithmetic runs in the input's float dtype (float64 stays float64).
    """
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images
    return round_to_uint8(images * 127.5 + 127.5)


def tf_to_unit_range(images_uint8: tf.Tensor) -> tf.Tensor:
    """TF uint8 (or any integer/float dtype holding [0, 255]) -> float32 in [-1, 1].

    Bit-identical to `to_unit_range` eagerly and in a tf.data map. Inside a
    tf.function (and so in a SavedModel, and under XLA) Grappler's constant
    folding rewrites `/ 127.5` as `* (1 / 127.5)`, which is 1 ulp (6e-8) off
    for about half of the 256 levels.
    Known and left: DVBPR's train step and export scale in a graph, its
    evaluation embeddings (`data.pipeline.item_dataset`, a tf.data map)
    exactly: measured on the tiny red/blue DVBPR after 200 steps, 34% of the
    input floats differ by 1 ulp, embeddings by <= 3.8e-6 (of |x| <= 30),
    and every validation/test AUC is identical. Not changed: either side's
    fix moves the floats one path trains or evaluates on.
    """
    return (tf.cast(images_uint8, tf.float32) - 127.5) / 127.5


def tf_to_uint8(images: tf.Tensor) -> tf.Tensor:
    """TF float32 [..., C] in [-1, 1] -> uint8 [0, 255] (clipped, rounded), as `to_uint8`.

    Args:
      images: a float32 tensor, or an array-like converted to float32
        (a float64 tf.Tensor is refused by `tf.convert_to_tensor`).
    """
    return tf_round_to_uint8(tf.convert_to_tensor(images, tf.float32) * 127.5 + 127.5)


def grey_to_rgb(images: np.ndarray) -> np.ndarray:
    """NumPy [..., H, W, 1 or 3] -> [..., H, W, 3]: a grey channel is repeated."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def tf_grey_to_rgb(images: tf.Tensor) -> tf.Tensor:
    """TF [N, H, W, 1 or 3] -> [N, H, W, 3]: a grey channel is tiled to three."""
    if images.shape[-1] == 1:
        return tf.tile(images, [1, 1, 1, 3])
    return images
