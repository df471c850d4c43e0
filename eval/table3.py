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

from absl import app, flags, logging

from baselines import config as bc
from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from common import runtime
from data import flags as data_flags
from data.core import DataError
from eval.table3_lib import METHODS, SETTINGS, run_table
from metrics import flags as protocol_flags

flags.DEFINE_list(
    "datasets", ["synthetic_fashion"], "Registry names of the datasets (rows of the table)."
)
flags.DEFINE_list("models", list(METHODS), f"Methods (columns): any of {', '.join(METHODS)}.")
flags.DEFINE_enum("grid", "small", list(bc.GRIDS), "Hyper-parameter grid: small, paper or none.")
flags.DEFINE_integer("epochs", None, "Overrides every trained baseline's epochs.")
flags.DEFINE_integer("seed", 0, "Seed of initialisation, sampling and carved validation.")
flags.DEFINE_string(
    "features",
    "efficientnet_lite0",
    "Visual features: efficientnet_lite0[_S] (S x S input), mcauley or pixels.",
)
flags.DEFINE_string(
    "feature_cache", "~/.cache/dvbpr_tf/features", "Feature cache root ('' disables it)."
)
flags.DEFINE_string(
    "mcauley_features", None, "McAuley's image_features_*.b for --features=mcauley."
)
flags.DEFINE_integer("dvbpr_epochs", None, "Overrides DVBPR's epochs (its preset's otherwise).")
flags.DEFINE_string(
    "dvbpr_from",
    None,
    "A finished `dvbpr_tf.train` workdir (one dataset) whose result.json fills the DVBPR "
    "column instead of training DVBPR again.",
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
    config = dict(
        datasets=FLAGS.datasets,
        models=FLAGS.models,
        grid=FLAGS.grid,
        epochs=FLAGS.epochs,
        seed=FLAGS.seed,
        features=FLAGS.features,
        feature_cache=FLAGS.feature_cache or None,
        mcauley_features=FLAGS.mcauley_features,
        dvbpr_epochs=FLAGS.dvbpr_epochs,
        dvbpr_from=FLAGS.dvbpr_from,
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
    table = {
        f"{r['dataset']}/{short[r['setting']]}": {
            m: r[m] for m in (*FLAGS.models, "leak_indicator")
        }
        for r in out["rows"]
    }
    runtime.emit_result(
        dict(markdown=out["markdown"], csv=out["csv"], protocol=out["protocol"], auc=table)
    )


if __name__ == "__main__":
    flags.mark_flag_as_required("workdir")
    app.run(main)
