"""Small SavedModels with the export interfaces design loads, for tests and benchmarks.

Design must work on a fixed model that does not depend on a training run
(issue 6: "on a fixed tiny model"), and its benchmark needs exports of the
real CPU sizes without training them. These modules have the signatures
of `exports/recommender.py` (item_embedding_float, item_embedding,
user_embedding and the catalogue variables) and `exports/gan.py`
(generate, discriminate, metadata), with networks of the same shapes:

    rec = standins.recommender_module(standins.RecommenderSpec(), seed=0)
    gan = standins.gan_module(standins.GANSpec(), seed=1)
    standins.save(rec, "/tmp/rec"); standins.save(gan, "/tmp/gan")

Weights are random (seeded); nothing here is trained.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from common.images import tf_to_uint8
from data import preprocess
from exports import gan as gan_contract


@dataclasses.dataclass(frozen=True)
class RecommenderSpec:
    """Shape of a stand-in recommender (defaults: a tiny one for tests).

    Attributes:
      image_size: S.
      conv_filters / conv_kernels / conv_strides / conv_pool: the conv
        stack ("same" padding), as DVBPRConfig describes it.
      fc_units: hidden dense layers.
      embedding_dim: K.
      num_users: U.
      num_items: I.
      num_categories: categories; item i has category i % num_categories.
    """

    image_size: int = 16
    conv_filters: tuple[int, ...] = (8, 16)
    conv_kernels: tuple[int, ...] = (3, 3)
    conv_strides: tuple[int, ...] = (1, 1)
    conv_pool: tuple[bool, ...] = (True, True)
    fc_units: tuple[int, ...] = (32,)
    embedding_dim: int = 8
    num_users: int = 6
    num_items: int = 24
    num_categories: int = 2


# A 64x64 CNN-F tower for the benchmark: twice the widths of the "small"
# DVBPR preset (dvbpr_tf/config.py: conv 16/32/32/32/32, fc 128, K = 10),
# i.e. that preset before it was narrowed, "same" padding throughout.
SMALL_RECOMMENDER = RecommenderSpec(
    image_size=64,
    conv_filters=(32, 64, 64, 64, 64),
    conv_kernels=(5, 5, 3, 3, 3),
    conv_strides=(2, 1, 1, 1, 1),
    conv_pool=(True, True, False, False, True),
    fc_units=(256, 256),
    embedding_dim=20,
    num_users=3500,
    num_items=12000,
    num_categories=6,
)


@dataclasses.dataclass(frozen=True)
class GANSpec:
    """Shape of a stand-in conditional GAN (defaults: a tiny one for tests).

    Attributes:
      resolution: R, a power of two >= 8.
      channels: 1 or 3.
      z_dim: length of z.
      num_categories: categories.
      dense_width: channels of G's first 4x4 map.
      g_widths: channels of G's stride-2 transposed convs (log2(R / 4)).
      d_widths: channels of D's stride-2 convs.
    """

    resolution: int = 8
    channels: int = 3
    z_dim: int = 16
    num_categories: int = 2
    dense_width: int = 16
    g_widths: tuple[int, ...] = (8,)
    d_widths: tuple[int, ...] = (8, 16)


# The "small32" GAN preset's widths (gan_tf/config.py), without its extra
# stride-1 stage in G, for the benchmark.
SMALL_GAN = GANSpec(
    resolution=32,
    z_dim=100,
    num_categories=6,
    dense_width=128,
    g_widths=(64, 32, 16),
    d_widths=(16, 32, 64, 128),
)


def _phi(spec: RecommenderSpec) -> keras.Model:
    x = inputs = keras.Input((spec.image_size, spec.image_size, 3))
    for f, k, s, p in zip(
        spec.conv_filters, spec.conv_kernels, spec.conv_strides, spec.conv_pool, strict=True
    ):
        x = keras.layers.Conv2D(f, k, strides=s, padding="same", activation="relu")(x)
        if p:
            x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    for units in spec.fc_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(spec.embedding_dim)(x), name="phi")


class StandInRecommender(tf.Module):
    """The recommender export's interface around a random CNN (see module docstring)."""

    def __init__(
        self,
        spec: RecommenderSpec,
        seed: int,
        item_images=None,
        item_categories=None,
        category_names=None,
        dataset_name: str = "standin",
    ):
        super().__init__(name="standin_recommender")
        keras.utils.set_random_seed(seed)
        self.phi = _phi(spec)
        s, k = spec.image_size, spec.embedding_dim
        self.size = s
        rng = np.random.default_rng(seed)
        if item_images is None:
            item_images = _smooth_images(rng, spec.num_items, s)
        item_images = np.asarray(item_images, np.uint8)
        emb = np.concatenate(
            [
                self.phi(
                    preprocess.preprocess_images(tf.constant(item_images[i : i + 256]), s)
                ).numpy()
                for i in range(0, len(item_images), 256)
            ]
        )
        theta = rng.normal(0.0, 1.0, (spec.num_users, k)).astype(np.float32)
        if item_categories is None:
            item_categories = np.arange(len(item_images)) % spec.num_categories
        if category_names is None:
            category_names = [f"cat{i}" for i in range(spec.num_categories)]
        categories = np.asarray(item_categories, np.int64)
        self.theta = tf.Variable(theta, trainable=False, name="theta")
        self.item_embeddings = tf.Variable(emb, trainable=False, name="item_embeddings")
        self.item_categories = tf.Variable(
            categories.astype(np.int64), trainable=False, name="item_categories"
        )
        self.category_names = tf.Variable(list(category_names), trainable=False)
        self.item_ids = tf.Variable([f"item{i}" for i in range(len(emb))], trainable=False)
        self.image_size = tf.Variable(s, trainable=False, name="image_size")
        self.dataset_name = tf.Variable(dataset_name, trainable=False)
        self.item_embedding_float = tf.function(
            self._float, input_signature=[tf.TensorSpec([None, s, s, 3], tf.float32)]
        )
        self.item_embedding = tf.function(
            self._uint8, input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)]
        )
        self.user_embedding = tf.function(
            self._user, input_signature=[tf.TensorSpec([None], tf.int32)]
        )

    def _float(self, images):
        return self.phi(images, training=False)

    def _uint8(self, images):
        return self.phi(preprocess.preprocess_images(images, self.size), training=False)

    def _user(self, user_ids):
        return tf.gather(self.theta, user_ids)


