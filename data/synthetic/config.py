"""The presets (TFDS-style configs) of `synthetic_fashion`: sizes and taste parameters.

See `data.synthetic` for what each parameter does in the simulator.
"""

from __future__ import annotations

import dataclasses

from data.core import DataError

# Bump whenever the arrays produced for a given (config, seed) change.
GENERATOR_VERSION = "1"


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
