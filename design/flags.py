"""absl flags shared by the design binaries (`design.generate`, `design.tailor`).

Binaries import this module for its flags and call `config_from_flags()`;
library code never reads FLAGS.
"""

from __future__ import annotations

from absl import flags

from common import config_flags, runtime
from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from data import flags as data_flags  # also defines --dataset and friends
from data.core import DataError, RecDataset
from design import design_lib
from design.config import PRESETS, DesignConfig, get_preset

flags.DEFINE_alias("out", "workdir")
flags.DEFINE_string(
    "category",
    None,
    "Category id or name; generate: a comma-separated list (one per user, or one for all); "
    "tailor: the category to tailor in (the item's own if unset).",
)
flags.DEFINE_enum("preset", "paper", list(PRESETS), "Design hyper-parameter preset.")
# Overrides of the preset's fields, named as the fields (`DesignConfig`'s docstring).
DESIGN_FLAGS = config_flags.define_flags(
    DesignConfig,
    (
        "restarts",
        "steps",
        "learning_rate",
        "eta",
        "top_k",
        "inversion_steps",
        "inversion_restarts",
        "tailor_steps",
        "snapshot_every",
        "seed",
    ),
)

FLAGS = flags.FLAGS


def config_from_flags() -> DesignConfig:
    """The preset named by --preset with the flags that were set applied."""
    return config_flags.resolve(get_preset(FLAGS.preset), DESIGN_FLAGS.values())


def dataset_from_flags() -> str | None:
    """--dataset when given on the command line, else None (use the export's dataset)."""
    return FLAGS.dataset if FLAGS["dataset"].present else None


def require(names) -> None:
    """DataError naming the first of these flags that is unset (--out is shown as --out/--workdir)."""
    for name in names:
        if FLAGS[name].value is None or FLAGS[name].value == "":
            shown = "--out (or --workdir)" if name == "out" else f"--{name}"
            raise DataError(f"{shown} is required: {FLAGS[name].help}")


def load_from_flags(required: tuple[str, ...]) -> tuple[design_lib.Designer, RecDataset]:
    """The shared start of the design binaries.

    Checks that --recommender, --gan, --out and `required` are set, writes
    the resolved config (design hyper-parameters and every flag named here)
    to --out, and loads the exports and the catalogue.

    Returns:
      (designer, catalogue): a `design_lib.Designer` over the two exports
      and the `RecDataset` they were trained on.
    """
    require(("recommender", "gan", "out", *required))
    config = config_from_flags()
    names = ("recommender", "gan", *required, "category")
    resolved = {"design": config, **{n: FLAGS[n].value for n in names}}
    runtime.write_config(FLAGS.out, {**resolved, "dataset": dataset_from_flags()})
    return load_exports(config)


def load_exports(config: DesignConfig) -> tuple[design_lib.Designer, RecDataset]:
    """A designer over --recommender and --gan with `config`, and the catalogue.

    The catalogue is --dataset when given on the command line, else the
    dataset the recommender export names, with the data flags' options.
    """
    designer = design_lib.load_designer(FLAGS.recommender, FLAGS.gan, config)
    catalogue = design_lib.load_catalogue(
        designer.rec, dataset_from_flags(), data_flags.options_from_flags()
    )
    return designer, catalogue
