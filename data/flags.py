"""absl flags shared by every binary that reads a dataset.

Binaries import this module for its flags and call `options_from_flags()`;
library code never reads FLAGS.
"""

from __future__ import annotations

from absl import flags

from common import config_flags
from data.registry import DEFAULT_DATASET, DataOptions

flags.DEFINE_string(
    "dataset",
    DEFAULT_DATASET,
    "Dataset registry name, optionally with a config: synthetic_fashion[/tiny|/default|/large], "
    "fashion_mnist_users, custom, amazon_fashion_interactions, amazon_fashion, amazon_women, "
    "amazon_men, tradesy.",
)
# `DataOptions`' fields (its docstring), with its defaults; its seed is --data_seed
# (--seed is a model's).
DATA_FLAGS = config_flags.define_flags(
    DataOptions,
    (
        "data_dir",
        "manual_dir",
        "custom_dir",
        "fashion_mnist_dir",
        "seed",
        "split_by_time",
        "bad_images",
    ),
    defaults=DataOptions(),
    enums={"bad_images": ("fail", "skip")},
    flag_names={"seed": "data_seed"},
    unset_help=None,
)

FLAGS = flags.FLAGS


def define_image_cache_dir() -> None:
    """Defines --image_cache_dir, for the binaries that read item images through a model."""
    flags.DEFINE_string(
        "image_cache_dir",
        None,
        "Folder where a catalogue too large to hold decoded in memory is decoded once, at the "
        "model's image size, into a memory-mapped .npy file reused by later runs (Amazon "
        "Fashion at 224 px: 35 GB of disk). Unset: such catalogues decode JPEGs per lookup "
        "(slower).",
    )


def options_from_flags() -> DataOptions:
    """The DataOptions the data flags describe."""
    return config_flags.resolve(DataOptions(), DATA_FLAGS.values())
