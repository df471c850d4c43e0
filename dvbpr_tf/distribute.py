"""The tf.distribute strategy of a DVBPR run, and which worker writes the workdir.

`make_strategy(config.strategy)` builds the strategy `dvbpr_tf.train_lib.Trainer`
runs in; `worker_info` tells the chief (the one worker that writes
checkpoints, summaries and the export) from the others.
"""

from __future__ import annotations

import os

import tensorflow as tf
from absl import logging


def make_strategy(name: str) -> tf.distribute.Strategy:
    """The tf.distribute strategy called `name`.

    Args:
      name: "default" (the current device), "mirrored" (all local GPUs, or
        the CPU), "multiworker" (the cluster in TF_CONFIG) or "tpu" (the TPU
        the environment names).

    Returns:
      The strategy.
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            logging.warning("--strategy=multiworker without TF_CONFIG: running as one worker.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    raise ValueError(f"Unknown --strategy={name!r}; use default, mirrored, multiworker or tpu.")


def worker_info(strategy: tf.distribute.Strategy) -> tuple[bool, int]:
    """(is this the chief, task id): only the chief writes the workdir."""
    resolver = getattr(strategy, "cluster_resolver", None)
    task_type = getattr(resolver, "task_type", None)
    task_id = getattr(resolver, "task_id", None) or 0
    chief = task_type in (None, "chief") or (task_type == "worker" and task_id == 0)
    return chief, int(task_id)
