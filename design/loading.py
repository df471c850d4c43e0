"""The two SavedModels design works on, loaded with `tf.saved_model.load` only.

    rec = load_recommender("REC_WORKDIR/export")
    gan = load_generator("GAN_WORKDIR/export")
    check_pair(rec, gan)

This module never imports `dvbpr_tf` or `gan_tf`: it relies on the exports'
documented interfaces.

Recommender export (`dvbpr_tf/export.py`):
  item_embedding_float(images float32 [N, S, S, 3] in [-1, 1]) -> float32
    [N, K]: Phi without preprocessing, differentiable (the design ascent
    needs gradients with respect to the pixels);
  variables theta [U, K], item_embeddings [I, K], item_categories int64
    [I] (-1 unknown), image_size (S); optional category_names, item_ids,
    dataset_name.

GAN export (`gan_tf/export.py`):
  generate(z float32 [N, z_dim], category int32 [N]) -> {'images' float32
    [N, R, R, C] in [-1, 1], ...};
  discriminate(images float32 [N, R, R, C], category int32 [N]) ->
    {'score' float32 [N]};
  metadata() -> {'resolution', 'channels', 'z_dim', 'num_categories',
    'category_names'}.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf
from absl import logging

from data.core import DataError, check_indices

_EXPORT_DIRNAME = "export"


def _resolve_export_dir(path: str, what: str, hint: str) -> str:
    """`path` itself or `path/export`, whichever holds a saved_model.pb."""
    if path is None or not str(path).strip():
        raise DataError(f"No {what} export given; pass {hint}.")
    path = os.path.expanduser(str(path))
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    nested = os.path.join(path, _EXPORT_DIRNAME)
    if os.path.exists(os.path.join(nested, "saved_model.pb")):
        return nested
    raise DataError(f"No SavedModel at {path} (nor at {nested}): pass {hint}.")


def _input_specs(fn) -> list[tf.TensorSpec]:
    """The traced input TensorSpecs of a restored tf.function (first signature)."""
    concrete = getattr(fn, "concrete_functions", None) or []
    if not concrete:
        raise ValueError(f"{fn} has no traced input signature")
    args, _ = concrete[0].structured_input_signature
    return list(args)


def _strings(tensor) -> tuple[str, ...]:
    values = np.asarray(tensor.numpy()).reshape(-1)
    return tuple(v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values)


@dataclasses.dataclass
class LoadedRecommender:
    """A reloaded DVBPR export, its tables copied to NumPy once.

    Attributes:
      path: the export directory.
      module: what `tf.saved_model.load` returned.
      image_size: S, the side of Phi's input.
      theta: float32 [U, K] user visual preference vectors.
      item_embeddings: float32 [I, K] Phi of every catalogue item.
      item_categories: int64 [I], -1 where unknown.
      category_names: names indexed by category id (may be empty).
      item_ids: external item ids [I] (str), or None.
      dataset_name: the dataset the model was trained on ("" if unknown).
    """

    path: str
    module: object
    image_size: int
    theta: np.ndarray
    item_embeddings: np.ndarray
    item_categories: np.ndarray
    category_names: tuple[str, ...]
    item_ids: np.ndarray | None
    dataset_name: str

    @property
    def num_users(self) -> int:
        return int(self.theta.shape[0])

    @property
    def num_items(self) -> int:
        return int(self.item_embeddings.shape[0])

    @property
    def embedding_dim(self) -> int:
        return int(self.theta.shape[1])

    @property
    def num_categories(self) -> int:
        """Known categories: the names' count, else 1 + the largest id."""
        if self.category_names:
            return len(self.category_names)
        return int(self.item_categories.max()) + 1 if len(self.item_categories) else 0

    def embed(self, images: tf.Tensor) -> tf.Tensor:
        """Phi(images): float32 [N, S, S, 3] in [-1, 1] -> float32 [N, K] (differentiable)."""
        out = self.module.item_embedding_float(images)
        if isinstance(out, dict):  # a serving signature returns {name: tensor}
            out = out["embedding"] if "embedding" in out else next(iter(out.values()))
        return out

    def category_name(self, category: int) -> str:
        if 0 <= category < len(self.category_names):
            return self.category_names[category]
        return str(category)

    def check_users(self, users) -> np.ndarray:
        """int32 [n] user indices, or DataError naming the unknown ones."""
        owner = f"the recommender at {self.path} (dense indices)"
        return check_indices(users, self.num_users, "user(s)", owner)

    def check_items(self, items) -> np.ndarray:
        """int64 [n] item indices, or DataError naming the unknown ones."""
        owner = f"the recommender at {self.path} (dense indices)"
        return check_indices(items, self.num_items, "item(s)", owner, np.int64)


