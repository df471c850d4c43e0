r"""Table III of the paper: every method's AUC (all items / cold items) per dataset.

    python -m eval.table3 --datasets=synthetic_fashion,fashion_mnist_users \
        --workdir=/tmp/table3
    python -m eval.table3 --datasets=amazon_fashion_interactions \
        --models=rand,poprank,warp,bprmf --workdir=/tmp/table3_amazon

Each (dataset, method) is trained with selection on validation
(`baselines.train_lib.train_baseline`; DVBPR through
`dvbpr_tf.train_lib.train_and_evaluate`) in `WORKDIR/<dataset>/<method>/`
and evaluated on test with `metrics.auc`. A finished (dataset, method) keeps
its `result.json` (`results.json` in a workdir of an older version) and is
not rerun, and unfinished grids resume point by point, so the binary is
resumable after a kill.

Every baseline trains under the paper's protocol (user uniform, negatives
uniform over all items) unless --negatives / --sampling say otherwise; the
protocol and the metric definitions (--cold_threshold, --sampled_auc) are
written into config.json and both table files.

Writes `table3.md` and `table3.csv` (AUC on all, cold and warm items, the
AUC of the "no training data" indicator as the split's leak check, and the
paper's "h vs d" (DVBPR over BPR-MF) and "h vs best" (DVBPR over the best
other method) improvements), and TensorBoard's HParams dashboard
(`tensorboard --logdir WORKDIR`: one run per grid point, hparams model /
dataset / reg / dim, metric hparams/validation_auc). Ends with one JSON line.
Visual methods need images (or `--mcauley_features`); they are left out,
with a note, on datasets without.
"""

from __future__ import annotations

import dataclasses

from absl import app, flags, logging

from baselines import config as bc
from common import config_flags, runtime
from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from data import flags as data_flags
from data.core import DataError
from eval.table3_lib import METHODS, SETTINGS, run_table
from metrics import flags as protocol_flags


@dataclasses.dataclass(frozen=True)
class TableConfig:
    """What the command line sets of a Table III run (`run_table`'s arguments).

    Attributes:
      datasets: Registry names of the datasets (rows of the table).
      models: Methods (columns): any of `METHODS`.
      grid: Hyper-parameter grid: small, paper or none.
      epochs: Overrides every trained baseline's epochs.
      seed: Seed of initialisation, sampling and carved validation.
      features: Visual features: efficientnet_lite0[_S] (S x S input), mcauley
        or pixels.
      feature_cache: Feature cache root ('' disables it).
      mcauley_features: McAuley's image_features_*.b for --features=mcauley.
      dvbpr_epochs: Overrides DVBPR's epochs (its preset's otherwise).
      dvbpr_from: A finished `dvbpr_tf.train` workdir (one dataset) whose
        result.json fills the DVBPR column instead of training DVBPR again.
    """

    datasets: tuple[str, ...] = ("synthetic_fashion",)
    models: tuple[str, ...] = METHODS
    grid: str = "small"
    epochs: int | None = None
    seed: int = 0
    features: str = "efficientnet_lite0"
    feature_cache: str = "~/.cache/dvbpr_tf/features"
    mcauley_features: str | None = None
    dvbpr_epochs: int | None = None
    dvbpr_from: str | None = None


TABLE_FLAGS = config_flags.define_flags(
    TableConfig,
    [f.name for f in dataclasses.fields(TableConfig)],
    defaults=TableConfig(),
    help={"models": f"Methods (columns): any of {', '.join(METHODS)}."},
    enums={"grid": bc.GRIDS},
    unset_help=None,  # no presets: an unset flag means "not overridden"
)

FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS.workdir:
        raise app.UsageError("--workdir is required.")
    try:
        auc_options = protocol_flags.auc_options_from_flags()
    except ValueError as err:
        raise app.UsageError(str(err)) from err
    table = config_flags.resolve(TableConfig(), TABLE_FLAGS.values())
    config = dict(
        dataclasses.asdict(table),
        feature_cache=table.feature_cache or None,
        protocol_overrides=protocol_flags.sampling_from_flags(),
        auc_options=auc_options,
    )
    runtime.write_config(FLAGS.workdir, config)
    try:
        out = run_table(
            workdir=FLAGS.workdir, data_options=data_flags.options_from_flags(), **config
        )
    except DataError as err:
        raise app.UsageError(str(err)) from err
    with open(out["markdown"]) as f:
        logging.info("Table III:\n%s", f.read())
    short = {setting: key.removeprefix("auc_") for setting, key in SETTINGS}
    short["All Items"] = "all"
    auc_table = {
        f"{r['dataset']}/{short[r['setting']]}": {
            m: r[m] for m in (*table.models, "leak_indicator")
        }
        for r in out["rows"]
    }
    runtime.emit_result(
        dict(markdown=out["markdown"], csv=out["csv"], protocol=out["protocol"], auc=auc_table)
    )


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
