"""The `synthetic_fashion` simulator: items, shoppers' tastes, true utilities, purchases.

The model is described in `data.synthetic` (Items, Users, Interactions).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import threading

import numpy as np

from data.core import AMAZON_FASHION_CATEGORIES
from data.synthetic.config import SyntheticPreset

PATTERNS = ("solid", "stripes", "dots", "checks")
TYPES = ("tops", "bottoms", "shoes")

# Layout of the item feature vector f_i (see `data.synthetic`).
FEATURE_NAMES = (
    *(f"category={c}" for c in AMAZON_FASHION_CATEGORIES),
    "colour_cos",
    "colour_sin",
    "lightness",
    *(f"pattern={p}" for p in PATTERNS),
    *(f"{t}_silhouette_a" for t in TYPES),
    *(f"{t}_silhouette_b" for t in TYPES),
    "skirt",
)
NUM_FEATURES = len(FEATURE_NAMES)
_F_CAT, _F_COLOUR, _F_LIGHT, _F_PATTERN, _F_SIL_A, _F_SIL_B, _F_SKIRT = 0, 6, 8, 9, 13, 16, 19


# --------------------------------------------------------------------------
# Items: attributes and features.


@dataclasses.dataclass(frozen=True)
class ItemAttributes:
    """Visual attributes of items, one entry per item.

    Attributes:
      category: [n] int64 in 0..5, Amazon order (gender = category % 2, 1 is
        women; type = category // 2: 0 tops, 1 bottoms, 2 shoes).
      hue: [n] float32 in [0, 1), fraction of the colour wheel.
      saturation: [n] float32 in [0, 1].
      lightness: [n] float32 in [0.12, 0.85] (HSL lightness).
      pattern: [n] int64 index into PATTERNS.
      silhouette_a: [n] float32 in [0, 1]: sleeve length / leg or skirt
        length / heel height or sole thickness.
      silhouette_b: [n] float32 in [0, 1]: body length and flare / width at
        the hem / boot shaft height.
      skirt: [n] bool, women's bottoms that are skirts.
      popularity: [n] float32, the item term b_i of the utility.
      scale: [n] float32 in [0.82, 1], size in the frame (nuisance).
      offset: [n, 2] float32, shift of the item in the frame in image units
        (nuisance).
      background: [n] float32 in [0.89, 1], background grey level (nuisance).
      pattern_frequency: [n] float32, pattern repeats per image width
        (nuisance).
      dark_sole: [n] bool, shoes with a dark sole (nuisance).
    """

    category: np.ndarray
    hue: np.ndarray
    saturation: np.ndarray
    lightness: np.ndarray
    pattern: np.ndarray
    silhouette_a: np.ndarray
    silhouette_b: np.ndarray
    skirt: np.ndarray
    popularity: np.ndarray
    scale: np.ndarray
    offset: np.ndarray
    background: np.ndarray
    pattern_frequency: np.ndarray
    dark_sole: np.ndarray

    def __len__(self) -> int:
        return len(self.category)

    def take(self, index: np.ndarray) -> ItemAttributes:
        """The attributes of the items `index` (an int array), in that order."""
        return ItemAttributes(
            **{f.name: getattr(self, f.name)[index] for f in dataclasses.fields(self)}
        )


def sample_item_attributes(preset: SyntheticPreset, rng: np.random.Generator) -> ItemAttributes:
    """Draws the attributes of `preset.num_catalogue_items` items."""
    n = preset.num_catalogue_items
    f32 = np.float32
    category = rng.choice(
        6, size=n, p=np.asarray(preset.category_probs) / sum(preset.category_probs)
    )
    neutral = rng.random(n) < preset.neutral_share
    saturation = np.where(neutral, rng.uniform(0.0, 0.15, n), rng.uniform(0.45, 0.95, n))
    lightness = np.where(neutral, rng.uniform(0.12, 0.85, n), rng.uniform(0.25, 0.72, n))
    pattern = rng.choice(len(PATTERNS), size=n, p=np.asarray(preset.pattern_probs))
    skirt = (category == 3) & (rng.random(n) < 0.5)
    return ItemAttributes(
        category=category.astype(np.int64),
        hue=rng.random(n).astype(f32),
        saturation=saturation.astype(f32),
        lightness=lightness.astype(f32),
        pattern=pattern.astype(np.int64),
        silhouette_a=rng.random(n).astype(f32),
        silhouette_b=rng.random(n).astype(f32),
        skirt=skirt,
        popularity=(preset.popularity_scale * rng.standard_normal(n)).astype(f32),
        scale=rng.uniform(0.82, 1.0, n).astype(f32),
        offset=rng.uniform(-0.03, 0.03, (n, 2)).astype(f32),
        background=rng.uniform(0.89, 1.0, n).astype(f32),
        pattern_frequency=rng.uniform(7.0, 11.0, n).astype(f32),
        dark_sole=rng.random(n) < 0.6,
    )


def item_features(attrs: ItemAttributes) -> np.ndarray:
    """The feature vectors f_i of the utility, laid out as FEATURE_NAMES.

    Returns:
      [n, NUM_FEATURES] float32; one-hots in {0, 1}, the rest in [-1, 1].
    """
    n = len(attrs)
    feats = np.zeros((n, NUM_FEATURES), np.float32)
    rows = np.arange(n)
    item_type = attrs.category // 2
    feats[rows, _F_CAT + attrs.category] = 1.0
    angle = 2.0 * np.pi * attrs.hue
    # Saturation scales the hue features: a grey item has no hue to like.
    feats[:, _F_COLOUR] = attrs.saturation * np.cos(angle)
    feats[:, _F_COLOUR + 1] = attrs.saturation * np.sin(angle)
    feats[:, _F_LIGHT] = 2.0 * (attrs.lightness - 0.5)
    feats[rows, _F_PATTERN + attrs.pattern] = 1.0
    feats[rows, _F_SIL_A + item_type] = 2.0 * attrs.silhouette_a - 1.0
    feats[rows, _F_SIL_B + item_type] = 2.0 * attrs.silhouette_b - 1.0
    feats[:, _F_SKIRT] = np.where(attrs.category == 3, np.where(attrs.skirt, 1.0, -1.0), 0.0)
    return feats


def sample_user_weights(preset: SyntheticPreset, rng: np.random.Generator) -> np.ndarray:
    """Draws the taste vectors w_u of `preset.num_users` users.

    Returns:
      [num_users, NUM_FEATURES] float32, on the features of `item_features`.
    """
    u = preset.num_users
    w = np.zeros((u, NUM_FEATURES), np.float32)
    women = rng.random(u) < 0.55
    cross = rng.random(u) < preset.cross_gender_share
    gap = np.where(cross, 0.25, 1.0) * preset.gender_gap
    type_taste = preset.type_scale * rng.standard_normal((u, 3))
    for c in range(6):
        other_side = women != bool(c % 2)
        w[:, _F_CAT + c] = type_taste[:, c // 2] - gap * other_side
    hue = rng.random(u)
    strength = preset.colour_weight * rng.uniform(0.3, 1.0, u)
    w[:, _F_COLOUR] = strength * np.cos(2.0 * np.pi * hue)
    w[:, _F_COLOUR + 1] = strength * np.sin(2.0 * np.pi * hue)
    w[:, _F_LIGHT] = preset.lightness_scale * rng.standard_normal(u)
    w[:, _F_PATTERN : _F_PATTERN + 4] = preset.pattern_scale * rng.standard_normal((u, 4))
    w[:, _F_SIL_A:_F_SKIRT] = preset.silhouette_scale * rng.standard_normal((u, 6))
    w[:, _F_SKIRT] = preset.skirt_scale * rng.standard_normal(u)
    return w


class TrueScores:
    """The simulator's true utilities, usable as `RecDataset.true_scores`.

    Calling it with user indices [b] (int) returns [b, num_items] float32
    utilities `user_weights[u] . item_features[i] + item_bias[i]`.

    Attributes:
      user_weights: [num_users, NUM_FEATURES] float32 tastes w_u.
      item_features: [num_items, NUM_FEATURES] float32 features f_i.
      item_bias: [num_items] float32 popularity terms b_i.
      temperature: softmax temperature the choices were drawn with.
      attributes: the ItemAttributes of the (kept) items.
      feature_names: names of the feature columns.
    """

    def __init__(self, user_weights, item_features, item_bias, temperature, attributes):
        self.user_weights = user_weights
        self.item_features = item_features
        self.item_bias = item_bias
        self.temperature = temperature
        self.attributes = attributes
        self.feature_names = FEATURE_NAMES

    def __call__(self, user_indices) -> np.ndarray:
        users = np.asarray(user_indices, np.int64).reshape(-1)
        scores = self.user_weights[users] @ self.item_features.T
        scores += self.item_bias[None, :]
        return scores.astype(np.float32, copy=False)


# --------------------------------------------------------------------------
# Interactions.


def sample_user_counts(preset: SyntheticPreset, rng: np.random.Generator) -> np.ndarray:
    """[num_users] int64 interactions per user: discrete Pareto, >= min_interactions."""
    v = 1.0 - rng.random(preset.num_users)  # in (0, 1]
    counts = np.floor(preset.min_interactions * v ** (-1.0 / preset.count_tail))
    return np.minimum(counts, preset.max_interactions).astype(np.int64)


def sample_choices(
    user_weights: np.ndarray,
    features: np.ndarray,
    bias: np.ndarray,
    counts: np.ndarray,
    temperature: float,
    rng: np.random.Generator,
    block: int = 256,
    threads: int | None = None,
) -> np.ndarray:
    """Draws each user's items without replacement from softmax(utility / T).

    Successive sampling: draws from the softmax with replacement, keeping
    each item's first draw, until the user has `counts[u]` distinct items.
    Given the items kept so far, the next new item is drawn with probability
    proportional to its softmax weight, so this is the same distribution as
    sampling without replacement (and as Gumbel top-k), at the cost of one
    exp and one cumulative sum per (user, item) instead of two logs of fresh
    random numbers.

    Args:
      user_weights: [U, F] float32.
      features: [I, F] float32.
      bias: [I] float32.
      counts: [U] int64, items per user (<= I).
      temperature: softmax temperature > 0.
      rng: random generator; each block of users gets its own stream from
        it, so the result does not depend on `threads`.
      block: users per block (memory ~ block * I * 4 bytes per thread).
      threads: blocks sampled at once (NumPy releases the GIL in its array
        operations); None for one per CPU core, at most 4.

    Returns:
      [sum(counts), 2] int64 (user, item) rows, grouped by user.
    """
    num_users, num_items = len(user_weights), len(features)
    features_t = np.ascontiguousarray(features.T, dtype=np.float32)
    weights = np.asarray(user_weights, np.float32)
    base_seed = int(rng.integers(2**62))
    # One buffer per thread for all its blocks: fresh 100 MB arrays per
    # block cost more in page faults than the arithmetic.
    local = threading.local()

    def sample_block(start):
        block_rng = np.random.default_rng([base_seed, start])
        stop = min(start + block, num_users)
        if getattr(local, "buffer", None) is None:
            local.buffer = np.empty((min(block, num_users), num_items), np.float32)
        cdf = local.buffer[: stop - start]
        np.matmul(weights[start:stop], features_t, out=cdf)
        cdf += bias[None, :]
        cdf *= np.float32(1.0 / temperature)
        cdf -= cdf.max(axis=1, keepdims=True)
        np.exp(cdf, out=cdf)
        np.cumsum(cdf, axis=1, out=cdf)
        n = counts[start:stop]
        pending = np.arange(stop - start)
        earlier = np.zeros((stop - start, 0), np.int64)  # draws of users still pending
        width = 2 * int(n.max()) + 8
        users_out, items_out = [], []
        while len(pending):
            u = block_rng.random((len(pending), width), dtype=np.float32) * cdf[pending, -1:]
            # side="right" never lands on an item of zero weight.
            draws = np.stack(
                [np.searchsorted(cdf[r], u[k], side="right") for k, r in enumerate(pending)]
            )
            np.minimum(draws, num_items - 1, out=draws)
            # A user short of distinct items continues the same stream of
            # draws (restarting would bias against popular items).
            draws = np.concatenate([earlier, draws], axis=1)
            # First draw of each item: a stable sort puts it before its repeats.
            order = np.argsort(draws, axis=1, kind="stable")
            ranked = np.take_along_axis(draws, order, axis=1)
            repeat = np.zeros_like(ranked, dtype=bool)
            repeat[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
            new = np.empty_like(repeat)
            np.put_along_axis(new, order, ~repeat, axis=1)
            rank = np.cumsum(new, axis=1)
            want = n[pending][:, None]
            done = rank[:, -1] >= want[:, 0]
            keep = new & (rank <= want) & done[:, None]
            users_out.append(np.broadcast_to(start + pending[:, None], draws.shape)[keep])
            items_out.append(draws[keep])
            pending, earlier = pending[~done], draws[~done]
            width *= 2
        return np.concatenate(users_out), np.concatenate(items_out)

    threads = threads or min(4, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        parts = list(pool.map(sample_block, range(0, num_users, block)))
    users = np.concatenate([p[0] for p in parts])
    items = np.concatenate([p[1] for p in parts])
    order = np.argsort(users, kind="stable")
    return np.stack([users[order], items[order]], axis=1).astype(np.int64)
