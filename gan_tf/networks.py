"""G(z, c) and D(x, c): DCGAN-style deeper conditional networks (paper Fig. 2).

The structure follows the authors' release (AUTHORS_CODE.md), parameterised
by resolution and widths through `GANConfig`:

- G: concat(z, onehot(c)) -> dense to a 4x4 map -> 3x3 transposed convs,
  stride 2 per doubling (the first `g_stride1_stages` each followed by a
  stride-1 one) -> 3x3 stride-1 transposed conv to `channels` -> tanh.
  Batch norm + leaky ReLU on every hidden layer.
- D: onehot(c) tiled as extra channels on the input image and on the first
  hidden maps -> 5x5 stride-2 convs (batch norm from the second) with leaky
  ReLU -> linear to one unconstrained score (LSGAN: no sigmoid).

Both models take the category as an int32 id and one-hot it inside, so the
SavedModel's callers never build one-hot vectors.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from gan_tf.config import GANConfig

# DCGAN's initialisation (Radford et al., followed by the release).
_INIT_STDDEV = 0.02


def _init(seed):
    return keras.initializers.RandomNormal(stddev=_INIT_STDDEV, seed=seed)


def _bn(config: GANConfig, name: str) -> layers.Layer:
    return layers.BatchNormalization(momentum=config.bn_momentum, epsilon=1e-5, name=name)


def build_generator(config: GANConfig, seed: int | None = None) -> keras.Model:
    """Builds G.

    Args:
      config: resolution, channels, widths, z_dim, num_categories.
      seed: seeds the weight initialisers (None: Keras's global seed).

    Returns:
      A Keras model `G([z, category], training)`: z float32 [B, z_dim] in
      [-1, 1], category int32 [B] in [0, num_categories) ->
      float32 [B, resolution, resolution, channels] in [-1, 1].
    """
    seeds = _seed_stream(seed)
    z = keras.Input((config.z_dim,), dtype="float32", name="z")
    category = keras.Input((), dtype="int32", name="category")
    onehot = ops.one_hot(category, config.num_categories)
    h = layers.Concatenate(name="z_and_category")([z, onehot])
    h = layers.Dense(
        4 * 4 * config.g_dense_width,
        use_bias=False,
        kernel_initializer=_init(next(seeds)),
        name="dense",
    )(h)
    h = _bn(config, "dense_bn")(h)
    h = layers.LeakyReLU(config.leak)(h)
    h = layers.Reshape((4, 4, config.g_dense_width))(h)
    for i, width in enumerate(config.g_widths):
        strides = (2,) + ((1,) if i < config.g_stride1_stages else ())
        for j, stride in enumerate(strides):
            name = f"up{i}" + ("" if j == 0 else "_s1")
            h = layers.Conv2DTranspose(
                width,
                3,
                strides=stride,
                padding="same",
                use_bias=False,
                kernel_initializer=_init(next(seeds)),
                name=name,
            )(h)
            h = _bn(config, name + "_bn")(h)
            h = layers.LeakyReLU(config.leak)(h)
    h = layers.Conv2DTranspose(
        config.channels,
        3,
        strides=1,
        padding="same",
        kernel_initializer=_init(next(seeds)),
        name="to_image",
    )(h)
    images = layers.Activation("tanh", name="tanh")(h)
    return keras.Model([z, category], images, name="generator")


def build_discriminator(config: GANConfig, seed: int | None = None) -> keras.Model:
    """Builds D.

    The one-hot category is tiled over the image and over the first hidden
    maps (the release conditions both), so every early filter can use it.

    Args:
      config: resolution, channels, widths, num_categories.
      seed: seeds the weight initialisers (None: Keras's global seed).

    Returns:
      A Keras model `D([images, category], training)`: images float32
      [B, resolution, resolution, channels] in [-1, 1], category int32 [B] ->
      float32 [B] unconstrained scores (1 = real, 0 = fake under eq. 7).
    """
    seeds = _seed_stream(seed)
    r = config.resolution
    images = keras.Input((r, r, config.channels), dtype="float32", name="images")
    category = keras.Input((), dtype="int32", name="category")
    onehot = ops.one_hot(category, config.num_categories)[:, None, None, :]

    def with_category(h):
        size = h.shape[1]
        tiled = ops.tile(onehot, (1, size, size, 1))
        return layers.Concatenate()([h, tiled])

    h = with_category(images)
    for i, width in enumerate(config.d_widths):
        h = layers.Conv2D(
            width,
            5,
            strides=2,
            padding="same",
            use_bias=i == 0,
            kernel_initializer=_init(next(seeds)),
            name=f"conv{i}",
        )(h)
        if i > 0:
            h = _bn(config, f"conv{i}_bn")(h)
        h = layers.LeakyReLU(config.leak)(h)
        if i == 0:
            h = with_category(h)
    h = layers.Flatten()(h)
    score = layers.Dense(1, kernel_initializer=_init(next(seeds)), name="score")(h)
    score = layers.Reshape(())(score)
    return keras.Model([images, category], score, name="discriminator")


def _seed_stream(seed: int | None):
    i = 0
    while True:
        yield None if seed is None else seed * 1000 + i
        i += 1
