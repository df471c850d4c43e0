"""Image preprocessing: the one definition every model of this project sees.

`preprocess_images`: resize to S x S (bilinear, antialiased when
shrinking), round to uint8 (the precision the catalogue is stored at),
then scale with `(x - 127.5) / 127.5` to [-1, 1], as the authors' code
does. Rounding in every path, including a SavedModel that calls
`preprocess_images` on raw images, makes the catalogue held decoded in
memory (`data.image_store`), the catalogue decoded on the fly and an export
all see bit-identical uint8 pixels (the float scaling inside a tf.function
can differ by 1 ulp: `common.images.tf_to_unit_range`).
"""

from __future__ import annotations

import tensorflow as tf

from common.images import tf_round_to_uint8, tf_to_unit_range

# ITU-R BT.601 luma weights, the ones tf.image.rgb_to_grayscale uses.
_LUMA = (0.2989, 0.5870, 0.1140)


def resize_uint8(images: tf.Tensor, image_size: int, channels: int | None = None) -> tf.Tensor:
    """Resizes uint8 images to S x S and rounds back to uint8.

    Args:
      images: [B, H, W, C] uint8 in [0, 255] (C = 1 or 3; H, W may be
        dynamic).
      image_size: S, the output height and width.
      channels: output channels; 1 converts RGB to grayscale (BT.601
        luma), None or C keeps the input's channels.

    Returns:
      [B, S, S, channels or C] uint8 in [0, 255]. Bilinear with an
      antialiasing filter (a no-op when enlarging); images already S x S
      (statically known) are passed through untouched.
    """
    images = tf.convert_to_tensor(images)
    image_size = int(image_size)  # A Python int: the output shape is static.
    if images.dtype != tf.uint8:
        raise ValueError(f"Images must be uint8 in [0, 255], got {images.dtype.name}.")
    if images.shape.rank != 4:
        raise ValueError(f"Images must be [B, H, W, C], got shape {images.shape}.")
    in_channels = images.shape[-1]
    if channels is None:
        channels = in_channels
    if channels not in (1, 3) or (channels == 3 and in_channels != 3):
        raise ValueError(f"Cannot turn {in_channels}-channel images into {channels} channels.")
    same_size = images.shape[1] == image_size and images.shape[2] == image_size
    if same_size and channels == in_channels:
        return images
    x = tf.cast(images, tf.float32)
    if not same_size:
        x = tf.image.resize(x, [image_size, image_size], method="bilinear", antialias=True)
    if channels != in_channels:
        x = tf.tensordot(x, tf.constant(_LUMA, tf.float32), axes=[[3], [0]])[..., tf.newaxis]
    return tf_round_to_uint8(x)


def preprocess_images(images: tf.Tensor, image_size: int) -> tf.Tensor:
    """Raw uint8 images -> model input: the one definition of preprocessing.

    Args:
      images: [B, H, W, C] uint8 in [0, 255], any H and W (C is usually 3;
        1 is scaled as is).
      image_size: S, the model's input size.

    Returns:
      [B, S, S, C] float32 in [-1, 1]: `resize_uint8` (bilinear,
      antialiased when shrinking, rounded to uint8), then
      `(x - 127.5) / 127.5` (`common.images.tf_to_unit_range`; the
      inverse is `common.images.tf_to_uint8`).
    """
    return tf_to_unit_range(resize_uint8(images, image_size))
