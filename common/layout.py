"""The names of the files and folders a binary writes into its --workdir.

Every binary and every reader of a workdir takes the names from here, so
that a writer and its readers cannot drift apart (WORKSPACE.md, "Workdir
layout", shows which binary writes what):

    os.path.join(workdir, layout.CHECKPOINTS)
    result = layout.read_result(workdir)   # result.json, or an older results.json
"""

from __future__ import annotations

import json
import os

# Every binary: its resolved config (`common.runtime.write_config`).
CONFIG = "config.json"
# The final figures of a run, also its last stdout line: dvbpr_tf.train
# (DVBPR and --model=<baseline>), eval.recommender, each eval.table3 cell.
RESULT = "result.json"
# What baseline runs and eval.table3's cells wrote before they took
# RESULT's name; still read, so that an older workdir resumes.
OLD_RESULT = "results.json"
# Training runs (dvbpr_tf.train, gan_tf.train): the latest checkpoints
# (resumed on restart).
CHECKPOINTS = "checkpoints"
# dvbpr_tf.train: the checkpoint best on validation.
BEST = "best"
# dvbpr_tf.train: validation AUC per evaluated epoch.
HISTORY = "history.json"
# dvbpr_tf.train's TensorBoard runs: training scalars, validation AUCs.
TRAIN_LOGS = "train"
VALIDATION_LOGS = "validation"
# gan_tf.train and the baselines: TensorBoard logs.
TENSORBOARD = "tensorboard"
# gan_tf.train: the fixed-z sample grid, one row per category.
SAMPLES = "samples.png"
# Training runs: the SavedModel, swapped in atomically.
EXPORT = "export"
# python -m dvbpr_tf.export / gan_tf.export: the re-export's resolved config
# (config.json stays the training run's).
EXPORT_CONFIG = "export_config.json"
# dvbpr_tf.train --model=<baseline>: one result per grid point, and the
# parameters of the best point.
GRID = "grid"
BEST_PARAMS = "best.npz"


def result_path(workdir: str) -> str:
    """Where a finished run's result is: RESULT, or OLD_RESULT in an older workdir.

    Args:
      workdir: a binary's --workdir.

    Returns:
      The path of RESULT unless only OLD_RESULT exists there (then that one's);
      the file need not exist.
    """
    path = os.path.join(workdir, RESULT)
    old = os.path.join(workdir, OLD_RESULT)
    return old if not os.path.exists(path) and os.path.exists(old) else path


def read_result(workdir: str) -> dict | None:
    """A finished run's result (RESULT, or OLD_RESULT in an older workdir); None if neither."""
    path = result_path(workdir)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)
