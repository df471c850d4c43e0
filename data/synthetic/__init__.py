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
validation, another for test, and the rest are training data
(`data.splits.hold_out_per_user`).

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

Modules: `config` (the presets), `simulator` (items, tastes, true
utilities, purchases), `render` (the product photos), `dataset` (`load`,
which puts them together into a RecDataset).
"""

from data.synthetic.config import GENERATOR_VERSION, PRESETS, SyntheticPreset, get_preset
from data.synthetic.dataset import load
from data.synthetic.render import render_items
from data.synthetic.simulator import (
    FEATURE_NAMES,
    NUM_FEATURES,
    PATTERNS,
    TYPES,
    ItemAttributes,
    TrueScores,
    item_features,
    sample_choices,
    sample_item_attributes,
    sample_user_counts,
    sample_user_weights,
)

__all__ = [
    "FEATURE_NAMES",
    "GENERATOR_VERSION",
    "NUM_FEATURES",
    "PATTERNS",
    "PRESETS",
    "TYPES",
    "ItemAttributes",
    "SyntheticPreset",
    "TrueScores",
    "get_preset",
    "item_features",
    "load",
    "render_items",
    "sample_choices",
    "sample_item_attributes",
    "sample_user_counts",
    "sample_user_weights",
]
