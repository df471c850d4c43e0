r"""Trains the category-conditional LSGAN and exports it.

    python -m gan_tf.train --dataset=fashion_mnist_users --workdir=/tmp/gan_fmnist \
        --resolution=32 --epochs=5

Writes WORKDIR/config.json, checkpoints/ (resumed on restart), tensorboard/
(D and G losses, a fixed-z grid per category each epoch), samples.png and
export/ (the SavedModel of gan_tf/export_lib.py); ends with one JSON line.
"""

from __future__ import annotations

from absl import app, flags, logging

from common import config_flags, runtime
from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
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
# Overrides of the preset's fields, named as the fields (`GANConfig`'s docstring).
# --resolution chooses the preset (without --preset) rather than overriding it.
GAN_FLAGS = config_flags.define_flags(
    gan_config.GANConfig,
    (
        "resolution",
        "channels",
        "epochs",
        "batch_size",
        "balance_categories",
        "learning_rate",
        "seed",
        "g_dense_width",
        "g_widths",
        "g_upsample",
        "g_stride1_stages",
        "g_stride1_depth",
        "g_ema_decay",
        "d_widths",
        "d_stem_width",
        "d_condition_layers",
        "d_batch_norm",
        "d_stddev_group",
        "d_r1_gamma",
        "d_augment",
        "d_learning_rate",
        "lr_decay_fraction",
        "beta1",
        "beta2",
        "g_mode_seeking_weight",
        "g_mode_seeking_pool",
        "update",
        "loss",
    ),
    defaults={"resolution": 0, "channels": 0, "seed": 0},
    help={
        "resolution": "32, 64 or 128; 0: the dataset's image size when it is one of these, else 64",
        "channels": "1 or 3; 0: 1 when the dataset's images are grey, else 3",
    },
    enums={
        "g_upsample": gan_config.G_UPSAMPLE_MODES,
        "d_batch_norm": gan_config.D_BATCH_NORM_MODES,
        "update": gan_config.UPDATE_MODES,
        "loss": gan_config.LOSSES,
    },
)
flags.DEFINE_integer("max_steps", None, "Stop after this many steps in total (overrides epochs).")
flags.mark_flag_as_required("workdir")

FLAGS = flags.FLAGS


def _native_resolution(ds) -> int:
    """The dataset's image size when it is a GAN resolution, else 64."""
    pixels = ds.images.pixels if ds.images is not None else None
    size = pixels.shape[1] if pixels is not None else 0
    return size if size in gan_config.RESOLUTIONS else 64


def _resolution(ds) -> int:
    return FLAGS.resolution or _native_resolution(ds)


def main(argv) -> None:
    del argv
    ds = registry.load(FLAGS.dataset, data_flags.options_from_flags())
    # The preset a plain `--dataset=NAME` run uses, reported beside the one used so that a
    # shorter run (the demo's) can say what it departs from.
    dataset_default_preset = gan_config.default_preset_name(_native_resolution(ds))
    preset_name = FLAGS.preset or gan_config.default_preset_name(_resolution(ds))
    config = gan_config.preset(preset_name)
    overrides = GAN_FLAGS.values()
    overrides.pop("resolution", None)  # it chose the preset (or --preset did)
    overrides["channels"] = FLAGS.channels or (1 if train_lib.grey_images(ds) else 3)
    config = config_flags.resolve(config, overrides)
    config = train_lib.config_for_dataset(config, ds)
    train_lib.check_resumable(FLAGS.workdir, config)
    runtime.write_config(FLAGS.workdir, config)
    result = train_lib.train_and_export(config, ds, FLAGS.workdir, max_steps=FLAGS.max_steps)
    logging.info("GAN trained: %s", result)
    runtime.emit_result(
        {
            "dataset": ds.name,
            "resolution": config.resolution,
            "preset": preset_name,
            "dataset_default_preset": dataset_default_preset,
            **result,
        }
    )


if __name__ == "__main__":
    app.run(main)
