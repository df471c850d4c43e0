"""`synthetic_fashion`: an embedded, seeded fashion catalogue with simulated shoppers.

The default dataset of this project needs no download: a seed fully determines
a catalogue of product photos, a population of shoppers whose tastes depend on
what the photos show, and their purchase histories. Because the simulator
knows every shopper's true utility for every item, it also gives the ceiling
any recommender can reach (the *oracle AUC*).

Items. Every item belongs to one of the paper's six Amazon Fashion categories
(men's / women's tops, bottoms, shoes; `data.core.AMAZON_FASHION_CATEGORIES`)
and has visual attributes drawn independently:

- colour: hue (uniform on the colour wheel), saturation (a third of the items
  are near-neutral: black, grey, white, beige) and lightness;
- pattern: solid, stripes, dots or checks (gingham);
- silhouette, two numbers in [0, 1] whose meaning depends on the type:
  tops: sleeve length (sleeveless to long) and body length / hem flare;
  bottoms: leg or skirt length (shorts / mini to full / maxi) and width at
  the hem (slim to wide, pencil to A-line); women's bottoms are also skirts
  or trousers;
  shoes: heel height (women) or sole thickness (men), and boot shaft height
  (low shoe to tall boot);
- men's and women's cuts differ (shoulders, waist, flare, heels);
- nuisance attributes that do not affect anybody's taste: size and position
  in the frame, background shade, pattern frequency, sole colour.

Images. Each item is drawn as a product photo: a 64x64 RGB uint8 picture of
one garment (tops and bottoms flat-laid from the front, shoes in side view,
toe left) on a plain near-white / light-grey background, with a thin darker
outline, soft shading and a faint shadow. Shapes are unions of convex
polygons and ellipses rendered from signed distances on coordinate grids
(anti-aliased, vectorised over blocks of items).

Users. Every user has a gender (the side of the store they shop; a few shop
both), a taste for each garment type, a preferred hue and how much it
matters, and linear tastes for lightness, each pattern, each silhouette
attribute of each type and skirts versus trousers. An item is summarised by a
20-vector of features `f_i` (category one-hot; saturation * (cos, sin) of
hue; lightness; pattern one-hot; type one-hot * each silhouette attribute;
skirt flag), and a user by a weight vector `w_u` on the same features. The
true utility is

    utility(u, i) = w_u . f_i + b_i,

where `b_i` ~ N(0, popularity_scale^2) is a modest item popularity term that
lengthens the tail of item counts. It is linear in a low-dimensional
description of what the picture shows, so a visually-aware model can learn it
from pixels, and a model without images must learn it per item.

Interactions. User u makes `n_u` purchases, `n_u = floor(min_interactions *
V^(-1 / count_tail))` with V uniform in (0, 1] (a discrete Pareto tail: at
least 5, most users 5-10, a few dozens), capped at `max_interactions`. The
purchases are drawn without replacement from softmax(utility(u, .) /
temperature) over the whole catalogue (successive sampling, the same
distribution as Gumbel top-k; vectorised over blocks of users). Catalogue
items nobody bought are dropped, as Amazon's catalogue holds only reviewed
items, so item indices are dense over the bought items; this leaves a long,
sparse tail as in Amazon Fashion (about 2 interactions per item): on `tiny`
and `default` about 70% of the items have 1-3 interactions, the median item
has 2 training observations and 90% are cold (fewer than 5).

Split. As in the paper, per user one random interaction is withheld for
validation, another for test, and the rest are training data.

Oracle. `RecDataset.true_scores(users)` returns the true utilities
[len(users), num_items] float32 (a `TrueScores`, which also holds the
weights, features and attributes); ranking the test items by them gives the
oracle AUC, the ceiling for any model: about 0.93 on `default` and `tiny`,
where ranking by training popularity gives about 0.55 (Amazon Fashion's
PopRank: 0.58) and the category alone about 0.80.

Presets (TFDS-style configs), with CPU seconds measured on this project's
machine: `tiny` (tests: 300 users, ~740 items, ~1,600 training
interactions; about 0.5 s), `default` (the demo: 3,500 users, ~9,300 items,
~20,000 training interactions; about 6 s) and `large` (benchmarks: 50,000
users, 100,000 catalogue items of which ~89,500 are bought, ~290,000
training interactions, 1.1 GB of pixels; about 100 s). Sampling and
rendering use up to 4 threads. Same (config, seed) gives identical arrays
whatever the thread count; `info` records the preset, seed and generator
version, which changes whenever the output for a seed changes.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import os
import threading
import time

import numpy as np
from absl import logging

from data.core import (
    AMAZON_FASHION_CATEGORIES,
    DataError,
    ItemImages,
    RecDataset,
)
from data.splits import hold_out_per_user

# Bump whenever the arrays produced for a given (config, seed) change.
GENERATOR_VERSION = "1"

PATTERNS = ("solid", "stripes", "dots", "checks")
TYPES = ("tops", "bottoms", "shoes")

# Layout of the item feature vector f_i (see the module docstring).
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


@dataclasses.dataclass(frozen=True)
class SyntheticPreset:
    """Size and taste parameters of one `synthetic_fashion` config.

    Attributes:
      name: config name ("tiny", "default", "large").
      num_users: simulated users (all kept: each has >= min_interactions).
      num_catalogue_items: items generated; those nobody buys are dropped.
      image_size: side of the square RGB images, in pixels.
      min_interactions: fewest interactions per user (the paper keeps users
        with at least 5).
      max_interactions: cap on interactions per user.
      count_tail: Pareto exponent of interactions per user; smaller is a
        heavier tail (2.5 gives a mean of about 8 per user, as Amazon Fashion).
      temperature: softmax temperature of the choices; lower is more
        predictable (higher oracle AUC).
      category_probs: share of each category in the catalogue, Amazon order.
      neutral_share: share of near-neutral (low saturation) colours.
      pattern_probs: share of solid, stripes, dots, checks.
      cross_gender_share: share of users who shop both sides of the store.
      gender_gap: utility penalty of the other side's items.
      type_scale: std of a user's taste for tops / bottoms / shoes.
      colour_weight: largest utility gain of a fully saturated preferred hue.
      lightness_scale: std of the lightness taste.
      pattern_scale: std of the taste for each pattern.
      silhouette_scale: std of the taste for each silhouette attribute.
      skirt_scale: std of the taste for skirts over trousers.
      popularity_scale: std of the per-item popularity term b_i.
      seed: the seed used when `load(seed=None)`.
      render_block: items per block when rendering images (bounds memory).
    """

    name: str
    num_users: int
    num_catalogue_items: int
    image_size: int = 64
    min_interactions: int = 5
    max_interactions: int = 60
    count_tail: float = 2.5
    temperature: float = 1.0
    category_probs: tuple[float, ...] = (0.15, 0.21, 0.13, 0.16, 0.15, 0.20)
    neutral_share: float = 0.3
    pattern_probs: tuple[float, ...] = (0.55, 0.17, 0.13, 0.15)
    cross_gender_share: float = 0.1
    gender_gap: float = 4.0
    type_scale: float = 1.0
    colour_weight: float = 3.0
    lightness_scale: float = 1.5
    pattern_scale: float = 1.0
    silhouette_scale: float = 1.2
    skirt_scale: float = 1.0
    popularity_scale: float = 0.6
    seed: int = 2017
    render_block: int = 256


PRESETS = {
    "tiny": SyntheticPreset(name="tiny", num_users=300, num_catalogue_items=900),
    "default": SyntheticPreset(name="default", num_users=3500, num_catalogue_items=12000),
    "large": SyntheticPreset(name="large", num_users=50000, num_catalogue_items=100000),
}


def get_preset(config: str) -> SyntheticPreset:
    """The preset of a config name; DataError listing the known ones otherwise."""
    if config not in PRESETS:
        raise DataError(
            f"Unknown synthetic_fashion config {config!r}. Known configs: "
            f"{', '.join(PRESETS)} (e.g. --dataset=synthetic_fashion/tiny)."
        )
    return PRESETS[config]


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


# --------------------------------------------------------------------------
# Rendering. Items are drawn in blocks of one type. Per-item parameters are
# float32 [B] arrays; the pixel grid is split into x [B, 1, S] and y [B, S, 1]
# in the item's own frame (x right, y down, [0, 1] before scaling), so that
# terms of one coordinate stay cheap and only their sums are [B, S, S].

_F32 = np.float32


def _col(v) -> np.ndarray:
    """[B] parameters as [B, 1, 1] float32 for broadcasting against the grid."""
    return np.asarray(v, _F32)[:, None, None]


def _hsl_to_rgb(h, s, lum) -> np.ndarray:
    """HSL -> RGB: [B] arrays in [0, 1] -> [B, 3] float32 in [0, 1]."""
    h, s, lum = (np.asarray(v, _F32)[:, None] for v in (h, s, lum))
    k = (np.array([0.0, 8.0, 4.0], _F32) + h * 12.0) % 12.0
    a = s * np.minimum(lum, 1.0 - lum)
    return lum - a * np.clip(np.minimum(k - 3.0, 9.0 - k), -1.0, 1.0)


def _quad(b: int, *points) -> np.ndarray:
    """[B, K, 2] float32 vertices from K (x, y) pairs of scalars or [B] arrays."""
    out = np.empty((b, len(points), 2), _F32)
    for k, (px, py) in enumerate(points):
        out[:, k, 0] = px
        out[:, k, 1] = py
    return out


def _poly_sdf(x, y, verts) -> np.ndarray:
    """Signed distance to one convex polygon per item, negative inside.

    Exact inside and near edges; outside near sharp corners it is a
    lower bound (max of the edges' half-plane distances), which only matters
    for the 1-pixel outline.

    Args:
      x: [B, 1, S] and y: [B, S, 1] coordinates.
      verts: [B, K, 2] vertices, in order along the boundary (either way).

    Returns:
      [B, S, S] float32.
    """
    centre = verts.mean(axis=1)
    k_count = verts.shape[1]
    d = None
    for k in range(k_count):
        a, b = verts[:, k], verts[:, (k + 1) % k_count]
        nx, ny = b[:, 1] - a[:, 1], a[:, 0] - b[:, 0]
        norm = np.sqrt(nx * nx + ny * ny) + _F32(1e-9)
        # Point the normal away from the centroid, whatever the vertex order.
        sign = np.where(nx * (centre[:, 0] - a[:, 0]) + ny * (centre[:, 1] - a[:, 1]) > 0, -1, 1)
        nx, ny = sign * nx / norm, sign * ny / norm
        edge = (_col(nx) * x - _col(nx * a[:, 0] + ny * a[:, 1])) + _col(ny) * y
        d = edge if d is None else np.maximum(d, edge, out=d)
    return d


def _ellipse_sdf(x, y, cx, cy, rx, ry) -> np.ndarray:
    """Approximate signed distance to axis-aligned ellipses ([B] or scalar parameters)."""
    rx, ry = np.asarray(rx, _F32), np.asarray(ry, _F32)
    dx = (x - _F32(cx) if np.isscalar(cx) else x - _col(cx)) / (_col(rx) if rx.ndim else rx)
    dy = (y - _F32(cy) if np.isscalar(cy) else y - _col(cy)) / (_col(ry) if ry.ndim else ry)
    r = np.sqrt(dx * dx + dy * dy)
    r -= 1.0
    r *= _col(np.minimum(rx, ry)) if np.ndim(np.minimum(rx, ry)) else np.minimum(rx, ry)
    return r


def _where(mask, a, b) -> np.ndarray:
    """Per-item choice between two [B, S, S] arrays by a [B] bool mask."""
    return np.where(np.asarray(mask)[:, None, None], a, b)


def _top_shapes(x, y, a: ItemAttributes) -> dict:
    """Tops flat-laid from the front: torso, two sleeves, a neck opening."""
    b = len(a)
    women = (a.category % 2).astype(_F32)
    sleeve = a.silhouette_a
    body = a.silhouette_b
    c, sy, wy = 0.5, 0.2, 0.5  # centre, shoulder line, waist line
    sw = 0.21 - 0.045 * women  # half widths at the shoulders,
    ww = 0.19 - 0.06 * women  # the waist,
    hw = 0.195 - 0.035 * women + 0.07 * women * body  # and the hem (women's flare)
    hy = 0.70 + 0.16 * body - 0.04 * women * (1.0 - body)  # hem line
    upper = _poly_sdf(x, y, _quad(b, (c - sw, sy), (c + sw, sy), (c + ww, wy), (c - ww, wy)))
    # Pieces of a union overlap by a few pixels so that no seam shows.
    lower = _poly_sdf(
        x, y, _quad(b, (c - ww, wy - 0.04), (c + ww, wy - 0.04), (c + hw, hy), (c - hw, hy))
    )
    d = np.minimum(upper, lower)
    # Sleeves: parallelograms hanging from the shoulder seam, angled out,
    # reaching back into the torso and clipped at the shoulder line.
    length = 0.015 + 0.44 * sleeve
    angle = np.deg2rad(38.0 - 10.0 * sleeve)
    pit = 0.15 - 0.015 * women
    ux, uy = np.sin(angle), np.cos(angle)
    cuff = 0.02 * sleeve  # cuffs are narrower than the arm hole
    for side in (-1.0, 1.0):
        ax_, ay_ = c + side * sw, sy
        bx_, by_ = c + side * (sw + (ww - sw) * pit / (wy - sy)), sy + pit
        back = 0.05
        verts = _quad(
            b,
            (ax_ - side * ux * back, ay_ - uy * back),
            (ax_ + side * ux * length, ay_ + uy * length + cuff),
            (bx_ + side * ux * length, by_ + uy * length - cuff),
            (bx_ - side * ux * back, by_ - uy * back),
        )
        d = np.minimum(d, np.maximum(_poly_sdf(x, y, verts), sy - y))
    # Neck opening (men's round, women's deeper scoop) shows the inside back.
    neck = _ellipse_sdf(x, y, c, sy, 0.07 + 0.015 * women, 0.04 + 0.04 * women)
    inner = np.maximum(neck, (sy + 0.012) - y)
    return {"main": np.maximum(d, -neck), "inner": inner}


def _bottom_shapes(x, y, a: ItemAttributes) -> dict:
    """Trousers, shorts and skirts flat-laid from the front, with a waistband."""
    b = len(a)
    women = (a.category % 2).astype(_F32)
    length = a.silhouette_a
    width = a.silhouette_b
    c, wy, cy = 0.5, 0.12, 0.38  # centre, waist line, crotch line
    ww = 0.19 - 0.05 * women  # half width at the waist: women's is narrower
    hw = 0.2 + 0.01 * women  # at the hips
    # Trousers: hip block plus two legs, each a convex pentagon.
    hem = cy + 0.07 + length * (0.9 - cy - 0.07)
    # Half width of a leg at the hem: men's straight, women's skinny to flared.
    leg = (0.065 + 0.04 * width) * (1.0 - women) + (0.04 + 0.08 * width) * women
    gap = 0.012 + 0.02 * width
    d = _poly_sdf(x, y, _quad(b, (c - ww, wy), (c + ww, wy), (c + hw, cy), (c - hw, cy)))
    top = cy - 0.12  # legs start inside the hip block, on its sides
    top_w = ww + (hw - ww) * (top - wy) / (cy - wy)
    for side in (-1.0, 1.0):
        verts = _quad(
            b,
            (c + side * top_w, top),
            (c, top),
            (c, cy),
            (c + side * gap, hem),
            (c + side * (gap + 2 * leg), hem),
        )
        d = np.minimum(d, _poly_sdf(x, y, verts))
    if a.skirt.any():
        # Skirts: one trapezoid, mini to maxi, pencil to A-line.
        skirt_hem = 0.36 + 0.52 * length
        flare = ww + 0.02 + 0.2 * width
        skirt = _poly_sdf(
            x,
            y,
            _quad(b, (c - ww, wy), (c + ww, wy), (c + flare, skirt_hem), (c - flare, skirt_hem)),
        )
        d = _where(a.skirt, skirt, d)
    # Details in a darker shade: a waistband (a belt-wide one on men's), and
    # the fly seam of men's trousers.
    band_y = wy + 0.045 - 0.02 * women
    band = _poly_sdf(x, y, _quad(b, (c - ww, wy), (c + ww, wy), (c + ww, band_y), (c - ww, band_y)))
    fly = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (c + 0.01, band_y),
            (c + 0.026, band_y),
            (c + 0.026, cy - 0.05),
            (c + 0.01, cy - 0.05),
        ),
    )
    band = _where((women == 0) & ~a.skirt, np.minimum(band, fly), band)
    return {"main": d, "part": np.maximum(band, d)}


def _shoe_shapes(x, y, a: ItemAttributes) -> dict:
    """Shoes and boots in side view, toe left: upper, lining, sole and heel."""
    b = len(a)
    women = a.category % 2 == 1
    wf = women.astype(_F32)
    s_a = a.silhouette_a
    shaft = a.silhouette_b
    boot = shaft >= 0.35
    g = 0.80  # ground line
    # Men: a flat sole whose thickness is silhouette_a. Women: a heel of
    # height silhouette_a, the sole rising from the ball of the foot to it.
    thick = np.where(women, 0.022, 0.03 + 0.05 * s_a).astype(_F32)
    heel = np.where(women, 0.03 + 0.2 * s_a, 0.0).astype(_F32)
    toe_x, back_x, ball_x = 0.12 + 0.04 * wf, 0.86 - 0.05 * wf, 0.42
    heel_top = g - heel  # underside of the sole at the heel
    fore = _poly_sdf(
        x,
        y,
        _quad(b, (toe_x + 0.03, g - thick), (ball_x, g - thick), (ball_x, g), (toe_x + 0.03, g)),
    )
    tip = _ellipse_sdf(x, y, toe_x + 0.035, g - thick / 2, 0.035, thick / 2 + 1e-3)
    arch = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (ball_x - 0.02, g - thick),
            (back_x, heel_top - thick),
            (back_x, heel_top),
            (ball_x - 0.02, g),
        ),
    )
    # The heel: a block for men and low heels, tapering to a stiletto as it rises.
    top_w = np.where(women, 0.06 - 0.02 * s_a, 0.1)
    foot_w = np.where(women, 0.05 - 0.035 * s_a, 0.1)
    heel_block = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (back_x - top_w, heel_top - thick),
            (back_x, heel_top - thick),
            (back_x - 0.005, g),
            (back_x - 0.005 - foot_w, g),
        ),
    )
    sole = np.minimum(np.minimum(fore, tip), np.minimum(arch, heel_block))
    # Upper: rounded toe box plus a body over the sole; pumps are low.
    top_front = g - thick - np.where(women, 0.08, 0.15)
    toe_box = _ellipse_sdf(x, y, toe_x + 0.13, g - thick, 0.13, np.where(women, 0.075, 0.14))
    collar_y = np.where(women, heel_top - thick - 0.09, g - thick - 0.25)
    body = _poly_sdf(
        x,
        y,
        _quad(
            b,
            (toe_x + 0.13, top_front),
            (back_x - 0.01, collar_y),
            (back_x, heel_top - thick + 0.01),
            (ball_x - 0.01, g - thick + 0.01),
            (toe_x + 0.13, g - thick + 0.01),
        ),
    )
    upper = np.minimum(np.maximum(toe_box, y - _col(g - thick + 0.01)), body)
    result = {"part": sole}
    # Boots: a shaft rising from the heel end, as tall as silhouette_b says.
    if boot.any():
        shaft_h = np.where(boot, 0.1 + 0.4 * (shaft - 0.35), 0.0)
        front = back_x - np.where(women, 0.2, 0.24)
        leg = _poly_sdf(
            x,
            y,
            _quad(
                b,
                (front + 0.02, collar_y - shaft_h),
                (back_x - 0.005, collar_y - shaft_h),
                (back_x, collar_y + 0.03),
                (front - 0.05, collar_y + 0.07),
            ),
        )
        upper = _where(boot, np.minimum(upper, leg), upper)
    # Low shoes are open on top (a long scoop on pumps, an ankle opening on
    # men's shoes): the darker lining shows.
    if (~boot).any():
        scoop = _where(
            women,
            _ellipse_sdf(x, y, 0.6, top_front - 0.025, 0.2, 0.05),
            _ellipse_sdf(x, y, back_x - 0.14, collar_y - 0.01, 0.11, 0.04),
        )
        result["inner"] = _where(~boot, np.maximum(upper, scoop), 1.0)
        upper = _where(~boot, np.maximum(upper, -scoop), upper)
    result["main"] = upper
    return result


def _pattern_mask(a: ItemAttributes, x, y, px, orientation: str) -> np.ndarray:
    """Share of the pattern's second colour per pixel: [B, S, S] float32 in [0, 1].

    Args:
      a: attributes of B items (pattern, pattern_frequency).
      x, y: [B, 1, S] and [B, S, 1] coordinates in the item frame.
      px: [B] pixel size in the item frame, for anti-aliasing.
      orientation: "horizontal" or "vertical" stripes.
    """
    mask = np.zeros((len(a), y.shape[1], x.shape[2]), _F32)
    for kind in (1, 2, 3):
        sel = np.flatnonzero(a.pattern == kind)
        if not len(sel):
            continue
        f = _col(a.pattern_frequency[sel])
        p = _col(px[sel])
        xs, ys = x[sel], y[sel]
        # Soft thresholds over about a pixel keep thin lines from aliasing.
        sharp = 1.0 / (np.pi * f * p)
        if kind == 1:  # stripes
            along = ys if orientation == "horizontal" else xs
            m = np.clip(0.5 + sharp * (np.sin(2 * np.pi * f * along) - 0.3), 0.0, 1.0)
        elif kind == 2:  # dots on a staggered grid
            u = (xs * f) % 1.0 - 0.5
            v = (ys * f + 0.25) % 1.0 - 0.5
            dist = np.sqrt(u * u + v * v) / f
            m = np.clip(0.5 - (dist - 0.26 / f) / p, 0.0, 1.0)
        else:  # gingham checks: crossing translucent bands
            band_x = np.clip(0.5 + sharp * np.sin(2 * np.pi * f * xs), 0.0, 1.0)
            band_y = np.clip(0.5 + sharp * np.sin(2 * np.pi * f * ys), 0.0, 1.0)
            m = 0.5 * (band_x + band_y)
        mask[sel] = m
    return mask


_SHAPES = (_top_shapes, _bottom_shapes, _shoe_shapes)


def render_items(
    attrs: ItemAttributes, image_size: int = 64, block: int = 256, threads: int | None = None
) -> np.ndarray:
    """Draws the product photos of items.

    Args:
      attrs: attributes of n items.
      image_size: side S of the square images.
      block: items per vectorised block (memory ~ block * S * S * 100 bytes
        per thread).
      threads: blocks drawn at once (NumPy releases the GIL in its array
        operations); None for one per CPU core, at most 4. The pictures do
        not depend on it.

    Returns:
      [n, S, S, 3] uint8 RGB images in [0, 255].
    """
    out = np.empty((len(attrs), image_size, image_size, 3), np.uint8)
    item_type = attrs.category // 2
    jobs = []
    for t in range(3):
        members = np.flatnonzero(item_type == t)
        jobs += [(t, members[i : i + block]) for i in range(0, len(members), block)]

    def draw(job):
        t, idx = job
        out[idx] = _render_block(attrs.take(idx), t, image_size)

    threads = threads or min(4, os.cpu_count() or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(draw, jobs))
    return out


def _shifted(d: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """[B, S, S] moved down by dy and right by dx pixels (vacated pixels far outside)."""
    out = np.full_like(d, 1e3)
    out[:, dy:, dx:] = d[:, : d.shape[1] - dy, : d.shape[2] - dx]
    return out


def _render_block(a: ItemAttributes, item_type: int, size: int) -> np.ndarray:
    grid = (np.arange(size, dtype=_F32) + 0.5) / size
    scale = a.scale.astype(_F32)
    px = 1.0 / (size * scale)  # one pixel, in item-frame units
    x = (grid[None, None, :] - 0.5 - _col(a.offset[:, 0])) / _col(scale) + 0.5
    y = (grid[None, :, None] - 0.5 - _col(a.offset[:, 1])) / _col(scale) + 0.5
    shapes = _SHAPES[item_type](x, y, a)
    inv_px = _col(1.0 / px)

    def coverage(d, grow=0.0, soft=1.0):
        # Anti-aliased coverage of d < grow pixels, edge `soft` pixels wide.
        return np.clip(0.5 + (grow - d * inv_px) / soft, 0.0, 1.0)

    # Every colour in the picture is w_a * base + w_b * second + w_c * grey,
    # with base the item's colour and second its pattern colour; layers are
    # composited on the three [B, S, S] weight maps, and the RGB image is
    # formed once at the end (three times fewer full-size operations).
    base = _hsl_to_rgb(a.hue, a.saturation, a.lightness)
    # Pattern colour: darker on light items, lighter on dark ones.
    second_l = np.where(a.lightness > 0.5, a.lightness - 0.38, np.minimum(a.lightness + 0.42, 0.95))
    second = _hsl_to_rgb(a.hue, a.saturation * 0.6, second_l)
    orientation = "vertical" if item_type == 1 else "horizontal"
    m = _pattern_mask(a, x, y, px, orientation)
    # Soft shading: garments darken towards their sides, shoes towards the sole.
    if item_type == 2:
        shade = 1.05 - 0.22 * np.clip((y - 0.45) / 0.4, 0.0, 1.0)
    else:
        shade = (1.04 - 0.5 * (x - 0.5) ** 2) - 0.1 * np.clip(y - 0.5, 0.0, 1.0)
    fill_b = shade * m
    fill_a = shade - fill_b

    def over(maps, alpha, values):
        for w, v in zip(maps, values, strict=True):
            if v is None:  # this layer has none of this colour
                w -= alpha * w
            else:
                w += alpha * (v - w)

    main = shapes["main"]
    # Studio background: near-white or light grey, a little darker at the
    # bottom, with a soft shadow cast down and right of the item.
    shadow = coverage(_shifted(main, max(1, size // 32), max(1, size // 64)), soft=4.0)
    w_c = (_col(a.background) * (1.0 - 0.03 * grid[None, :, None])) * (1.0 - 0.12 * shadow)
    w_a = np.zeros_like(w_c)
    w_b = np.zeros_like(w_c)
    maps = (w_a, w_b, w_c)
    if "inner" in shapes:  # the inside of the garment, in shadow
        over(maps, coverage(shapes["inner"], -0.2), (0.55 * shade, None, None))
    over(maps, coverage(main, 1.0), (0.55 * fill_a, 0.55 * fill_b, None))  # outline
    over(maps, coverage(main, -0.2), (fill_a, fill_b, None))
    if item_type == 2:  # sole and heel, dark or light, with their own outline
        sole = _col(np.where(a.dark_sole, 0.16, 0.92))
        over(maps, coverage(shapes["part"], 1.0), (None, None, 0.6 * sole))
        over(maps, coverage(shapes["part"], -0.2), (None, None, sole))
    elif "part" in shapes:  # waistband: the garment's colour, darker
        over(maps, coverage(shapes["part"]), (_F32(0.75), None, None))
    img = w_a[..., None] * (255.0 * base)[:, None, None, :]
    img += w_b[..., None] * (255.0 * second)[:, None, None, :]
    img += (255.0 * w_c + 0.5)[..., None]  # + 0.5: round, not truncate, below
    return np.clip(img, 0.0, 255.0, out=img).astype(np.uint8)


# --------------------------------------------------------------------------
# The dataset.


def _summary(attrs: ItemAttributes) -> dict:
    return {
        "category_counts": np.bincount(attrs.category, minlength=6).tolist(),
        "pattern_counts": dict(
            zip(PATTERNS, np.bincount(attrs.pattern, minlength=4).tolist(), strict=True)
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
    catalogue = sample_item_attributes(preset, items_rng)
    features = item_features(catalogue)
    weights = sample_user_weights(preset, users_rng)
    counts = sample_user_counts(preset, users_rng)
    rows = sample_choices(
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
        true_scores=TrueScores(
            weights, features[kept], catalogue.popularity[kept], preset.temperature, attrs
        ),
        info=info,
    )
