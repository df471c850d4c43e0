"""DVBPR's checkpoints: resuming, restoring the best, and never saving diverged weights.

`TrainerCheckpoints` is the part of `dvbpr_tf.train_lib.Trainer` that
restores the latest checkpoint (a resumed run) or the best-on-validation
one (the run's result), and saves the latest only while every weight is
finite; `TrainingDivergedError` says which checkpoint was kept.
"""

from __future__ import annotations

import tensorflow as tf
from absl import logging


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or infinite."""


class TrainerCheckpoints:
    """The checkpoint methods of `dvbpr_tf.train_lib.Trainer` (one of its base classes).

    They use the `checkpoint`, `latest` and `best` managers, `step`,
    `model`, `optimizer` and `config` that `Trainer.__init__` creates.
    """

    def restore_latest(self) -> int:
        """Restores the latest checkpoint if there is one; returns the step."""
        path = self.latest.latest_checkpoint
        if path:
            self._restore(path)
            logging.info("Resumed from %s at step %d", path, int(self.step))
        return int(self.step)

    def restore_best(self) -> bool:
        """Restores the best-on-validation checkpoint; False when there is none."""
        path = self.best.latest_checkpoint
        if not path:
            return False
        self._restore(path)
        return True

    def _restore(self, path: str) -> None:
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as err:
            raise ValueError(
                f"Checkpoint {path} does not fit this model (another preset, dataset or K?): "
                f"{str(err).splitlines()[0]}. Use a fresh --workdir."
            ) from None
        # The config, not the checkpoint, decides the step size (e.g. a
        # resumed run with a lower --learning_rate after a divergence).
        inner = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        inner.learning_rate.assign(self.config.learning_rate)

    def save_latest(self) -> None:
        self._check_finite_weights()
        self.latest.save(checkpoint_number=int(self.step))

    def _check_finite_weights(self) -> None:
        finite = all(bool(tf.reduce_all(tf.math.is_finite(v))) for v in self.model.weights)
        if not finite:
            raise TrainingDivergedError(
                f"Weights became NaN/inf at step {int(self.step)}; not saving them. "
                f"{self._keep_message()}"
            )

    def _keep_message(self) -> str:
        last = self.latest.latest_checkpoint
        kept = (
            f"The last good checkpoint is kept: {last}." if last else "No checkpoint was written."
        )
        return (
            f"{kept} Lower --learning_rate (now {self.config.learning_rate:g}) and rerun the "
            f"same command to resume from it."
        )
