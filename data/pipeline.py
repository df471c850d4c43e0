"""tf.data pipelines: BPR triplets, catalogue batches and GAN batches.

Item images come from a `data.image_store.ImageStore` (built from the
dataset's images when none is given), as model input
(`data.preprocess.preprocess_images`). Build datasets outside any
`tf.distribute` scope, so that the store's variables stay single
host-side copies.

Training batches are pure functions of `(seed, step)`: batch `b` draws its
users, positives and negatives from stateless Philox streams keyed on
`[seed, b]`. A run resumed with `start_step=k` therefore sees exactly the
batches an uninterrupted run sees from step `k`, with no iterator
checkpoint, and no Python runs per example.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from data import bpr
from data.core import DataError, RecDataset
from data.image_store import ImageStore

AUTOTUNE = tf.data.AUTOTUNE

# Philox gives the same stream on every device; "auto_select" may not.
_RNG_ALG = "philox"


# ---------------------------------------------------------------------------
# Helpers.


def _store_for(ds: RecDataset, image_size: int, store: ImageStore | None, channels: int = 3):
    if store is None:
        if ds.images is None:
            raise DataError(
                f"Dataset {ds.name} has no item images; use an image dataset, or "
                f"with_images=False for triplets."
            )
        return ImageStore(ds.images, image_size, channels)
    if store.image_size != image_size or store.channels != channels:
        raise ValueError(
            f"The ImageStore holds {store.image_size}x{store.image_size}x{store.channels} "
            f"images, but {image_size}x{image_size}x{channels} were asked for."
        )
    if store.num_items != ds.num_items:
        raise ValueError(
            f"The ImageStore holds {store.num_items} items, dataset {ds.name} has {ds.num_items}."
        )
    return store


def _graph_fn(fn):
    """Marks a tf.data map function as plain TF ops (AutoGraph trips on closures)."""
    return tf.autograph.experimental.do_not_convert(fn)


def _options() -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = True
    return options


# ---------------------------------------------------------------------------
# BPR triplets.


def triplet_dataset(
    ds: RecDataset,
    image_size: int,
    batch_size: int,
    seed: int,
    *,
    start_step: int = 0,
    store: ImageStore | None = None,
    with_images: bool = True,
    uint8_images: bool = False,
) -> tf.data.Dataset:
    """The infinite stream of BPR training batches.

    Batch `b` (counting from 0 at the stream's true start) is a pure
    function of `(seed, b)`; `start_step=k` begins at batch `k`.

    Args:
      ds: the dataset.
      image_size: S.
      batch_size: B.
      seed: the stream's seed.
      start_step: index of the first batch (resume from a checkpoint).
      store: the item images (built from `ds.images` when None).
      with_images: whether to add the images.
      uint8_images: deliver the images as uint8 [B, S, S, 3] in [0, 255]
        (`ImageStore.lookup_uint8`), leaving the scaling of
        `preprocess_images` to the consumer: a quarter of the bytes to copy
        and to send to an accelerator, and three element-wise passes fewer
        on the input pipeline's CPU (the release's loader also queues
        uint8).

    Returns:
      A dataset with element_spec
        {'user': int32 [B], 'pos_item': int32 [B], 'neg_item': int32 [B],
         'pos_image': float32 [B, S, S, 3] in [-1, 1],
         'neg_image': float32 [B, S, S, 3] in [-1, 1]}
      (uint8 images in [0, 255] with `uint8_images`; no image keys when
      `with_images` is False).

    Raises:
      DataError: see `data.bpr.TripletSampler`; no images but `with_images`.
    """
    if batch_size < 1 or start_step < 0:
        raise ValueError(
            f"Need batch_size >= 1 and start_step >= 0, got {batch_size}, {start_step}."
        )
    # The release's protocol in DVBPR's stream (`data.bpr`): every negative is valid.
    sampler = bpr.TripletSampler(ds, bpr.SamplerConfig(seed=seed))
    store = _store_for(ds, image_size, store) if with_images else None

    def make_batch(step):
        batch = sampler.sample(step, batch_size)
        del batch["valid"]
        if store is not None:
            lookup = store.lookup_uint8 if uint8_images else store.lookup
            batch["pos_image"] = lookup(batch["pos_item"])
            batch["neg_image"] = lookup(batch["neg_item"])
        return batch

    steps = tf.data.Dataset.counter(start=start_step, dtype=tf.int64)
    out = steps.map(_graph_fn(make_batch), num_parallel_calls=AUTOTUNE, deterministic=True)
    return out.prefetch(AUTOTUNE).with_options(_options())


def steps_per_epoch(ds: RecDataset, batch_size: int) -> int:
    """Batches per epoch; an epoch is one triplet per training interaction (authors' code)."""
    return math.ceil(len(ds.train) / batch_size)


# ---------------------------------------------------------------------------
# Catalogue and GAN batches.


def item_dataset(
    ds: RecDataset,
    image_size: int,
    batch_size: int,
    *,
    items=None,
    store: ImageStore | None = None,
) -> tf.data.Dataset:
    """Ordered batches of item images, for embedding the catalogue.

    Args:
      ds: the dataset.
      image_size: S.
      batch_size: B; the last batch holds the remainder.
      items: item indices to embed, in this order (all items when None).
      store: the item images (built from `ds.images` when None).

    Returns:
      A finite dataset with element_spec
        {'item': int32 [b], 'image': float32 [b, S, S, 3] in [-1, 1]},
      b = B except for the last batch.

    Raises:
      DataError: no images, or an item index outside [0, num_items).
    """
    store = _store_for(ds, image_size, store)
    if items is None:
        items = np.arange(ds.num_items)
    items = np.asarray(items).reshape(-1)
    if len(items) and (
        not np.issubdtype(items.dtype, np.integer) or items.min() < 0 or items.max() >= ds.num_items
    ):
        raise DataError(
            f"item_dataset: items must be integer indices in [0, {ds.num_items}) of {ds.name}."
        )
    out = (
        tf.data.Dataset.from_tensor_slices(items.astype(np.int32))
        .batch(batch_size)
        .map(
            _graph_fn(lambda it: {"item": it, "image": store.lookup(it)}),
            num_parallel_calls=AUTOTUNE,
            deterministic=True,
        )
    )
    return out.prefetch(AUTOTUNE).with_options(_options())


def _balanced_epoch_order(item_categories: np.ndarray, items: np.ndarray, seed: int):
    """`epoch -> Dataset` of len(items) draws: a category uniformly, then an item in it.

    Args:
      item_categories: int64 [n], each item's category (>= 0).
      items: int64 [n], the item ids.
      seed: the drawing seed (with the epoch).
    """
    present, members_of = np.unique(item_categories, return_inverse=True)
    counts = np.bincount(members_of, minlength=len(present))
    # The items grouped by category (catalogue order within each); group `row` starts at
    # starts[row].
    by_category = tf.constant(items[np.argsort(members_of, kind="stable")], tf.int64)
    starts_t = tf.constant(np.cumsum(counts) - counts, tf.int64)
    counts_t = tf.constant(counts, tf.int64)
    n = len(items)

    def epoch_order(epoch):
        u = tf.random.stateless_uniform(
            [2, n], seed=tf.stack([tf.constant(seed, tf.int64), epoch]), alg=_RNG_ALG
        )
        row = tf.minimum(tf.cast(u[0] * len(present), tf.int64), len(present) - 1)
        count = tf.gather(counts_t, row)
        index = tf.minimum(tf.cast(u[1] * tf.cast(count, tf.float32), tf.int64), count - 1)
        drawn = tf.gather(by_category, tf.gather(starts_t, row) + index)
        return tf.data.Dataset.from_tensor_slices(drawn)

    return epoch_order


def gan_dataset(
    ds: RecDataset,
    image_size: int,
    batch_size: int,
    seed: int,
    *,
    channels: int = 3,
    start_step: int = 0,
    store: ImageStore | None = None,
    balance_categories: bool = False,
) -> tf.data.Dataset:
    """The infinite stream of GAN training batches over items with a known category.

    Each epoch visits every such item once, in a fresh order drawn from
    `(seed, epoch)`; batches run across epoch boundaries. With
    `balance_categories` an epoch is instead as many draws, with
    replacement, of a category uniformly among those that have items and
    then of an item uniformly within it: every category is trained on
    equally often whatever its share of the catalogue (the GAN's report and
    the design binaries ask for every category equally).

    Args:
      ds: the dataset (needs categories and images).
      image_size: S.
      batch_size: B.
      seed: the shuffling seed.
      channels: 3 for RGB, 1 for grayscale.
      start_step: batches to skip (resume); cheap, images are not read.
      store: the item images at (S, channels) (built when None).
      balance_categories: draw categories uniformly (above).

    Returns:
      A dataset with element_spec
        {'image': float32 [B, S, S, channels] in [-1, 1],
         'category': int32 [B] in [0, num_categories)}.

    Raises:
      DataError: no categories, no item with a known category, or no images.
    """
    if ds.categories is None:
        raise DataError(f"Dataset {ds.name} has no item categories; the GAN needs them.")
    categories = np.asarray(ds.categories, np.int64)
    known = np.flatnonzero(categories >= 0)
    if len(known) == 0:
        raise DataError(f"Dataset {ds.name}: no item has a known category (all are -1).")
    store = _store_for(ds, image_size, store, channels)
    known_items = tf.constant(known, tf.int64)
    category_of = tf.constant(categories, tf.int64)
    n = len(known)

    if balance_categories:
        epoch_order = _balanced_epoch_order(categories[known], known, seed)
    else:

        def epoch_order(epoch):
            noise = tf.random.stateless_uniform(
                [n], seed=tf.stack([tf.constant(seed, tf.int64), epoch]), alg=_RNG_ALG
            )
            return tf.data.Dataset.from_tensor_slices(tf.gather(known_items, tf.argsort(noise)))

    def add_images(items):
        return {
            "image": store.lookup(items),
            "category": tf.cast(tf.gather(category_of, items), tf.int32),
        }

    out = (
        tf.data.Dataset.counter(dtype=tf.int64)
        .flat_map(_graph_fn(epoch_order))
        .batch(batch_size, drop_remainder=True)
        .skip(start_step)
        .map(_graph_fn(add_images), num_parallel_calls=AUTOTUNE, deterministic=True)
    )
    return out.prefetch(AUTOTUNE).with_options(_options())
