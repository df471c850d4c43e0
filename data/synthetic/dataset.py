"""`load`: generates `synthetic_fashion/<config>` as a RecDataset (see `data.synthetic`)."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from absl import logging

import data.synthetic.simulator as simulator
from data.core import AMAZON_FASHION_CATEGORIES, DataError, ItemImages, RecDataset
from data.splits import hold_out_per_user
from data.synthetic.config import GENERATOR_VERSION, get_preset
from data.synthetic.render import render_items


def _summary(attrs: simulator.ItemAttributes) -> dict:
    return {
        "category_counts": np.bincount(attrs.category, minlength=6).tolist(),
        "pattern_counts": dict(
            zip(simulator.PATTERNS, np.bincount(attrs.pattern, minlength=4).tolist(), strict=True)
        ),
        "skirts": int(attrs.skirt.sum()),
        "neutral_colours": int((attrs.saturation < 0.2).sum()),
        "lightness_mean": round(float(attrs.lightness.mean()), 4),
        "silhouette_a_mean": round(float(attrs.silhouette_a.mean()), 4),
        "silhouette_b_mean": round(float(attrs.silhouette_b.mean()), 4),
        "popularity_std": round(float(attrs.popularity.std()), 4),
    }


def load(config: str = "default", seed: int | None = None) -> RecDataset:
    """Generates `synthetic_fashion/<config>`.

    Args:
      config: "tiny", "default" or "large" (see PRESETS).
      seed: any int; None uses the preset's documented seed so that results
        are comparable across runs and machines.

    Returns:
      A RecDataset with images (ItemImages.pixels, [num_items, 64, 64, 3]
      uint8), categories in AMAZON_FASHION_CATEGORIES order, the paper's
      split, and `true_scores` (a TrueScores).

    Raises:
      DataError: unknown config.
    """
    preset = get_preset(config)
    seed = preset.seed if seed is None else int(seed)
    if seed < 0:
        raise DataError(f"synthetic_fashion: the seed must be >= 0, got {seed}.")
    started = time.perf_counter()
    # Independent streams, so that e.g. a rendering change leaves the
    # interactions of a seed untouched.
    items_rng, users_rng, choice_rng, split_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence([seed, 0x5F4E]).spawn(4)
    )
    catalogue = simulator.sample_item_attributes(preset, items_rng)
    features = simulator.item_features(catalogue)
    weights = simulator.sample_user_weights(preset, users_rng)
    counts = simulator.sample_user_counts(preset, users_rng)
    rows = simulator.sample_choices(
        weights,
        features,
        catalogue.popularity,
        counts,
        preset.temperature,
        choice_rng,
        # About 64 MB of utilities per block of users.
        block=max(1, (1 << 24) // len(catalogue)),
    )
    # Keep only bought items (Amazon's catalogue is its reviewed items).
    kept = np.flatnonzero(np.bincount(rows[:, 1], minlength=len(catalogue)) > 0)
    remap = np.full(len(catalogue), -1, np.int64)
    remap[kept] = np.arange(len(kept))
    rows = np.stack([rows[:, 0], remap[rows[:, 1]]], axis=1)
    attrs = catalogue.take(kept)
    sampled = time.perf_counter()
    train, validation, test = hold_out_per_user(rows, split_rng)
    pixels = render_items(attrs, preset.image_size, block=preset.render_block)
    rendered = time.perf_counter()

    num_items = len(kept)
    width = max(5, len(str(preset.num_users - 1)))
    info = {
        "generator": "data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "preset": dataclasses.asdict(preset),
        "seed": seed,
        "image_size": preset.image_size,
        "catalogue_items": len(catalogue),
        "dropped_unbought_items": int(len(catalogue) - num_items),
        "items": _summary(attrs),
        "interactions_per_user": {
            "min": int(counts.min()),
            "mean": round(float(counts.mean()), 3),
            "max": int(counts.max()),
        },
    }
    logging.info(
        "synthetic_fashion/%s seed=%d: %d users, %d items, %d train rows "
        "(%.1f s sampling, %.1f s rendering)",
        preset.name,
        seed,
        preset.num_users,
        num_items,
        len(train),
        sampled - started,
        rendered - sampled,
    )
    return RecDataset(
        name=f"synthetic_fashion/{preset.name}",
        num_users=preset.num_users,
        num_items=num_items,
        train=train,
        validation=validation,
        test=test,
        item_ids=np.asarray([f"syn-{i:06d}" for i in range(num_items)], dtype=object),
        user_ids=np.asarray([f"u{u:0{width}d}" for u in range(preset.num_users)], dtype=object),
        categories=attrs.category.copy(),
        category_names=AMAZON_FASHION_CATEGORIES,
        images=ItemImages(pixels=pixels),
        true_scores=simulator.TrueScores(
            weights, features[kept], catalogue.popularity[kept], preset.temperature, attrs
        ),
        info=info,
    )
