"""absl flags shared by every binary that reads a dataset.

Binaries import this module for its flags and call `options_from_flags()`;
library code never reads FLAGS.
"""

from __future__ import annotations

from absl import flags

from data.registry import DEFAULT_DATASET, DataOptions

flags.DEFINE_string(
    "dataset",
    DEFAULT_DATASET,
    "Dataset registry name, optionally with a config: synthetic_fashion[/tiny|/default|/large], "
    "fashion_mnist_users, custom, amazon_fashion_interactions, amazon_fashion, amazon_women, "
    "amazon_men, tradesy.",
)
flags.DEFINE_string("data_dir", None, "Where TFDS keeps prepared records (TFDS default if unset).")
flags.DEFINE_string(
    "manual_dir", None, "Folder with the authors' .npy files (TFDS manual dir if unset)."
)
flags.DEFINE_string("custom_dir", None, "Folder of a --dataset=custom catalogue.")
flags.DEFINE_string(
    "fashion_mnist_dir", None, "Folder with Fashion-MNIST idx .gz files (Debian's if unset)."
)
flags.DEFINE_integer(
    "data_seed", None, "Seed of simulated datasets and custom splits (dataset default if unset)."
)
flags.DEFINE_bool(
    "split_by_time", False, "custom: hold out each user's latest interactions, not random ones."
)
flags.DEFINE_enum(
    "bad_images", "fail", ["fail", "skip"], "Undecodable images: stop and list them, or skip them."
)

FLAGS = flags.FLAGS


def options_from_flags() -> DataOptions:
    """The DataOptions the data flags describe."""
    return DataOptions(
        data_dir=FLAGS.data_dir,
        manual_dir=FLAGS.manual_dir,
        custom_dir=FLAGS.custom_dir,
        fashion_mnist_dir=FLAGS.fashion_mnist_dir,
        seed=FLAGS.data_seed,
        split_by_time=FLAGS.split_by_time,
        bad_images=FLAGS.bad_images,
    )
