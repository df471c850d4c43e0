"""The recommender SavedModel contract: names, the catalogue record, and two loaders.

    rec = load_recommender("REC_WORKDIR")            # design's view: tables + Phi
    rec.check_catalogue(ds)                          # the dataset is the one it was trained on
    emb = load_embedder("REC_WORKDIR/export", flag="--export")   # eval.recommender's view

The export (`dvbpr_tf/export_lib.py` writes it) has the signatures named
below (also `loaded.signatures`, returning dicts keyed as below):
  item_embedding(images uint8 [N, H, W, 3]) -> embedding float32 [N, K];
  item_embedding_float(images float32 [N, S, S, 3] in [-1, 1]) ->
    embedding float32 [N, K], differentiable (design ascends through it);
  user_embedding(user_ids int32 [N]) -> embedding float32 [N, K];
  score(user_ids int32 [N], images uint8 [N, H, W, 3]) -> score [N];
  score_matrix(user_ids int32 [U], images uint8 [M, H, W, 3]) -> scores
    [U, M];
  recommend(user_ids int32 [N], k int32) -> item_ids int32 [N, k'],
    scores float32 [N, k'];
and the variables theta [U, K], item_embeddings [I, K], item_categories
int64 [I] (-1 unknown), item_ids string [I], category_names string [C],
image_size, embedding_dim, num_users, num_items, dataset_name, model_name.

`catalogue.json` beside `saved_model.pb` records which catalogue the model
was trained on: the dataset's registry name, the `DataOptions` that built
it, its counts, and a fingerprint of its item ids and their categories in
catalogue order. A consumer that pairs the export with a dataset (design,
`eval.recommender`, `eval.table4`) compares fingerprints, so a catalogue
with the same number of items but other items (another --data_seed, a
custom folder) is refused with a message naming both sides. Exports
written before the record existed fall back to comparing item counts,
with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from common.errors import DataError
from data.core import RecDataset, check_indices
from data.registry import DataOptions
from exports import common

# Signature (and tf.function) names.
ITEM_EMBEDDING = "item_embedding"
ITEM_EMBEDDING_FLOAT = "item_embedding_float"
USER_EMBEDDING = "user_embedding"
SCORE = "score"
SCORE_MATRIX = "score_matrix"
RECOMMEND = "recommend"
SIGNATURES = (ITEM_EMBEDDING, ITEM_EMBEDDING_FLOAT, USER_EMBEDDING, SCORE, SCORE_MATRIX, RECOMMEND)
# Output keys of the serving signatures.
EMBEDDING_KEY = "embedding"
SCORE_KEY = "score"
SCORES_KEY = "scores"
ITEM_IDS_KEY = "item_ids"
# Input names of the serving signatures.
IMAGES_INPUT = "images"
USERS_INPUT = "user_ids"
K_INPUT = "k"
MODEL_NAME = "dvbpr"
CATALOGUE_FILE = "catalogue.json"
# The data flags each DataOptions field comes from (data/flags.py), for "pass ..." hints.
_OPTION_FLAGS = {
    "data_dir": "--data_dir",
    "manual_dir": "--manual_dir",
    "custom_dir": "--custom_dir",
    "fashion_mnist_dir": "--fashion_mnist_dir",
    "seed": "--data_seed",
    "split_by_time": "--split_by_time",
    "bad_images": "--bad_images",
}
_PRODUCER = "python -m dvbpr_tf.train"


# -- the catalogue record ----------------------------------------------------


def catalogue_fingerprint(item_ids, categories=None) -> str:
    """A digest of a catalogue: its item ids and their categories, in order.

    Args:
      item_ids: [I] external item ids (anything `str()` turns into the id).
      categories: [I] int category ids, -1 (or None for all) unknown.

    Returns:
      "sha256:" and 64 hex digits. Equal for two catalogues exactly when
      (barring collisions) they list the same ids with the same categories
      at the same dense indices.
    """
    ids = [str(i) for i in np.asarray(item_ids, dtype=object).reshape(-1)]
    cats = (
        np.full(len(ids), -1, np.int64)
        if categories is None
        else np.asarray(categories, np.int64).reshape(-1)
    )
    if len(cats) != len(ids):
        raise ValueError(f"{len(cats)} categories for {len(ids)} item ids")
    digest = hashlib.sha256()
    # A separator no id contains keeps ("a", "bc") apart from ("ab", "c").
    digest.update("\0".join(ids).encode("utf-8"))
    digest.update(b"\1")
    digest.update(cats.astype("<i8").tobytes())
    return "sha256:" + digest.hexdigest()


def catalogue_record(dataset: RecDataset, data_options: DataOptions | None = None) -> dict:
    """What `catalogue.json` holds for an export trained on `dataset`.

    Args:
      dataset: the training dataset.
      data_options: the options `data.registry.load` built it with (None:
        not known, e.g. a dataset built in memory by a test).

    Returns:
      {'dataset', 'data_options' (dict or None), 'num_users', 'num_items',
      'item_fingerprint'}.
    """
    return {
        "dataset": dataset.name,
        "data_options": None if data_options is None else dataclasses.asdict(data_options),
        "num_users": int(dataset.num_users),
        "num_items": int(dataset.num_items),
        "item_fingerprint": catalogue_fingerprint(dataset.item_ids, dataset.categories),
    }


def write_catalogue_record(export_dir: str, record: dict) -> None:
    """Writes `record` as `catalogue.json` into `export_dir` (a folder being built)."""
    with open(os.path.join(export_dir, CATALOGUE_FILE), "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)


def read_catalogue_record(export_dir: str) -> dict | None:
    """The export's `catalogue.json`, or None when it has none (older exports).

    Raises:
      DataError: the file exists but is not a catalogue record.
    """
    path = os.path.join(export_dir, CATALOGUE_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError) as err:
        raise DataError(f"{path} is not a catalogue record ({err}); re-export the model.") from None
    missing = [k for k in ("item_fingerprint", "num_items") if k not in record]
    if missing:
        raise DataError(f"{path} lacks {', '.join(missing)}; re-export the model.")
    return record


def data_flags_hint(record: dict) -> str:
    """The --dataset and data flags that rebuild the recorded catalogue."""
    parts = [f"--dataset={record.get('dataset')}"]
    defaults = dataclasses.asdict(DataOptions())
    for field, value in (record.get("data_options") or {}).items():
        if field in _OPTION_FLAGS and value != defaults.get(field):
            parts.append(f"{_OPTION_FLAGS[field]}={value}")
    return " ".join(parts)


def check_catalogue(path: str, record: dict | None, num_items: int | None, ds: RecDataset):
    """Raises DataError unless `ds` is the catalogue the export at `path` was trained on.

    Args:
      path: the export directory (named in messages).
      record: its catalogue record (`read_catalogue_record`), or None.
      num_items: the export's item count when it has no record (None: unknown).
      ds: the dataset the caller pairs with the export.

    Raises:
      DataError: the fingerprints differ, or (no record) the item counts do.
    """
    if record is None:
        logging.warning(
            "The recommender at %s predates %s: checking %s by its item count only. "
            "Re-export it (`python -m dvbpr_tf.export --workdir=W`) for the item-id check.",
            path,
            CATALOGUE_FILE,
            ds.name,
        )
        if num_items is not None and int(num_items) != ds.num_items:
            raise DataError(
                f"Dataset {ds.name} has {ds.num_items} items but the recommender at {path} was "
                f"trained on {int(num_items)}: pass the --dataset (and --data_seed) it was "
                f"trained with."
            )
        return
    fingerprint = catalogue_fingerprint(ds.item_ids, ds.categories)
    if fingerprint != record["item_fingerprint"]:
        raise DataError(
            f"The recommender at {path} was trained on another catalogue than --dataset="
            f"{ds.name}: the export's {record.get('dataset')} has {record['num_items']} items "
            f"(fingerprint {record['item_fingerprint'][:19]}), the dataset has {ds.num_items} "
            f"(fingerprint {fingerprint[:19]}). Pass the data flags it was trained with: "
            f"{data_flags_hint(record)}."
        )


# -- design's view -----------------------------------------------------------


@dataclasses.dataclass
class LoadedRecommender(common.LoadedExport):
    """A reloaded DVBPR export, its tables copied to NumPy once (design's view).

    Attributes (besides `path` and `module`):
      image_size: S, the side of Phi's input.
      theta: float32 [U, K] user visual preference vectors.
      item_embeddings: float32 [I, K] Phi of every catalogue item.
      item_categories: int64 [I], -1 where unknown.
      category_names: names indexed by category id (may be empty).
      item_ids: external item ids [I] (str), or None.
      dataset_name: the dataset the model was trained on ("" if unknown).
      catalogue: the export's catalogue record, or None (older exports).
    """

    image_size: int
    theta: np.ndarray
    item_embeddings: np.ndarray
    item_categories: np.ndarray
    category_names: tuple[str, ...]
    item_ids: np.ndarray | None
    dataset_name: str
    catalogue: dict | None = None

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
            out = out[EMBEDDING_KEY] if EMBEDDING_KEY in out else next(iter(out.values()))
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

    def check_catalogue(self, ds: RecDataset) -> None:
        """DataError unless `ds` is the catalogue this export was trained on."""
        check_catalogue(self.path, self.catalogue, self.num_items, ds)


def load_recommender(path: str | None, flag: str = "--recommender") -> LoadedRecommender:
    """Loads and checks a recommender export for design.

    Args:
      path: the export directory, or a training workdir holding `export/`.
      flag: the flag `path` came from, named in errors.

    Returns:
      A `LoadedRecommender`.

    Raises:
      DataError: no SavedModel there, or one without the signatures and
        variables design needs.
    """
    path, module = common.load_saved_model(path, what="recommender", flag=flag, producer=_PRODUCER)
    needed = (ITEM_EMBEDDING_FLOAT, "theta", "item_embeddings", "item_categories", "image_size")
    missing = [name for name in needed if not hasattr(module, name)]
    if missing:
        extra = ""
        if ITEM_EMBEDDING_FLOAT in missing:
            extra = (
                f" {ITEM_EMBEDDING_FLOAT}(images float32 [N, S, S, 3] in [-1, 1]) is the "
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
    _check_float_tower(path, module, image_size)
    names = common.strings(module.category_names) if hasattr(module, "category_names") else ()
    item_ids = np.asarray(common.strings(module.item_ids)) if hasattr(module, "item_ids") else None
    dataset = common.strings(module.dataset_name)[0] if hasattr(module, "dataset_name") else ""
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
        catalogue=read_catalogue_record(path),
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


def _check_float_tower(path: str, module, image_size: int) -> None:
    """DataError unless item_embedding_float takes float32 [N, S, S, 3] with S = image_size."""
    try:
        (spec,) = common.input_specs(module.item_embedding_float)
    except (ValueError, TypeError) as err:
        raise DataError(
            f"The recommender at {path}: {ITEM_EMBEDDING_FLOAT} must take one input, images "
            f"float32 [N, S, S, 3] ({err})."
        ) from None
    shape = spec.shape.as_list()
    if spec.dtype != tf.float32 or len(shape) != 4 or shape[3] not in (None, 3):
        raise DataError(
            f"The recommender at {path}: {ITEM_EMBEDDING_FLOAT} takes {spec.dtype.name} "
            f"{shape}; design needs float32 [N, S, S, 3] in [-1, 1]."
        )
    if any(d is not None and d != image_size for d in shape[1:3]):
        raise DataError(
            f"The recommender at {path}: {ITEM_EMBEDDING_FLOAT} takes {shape[1]}x{shape[2]} "
            f"images but its image_size variable says {image_size}. Re-export it."
        )


# -- eval.recommender's view -------------------------------------------------


@dataclasses.dataclass
class LoadedEmbedder(common.LoadedExport):
    """Any SavedModel with item_embedding and user_embedding (eval.recommender's view).

    Attributes (besides `path` and `module`):
      image_size: S, the side item_embedding's images are prepared at.
      num_users: users it knows, or None when it does not say.
      num_items: catalogue items it was trained on, or None.
      catalogue: its catalogue record, or None.
    """

    image_size: int
    num_users: int | None
    num_items: int | None
    catalogue: dict | None

    def check_dataset(self, ds: RecDataset) -> None:
        """DataError unless `ds` is the dataset (catalogue and users) it was trained on."""
        if self.num_users is not None and self.num_users != ds.num_users:
            raise DataError(
                f"The export {self.path} was trained with {self.num_users} users but {ds.name} "
                f"has {ds.num_users}: evaluate it on the dataset (and --data_seed) it was "
                f"trained on."
            )
        check_catalogue(self.path, self.catalogue, self.num_items, ds)


def load_embedder(path: str | None, flag: str = "--export") -> LoadedEmbedder:
    """Loads an export that embeds items from uint8 images and users from ids.

    `path` and `flag` are as `load_recommender`'s: the export directory or a
    training workdir holding `export/`, and the flag named in errors.

    Raises:
      DataError: no SavedModel there, or one without item_embedding,
        user_embedding or an image_size variable.
    """
    path, module = common.load_saved_model(path, what="recommender", flag=flag, producer=_PRODUCER)
    missing = [n for n in (ITEM_EMBEDDING, USER_EMBEDDING) if not hasattr(module, n)]
    if missing:
        raise DataError(
            f"The export {path} lacks the recommender function(s) {', '.join(missing)}."
        )
    if not hasattr(module, "image_size"):
        raise DataError(
            f"The export {path} has no `image_size` variable; cannot prepare its images."
        )

    def count(name):
        return int(getattr(module, name).numpy()) if hasattr(module, name) else None

    return LoadedEmbedder(
        path=path,
        module=module,
        image_size=int(module.image_size.numpy()),
        num_users=count("num_users"),
        num_items=count("num_items"),
        catalogue=read_catalogue_record(path),
    )
