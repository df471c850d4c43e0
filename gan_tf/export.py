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

from absl import app, flags

from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from common import layout

flags.mark_flag_as_required("workdir")

FLAGS = flags.FLAGS


def main(argv) -> None:
    del argv
    # Imported here so that --help does not pay for TensorFlow.
    import tensorflow as tf

    from exports import common as exports_common
    from exports import gan as gan_contract
    from gan_tf import train_lib

    def resolve() -> dict:
        config = train_lib.load_config(FLAGS.workdir)
        checkpoint = tf.train.latest_checkpoint(os.path.join(FLAGS.workdir, layout.CHECKPOINTS))
        return {"checkpoint": checkpoint, "gan": config}

    def export(config: dict) -> dict:
        # The checkpoint resolve() recorded, not a newer one a running job saved since.
        path = train_lib.export_from_checkpoint(FLAGS.workdir, checkpoint=config["checkpoint"])
        step = gan_contract.exported_step(path)
        return {"export": path, "checkpoint": config["checkpoint"], "step": step}

    exports_common.reexport(FLAGS.workdir, resolve, export)


if __name__ == "__main__":
    app.run(main)
