"""G(z, c) and D(x, c): DCGAN-style deeper conditional networks (paper Fig. 2).

The structure follows the authors' release (AUTHORS_CODE.md), parameterised
by resolution and widths through `GANConfig`:

- G: concat(z, onehot(c)) -> dense to a 4x4 map -> 3x3 transposed convs,
  stride 2 per doubling (the first `g_stride1_stages` each followed by
  `g_stride1_depth` stride-1 ones) -> 3x3 stride-1 transposed conv to `channels` -> tanh.
  Batch norm + leaky ReLU on every hidden layer. With
  `g_upsample="resize"` each doubling is a nearest-neighbour resize and a
  3x3 conv instead (no checkerboard; a departure from the release);
  "bilinear" the same with a bilinear resize.
- D: with `d_stem_width`, a 3x3 stride-1 conv at full resolution first; then
  5x5 stride-2 convs (batch norm from the second, unless
  `d_batch_norm="none"`) with leaky ReLU ->
  linear to one unconstrained score (LSGAN: no sigmoid). onehot(c) is tiled
  as extra channels onto the inputs of the first `d_condition_layers`
  layers. The release concatenates it onto the input of every conv (the
  image, h0, h1, h2) and not onto the score layer's (h3; that line is
  commented out there); paper128 and release64 do the same. The small
  presets condition only the image and h0 (`gan_tf.config` says why).

Both models take the category as an int32 id and one-hot it inside, so the
SavedModel's callers never build one-hot vectors.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from gan_tf.config import GANConfig

# DCGAN's initialisation (Radford et al., followed by the release).
_INIT_STDDEV = 0.02
# G's resize doublings (GANConfig.g_upsample) and their interpolation.
_RESIZE_INTERPOLATION = {"resize": "nearest", "bilinear": "bilinear"}


def _init(seed):
    return keras.initializers.RandomNormal(stddev=_INIT_STDDEV, seed=seed)


def _d_conv_has_batch_norm(config: GANConfig, i: int) -> bool:
    """Whether D's conv i is followed by batch norm (every conv but the first, unless "none")."""
    return i > 0 and config.d_batch_norm != "none"


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
        strides = (2,) + ((1,) * config.g_stride1_depth if i < config.g_stride1_stages else ())
        for j, stride in enumerate(strides):
            # The first stride-1 conv keeps the name it had before depth was a
            # field, so that checkpoints and exports of depth 1 still load.
            name = f"up{i}" + ("" if j == 0 else "_s1" if j == 1 else f"_s1_{j}")
            if stride == 2 and config.g_upsample in _RESIZE_INTERPOLATION:
                interpolation = _RESIZE_INTERPOLATION[config.g_upsample]
                h = layers.UpSampling2D(2, interpolation=interpolation, name=name + "_resize")(h)
                conv, stride = layers.Conv2D, 1
            else:
                conv = layers.Conv2DTranspose
            h = conv(
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

    Layer i (conv i for i < len(d_widths), then the score layer) reads its
    input with the one-hot category tiled onto it as num_categories extra
    channels when i < `config.d_condition_layers`. The release conditions
    every conv and not the score layer (d_condition_layers =
    len(d_widths), the paper128 and release64 presets); the small presets
    condition conv0 and conv1 only (2).

    Args:
      config: resolution, channels, widths, d_condition_layers,
        num_categories.
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

    h = images
    if config.d_stem_width:
        h = layers.Conv2D(
            config.d_stem_width,
            3,
            padding="same",
            kernel_initializer=_init(next(seeds)),
            name="stem",
        )(h)
        h = layers.LeakyReLU(config.leak)(h)
    for i, width in enumerate(config.d_widths):
        if i < config.d_condition_layers:
            h = with_category(h)
        h = layers.Conv2D(
            width,
            5,
            strides=2,
            padding="same",
            use_bias=not _d_conv_has_batch_norm(config, i),
            kernel_initializer=_init(next(seeds)),
            name=f"conv{i}",
        )(h)
        if _d_conv_has_batch_norm(config, i):
            h = _bn(config, f"conv{i}_bn")(h)
        h = layers.LeakyReLU(config.leak)(h)
    if config.d_stddev_group:
        h = MinibatchStddev(config.d_stddev_group, config.bn_momentum, name="stddev")(h)
    if len(config.d_widths) < config.d_condition_layers:
        h = with_category(h)
    h = layers.Flatten()(h)
    score = layers.Dense(1, kernel_initializer=_init(next(seeds)), name="score")(h)
    score = layers.Reshape(())(score)
    return keras.Model([images, category], score, name="discriminator")


class MinibatchStddev(layers.Layer):
    """Appends one channel: how much the images of a group differ (`GANConfig.d_stddev_group`).

    Training: h [B, S, S, C] -> the standard deviation of every feature over
    each group of `group` consecutive images, averaged over features and
    positions: one number per group, tiled as channel C + 1 of each of its
    images; the mean over groups updates `moving_stddev`. Inference: the
    channel holds `moving_stddev` for every image, so that D scores an image
    alone as it scored images in training batches.
    """

    def __init__(self, group: int, momentum: float, **kwargs):
        super().__init__(**kwargs)
        self.group = int(group)
        self.momentum = float(momentum)

    def build(self, input_shape):
        self.moving_stddev = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="moving_stddev"
        )

    def call(self, h, training=False):
        if training:
            shape = ops.shape(h)
            groups = ops.reshape(h, (-1, self.group, shape[1], shape[2], shape[3]))
            spread = ops.sqrt(ops.var(groups, axis=1) + 1e-8)  # [B / group, S, S, C]
            per_group = ops.mean(spread, axis=(1, 2, 3))
            self.moving_stddev.assign(
                self.momentum * self.moving_stddev + (1.0 - self.momentum) * ops.mean(per_group)
            )
            value = ops.repeat(per_group, self.group, axis=0)  # [B]
        else:
            value = ops.broadcast_to(self.moving_stddev, ops.shape(h)[:1])
        plane = ops.ones_like(h[..., :1]) * value[:, None, None, None]
        return ops.concatenate([h, plane], axis=-1)

    def get_config(self):
        return {**super().get_config(), "group": self.group, "momentum": self.momentum}


