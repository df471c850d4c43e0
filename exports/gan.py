"""The GAN SavedModel contract: its names, its metadata file, and its two loaders.

    gan = load_gan("GAN_WORKDIR")                    # NumPy in and out, checked
    out = gan.sample(per_category=8, seed=0)         # {'z', 'category', 'images', ...}
    g = load_generator("GAN_WORKDIR/export")         # tensors in and out (design)
    images = g.generate(z, category)                 # float32 [N, R, R, C], differentiable

The export (`gan_tf/export_lib.py` writes it) is one `tf.Module` with
three functions, also its signatures:
  generate(z float32 [N, z_dim] in [-1, 1], category int32 [N]) ->
    {'images': float32 [N, R, R, C] in [-1, 1], 'images_uint8': uint8
    [N, R, R, C]};
  discriminate(images float32 [N, R, R, C] in [-1, 1], category int32 [N])
    -> {'score': float32 [N] (LSGAN: 1 = real, 0 = fake; the non-saturating
    loss: a logit), 'realism_penalty': float32 [N] >= 0 (G's training loss
    per image, which design's realism term uses; exports written before it
    existed lack the key and were all LSGANs)};
  metadata() -> {'resolution', 'channels', 'z_dim', 'num_categories',
    'category_names'}.
`gan_metadata.json` beside `saved_model.pb` repeats the metadata (and the
training step) for tools that do not load TensorFlow.

Both loaders follow the one directory rule (`exports.common`) and run the
same checks; they differ only in what they hand back.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from common.errors import DataError
from data.core import check_indices
from exports import common

METADATA_FILE = "gan_metadata.json"
GENERATE = "generate"
DISCRIMINATE = "discriminate"
METADATA = "metadata"
SIGNATURES = (GENERATE, DISCRIMINATE, METADATA)
# Output keys of generate and discriminate.
IMAGES = "images"
IMAGES_UINT8 = "images_uint8"
SCORE = "score"
REALISM_PENALTY = "realism_penalty"
# How far outside [-1, 1] discriminate's inputs may stray (float rounding).
RANGE_SLACK = 1e-3
# Rows per call when LoadedGAN splits a large request (bounds memory).
_CHUNK = 256
_PRODUCER = "python -m gan_tf.train"


def check_trained_on(gan, ds) -> None:
    """Raises DataError unless `ds` has the categories the GAN was trained on.

    The GAN report and the metric-sensitivity probe compare G's images of
    category c with the dataset's images of category c, so a GAN of another
    catalogue, even one with as many categories, would give figures that
    mean nothing.

    Args:
      gan: a GAN export (or anything with `path` and `category_names`).
      ds: a RecDataset (`name`, `category_names`).
    """
    if tuple(ds.category_names) != tuple(gan.category_names):
        raise DataError(
            f"The GAN at {gan.path} was trained on categories {list(gan.category_names)}, "
            f"but --dataset={ds.name} has {list(ds.category_names)}; pass the dataset it "
            f"was trained on."
        )


def exported_step(path: str) -> int | None:
    """The training step recorded in the export at `path` (None: no export or no step)."""
    try:
        with open(os.path.join(path, METADATA_FILE)) as f:
            return json.load(f).get("step")
    except (OSError, ValueError):
        return None


@dataclasses.dataclass
class _GANExport(common.LoadedExport):
    """What both views of a GAN export know.

    Attributes (besides `path` and `module`):
      resolution: R, the side of G's images.
      channels: C, 1 or 3.
      z_dim: length of z.
      num_categories: conditioning categories.
      category_names: names indexed by category id.
    """

    resolution: int
    channels: int
    z_dim: int
    num_categories: int
    category_names: tuple[str, ...]

    def check_categories(self, categories) -> np.ndarray:
        """int32 [n] category ids, or DataError naming the unknown ones."""
        owner = f"the GAN at {self.path} ({', '.join(self.category_names)})"
        return check_indices(categories, self.num_categories, "category id(s)", owner)


class LoadedGAN(_GANExport):
    """A GAN export called with NumPy arrays, arguments checked in Python (eval's view)."""

    def _check_category(self, category, rows: int) -> np.ndarray:
        category = np.asarray(category)
        if category.ndim != 1 or not np.issubdtype(category.dtype, np.integer):
            raise ValueError(
                f"category must be a 1-D integer array, got {category.dtype} {category.shape}."
            )
        if len(category) != rows:
            raise ValueError(f"category has {len(category)} ids for {rows} rows; pass one per row.")
        return self.check_categories(category)

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
        if images.size and np.abs(images).max() > 1.0 + RANGE_SLACK:
            raise ValueError("images must be in [-1, 1]; scale uint8 with (x - 127.5) / 127.5.")
        category = self._check_category(category, len(images))
        return self._chunked(self.module.discriminate, images, category)[SCORE]

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


class LoadedGenerator(_GANExport):
    """A GAN export called with tensors, differentiable end to end (design's view)."""

    def generate(self, z: tf.Tensor, category: tf.Tensor) -> tf.Tensor:
        """G_c(z): z float32 [N, z_dim], category int32 [N] -> float32 [N, R, R, C] in [-1, 1]."""
        return self.module.generate(z, category)[IMAGES]

    def discriminate(self, images: tf.Tensor, category: tf.Tensor) -> tf.Tensor:
        """D_c(x): images float32 [N, R, R, C] in [-1, 1], category int32 [N] -> float32 [N]."""
        return tf.reshape(self.module.discriminate(images, category)[SCORE], [-1])

    def realism_penalty(self, images: tf.Tensor, category: tf.Tensor) -> tf.Tensor:
        """G's training loss per image: images [N, R, R, C], category [N] -> float32 [N] >= 0.

        0 where D is sure an image is real; under the paper's LSGAN
        (D(x) - 1)^2, under the non-saturating loss -log sigmoid(D(x)).
        """
        out = self.module.discriminate(images, category)
        if REALISM_PENALTY in out:
            return tf.reshape(out[REALISM_PENALTY], [-1])
        # Exports written before the key existed were all trained with the LSGAN loss.
        return tf.square(tf.reshape(out[SCORE], [-1]) - 1.0)


def _load(path: str | None, flag: str, view: type[_GANExport]) -> _GANExport:
    """Loads `path` under the directory rule and checks it against the GAN interface."""
    path, module = common.load_saved_model(path, what="GAN", flag=flag, producer=_PRODUCER)
    missing = [name for name in SIGNATURES if not hasattr(module, name)]
    if missing:
        raise DataError(
            f"The SavedModel at {path} is not a GAN export: it lacks {', '.join(missing)}. "
            f"Pass {flag}=DIR, the export of `{_PRODUCER}` (WORKDIR/export) or its workdir."
        )
    try:
        meta = {k: v.numpy() for k, v in module.metadata().items()}
        gan = view(
            path=path,
            module=module,
            resolution=int(meta["resolution"]),
            channels=int(meta["channels"]),
            z_dim=int(meta["z_dim"]),
            num_categories=int(meta["num_categories"]),
            category_names=tuple(
                n.decode("utf-8") if isinstance(n, bytes) else str(n)
                for n in np.asarray(meta["category_names"]).reshape(-1)
            ),
        )
        r, c = gan.resolution, gan.channels
        _check_inputs(module.generate, [[None, gan.z_dim], [None]])
        _check_inputs(module.discriminate, [[None, r, r, c], [None]])
        if c not in (1, 3):
            raise ValueError(f"metadata says {c} channels (1 or 3)")
    except (KeyError, TypeError, ValueError, AttributeError, tf.errors.OpError) as err:
        raise DataError(
            f"The SavedModel at {path} has signatures that do not fit a GAN export "
            f"(generate(z float32 [N, z_dim], category int32 [N]), discriminate(images "
            f"float32 [N, R, R, C], category int32 [N]), metadata()): {err}. Re-export it with "
            f"`python -m gan_tf.export --workdir=W`."
        ) from None
    logging.info(
        "GAN %s: %dx%dx%d images, z_dim %d, %d categories",
        path,
        gan.resolution,
        gan.resolution,
        gan.channels,
        gan.z_dim,
        gan.num_categories,
    )
    return gan


def _check_inputs(fn, shapes) -> None:
    """ValueError unless `fn` takes (float32 `shapes[0]`, int32 `shapes[1]`)."""
    got = [(s.shape.as_list(), s.dtype.name) for s in common.input_specs(fn)]
    want = list(zip(shapes, ["float32", "int32"], strict=True))
    if got != want:
        raise ValueError(f"expected inputs {want}, found {got}")


def load_gan(path: str | None, flag: str = "--gan") -> LoadedGAN:
    """Loads and checks a GAN export for NumPy callers (`eval.gan_report`).

    Args:
      path: an export directory (`WORKDIR/export` of `gan_tf.train`), or a
        training workdir that holds one.
      flag: the flag `path` came from, named in errors.

    Returns:
      A `LoadedGAN`.

    Raises:
      DataError: no SavedModel there, or one without the GAN's signatures.
    """
    return _load(path, flag, LoadedGAN)


def load_generator(path: str | None, flag: str = "--gan") -> LoadedGenerator:
    """Loads and checks a GAN export for tensor callers (design's ascent).

    Same rule and checks as `load_gan`; returns a `LoadedGenerator`.
    """
    return _load(path, flag, LoadedGenerator)
