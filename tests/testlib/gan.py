"""Tiny datasets and configs shared by the GAN and quality tests."""

from __future__ import annotations

import numpy as np

from data.core import ItemImages, RecDataset, as_str_ids
from gan_tf.config import GANConfig


def tiny_config(**overrides) -> GANConfig:
    """A 16x16 GAN small enough to train a few steps in a second or two."""
    fields = dict(
        resolution=16,
        channels=3,
        z_dim=100,
        num_categories=2,
        category_names=("dark", "bright"),
        g_dense_width=16,
        g_widths=(16, 8),
        g_stride1_stages=1,
        d_widths=(8, 16),
        batch_size=16,
        epochs=1,
        learning_rate=2e-3,
        samples_per_category=4,
        log_every_steps=2,
    )
    fields.update(overrides)
    return GANConfig(**fields)


def two_category_dataset(num_items: int = 64, size: int = 16, seed: int = 0) -> RecDataset:
    """Items whose category is visible: category 0 dark images, 1 bright ones (+ noise).

    One item has an unknown category (-1), which every GAN path must skip.
    """
    rng = np.random.default_rng(seed)
    categories = np.arange(num_items) % 2
    base = np.where(categories == 0, 40, 210)[:, None, None, None]
    noise = rng.integers(-30, 31, (num_items, size, size, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    categories = categories.astype(np.int64)
    categories[-1] = -1
    users = np.arange(num_items) % 4
    rows = np.stack([users, np.arange(num_items)], 1).astype(np.int64)
    return RecDataset(
        name="tiny_two_category",
        num_users=4,
        num_items=num_items,
        train=rows,
        validation=np.zeros((0, 2), np.int64),
        test=np.zeros((0, 2), np.int64),
        item_ids=as_str_ids(range(num_items)),
        user_ids=as_str_ids(range(4)),
        categories=categories,
        category_names=("dark", "bright"),
        images=ItemImages(pixels=pixels),
    )
