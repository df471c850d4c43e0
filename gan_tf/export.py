r"""Re-exports a GAN training workdir: `python -m gan_tf.export --workdir=W`.

    python -m gan_tf.export --workdir=/tmp/gan_fmnist

Writes W/export from the latest checkpoint of W, with the GANConfig of
W/config.json, exactly as `gan_tf.train` exports at its end: for a run
killed during its final export, or an old run that cannot be resumed with
today's presets. The resolved re-export (checkpoint, config) goes to
W/export_config.json (W/config.json stays the training run's); the run ends
with one JSON line {"export", "checkpoint", "step", "wall_seconds"}.
"""

from __future__ import annotations

import os
import sys
import time

from absl import app, flags

from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from common import layout, runtime
from common.errors import DataError

flags.mark_flag_as_required("workdir")

FLAGS = flags.FLAGS
# The re-export's resolved config, beside (not over) the training run's config.json.
EXPORT_CONFIG_FILE = layout.EXPORT_CONFIG


def main(argv) -> None:
    del argv
    # Imported here so that --help does not pay for TensorFlow.
    import tensorflow as tf

    from exports import gan as gan_contract
    from gan_tf import train_lib

    t0 = time.perf_counter()
    try:
        config = train_lib.load_config(FLAGS.workdir)
        checkpoint = tf.train.latest_checkpoint(os.path.join(FLAGS.workdir, layout.CHECKPOINTS))
        runtime.write_config(
            FLAGS.workdir,
            {"workdir": FLAGS.workdir, "checkpoint": checkpoint, "gan": config},
            name=EXPORT_CONFIG_FILE,
        )
        path = train_lib.export_from_checkpoint(FLAGS.workdir)
    except DataError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(2)
    sys.stderr.write(f"Exported {checkpoint} to {path}.\n")
    result = {"export": path, "checkpoint": checkpoint, "step": gan_contract.exported_step(path)}
    runtime.emit_result({**result, "wall_seconds": time.perf_counter() - t0})


if __name__ == "__main__":
    app.run(main)
