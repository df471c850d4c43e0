r"""Trains DVBPR and reports its AUC: `python -m dvbpr_tf.train --workdir=DIR`.

    python -m dvbpr_tf.train --dataset=synthetic_fashion --workdir=/tmp/dvbpr
    python -m dvbpr_tf.train --dataset=amazon_fashion --manual_dir=~/dl \
        --workdir=/tmp/dvbpr_amazon --strategy=mirrored --mixed_precision
    tensorboard --logdir /tmp/dvbpr

    python -m dvbpr_tf.train --model=bprmf --dataset=amazon_fashion_interactions \
        --workdir=/tmp/bprmf [--negatives=uniform --sampling=users]

Without --preset, the embedded datasets train with their own preset
("small"); any other catalogue trains with "paper" (the paper's 224 px
CNN-F) when a GPU or TPU is visible and its images are larger than 64 px,
and with "small" otherwise (`dvbpr_tf.config.default_preset`). The choice
and its reason go to stderr and config.json; --preset=paper and the other
flags override it. Rerunning
the same command after a kill resumes from the last checkpoint. The run
ends with one JSON line: test and best-validation AUCs (all / cold / warm
items, sampled-100) of the checkpoint that is best on validation, the
split's leak diagnostic (`metrics.auc.leak_diagnostic`), and the popularity
and (simulated data only) oracle AUCs next to them. `--model=<baseline>`
trains one of Table III's baselines instead, under the paper's sampling
protocol unless --negatives / --sampling say otherwise.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags, logging

from common import config_flags, runtime
from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from data import flags as data_flags
from data import registry
from dvbpr_tf import config as config_lib
from metrics import flags as protocol_flags

flags.DEFINE_enum("preset", None, sorted(config_lib.PRESETS), "Hyper-parameter preset.")
# Overrides of the preset's fields, named as the fields (`DVBPRConfig`'s docstring).
# --epochs and --seed also override a baseline's (--model=<baseline>).
DVBPR_FLAGS = config_flags.define_flags(
    config_lib.DVBPRConfig,
    (
        "epochs",
        "batch_size",
        "steps_per_epoch",
        "seed",
        "learning_rate",
        "embedding_dim",
        "strategy",
        "mixed_precision",
        "jit_compile",
    ),
    help={
        "epochs": "Training epochs (with --model=<baseline>: unset takes the baseline's default)",
        "seed": "Seed of init, sampling and dropout (with --model=<baseline>: of its "
        "initialisation and sampling)",
    },
    enums={"strategy": config_lib.STRATEGIES},
)
flags.DEFINE_string(
    "model",
    "dvbpr",
    "dvbpr, or a baseline of the paper's Table III: rand, poprank, warp, bprmf, visrank, fm, vbpr.",
)
flags.DEFINE_enum("grid", "small", ["small", "paper", "none"], "Baselines' hyper-parameter grid.")
flags.DEFINE_string(
    "features",
    "efficientnet_lite0",
    "Visual features of visrank/fm/vbpr: efficientnet_lite0[_112], mcauley or pixels.",
)
flags.DEFINE_string("feature_cache", None, "Folder caching extracted features (default if unset).")
flags.DEFINE_string(
    "mcauley_features", None, "McAuley image_features_*.b file (--features=mcauley)."
)
data_flags.define_image_cache_dir()
flags.mark_flag_as_required("workdir")

FLAGS = flags.FLAGS


def main(argv):
    del argv
    # Imported here so that --help does not pay for TensorFlow.
    from dvbpr_tf import train_lib

    t0 = time.perf_counter()
    if FLAGS.model != "dvbpr":
        _train_baseline()
        return
    options = data_flags.options_from_flags()
    dataset = registry.load(FLAGS.dataset, options)
    try:
        config, reason = config_lib.resolve(
            FLAGS.dataset, dataset, FLAGS.preset, DVBPR_FLAGS.values()
        )
    except ValueError as err:
        raise app.UsageError(str(err)) from err
    sys.stderr.write(f"DVBPR preset {config.preset!r}: {reason}.\n")
    auc_options = _auc_options()
    os.makedirs(FLAGS.workdir, exist_ok=True)
    runtime.write_config(
        FLAGS.workdir,
        {
            "dvbpr": config,
            "preset_reason": reason,
            "dataset": FLAGS.dataset,
            "data_options": options,
            "auc": auc_options,
        },
    )
    try:
        result = train_lib.train_and_evaluate(
            config,
            dataset,
            FLAGS.workdir,
            auc_options=auc_options,
            image_cache_dir=FLAGS.image_cache_dir,
            data_options=options,
        )
    except train_lib.TrainingDivergedError as err:
        logging.error("%s", err)
        runtime.emit_result({"error": str(err), "workdir": FLAGS.workdir})
        sys.exit(1)
    result["wall_seconds"] = time.perf_counter() - t0
    result["workdir"] = FLAGS.workdir
    runtime.write_result(FLAGS.workdir, result)
    del result["history"]
    pop, oracle = result["popularity"], result["oracle"]
    summary = f"DVBPR on {dataset.name}: {_test_line(result)}, best epoch {result['best_epoch']}"
    if pop:
        summary += f"; popularity {pop['auc']:.4f}"
    if oracle:
        summary += f"; oracle {oracle['auc']:.4f}"
    sys.stderr.write(summary + f"; {result['wall_seconds']:.0f}s\n")
    runtime.emit_result(result)


def _auc_options():
    try:
        return protocol_flags.auc_options_from_flags()
    except ValueError as err:
        raise app.UsageError(str(err)) from err


def _test_line(result: dict) -> str:
    """Test AUCs and the split's leak diagnostic, for the closing stderr line."""
    from metrics import auc as auc_lib

    test = result["test"]
    return (
        f"test AUC {test['auc']:.4f} (cold {test['auc_cold']:.4f}, warm {test['auc_warm']:.4f}, "
        f"sampled-100 {test['auc_sampled100']:.4f}); split: {auc_lib.format_leak(result['leak'])}"
    )


def _train_baseline() -> None:
    """--model=<baseline>: the same data and evaluation, a baseline model."""
    from baselines import config as baselines_config
    from baselines import train_lib as baseline_lib
    from data import features as features_lib

    if FLAGS.model not in baselines_config.MODELS:
        raise app.UsageError(
            f"--model={FLAGS.model!r} is unknown; use dvbpr or one of "
            f"{', '.join(baselines_config.MODELS)}."
        )
    overrides = {**protocol_flags.sampling_from_flags(), **DVBPR_FLAGS.values(("seed", "epochs"))}
    config = baselines_config.get_config(FLAGS.model, grid=FLAGS.grid, **overrides)
    auc_options = _auc_options()
    dataset = registry.load(FLAGS.dataset, data_flags.options_from_flags())
    features = None
    if config.visual:
        features = features_lib.load_features(
            dataset, FLAGS.features, FLAGS.feature_cache, FLAGS.mcauley_features
        )
    # train_baseline writes its own resolved config into the workdir.
    result = baseline_lib.train_baseline(
        config, dataset, FLAGS.workdir, features=features, auc_options=auc_options
    )
    sys.stderr.write(f"{FLAGS.model} on {dataset.name}: {_test_line(result)}\n")
    keys = ("model", "dataset", "test", "validation", "leak", "protocol", "hparams", "selection")
    runtime.emit_result({k: result[k] for k in keys})


if __name__ == "__main__":
    app.run(main)