def _seed_stream(seed: int | None):
    i = 0
    while True:
        yield None if seed is None else seed * 1000 + i
        i += 1


class _InferenceStage(tf.Module):
    """One 5x5 stride-2 layer of `InferenceDiscriminator` (constants as untrainable variables)."""

    def __init__(self, weights, is_matrix, bias, category_constant, batch_norm, out_shape):
        super().__init__()

        def variable(value):
            return None if value is None else tf.Variable(value, trainable=False)

        self.weights = variable(weights)  # [5, 5, in, out] kernel, or [in_size, out_size] matrix
        self.is_matrix = bool(is_matrix)
        self.bias = variable(bias)  # [out] or None
        self.category_constant = variable(category_constant)  # [k, out_h, out_w, out] or None
        self.batch_norm = batch_norm  # the trained Keras layer (moving statistics) or None
        self.out_shape = tuple(int(d) for d in out_shape)

    def __call__(self, h, category, leak):
        if self.is_matrix:
            flat = tf.reshape(h, [tf.shape(h)[0], -1])
            h = tf.reshape(tf.matmul(flat, self.weights), [-1, *self.out_shape])
        else:
            h = tf.nn.conv2d(h, self.weights, 2, "SAME")
        if self.bias is not None:
            h += self.bias
        if self.category_constant is not None:
            h += tf.gather(self.category_constant, category)
        if self.batch_norm is not None:
            h = self.batch_norm(h, training=False)
        return tf.nn.leaky_relu(h, leak)