@dataclasses.dataclass
class LoadedGenerator:
    """A reloaded conditional GAN export.

    Attributes:
      path: the export directory.
      module: what `tf.saved_model.load` returned.
      resolution: R, the side of G's images.
      channels: C, 1 or 3.
      z_dim: length of z.
      num_categories: conditioning categories.
      category_names: names indexed by category id.
    """

    path: str
    module: object
    resolution: int
    channels: int
    z_dim: int
    num_categories: int
    category_names: tuple[str, ...]

    def generate(self, z: tf.Tensor, category: tf.Tensor) -> tf.Tensor:
        """G_c(z): z float32 [N, z_dim], category int32 [N] -> float32 [N, R, R, C] in [-1, 1]."""
        return self.module.generate(z, category)["images"]

    def discriminate(self, images: tf.Tensor, category: tf.Tensor) -> tf.Tensor:
        """D_c(x): images float32 [N, R, R, C] in [-1, 1], category int32 [N] -> float32 [N]."""
        return tf.reshape(self.module.discriminate(images, category)["score"], [-1])

    def check_categories(self, categories) -> np.ndarray:
        """int32 [n] category ids, or DataError naming the unknown ones."""
        owner = f"the GAN at {self.path} ({', '.join(self.category_names)})"
        return check_indices(categories, self.num_categories, "category id(s)", owner)


def load_recommender(path: str) -> LoadedRecommender:
    """Loads and checks a recommender export.

    Args:
      path: the export directory, or a training workdir holding `export/`.

    Returns:
      A `LoadedRecommender`.

    Raises:
      DataError: no SavedModel there, or one without the signatures and
        variables design needs.
    """
    hint = "--recommender=DIR, the export/ folder of `python -m dvbpr_tf.train`"
    path = _resolve_export_dir(path, "recommender", hint)
    module = tf.saved_model.load(path)
    needed = ("item_embedding_float", "theta", "item_embeddings", "item_categories", "image_size")
    missing = [name for name in needed if not hasattr(module, name)]
    if missing:
        extra = ""
        if "item_embedding_float" in missing:
            extra = (
                " item_embedding_float(images float32 [N, S, S, 3] in [-1, 1]) is the "
                "differentiable item tower design ascends; re-export the model with a "
                "dvbpr_tf version that writes it."
            )
        raise DataError(
            f"The SavedModel at {path} is not a recommender export design can use: it lacks "
            f"{', '.join(missing)}.{extra}"
        )
    image_size = int(module.image_size.numpy())
    theta = np.asarray(module.theta.numpy(), np.float32)
    item_emb = np.asarray(module.item_embeddings.numpy(), np.float32)
    categories = np.asarray(module.item_categories.numpy(), np.int64).reshape(-1)
    if theta.ndim != 2 or item_emb.ndim != 2 or theta.shape[1] != item_emb.shape[1]:
        raise DataError(
            f"The recommender at {path} has theta {theta.shape} and item_embeddings "
            f"{item_emb.shape}: both must be [n, K] with the same K. Re-export it."
        )
    if len(categories) != len(item_emb):
        raise DataError(
            f"The recommender at {path} has {len(categories)} item_categories for "
            f"{len(item_emb)} items. Re-export it."
        )
    try:
        (spec,) = _input_specs(module.item_embedding_float)
    except (ValueError, TypeError) as err:
        raise DataError(
            f"The recommender at {path}: item_embedding_float must take one input, images "
            f"float32 [N, S, S, 3] ({err})."
        ) from None
    shape = spec.shape.as_list()
    if spec.dtype != tf.float32 or len(shape) != 4 or shape[3] not in (None, 3):
        raise DataError(
            f"The recommender at {path}: item_embedding_float takes {spec.dtype.name} {shape}; "
            f"design needs float32 [N, S, S, 3] in [-1, 1]."
        )
    if any(d is not None and d != image_size for d in shape[1:3]):
        raise DataError(
            f"The recommender at {path}: item_embedding_float takes {shape[1]}x{shape[2]} "
            f"images but its image_size variable says {image_size}. Re-export it."
        )
    names = _strings(module.category_names) if hasattr(module, "category_names") else ()
    item_ids = np.asarray(_strings(module.item_ids)) if hasattr(module, "item_ids") else None
    dataset = _strings(module.dataset_name)[0] if hasattr(module, "dataset_name") else ""
    rec = LoadedRecommender(
        path=path,
        module=module,
        image_size=image_size,
        theta=theta,
        item_embeddings=item_emb,
        item_categories=categories,
        category_names=names,
        item_ids=item_ids,
        dataset_name=dataset,
    )
    logging.info(
        "Recommender %s: %d users, %d items, K=%d, input %dx%d, dataset %r",
        path,
        rec.num_users,
        rec.num_items,
        rec.embedding_dim,
        image_size,
        image_size,
        dataset,
    )
    return rec


