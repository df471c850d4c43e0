"""The dataset registry behind every binary's `--dataset` flag.

    ds = data.registry.load("synthetic_fashion/tiny")
    ds = data.registry.load("amazon_fashion", DataOptions(manual_dir="~/dl"))

Names take an optional TFDS-style config after a slash
(`synthetic_fashion/tiny`). Loaders are imported lazily so that asking for
one dataset never pays for another's dependencies.
"""

from __future__ import annotations

import dataclasses

from data.core import DataError, RecDataset

DEFAULT_DATASET = "synthetic_fashion"

# The authors' published image datasets: registry name -> TFDS builder name.
AUTHORS_DATASETS = ("amazon_fashion", "amazon_women", "amazon_men", "tradesy")
# The datasets embedded in the repository, sized for a 2-core CPU: models
# train them at their CPU size whatever the machine, as the demo's seeded
# figures assume (`dvbpr_tf.config.default_preset`; the GAN's resolution
# follows their images).
CPU_SIZED_DATASETS = ("synthetic_fashion", "fashion_mnist_users")


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """Where datasets live and how to read them.

    Attributes:
      data_dir: where TFDS keeps prepared records (TFDS's own default,
        ~/tensorflow_datasets, when None).
      manual_dir: folder holding the authors' `.npy` files (TFDS's
        `<data_dir>/downloads/manual` when None).
      custom_dir: folder of a `custom` catalogue (interactions.csv, ...).
      fashion_mnist_dir: folder with Fashion-MNIST's idx `.gz` files
        (Debian's /usr/share/datasets/fashion-mnist when None).
      seed: seed of simulated datasets and of the custom split; None keeps
        each dataset's documented default so that results are comparable.
      split_by_time: custom data only: hold out each user's latest
        interactions (needs a timestamp column) instead of random ones.
      bad_images: "fail" stops at the first undecodable images and lists
        them; "skip" drops those items (and their interactions) and reports
        them.
    """

    data_dir: str | None = None
    manual_dir: str | None = None
    custom_dir: str | None = None
    fashion_mnist_dir: str | None = None
    seed: int | None = None
    split_by_time: bool = False
    bad_images: str = "fail"


def _synthetic(config, options):
    from data import synthetic

    return synthetic.load(config or "default", seed=options.seed)


def _fashion_mnist(config, options):
    from data import fashion_mnist

    return fashion_mnist.load(
        config or "default", fashion_mnist_dir=options.fashion_mnist_dir, seed=options.seed
    )


def _custom(config, options):
    from data import custom

    if not options.custom_dir:
        raise DataError("--dataset=custom needs --custom_dir=DIR (a folder with interactions.csv).")
    return custom.load(
        options.custom_dir,
        seed=0 if options.seed is None else options.seed,
        split_by_time=options.split_by_time,
        bad_images=options.bad_images,
    )


def _amazon_interactions(config, options):
    from data import amazon_interactions

    return amazon_interactions.load(options.custom_dir)


def _authors(name):
    def loader(config, options):
        from data import authors_loader

        return authors_loader.load(
            name,
            data_dir=options.data_dir,
            manual_dir=options.manual_dir,
            bad_images=options.bad_images,
        )

    return loader


_LOADERS = {
    "synthetic_fashion": _synthetic,
    "fashion_mnist_users": _fashion_mnist,
    "custom": _custom,
    "amazon_fashion_interactions": _amazon_interactions,
    **{name: _authors(name) for name in AUTHORS_DATASETS},
}


def cpu_sized(name: str) -> bool:
    """Whether a registry name (optionally with "/config") is one of CPU_SIZED_DATASETS."""
    return name.partition("/")[0] in CPU_SIZED_DATASETS


def names() -> list[str]:
    """All registered dataset names."""
    return sorted(_LOADERS)


def load(name: str = DEFAULT_DATASET, options: DataOptions | None = None) -> RecDataset:
    """Loads a dataset by registry name.

    Args:
      name: a registered name, optionally with "/config".
      options: where files live; defaults to `DataOptions()`.

    Returns:
      The dataset as a `RecDataset`.

    Raises:
      DataError: unknown name, or a missing or malformed file (the message
        names it and says what to do).
    """
    options = options or DataOptions()
    if options.bad_images not in ("fail", "skip"):
        raise DataError(f"bad_images must be 'fail' or 'skip', got {options.bad_images!r}.")
    base, _, config = name.partition("/")
    if base not in _LOADERS:
        raise DataError(f"Unknown --dataset={name!r}. Known datasets: {', '.join(names())}.")
    return _LOADERS[base](config or None, options)
