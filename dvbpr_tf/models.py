"""DVBPR's networks: the CNN-F item tower Phi and the user vectors theta.

The paper (Section III-A, eq. 6) scores user u and item i as

    x_ui = theta_u^T Phi(X_i),

where Phi is CNN-F (Chatfield et al. 2014) with a K-unit last layer. The
Siamese pair of the BPR objective is one `CNNF` applied to the positive and
negative images concatenated into one batch: shared weights by
construction, and one large convolution instead of two half-size ones.

Dropout takes its uniform noise as an argument instead of drawing it from a
stateful generator: the training step derives the noise from (seed, step)
with a stateless RNG, so a run resumed from a checkpoint, or split over
several replicas, draws exactly the masks an uninterrupted single-device
run draws.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dvbpr_tf.config import DVBPRConfig


def compute_dtype_policy(config: DVBPRConfig) -> str:
    """Keras dtype policy of the CNN: float32, or mixed for accelerators.

    TPUs compute in bfloat16; GPUs in float16 (with loss scaling in the
    train step). Variables stay float32 either way.
    """
    if not config.mixed_precision:
        return "float32"
    return "mixed_bfloat16" if config.strategy == "tpu" else "mixed_float16"


def conv_layer_specs(config) -> list[tuple[int, int, int, int, bool]]:
    """(filters, kernel, stride, padding, pool) of each conv layer of `config`."""
    return list(
        zip(
            config.conv_filters,
            config.conv_kernels,
            config.conv_strides,
            config.conv_padding,
            config.conv_pool,
            strict=True,
        )
    )


class CNNF(keras.Model):
    """Phi: images -> K-dim item embeddings (the paper's CNN-F table).

    Layers (paper config, 224x224 input):
      conv1 64x11x11 stride 4 pad 0 + ReLU + 2x2 max pool  -> [27, 27, 64]
      conv2 256x5x5 stride 1 pad 2 + ReLU + 2x2 max pool   -> [13, 13, 256]
      conv3 256x3x3 pad 1 + ReLU                           -> [13, 13, 256]
      conv4 256x3x3 pad 1 + ReLU                           -> [13, 13, 256]
      conv5 256x3x3 pad 1 + ReLU + 2x2 max pool            -> [6, 6, 256]
      full6 4096 + ReLU + dropout
      full7 4096 + ReLU + dropout
      full8 K (linear)
    "x2 pool" is a 2x2, stride-2 max pool as in the authors' release (CNN-F
    itself pools 3x3 with stride 2); like the release we omit CNN-F's local
    response normalisation, which the paper's table does not list. The
    `authors` preset pads every conv and pool SAME, as the release:
    conv1 -> [56, 56, 64], pools -> 28, 14, 7, full6 reads 7x7x256. Kernels are Glorot-uniform, biases zero
    (the release's Xavier initialisation).

    Args:
      config: the layer sizes (`conv_*`, `fc_units`, `embedding_dim`),
        `dropout`, `image_size`, `seed` and `mixed_precision`.
    """

    def __init__(self, config: DVBPRConfig, name: str = "phi", **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config
        policy = compute_dtype_policy(config)
        seeds = iter(range(config.seed * 1000 + 1, config.seed * 1000 + 1000))

        def init():
            return keras.initializers.GlorotUniform(seed=next(seeds))

        self.conv_blocks = []
        for k, (filters, kernel, stride, pad, pool) in enumerate(conv_layer_specs(config)):
            block = []
            # Keras "same" equals explicit (k-1)/2 pixels only at stride 1.
            keras_same = pad == "same" or (pad and stride == 1)
            if pad and not keras_same:
                block.append(keras.layers.ZeroPadding2D(pad, dtype=policy, name=f"pad{k + 1}"))
            block.append(
                keras.layers.Conv2D(
                    filters,
                    kernel,
                    strides=stride,
                    padding="same" if keras_same else "valid",
                    activation="relu",
                    kernel_initializer=init(),
                    dtype=policy,
                    name=f"conv{k + 1}",
                )
            )
            if pool:
                block.append(
                    keras.layers.MaxPooling2D(
                        2, 2, padding=config.pool_padding, dtype=policy, name=f"pool{k + 1}"
                    )
                )
            self.conv_blocks.append(block)
        self.flatten = keras.layers.Flatten(dtype=policy, name="flatten")
        n_conv = len(config.conv_filters)
        self.fcs = [
            keras.layers.Dense(
                units,
                activation="relu",
                kernel_initializer=init(),
                dtype=policy,
                name=f"full{n_conv + 1 + k}",
            )
            for k, units in enumerate(config.fc_units)
        ]
        # The embedding leaves in float32 so that scores and losses do.
        self.embed = keras.layers.Dense(
            config.embedding_dim,
            kernel_initializer=init(),
            dtype="float32",
            name=f"full{n_conv + 1 + len(config.fc_units)}",
        )

    def call(self, images, dropout_noise=None):
        """Embeds images.

        Args:
          images: [N, S, S, 3] float32 in [-1, 1] (S = config.image_size).
          dropout_noise: None (no dropout: evaluation) or one [N, units]
            float32 tensor in [0, 1) per hidden dense layer (full6,
            full7); a unit is kept where its noise >= config.dropout.

        Returns:
          [N, K] float32 embeddings Phi(X).
        """
        h = images
        for block in self.conv_blocks:
            for layer in block:
                h = layer(h)
        h = self.flatten(h)
        for k, fc in enumerate(self.fcs):
            h = fc(h)
            if dropout_noise is not None and self.config.dropout > 0:
                keep = dropout_noise[k] >= self.config.dropout
                h = tf.where(
                    keep, h / tf.cast(1.0 - self.config.dropout, h.dtype), tf.zeros_like(h)
                )
        return self.embed(h)

    def layer_shapes(self) -> dict[str, tuple[int, ...]]:
        """Output shape (without batch) of every layer for an SxSx3 input."""
        shape = (None, self.config.image_size, self.config.image_size, 3)
        shapes = {}
        for layer in [x for block in self.conv_blocks for x in block] + [self.flatten, *self.fcs]:
            shape = layer.compute_output_shape(shape)
            shapes[layer.name] = tuple(shape[1:])
        shapes[self.embed.name] = (self.config.embedding_dim,)
        return shapes

    def kernels(self) -> list:
        """The conv and dense kernels: what weight decay applies to (not biases)."""
        layers = [x for block in self.conv_blocks for x in block] + [*self.fcs, self.embed]
        return [layer.kernel for layer in layers if hasattr(layer, "kernel")]

    def build_for_input(self) -> None:
        """Creates the weights by embedding one zero image."""
        s = self.config.image_size
        self(tf.zeros([1, s, s, 3], tf.float32))


class DVBPR(keras.Model):
    """User vectors theta plus the item tower Phi; x_ui = theta_u . Phi(X_i).

    Args:
      config: the hyper-parameters.
      num_users: rows of theta.
    """

    def __init__(self, config: DVBPRConfig, num_users: int, name: str = "dvbpr", **kwargs):
        super().__init__(name=name, **kwargs)
        self.config = config
        self.num_users = num_users
        self.phi = CNNF(config)
        self.theta = self.add_weight(
            shape=(num_users, config.embedding_dim),
            initializer=keras.initializers.RandomUniform(
                *config.theta_init_range, seed=config.seed * 1000
            ),
            dtype="float32",
            name="theta",
        )
        self.phi.build_for_input()

    def user_embedding(self, users):
        """[B] int users -> [B, K] float32 theta_u."""
        return tf.gather(self.theta.value, users)

    def item_embedding(self, images, dropout_noise=None):
        """[N, S, S, 3] float32 images in [-1, 1] -> [N, K] float32 Phi(X)."""
        return self.phi(images, dropout_noise=dropout_noise)

    def call(self, inputs, dropout_noise=None):
        """Scores a batch of triplets with one Siamese pass.

        Args:
          inputs: dict with 'user' int32 [B], 'pos_image' and 'neg_image'
            float32 [B, S, S, 3] in [-1, 1].
          dropout_noise: None, or per hidden dense layer a [2B, units]
            float32 tensor in [0, 1): rows 0..B-1 for the positives, B..2B-1
            for the negatives.

        Returns:
          x_ui: [B] float32 scores of the positives.
          x_uj: [B] float32 scores of the negatives.
          theta_u: [B, K] float32 user vectors (for the regulariser).
        """
        images = tf.concat([inputs["pos_image"], inputs["neg_image"]], axis=0)
        emb = self.item_embedding(images, dropout_noise=dropout_noise)
        pos_emb, neg_emb = tf.split(emb, 2, axis=0)
        theta_u = self.user_embedding(inputs["user"])
        x_ui = tf.reduce_sum(theta_u * pos_emb, axis=-1)
        x_uj = tf.reduce_sum(theta_u * neg_emb, axis=-1)
        return x_ui, x_uj, theta_u


def dropout_noise(config: DVBPRConfig, seed, global_rows: int, rows) -> list[tf.Tensor] | None:
    """The dropout noise of one training step, independent of the device layout.

    The noise of the whole global batch is a pure function of `seed`; each
    replica keeps its own rows, so a multi-replica step and a single-device
    step on the same global batch drop the same units.

    Args:
      config: gives `dropout` and `fc_units`.
      seed: [2] int32/int64 stateless seed, e.g. (config.seed, step).
      global_rows: rows of the whole Siamese batch (2 x global batch).
      rows: [n] int32 indices of this replica's rows within the global batch.

    Returns:
      None when dropout is off, else one [n, units] float32 in [0, 1) per
      hidden dense layer.
    """
    if config.dropout <= 0:
        return None
    noise = []
    for k, units in enumerate(config.fc_units):
        layer_seed = tf.random.experimental.stateless_fold_in(seed, k)
        full = tf.random.stateless_uniform([global_rows, units], layer_seed, dtype=tf.float32)
        noise.append(tf.gather(full, rows))
    return noise


def forward_flops(config: DVBPRConfig) -> dict[str, int]:
    """Floating-point operations of Phi's forward pass for one image, per layer.

    A multiply-add counts as 2 FLOPs; biases, ReLUs, pooling and dropout
    are left out (they are a fraction of a percent for CNN-F). A training
    step costs about 3x the forward pass per image (forward, gradient with
    respect to activations, gradient with respect to weights), less
    conv1's activation gradient, which nothing needs.

    Returns:
      {layer name: FLOPs} for conv1..conv5 and the dense layers, plus
      'total'.
    """
    size, channels = config.image_size, 3
    out = {}
    for k, (filters, kernel, stride, pad, pool) in enumerate(conv_layer_specs(config)):
        if pad == "same":
            size = -(-size // stride)
        else:
            size = (size + 2 * pad - kernel) // stride + 1
        # Taps that read SAME padding are counted too (as the hardware runs them).
        out[f"conv{k + 1}"] = 2 * size * size * filters * kernel * kernel * channels
        channels = filters
        if pool:
            size = -(-size // 2) if config.pool_padding == "same" else size // 2
    width = size * size * channels
    n_conv = len(config.conv_filters)
    for k, units in enumerate((*config.fc_units, config.embedding_dim)):
        out[f"full{n_conv + 1 + k}"] = 2 * width * units
        width = units
    out["total"] = sum(out.values())
    return out


def train_flops_per_triplet(config: DVBPRConfig) -> int:
    """FLOPs of one training triplet: two images, forward and backward (see `forward_flops`)."""
    f = forward_flops(config)
    return 2 * (3 * f["total"] - f["conv1"])