def load_generator(path: str) -> LoadedGenerator:
    """Loads and checks a conditional GAN export.

    Args:
      path: the export directory, or a training workdir holding `export/`.

    Returns:
      A `LoadedGenerator`.

    Raises:
      DataError: no SavedModel there, or one without generate /
        discriminate / metadata of the documented shapes.
    """
    hint = "--gan=DIR, the export/ folder of `python -m gan_tf.train`"
    path = _resolve_export_dir(path, "GAN", hint)
    module = tf.saved_model.load(path)
    missing = [n for n in ("generate", "discriminate", "metadata") if not hasattr(module, n)]
    if missing:
        raise DataError(
            f"The SavedModel at {path} is not a GAN export: it lacks {', '.join(missing)}. "
            f"Pass {hint}."
        )
    try:
        meta = {k: v.numpy() for k, v in module.metadata().items()}
        gan = LoadedGenerator(
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
        z_spec, c_spec = _input_specs(module.generate)
        x_spec, c2_spec = _input_specs(module.discriminate)
    except (KeyError, TypeError, ValueError, AttributeError, tf.errors.OpError) as err:
        raise DataError(
            f"The SavedModel at {path} does not fit the GAN export interface (generate(z, "
            f"category), discriminate(images, category), metadata()): {err}."
        ) from None
    r, c = gan.resolution, gan.channels
    problems = []
    if z_spec.shape.as_list() != [None, gan.z_dim] or z_spec.dtype != tf.float32:
        problems.append(f"generate takes z {z_spec.dtype.name} {z_spec.shape.as_list()}")
    if x_spec.shape.as_list() != [None, r, r, c] or x_spec.dtype != tf.float32:
        problems.append(f"discriminate takes images {x_spec.dtype.name} {x_spec.shape.as_list()}")
    if c_spec.dtype != tf.int32 or c2_spec.dtype != tf.int32:
        problems.append("category inputs are not int32")
    if c not in (1, 3):
        problems.append(f"metadata says {c} channels")
    if problems:
        raise DataError(
            f"The GAN at {path} does not match its own metadata (resolution {r}, channels {c}, "
            f"z_dim {gan.z_dim}): {'; '.join(problems)}. Re-export it."
        )
    logging.info(
        "GAN %s: %dx%dx%d images, z_dim %d, %d categories",
        path,
        r,
        r,
        c,
        gan.z_dim,
        gan.num_categories,
    )
    return gan


def check_pair(rec: LoadedRecommender, gan: LoadedGenerator) -> None:
    """Raises DataError when the two exports cannot be used together.

    They fit when the GAN's images can be upscaled (nearest neighbour) to
    the recommender's input (R <= S), have 1 or 3 channels (1 is tiled to
    RGB), and both know the same number of categories.
    """
    if gan.resolution > rec.image_size:
        raise DataError(
            f"The GAN at {gan.path} makes {gan.resolution}x{gan.resolution} images, larger than "
            f"the recommender's {rec.image_size}x{rec.image_size} input ({rec.path}); design "
            f"upscales G's images (paper eq. 9), so train the GAN at a resolution <= "
            f"{rec.image_size}."
        )
    if rec.num_categories != gan.num_categories:
        raise DataError(
            f"The recommender at {rec.path} knows {rec.num_categories} categories "
            f"({', '.join(rec.category_names)}) but the GAN at {gan.path} knows "
            f"{gan.num_categories} ({', '.join(gan.category_names)}): were they trained on the "
            f"same dataset?"
        )
    if rec.category_names and tuple(gan.category_names) != tuple(rec.category_names):
        # GANs trained without names export "0", "1", ...: a naming gap, not a mismatch.
        logging.warning(
            "Category names differ: recommender %s, GAN %s; using the recommender's.",
            rec.category_names,
            gan.category_names,
        )
