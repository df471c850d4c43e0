"""The GAN as a SavedModel that TF code can use without this project.

    m = tf.saved_model.load(WORKDIR + "/export")
    out = m.generate(z, category)      # z float32 [N, z_dim] in [-1, 1], category int32 [N]
    out["images"]                      # float32 [N, R, R, C] in [-1, 1]
    out["images_uint8"]                # uint8 [N, R, R, C]
    m.discriminate(images, category)["score"]   # float32 [N], LSGAN: 1 = real, 0 = fake
    m.metadata()                       # resolution, channels, z_dim, num_categories, names

One `tf.Module` holds G and D (inference mode: batch norm uses its moving
statistics; D in the equivalent, cheaper-to-differentiate form of
`networks.InferenceDiscriminator`); its three functions are also its
`signatures`. Inside the graph, asserts reject unknown category ids and
mismatched batch sizes with messages that say what to pass; the fixed
input signature rejects a z of the wrong width. `gan_metadata.json` beside
`saved_model.pb` repeats the metadata for tools that do not load
TensorFlow.

`load_gan` is the Python-side way in: it checks that a directory holds an
export with these signatures and validates arguments before they reach the
graph. It uses only `tf.saved_model.load`, so `eval/` and `design/` depend on
the export's files, not on the network classes.

Also a binary: `python -m gan_tf.export --workdir=W` re-exports the latest
checkpoint of a training workdir (e.g. after a kill during the final export).
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from common import runtime
from common.images import tf_to_uint8
from data.core import DataError, check_indices
from gan_tf import networks

METADATA_FILE = "gan_metadata.json"
EXPORT_DIRNAME = "export"
_SIGNATURES = ("generate", "discriminate", "metadata")
# Rows per call when LoadedGAN splits a large request (bounds memory).
_CHUNK = 256
# How far outside [-1, 1] discriminate's inputs may stray (float rounding).
_RANGE_SLACK = 1e-3


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
        """G and D of a category-conditional LSGAN (see gan_tf/export.py)."""

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
            return {"images": images, "images_uint8": tf_to_uint8(images)}

        @tf.function(input_signature=[images_spec, category_spec])
        def discriminate(self, images, category):
            """images float32 [N, R, R, C] in [-1, 1], category int32 [N] -> score float32 [N]."""
            checks = check_category(category, tf.shape(images)[0], "discriminate")
            checks.append(
                tf.debugging.assert_less_equal(
                    tf.reduce_max(tf.abs(images)),
                    1.0 + _RANGE_SLACK,
                    message="discriminate: images must be float32 in [-1, 1]; scale uint8 "
                    "pixels with (x - 127.5) / 127.5",
                )
            )
            with tf.control_dependencies(checks):
                score = self.inference_discriminator(images, category)
            return {"score": score}

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
        "loss": "lsgan (paper eq. 7)",
    }


def exported_step(path: str) -> int | None:
    """The training step recorded in the export at `path` (None: no export or no step)."""
    try:
        with open(os.path.join(path, METADATA_FILE)) as f:
            return json.load(f).get("step")
    except (OSError, ValueError):
        return None


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
        "generate": module.generate.get_concrete_function(),
        "discriminate": module.discriminate.get_concrete_function(),
        "metadata": module.metadata.get_concrete_function(),
    }

    def write(tmp: str) -> None:
        tf.saved_model.save(module, tmp, signatures=signatures)
        with open(os.path.join(tmp, METADATA_FILE), "w") as f:
            json.dump(metadata_dict(config, step), f, indent=2)

    runtime.atomic_write_dir(path, write)
    logging.info("Exported the GAN to %s", path)
    return path


class LoadedGAN:
    """A reloaded GAN export with argument checks in Python.

    Attributes:
      path: the export directory.
      module: what `tf.saved_model.load` returned.
      resolution, channels, z_dim, num_categories: from the export.
      category_names: tuple of str, indexed by category id.
    """

    def __init__(self, path: str, module):
        self.path = path
        self.module = module
        meta = {k: v.numpy() for k, v in module.metadata().items()}
        self.resolution = int(meta["resolution"])
        self.channels = int(meta["channels"])
        self.z_dim = int(meta["z_dim"])
        self.num_categories = int(meta["num_categories"])
        self.category_names = tuple(n.decode("utf-8") for n in meta["category_names"])

    def _check_category(self, category, rows: int) -> np.ndarray:
        category = np.asarray(category)
        if category.ndim != 1 or not np.issubdtype(category.dtype, np.integer):
            raise ValueError(
                f"category must be a 1-D integer array, got {category.dtype} {category.shape}."
            )
        if len(category) != rows:
            raise ValueError(f"category has {len(category)} ids for {rows} rows; pass one per row.")
        owner = f"the GAN at {self.path} ({', '.join(self.category_names)})"
        return check_indices(category, self.num_categories, "category id(s)", owner)

    def generate(self, z, category) -> dict[str, np.ndarray]:
        """Generates images.

        Args:
          z: float [N, z_dim], the prior is U(-1, 1).
          category: int [N] in [0, num_categories).

        Returns:
          {'images': float32 [N, R, R, C] in [-1, 1], 'images_uint8': uint8
          [N, R, R, C]}.

        Raises:
          ValueError: z is not [N, z_dim] or a category id is unknown.
        """
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise ValueError(
                f"z must be [N, {self.z_dim}] (the GAN at {self.path} has z_dim {self.z_dim}), "
                f"got shape {z.shape}."
            )
        category = self._check_category(category, len(z))
        return self._chunked(self.module.generate, z, category)

    def discriminate(self, images, category) -> np.ndarray:
        """D's scores: images float [N, R, R, C] in [-1, 1], category int [N] -> float32 [N]."""
        images = np.asarray(images, np.float32)
        want = (self.resolution, self.resolution, self.channels)
        if images.ndim != 4 or images.shape[1:] != want:
            raise ValueError(
                f"images must be [N, {', '.join(map(str, want))}], got {images.shape}."
            )
        if images.size and np.abs(images).max() > 1.0 + _RANGE_SLACK:
            raise ValueError("images must be in [-1, 1]; scale uint8 with (x - 127.5) / 127.5.")
        category = self._check_category(category, len(images))
        return self._chunked(self.module.discriminate, images, category)["score"]

    def sample(self, per_category: int, seed: int) -> dict[str, np.ndarray]:
        """`per_category` images of every category, z ~ U(-1, 1) from `seed`.

        Returns:
          {'z': float32 [K*n, z_dim], 'category': int32 [K*n] (category-major:
          n of category 0, then n of category 1, ...), 'images', 'images_uint8'}.
        """
        rng = np.random.default_rng(seed)
        n = per_category * self.num_categories
        z = rng.uniform(-1.0, 1.0, (n, self.z_dim)).astype(np.float32)
        category = np.repeat(np.arange(self.num_categories, dtype=np.int32), per_category)
        return {"z": z, "category": category, **self.generate(z, category)}

    @staticmethod
    def _chunked(fn, x: np.ndarray, category: np.ndarray) -> dict[str, np.ndarray]:
        parts = [
            {k: v.numpy() for k, v in fn(x[i : i + _CHUNK], category[i : i + _CHUNK]).items()}
            for i in range(0, max(len(x), 1), _CHUNK)
        ]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def load_gan(path: str) -> LoadedGAN:
    """Loads and checks a GAN export.

    Args:
      path: an export directory (`WORKDIR/export` of `gan_tf.train`), or a
        training workdir that holds one.

    Returns:
      A `LoadedGAN`.

    Raises:
      DataError: no SavedModel there, or one without the GAN's signatures.
    """
    if os.path.isdir(os.path.join(path, EXPORT_DIRNAME)) and not os.path.exists(
        os.path.join(path, "saved_model.pb")
    ):
        path = os.path.join(path, EXPORT_DIRNAME)
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise DataError(
            f"No SavedModel at {path}. Train one with `python -m gan_tf.train --workdir=W` and "
            f"pass W/export (or re-export a workdir with `python -m gan_tf.export --workdir=W`)."
        )
    module = tf.saved_model.load(path)
    missing = [name for name in _SIGNATURES if not hasattr(module, name)]
    if missing:
        raise DataError(
            f"The SavedModel at {path} is not a GAN export: it lacks {', '.join(missing)}. "
            f"Pass the export of `python -m gan_tf.train` (WORKDIR/export)."
        )
    try:
        gan = LoadedGAN(path, module)
        _check_signature(module.generate, [[None, gan.z_dim], [None]], ["float32", "int32"])
        shape = [None, gan.resolution, gan.resolution, gan.channels]
        _check_signature(module.discriminate, [shape, [None]], ["float32", "int32"])
    except (KeyError, TypeError, ValueError, AttributeError, tf.errors.OpError) as err:
        raise DataError(
            f"The SavedModel at {path} has signatures that do not fit a GAN export "
            f"(generate(z float32 [N, z_dim], category int32 [N]), discriminate(images "
            f"float32 [N, R, R, C], category int32 [N]), metadata()): {err}. Re-export it with "
            f"`python -m gan_tf.export --workdir=W`."
        ) from None
    return gan


def _check_signature(fn, shapes, dtypes) -> None:
    concrete = fn.concrete_functions if hasattr(fn, "concrete_functions") else []
    if not concrete:
        raise ValueError(f"{fn} has no traced signature")
    args, _ = concrete[0].structured_input_signature
    got = [(s.shape.as_list(), s.dtype.name) for s in args]
    want = list(zip(shapes, dtypes, strict=True))
    if got != want:
        raise ValueError(f"expected inputs {want}, found {got}")


def main(argv) -> None:
    from absl import flags

    from gan_tf import train_lib

    del argv
    workdir = flags.FLAGS.workdir
    path = train_lib.export_from_checkpoint(workdir)
    runtime.emit_result({"export": path})


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_string("workdir", None, "Training workdir (with config.json and checkpoints).")
    flags.mark_flag_as_required("workdir")
    app.run(main)
