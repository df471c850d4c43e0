"""absl flags of the evaluation protocol, shared by every binary that trains or scores.

`--negatives` / `--sampling` say how the baselines draw their BPR/WARP
triplets and `--select_on` what selects their epoch and grid point; `--cold_threshold` / `--sampled_auc` say how the cold-item and
sampled AUCs are defined. Defined once here (binaries and the tests that
import them may share a process); library code never reads FLAGS.
"""

from __future__ import annotations

from absl import flags

from metrics import auc as auc_lib
from metrics import protocol
from metrics.protocol import COLD_ITEM_THRESHOLD

flags.DEFINE_enum(
    "negatives",
    protocol.NEGATIVES[0],
    list(protocol.NEGATIVES),
    "Baselines' negative items: uniform over all items (the paper's protocol), observed "
    "(only items with training data: leaks the split, see README), or popularity.",
)
flags.DEFINE_enum(
    "sampling",
    protocol.SAMPLINGS[0],
    list(protocol.SAMPLINGS),
    "Baselines' (user, positive) draws: users (user uniform, the paper's protocol) or pairs "
    "(uniform over training pairs, as LightFM / implicit).",
)
flags.DEFINE_enum(
    "select_on",
    protocol.SELECT_ON[0],
    list(protocol.SELECT_ON),
    "Validation figure that selects the baselines' epoch and grid point: auc_warm (items with "
    "training data; see BaselineConfig.select_on) or auc (all items).",
)
flags.DEFINE_integer(
    "cold_threshold",
    COLD_ITEM_THRESHOLD,
    "An item is cold with fewer than this many training observations: 5 is the paper's "
    "'fewer than 5'; 6 is the '<= 5' of the baselines' reference code.",
)
flags.DEFINE_enum(
    "sampled_auc",
    protocol.SAMPLED_AUC_MODES[0],
    list(protocol.SAMPLED_AUC_MODES),
    "Sampled-100 AUC: uniform (100 never-observed items, ties 1/2) or release (the authors' "
    "code: 100 distinct items minus the user's train items and the held-out item, ties lose).",
)

FLAGS = flags.FLAGS


def auc_options_from_flags() -> auc_lib.AUCOptions:
    """The metric definitions the flags describe (a ValueError names a bad flag)."""
    return auc_lib.AUCOptions(cold_threshold=FLAGS.cold_threshold, sampled_auc=FLAGS.sampled_auc)


def sampling_from_flags() -> dict:
    """The baselines' protocol fields (`BaselineConfig` overrides) the flags describe."""
    return dict(negatives=FLAGS.negatives, sampling=FLAGS.sampling, select_on=FLAGS.select_on)
