"""The dataset classifier of the quality figures, trained on a dataset's real images.

`metrics.quality` holds the classifier's architecture and the scores it
gives; this module feeds it a dataset (through the data pipeline, so it
sits above data/).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from common.images import tf_to_unit_range, to_unit_range
from data import image_store
from data.core import DataError, RecDataset
from metrics.quality import CategoryClassifier, build_category_classifier, predict_probs

# Epochs of the classifier whose features and accuracy the GAN reports use
# (eval.gan_report, eval.metric_sensitivity): one number, so that a
# sensitivity table and a report it is read against share their classifier.
REPORT_CLASSIFIER_EPOCHS = 10


def real_images(
    ds: RecDataset, items: np.ndarray, image_size: int, channels: int, batch_size: int = 512
) -> np.ndarray:
    """Items' images as the generators see them: uint8 [n, S, S, C] (pipeline preprocessing).

    Kept as uint8 (4x smaller than float); scale with `to_unit_range`.
    """
    if ds.images is None:
        raise DataError(f"Dataset {ds.name} has no item images.")
    store = image_store.ImageStore(ds.images, image_size, channels)
    items = np.asarray(items, np.int64)
    chunks = [
        store.lookup_uint8(tf.constant(items[i : i + batch_size])).numpy()
        for i in range(0, len(items), batch_size)
    ]
    if not chunks:
        return np.zeros([0, image_size, image_size, channels], np.uint8)
    return np.concatenate(chunks)


def split_items(
    categories: np.ndarray, heldout_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of the items with a known category (>= 0).

    Returns:
      (train_items, heldout_items): int64 item indices; each category puts
      round(heldout_fraction * n_c) items, at least 1 when n_c >= 2, in
      held-out.
    """
    categories = np.asarray(categories, np.int64)
    rng = np.random.default_rng(seed)
    known = np.flatnonzero(categories >= 0)
    order = known[rng.permutation(len(known))]
    # A stable sort by category keeps the random order within each category.
    order = order[np.argsort(categories[order], kind="stable")]
    cats = categories[order]
    counts = np.bincount(cats)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    n_held = np.where(counts >= 2, np.maximum(1, np.round(heldout_fraction * counts)), 0)
    rank = np.arange(len(order)) - starts[cats]
    held = rank < n_held[cats]
    return np.sort(order[~held]), np.sort(order[held])


def train_category_classifier(
    dataset: RecDataset,
    image_size: int,
    channels: int = 3,
    *,
    epochs: int = 5,
    batch_size: int = 128,
    learning_rate: float = 2e-3,
    heldout_fraction: float = 0.2,
    max_items: int | None = 20000,
    width: int = 32,
    seed: int = 0,
    verbose: int = 0,
) -> CategoryClassifier:
    """Trains a category classifier on a dataset's real images.

    Args:
      dataset: a RecDataset with images and categories.
      image_size: S, the side the images are resized to (the generator's).
      channels: 3 (RGB) or 1 (grey, BT.601 luma), as the generator makes.
      epochs: passes over the training images.
      batch_size: images per step.
      learning_rate: Adam learning rate.
      heldout_fraction: share of each category held out for the accuracy.
      max_items: trains and evaluates on at most this many labelled items
        (a random, stratified subset), bounding time and memory.
      width: the CNN's first width.
      seed: seeds the split, the shuffling and the weights.
      verbose: Keras fit verbosity.

    Returns:
      A `CategoryClassifier`.

    Raises:
      DataError: the dataset has no images or no categories.
    """
    if dataset.categories is None or dataset.num_categories == 0:
        raise DataError(f"Dataset {dataset.name} has no item categories to classify.")
    categories = np.asarray(dataset.categories, np.int64).copy()
    if max_items is not None and np.sum(categories >= 0) > max_items:
        keep = np.random.default_rng(seed + 1).permutation(np.flatnonzero(categories >= 0))
        categories[keep[max_items:]] = -1
    train_items, heldout_items = split_items(categories, heldout_fraction, seed)
    if len(train_items) == 0:
        raise DataError(f"Dataset {dataset.name} has no item with a known category.")
    x_train = real_images(dataset, train_items, image_size, channels)
    x_held = real_images(dataset, heldout_items, image_size, channels)
    y_train = categories[train_items].astype(np.int32)
    y_held = categories[heldout_items].astype(np.int32)

    keras.utils.set_random_seed(seed)
    model = build_category_classifier(image_size, channels, dataset.num_categories, width)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    train = (
        tf.data.Dataset.from_tensor_slices((x_train, y_train))
        .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda x, y: (tf_to_unit_range(x), y), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    model.fit(train, epochs=epochs, verbose=verbose, shuffle=False)
    accuracy = float("nan")
    if len(x_held):
        probs = predict_probs(model, to_unit_range(x_held), batch_size=512)
        accuracy = float(np.mean(probs.argmax(1) == y_held))
    logging.info(
        "Category classifier on %s (%dx%dx%d): %d train images, held-out accuracy %.4f on %d",
        dataset.name,
        image_size,
        image_size,
        channels,
        len(train_items),
        accuracy,
        len(heldout_items),
    )
    return CategoryClassifier(model, image_size, channels, accuracy, train_items, heldout_items)