def _generator(spec: GANSpec) -> keras.Model:
    z = keras.Input((spec.z_dim,))
    c = keras.Input((), dtype="int32")
    onehot = keras.ops.one_hot(c, spec.num_categories)
    x = keras.layers.Concatenate()([z, onehot])
    x = keras.layers.Dense(4 * 4 * spec.dense_width, activation="relu")(x)
    x = keras.layers.Reshape((4, 4, spec.dense_width))(x)
    for w in spec.g_widths:
        x = keras.layers.Conv2DTranspose(w, 5, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(spec.channels, 5, padding="same", activation="tanh")(x)
    return keras.Model([z, c], x, name="generator")


def _discriminator(spec: GANSpec) -> keras.Model:
    r = spec.resolution
    x_in = keras.Input((r, r, spec.channels))
    c = keras.Input((), dtype="int32")
    x = x_in
    for w in spec.d_widths:
        x = keras.layers.Conv2D(w, 5, strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    onehot = keras.ops.one_hot(c, spec.num_categories)
    h = keras.layers.Dense(spec.num_categories)(x)
    # Projection conditioning: a per-category score plus a shared one.
    score = keras.layers.Dense(1)(x)[:, 0] + keras.ops.sum(h * onehot, axis=-1)
    return keras.Model([x_in, c], score, name="discriminator")


class StandInGAN(tf.Module):
    """The GAN export's interface around random G and D (see module docstring)."""

    def __init__(self, spec: GANSpec, seed: int):
        super().__init__(name="standin_gan")
        keras.utils.set_random_seed(seed)
        self.generator = _generator(spec)
        self.discriminator = _discriminator(spec)
        self.spec = spec
        r, ch = spec.resolution, spec.channels
        self.generate = tf.function(
            self._generate,
            input_signature=[
                tf.TensorSpec([None, spec.z_dim], tf.float32, name="z"),
                tf.TensorSpec([None], tf.int32, name="category"),
            ],
        )
        self.discriminate = tf.function(
            self._discriminate,
            input_signature=[
                tf.TensorSpec([None, r, r, ch], tf.float32, name="images"),
                tf.TensorSpec([None], tf.int32, name="category"),
            ],
        )
        self.metadata = tf.function(self._metadata, input_signature=[])

    def _generate(self, z, category):
        images = self.generator([z, category], training=False)
        return {gan_contract.IMAGES: images, gan_contract.IMAGES_UINT8: tf_to_uint8(images)}

    def _discriminate(self, images, category):
        return {gan_contract.SCORE: self.discriminator([images, category], training=False)}

    def _metadata(self):
        s = self.spec
        return {
            "resolution": tf.constant(s.resolution, tf.int32),
            "channels": tf.constant(s.channels, tf.int32),
            "z_dim": tf.constant(s.z_dim, tf.int32),
            "num_categories": tf.constant(s.num_categories, tf.int32),
            "category_names": tf.constant([f"cat{i}" for i in range(s.num_categories)]),
        }


def recommender_module(
    spec: RecommenderSpec = RecommenderSpec(), seed: int = 0, **catalogue
) -> StandInRecommender:
    """A `StandInRecommender` with seeded random weights.

    Args:
      spec: the network and catalogue sizes.
      seed: seeds the weights, theta and the default images.
      **catalogue: optional item_images uint8 [I, H, W, 3] (random smooth
        ones if absent; they set I), item_categories int [I] (i % C if
        absent), category_names, dataset_name.
    """
    return StandInRecommender(spec, seed, **catalogue)


def gan_module(spec: GANSpec = GANSpec(), seed: int = 1) -> StandInGAN:
    """A `StandInGAN` with seeded random weights."""
    return StandInGAN(spec, seed)


def save(module: tf.Module, path: str) -> str:
    """Writes a stand-in as a SavedModel at `path`."""
    tf.saved_model.save(module, path)
    return path


def _smooth_images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """uint8 [n, size, size, 3]: random colours on random blobs (structured, not noise)."""
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    centre = rng.uniform(0.2, 0.8, (n, 2, 1, 1))
    radius = rng.uniform(0.15, 0.4, (n, 1, 1))
    blob = ((yy - centre[:, 0]) ** 2 + (xx - centre[:, 1]) ** 2) < radius**2
    fg = rng.integers(0, 256, (n, 1, 1, 3))
    bg = rng.integers(0, 256, (n, 1, 1, 3))
    return np.where(blob[..., None], fg, bg).astype(np.uint8)
