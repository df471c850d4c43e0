r"""Trains the category-conditional LSGAN and exports it.

    python -m gan_tf.train --dataset=fashion_mnist_users --workdir=/tmp/gan_fmnist \
        --resolution=32 --epochs=5

Writes WORKDIR/config.json, checkpoints/ (resumed on restart), tensorboard/
(D and G losses, a fixed-z grid per category each epoch), samples.png and
export/ (the SavedModel of gan_tf/export_lib.py); ends with one JSON line.
"""

from __future__ import annotations

import dataclasses

from absl import app, flags, logging

from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from common import runtime
from data import flags as data_flags
from data import registry
from gan_tf import config as gan_config
from gan_tf import train_lib

flags.DEFINE_string(
    "preset",
    "",
    f"GAN preset ({', '.join(gan_config.PRESETS)}); empty: the CPU-sized preset of "
    "--resolution (paper128 at 128).",
)
flags.DEFINE_integer(
    "resolution", 0, "32, 64 or 128; 0: the dataset's image size when it is one of these, else 64."
)
flags.DEFINE_integer("channels", 0, "1 or 3; 0: 1 when the dataset's images are grey, else 3.")
flags.DEFINE_integer("epochs", None, "Passes over the labelled items (preset default if unset).")
flags.DEFINE_integer("batch_size", None, "Images per step (preset default: 64, the paper's).")
flags.DEFINE_float("learning_rate", None, "Adam learning rate (preset default if unset).")
flags.DEFINE_integer("seed", 0, "Seeds weights, z, batch order and the sample grid.")
flags.DEFINE_integer("max_steps", None, "Stop after this many steps in total (overrides epochs).")
flags.DEFINE_enum(
    "g_upsample",
    None,
    list(gan_config.G_UPSAMPLE_MODES),
    "G's doubling: transpose (the release) or resize (nearest + conv); preset's if unset.",
)
flags.DEFINE_integer(
    "d_condition_layers",
    None,
    "D layers whose input gets the tiled one-hot category (the release: every conv); preset's "
    "if unset.",
)
flags.DEFINE_enum(
    "d_batch_norm",
    None,
    list(gan_config.D_BATCH_NORM_MODES),
    "D's batch norm over real and fake: separate (the release) or joint; preset's if unset.",
)
flags.mark_flag_as_required("workdir")

FLAGS = flags.FLAGS


def _resolution(ds) -> int:
    if FLAGS.resolution:
        return FLAGS.resolution
    pixels = ds.images.pixels if ds.images is not None else None
    size = pixels.shape[1] if pixels is not None else 0
    return size if size in gan_config.RESOLUTIONS else 64


def main(argv) -> None:
    del argv
    ds = registry.load(FLAGS.dataset, data_flags.options_from_flags())
    if FLAGS.preset:
        config = gan_config.preset(FLAGS.preset)
    else:
        config = gan_config.preset_for_resolution(_resolution(ds))
    overrides = {
        "channels": FLAGS.channels or (1 if train_lib.grey_images(ds) else 3),
        "seed": FLAGS.seed,
        "epochs": FLAGS.epochs,
        "batch_size": FLAGS.batch_size,
        "learning_rate": FLAGS.learning_rate,
        "g_upsample": FLAGS.g_upsample,
        "d_condition_layers": FLAGS.d_condition_layers,
        "d_batch_norm": FLAGS.d_batch_norm,
    }
    config = dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})
    config = train_lib.config_for_dataset(config, ds)
    train_lib.check_resumable(FLAGS.workdir, config)
    runtime.write_config(FLAGS.workdir, config)
    result = train_lib.train_and_export(config, ds, FLAGS.workdir, max_steps=FLAGS.max_steps)
    logging.info("GAN trained: %s", result)
    runtime.emit_result({"dataset": ds.name, "resolution": config.resolution, **result})


if __name__ == "__main__":
    app.run(main)