class InferenceDiscriminator(tf.Module):
    """D of `build_discriminator` in inference mode, rewritten for fast gradients w.r.t. images.

    The same function as `discriminator([images, category], training=False)`
    (up to float rounding), computed in a cheaper form for the exported
    SavedModel, where design/ differentiates D with respect to its input at
    every ascent step:

    - The one-hot planes tiled onto a conditioned layer's input (every layer
      i < `d_condition_layers`: convs, and the score layer when
      d_condition_layers = len(d_widths) + 1) only add a per-category
      constant to that layer's linear output (the planes are the same for
      every image of a category): those constants are computed once here
      and the layers read only the real channels, so the backward pass no
      longer computes gradients for the one-hot planes.
    - A conv whose input is so small that most of its 5x5 taps read padding
      (e.g. 4x4 -> 2x2) runs as its equivalent dense matrix when that matrix
      has no more entries than the conv has multiply-adds per image:
      TensorFlow's CPU gradient of such convs is slow (measured here: 64
      images of 4x4x64 -> 2x2x128, forward + input gradient, 5.6x faster as
      a matmul).

    The derived weights are snapshots of the trained ones: build this after
    training, at export.

    Args:
      discriminator: the Keras model of `build_discriminator(config)`.
      config: its `GANConfig`.
    """

    def __init__(self, discriminator: keras.Model, config: GANConfig):
        super().__init__(name="inference_discriminator")
        self.leak = float(config.leak)
        k = int(config.num_categories)
        eye = np.eye(k, dtype=np.float32)[:, None, None, :]

        def category_response(kernel, own_channels, size):
            # The layer's output for the tiled one-hot planes alone: [k, out, out, width].
            planes = np.ascontiguousarray(np.broadcast_to(eye, (k, size, size, k)))
            return tf.nn.conv2d(planes, kernel[:, :, own_channels:, :], 2, "SAME")

        stages = []
        size, channels = int(config.resolution), int(config.channels)
        self.stem_kernel = self.stem_bias = None
        if config.d_stem_width:  # unconditioned: runs as it is
            stem = discriminator.get_layer("stem")
            self.stem_kernel = tf.Variable(stem.kernel, trainable=False)
            self.stem_bias = tf.Variable(stem.bias, trainable=False)
            channels = int(config.d_stem_width)
        for i, width in enumerate(config.d_widths):
            conv = discriminator.get_layer(f"conv{i}")
            kernel = tf.convert_to_tensor(conv.kernel)
            constant = None
            if i < config.d_condition_layers:  # its input: `channels` real ones, then k planes
                constant = category_response(kernel, channels, size)
                kernel = kernel[:, :, :channels, :]
            out = (size + 1) // 2
            in_size, out_size = size * size * channels, out * out * width
            macs_per_image = out_size * kernel.shape[0] * kernel.shape[1] * channels
            is_matrix = in_size * out_size <= macs_per_image
            if is_matrix:
                basis = tf.reshape(tf.eye(in_size), [in_size, size, size, channels])
                kernel = tf.reshape(tf.nn.conv2d(basis, kernel, 2, "SAME"), [in_size, out_size])
            stages.append(
                _InferenceStage(
                    kernel,
                    is_matrix,
                    conv.bias if conv.use_bias else None,
                    constant,
                    discriminator.get_layer(f"conv{i}_bn")
                    if _d_conv_has_batch_norm(config, i)
                    else None,
                    (out, out, width),
                )
            )
            size, channels = out, width
        self.stages = stages
        score = discriminator.get_layer("score")
        # The score layer reads the last conv's maps, flattened as [size, size,
        # channels (+ 1 minibatch-stddev plane) (+ k one-hot planes)]: both
        # kinds of plane are constant per category here, so they fold into
        # score_constant.
        stddev = 1 if config.d_stddev_group else 0
        onehot = k if len(config.d_widths) < config.d_condition_layers else 0
        kernel = tf.reshape(score.kernel, [size, size, channels + stddev + onehot])
        score_constant = tf.zeros([k])
        if onehot:
            score_constant += tf.reduce_sum(kernel[:, :, channels + stddev :], axis=[0, 1])
        if stddev:
            moving = discriminator.get_layer("stddev").moving_stddev
            score_constant += moving * tf.reduce_sum(kernel[:, :, channels])
        kernel = tf.reshape(kernel[:, :, :channels], [-1, 1])
        self.score_kernel = tf.Variable(kernel, trainable=False)
        self.score_constant = tf.Variable(score_constant + score.bias[0], trainable=False)

    def __call__(self, images, category):
        """images float32 [N, R, R, C] in [-1, 1], category int32 [N] -> float32 [N] scores."""
        h = images
        if self.stem_kernel is not None:
            h = tf.nn.conv2d(h, self.stem_kernel, 1, "SAME") + self.stem_bias
            h = tf.nn.leaky_relu(h, self.leak)
        for stage in self.stages:
            h = stage(h, category, self.leak)
        flat = tf.reshape(h, [tf.shape(h)[0], -1])
        return tf.matmul(flat, self.score_kernel)[:, 0] + tf.gather(self.score_constant, category)
