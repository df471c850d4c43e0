"""The GAN as a SavedModel that TF code can use without this project.

    export_gan(generator, discriminator, config, "WORKDIR/export", step=step)

    m = tf.saved_model.load(WORKDIR + "/export")
    out = m.generate(z, category)      # z float32 [N, z_dim] in [-1, 1], category int32 [N]
    out["images"]                      # float32 [N, R, R, C] in [-1, 1]
    out["images_uint8"]                # uint8 [N, R, R, C]
    m.discriminate(images, category)["score"]   # float32 [N], LSGAN: 1 = real, 0 = fake
    m.discriminate(images, category)["realism_penalty"]  # float32 [N], G's loss per image
    m.metadata()                       # resolution, channels, z_dim, num_categories, names

One `tf.Module` holds G and D (inference mode: batch norm uses its moving
statistics; D in the equivalent, cheaper-to-differentiate form of
`networks.InferenceDiscriminator`); its three functions are also its
`signatures`. Inside the graph, asserts reject unknown category ids and
mismatched batch sizes with messages that say what to pass; the fixed
input signature rejects a z of the wrong width. `gan_metadata.json` beside
`saved_model.pb` repeats the metadata for tools that do not load
TensorFlow.

The names (signatures, output keys, gan_metadata.json) are the contract's,
in `exports/gan.py`, which also holds the Python-side way in
(`exports.gan.load_gan`, `load_generator`): `eval/` and `design/` depend on
the export's files, not on the network classes. `python -m gan_tf.export
--workdir=W` re-exports the latest checkpoint of a training workdir.
"""

from __future__ import annotations

import json
import os

import tensorflow as tf
from absl import logging

from common import runtime
from common.images import tf_to_uint8
from exports import gan as contract
from gan_tf import losses, networks


def _module(generator, discriminator, config):
    """A tf.Module with `generate`, `discriminate` and `metadata` for this config."""
    k = int(config.num_categories)
    r, c, z_dim = int(config.resolution), int(config.channels), int(config.z_dim)
    names = list(config.category_names) or [str(i) for i in range(k)]
    z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
    category_spec = tf.TensorSpec([None], tf.int32, name="category")
    images_spec = tf.TensorSpec([None, r, r, c], tf.float32, name="images")

    def check_category(category, rows, what):
        # The messages are what a caller of the reloaded graph sees.
        return [
            tf.debugging.assert_equal(
                tf.shape(category)[0],
                rows,
                message=f"{what}: category must hold one id per row of {what}'s first input",
            ),
            tf.debugging.assert_non_negative(
                category, message=f"{what}: category ids must be in [0, {k}) ({', '.join(names)})"
            ),
            tf.debugging.assert_less(
                category,
                tf.constant(k, tf.int32),
                message=f"{what}: unknown category id; ids must be in [0, {k}) ({', '.join(names)})",
            ),
        ]

    class GANModule(tf.Module):
        """G and D of a category-conditional LSGAN (see gan_tf/export_lib.py)."""

        def __init__(self):
            super().__init__(name="conditional_lsgan")
            self.generator = generator
            self.discriminator = discriminator
            # The same D, cheaper to differentiate w.r.t. its input (design/'s eq. 10).
            self.inference_discriminator = networks.InferenceDiscriminator(discriminator, config)

        @tf.function(input_signature=[z_spec, category_spec])
        def generate(self, z, category):
            """z float32 [N, z_dim] in [-1, 1], category int32 [N] -> images, images_uint8."""
            with tf.control_dependencies(check_category(category, tf.shape(z)[0], "generate")):
                images = self.generator([z, category], training=False)
            return {contract.IMAGES: images, contract.IMAGES_UINT8: tf_to_uint8(images)}

        @tf.function(input_signature=[images_spec, category_spec])
        def discriminate(self, images, category):
            """images float32 [N, R, R, C] in [-1, 1], category int32 [N] -> score, realism_penalty.

            score: float32 [N], D's output (LSGAN: 1 = real, 0 = fake;
            nonsaturating: a logit). realism_penalty: float32 [N] >= 0, what G
            minimises for each image under the loss it was trained with.
            """
            checks = check_category(category, tf.shape(images)[0], "discriminate")
            checks.append(
                tf.debugging.assert_less_equal(
                    tf.reduce_max(tf.abs(images)),
                    1.0 + contract.RANGE_SLACK,
                    message="discriminate: images must be float32 in [-1, 1]; scale uint8 "
                    "pixels with (x - 127.5) / 127.5",
                )
            )
            with tf.control_dependencies(checks):
                score = self.inference_discriminator(images, category)
            return {
                contract.SCORE: score,
                contract.REALISM_PENALTY: losses.generator_loss_per_image(score, config.loss),
            }

        @tf.function(input_signature=[])
        def metadata(self):
            """Constants describing the export."""
            return {
                "resolution": tf.constant(r, tf.int32),
                "channels": tf.constant(c, tf.int32),
                "z_dim": tf.constant(z_dim, tf.int32),
                "num_categories": tf.constant(k, tf.int32),
                "category_names": tf.constant(names, tf.string),
            }

    return GANModule()


def metadata_dict(config, step: int | None = None) -> dict:
    """The export's metadata as plain Python (also written as gan_metadata.json)."""
    k = int(config.num_categories)
    return {
        "step": step,
        "resolution": int(config.resolution),
        "channels": int(config.channels),
        "z_dim": int(config.z_dim),
        "num_categories": k,
        "category_names": list(config.category_names) or [str(i) for i in range(k)],
        "z_prior": "uniform(-1, 1)",
        # "lsgan" (the paper's eq. 7) or "nonsaturating": gan_tf.losses.
        "loss": config.loss,
    }


def export_gan(generator, discriminator, config, path: str, step: int | None = None) -> str:
    """Writes G and D as one SavedModel at `path`, atomically.

    Args:
      generator: the Keras G of `gan_tf.networks.build_generator(config)`.
      discriminator: the Keras D of `build_discriminator(config)`.
      config: the run's `GANConfig` (resolution, channels, z_dim, categories).
      path: the export directory; replaced as a whole, so readers see the
        previous export or the new one, never a partial one.
      step: the training step, recorded in gan_metadata.json.

    Returns:
      `path`.
    """
    module = _module(generator, discriminator, config)
    signatures = {
        "serving_default": module.generate.get_concrete_function(),
        contract.GENERATE: module.generate.get_concrete_function(),
        contract.DISCRIMINATE: module.discriminate.get_concrete_function(),
        contract.METADATA: module.metadata.get_concrete_function(),
    }

    def write(tmp: str) -> None:
        tf.saved_model.save(module, tmp, signatures=signatures)
        with open(os.path.join(tmp, contract.METADATA_FILE), "w") as f:
            json.dump(metadata_dict(config, step), f, indent=2)

    runtime.atomic_write_dir(path, write)
    logging.info("Exported the GAN to %s", path)
    return path
