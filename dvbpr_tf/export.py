r"""Re-exports a DVBPR training workdir: `python -m dvbpr_tf.export --workdir=W`.

    python -m dvbpr_tf.export --workdir=/tmp/dvbpr

Writes W/export from the run's best-on-validation checkpoint (the latest
when none is kept), on the catalogue its config.json names (--dataset and
the data flags it was trained with), exactly as `dvbpr_tf.train` exports
at its end: for a run killed during its final export, or an export made
before a newer export format (e.g. before `catalogue.json`). The resolved
re-export (checkpoint, dataset, data options) goes to W/export_config.json
(W/config.json stays the training run's); progress goes to stderr; the run
ends with one JSON line {"export", "checkpoint", "step", "dataset",
"num_items", "wall_seconds"}.
"""

from __future__ import annotations

from absl import app, flags

from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)

flags.mark_flag_as_required("workdir")

FLAGS = flags.FLAGS


def main(argv) -> None:
    del argv
    # Imported here so that --help does not pay for TensorFlow.
    from dvbpr_tf import export_lib
    from exports import common as exports_common

    def resolve() -> dict:
        config, dataset, options = export_lib.read_workdir_config(FLAGS.workdir)
        return {"dvbpr": config, "dataset": dataset, "data_options": options}

    exports_common.reexport(
        FLAGS.workdir, resolve, lambda _: export_lib.export_from_checkpoint(FLAGS.workdir)
    )


if __name__ == "__main__":
    app.run(main)
