"""The DVBPR SavedModel: what `eval/` and `design/` load, with TensorFlow alone.

    export_recommender(model, dataset, config, "WORKDIR/export", data_options=options)
    export_from_checkpoint("WORKDIR")                    # the binary `dvbpr_tf.export`

    loaded = tf.saved_model.load("WORKDIR/export")      # no project import
    emb = loaded.item_embedding(images_uint8)            # [N, K]
    top = loaded.recommend(tf.constant([0, 1]), 10)      # item_ids, scores

Signatures (also in `loaded.signatures`, returning dicts):
  item_embedding(images uint8 [N, H, W, 3]) -> embedding float32 [N, K]:
    Phi(X), preprocessing (`data.preprocess.preprocess_images`: resize to S x
    S, scale to [-1, 1]) inside the graph.
  item_embedding_float(images float32 [N, S, S, 3] in [-1, 1]) -> embedding
    float32 [N, K]: Phi on already preprocessed images, no resize; the
    differentiable path the design package ascends through.
  user_embedding(user_ids int32 [N]) -> embedding float32 [N, K]: theta_u.
  score(user_ids int32 [N], images uint8 [N, H, W, 3]) -> score float32
    [N]: x = theta_u . Phi(X) for each (user, image) pair.
  score_matrix(user_ids int32 [U], images uint8 [M, H, W, 3]) -> scores
    float32 [U, M]: every user against every image.
  recommend(user_ids int32 [N], k int32 scalar) -> item_ids int32 [N, k'],
    scores float32 [N, k'] with k' = min(k, num_items): the top items by
    x_ui over the catalogue's stored item embeddings, the user's training
    items excluded (they get score -inf, so they only appear when fewer
    than k items remain).

The names (signatures, output keys, `catalogue.json`) are the contract's,
in `exports/recommender.py`, which also holds the loaders.

Variables the design package can read: `item_embeddings` [I, K],
`theta` [U, K], `item_categories` int64 [I] (-1 unknown), `item_ids`
string [I] (external ids), `category_names` string [C], and the metadata
scalars `image_size`, `embedding_dim`, `num_users`, `num_items`,
`dataset_name`, `model_name`.

`catalogue.json` beside `saved_model.pb` records the training catalogue:
its registry name, the `DataOptions` that built it and a fingerprint of
its item ids (`exports.recommender.catalogue_record`), which consumers
compare with the dataset they pair the export with.

The export is written to a temporary folder and renamed into place
(`common.runtime.atomic_write_dir`), so a reader never sees half of it.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf
from absl import logging

from common import layout, runtime
from common.errors import DataError
from data import pipeline, preprocess, registry
from data.core import RecDataset
from data.registry import DataOptions
from dvbpr_tf.config import DVBPRConfig
from dvbpr_tf.models import DVBPR
from exports import common as contract_common
from exports import recommender as contract

# The files of a dvbpr_tf.train workdir a re-export reads.
CONFIG_FILE = layout.CONFIG
BEST_DIRNAME = layout.BEST
CHECKPOINT_DIRNAME = layout.CHECKPOINTS

_IMAGES = tf.TensorSpec([None, None, None, 3], tf.uint8, name=contract.IMAGES_INPUT)
_FLOAT_IMAGES = tf.TensorSpec([None, None, None, 3], tf.float32, name=contract.IMAGES_INPUT)
_USERS = tf.TensorSpec([None], tf.int32, name=contract.USERS_INPUT)
_K = tf.TensorSpec([], tf.int32, name=contract.K_INPUT)


def _const_var(value, dtype, name):
    return tf.Variable(tf.convert_to_tensor(value, dtype), trainable=False, name=name)


class DVBPRExport(tf.Module):
    """The exported recommender (see the module docstring for the signatures).

    Args:
      model: the trained DVBPR model (its Phi is exported; theta is copied).
      dataset: gives the training items to exclude and the catalogue facts.
      config: gives the image size.
      item_emb: [num_items, K] float32 catalogue embeddings of `model`.
    """

    def __init__(self, model: DVBPR, dataset: RecDataset, config: DVBPRConfig, item_emb):
        super().__init__(name="dvbpr_export")
        self.phi = model.phi
        self.config_image_size = int(config.image_size)
        self.theta = _const_var(model.theta.numpy(), tf.float32, "theta")
        self.item_embeddings = _const_var(item_emb, tf.float32, "item_embeddings")
        indptr, indices = dataset.train_csr()
        self.train_indptr = _const_var(indptr, tf.int64, "train_indptr")
        self.train_items = _const_var(indices, tf.int64, "train_items")
        categories = (
            dataset.categories
            if dataset.categories is not None
            else np.full(dataset.num_items, -1, np.int64)
        )
        self.item_categories = _const_var(categories, tf.int64, "item_categories")
        self.item_ids = _const_var(np.asarray(dataset.item_ids, str), tf.string, "item_ids")
        self.category_names = _const_var(
            np.asarray(list(dataset.category_names), dtype=str).reshape(-1),
            tf.string,
            "category_names",
        )
        self.image_size = _const_var(config.image_size, tf.int32, "image_size")
        self.embedding_dim = _const_var(config.embedding_dim, tf.int32, "embedding_dim")
        self.num_users = _const_var(dataset.num_users, tf.int32, "num_users")
        self.num_items = _const_var(dataset.num_items, tf.int32, "num_items")
        self.dataset_name = _const_var(dataset.name, tf.string, "dataset_name")
        self.model_name = _const_var(contract.MODEL_NAME, tf.string, "model_name")

    # Plain helpers shared by the signatures (a signature must not call another).

    def _phi(self, images):
        x = preprocess.preprocess_images(images, self.config_image_size)
        return tf.cast(self.phi(x), tf.float32)

    def _phi_float(self, images):
        # Already preprocessed: differentiable, for design/'s gradient ascent.
        return tf.cast(self.phi(images), tf.float32)

    def _theta(self, user_ids):
        return tf.gather(self.theta, user_ids)

    def _recommend(self, user_ids, k):
        scores = tf.matmul(self._theta(user_ids), self.item_embeddings, transpose_b=True)
        users = tf.cast(user_ids, tf.int64)
        starts = tf.gather(self.train_indptr, users)
        ends = tf.gather(self.train_indptr, users + 1)
        # Positions of every (row, training item) pair, without a dense mask.
        positions = tf.ragged.range(starts, ends)
        rows = positions.value_rowids()
        items = tf.gather(self.train_items, positions.flat_values)
        scores = tf.tensor_scatter_nd_update(
            scores,
            tf.stack([rows, items], axis=1),
            tf.fill(tf.shape(rows), tf.constant(-np.inf, tf.float32)),
        )
        top = tf.math.top_k(scores, k=tf.minimum(k, tf.shape(scores)[1]))
        return {contract.ITEM_IDS_KEY: top.indices, contract.SCORES_KEY: top.values}

    def _score(self, user_ids, images):
        return tf.reduce_sum(self._theta(user_ids) * self._phi(images), axis=-1)

    def _score_matrix(self, user_ids, images):
        return tf.matmul(self._theta(user_ids), self._phi(images), transpose_b=True)

    @tf.function(input_signature=[_IMAGES])
    def item_embedding(self, images):
        return self._phi(images)

    @tf.function(input_signature=[_FLOAT_IMAGES])
    def item_embedding_float(self, images):
        return self._phi_float(images)

    @tf.function(input_signature=[_USERS])
    def user_embedding(self, user_ids):
        return self._theta(user_ids)

    @tf.function(input_signature=[_USERS, _IMAGES])
    def score(self, user_ids, images):
        return self._score(user_ids, images)

    @tf.function(input_signature=[_USERS, _IMAGES])
    def score_matrix(self, user_ids, images):
        return self._score_matrix(user_ids, images)

    @tf.function(input_signature=[_USERS, _K])
    def recommend(self, user_ids, k):
        return self._recommend(user_ids, k)


def _signatures(module: DVBPRExport) -> dict:
    """Serving signatures (dict outputs), built from the plain helpers."""

    def concrete(helper, specs, key):
        @tf.function(input_signature=specs)
        def signature(*args):
            out = helper(*args)
            return out if isinstance(out, dict) else {key: out}

        return signature.get_concrete_function()

    embedding = contract.EMBEDDING_KEY
    return {
        contract.ITEM_EMBEDDING: concrete(module._phi, [_IMAGES], embedding),
        contract.ITEM_EMBEDDING_FLOAT: concrete(module._phi_float, [_FLOAT_IMAGES], embedding),
        contract.USER_EMBEDDING: concrete(module._theta, [_USERS], embedding),
        contract.SCORE: concrete(module._score, [_USERS, _IMAGES], contract.SCORE_KEY),
        contract.SCORE_MATRIX: concrete(
            module._score_matrix, [_USERS, _IMAGES], contract.SCORES_KEY
        ),
        contract.RECOMMEND: concrete(module._recommend, [_USERS, _K], None),
    }


def export_recommender(
    model: DVBPR,
    dataset: RecDataset,
    config: DVBPRConfig,
    export_dir: str,
    *,
    item_emb=None,
    data_options: DataOptions | None = None,
) -> DVBPRExport:
    """Writes the SavedModel and its catalogue.json to `export_dir` atomically.

    Args:
      model: the trained model.
      dataset: the dataset it was trained on.
      config: its config.
      export_dir: the target folder (replaced as a whole if it exists).
      item_emb: [num_items, K] float32 catalogue embeddings; computed
        through the exported tower when None.
      data_options: the options `data.registry.load` built `dataset` with,
        recorded in catalogue.json (None: not known).

    Returns:
      The exported module (usable in process).
    """
    if item_emb is None:
        item_emb = embed_catalogue(model, dataset, config)
    module = DVBPRExport(model, dataset, config, np.asarray(item_emb, np.float32))
    signatures = _signatures(module)
    record = contract.catalogue_record(dataset, data_options)

    def write(tmp: str) -> None:
        tf.saved_model.save(module, tmp, signatures=signatures)
        contract.write_catalogue_record(tmp, record)

    runtime.atomic_write_dir(export_dir, write)
    logging.info("Exported the recommender to %s", export_dir)
    return module


def embed_catalogue(model: DVBPR, dataset: RecDataset, config: DVBPRConfig) -> np.ndarray:
    """[num_items, K] float32 Phi of every catalogue item (no dropout)."""
    embed = tf.function(model.item_embedding, reduce_retracing=True)
    out = np.zeros([dataset.num_items, config.embedding_dim], np.float32)
    progress = runtime.Progress(
        dataset.num_items, "images", interval=10.0, prefix="embed catalogue", quiet_start=True
    )
    done = 0
    for batch in pipeline.item_dataset(dataset, config.image_size, config.eval_batch_size):
        items = batch["item"].numpy()
        out[items] = embed(batch["image"]).numpy()
        done += len(items)
        progress.update(done)
    return out


def read_workdir_config(workdir: str) -> tuple[DVBPRConfig, str, DataOptions]:
    """The (config, --dataset, DataOptions) a `dvbpr_tf.train` run wrote into its config.json.

    Raises:
      DataError: no config.json there, or not one of a DVBPR run.
    """
    path = os.path.join(workdir, CONFIG_FILE)
    try:
        with open(path) as f:
            stored = json.load(f)
        fields = {f.name for f in dataclasses.fields(DVBPRConfig)}
        config = DVBPRConfig(
            **{
                k: tuple(v) if isinstance(v, list) else v
                for k, v in stored["dvbpr"].items()
                if k in fields
            }
        )
        options = DataOptions(**(stored.get("data_options") or {}))
        return config, stored["dataset"], options
    except FileNotFoundError:
        raise DataError(
            f"No {CONFIG_FILE} in --workdir={workdir}; is it a `python -m dvbpr_tf.train` workdir?"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(
            f"{path} is not the config of a DVBPR run ({type(err).__name__}: {err}); pass the "
            f"--workdir of `python -m dvbpr_tf.train` (not of --model=<baseline>)."
        ) from None


def export_from_checkpoint(workdir: str, export_dir: str | None = None) -> dict:
    """Re-exports a DVBPR training workdir from its checkpoints, as training's end does.

    The weights are the best-on-validation checkpoint (WORKDIR/best), else
    the latest (WORKDIR/checkpoints), as `train_and_evaluate` exports; the
    catalogue is rebuilt from the run's config.json (--dataset and data
    options) and embedded again.

    Args:
      workdir: the `dvbpr_tf.train` workdir.
      export_dir: where to write (WORKDIR/export when None).

    Returns:
      {'export', 'checkpoint', 'step', 'dataset', 'num_items'}.

    Raises:
      DataError: no config.json, no checkpoint, or a checkpoint that does
        not fit the config.
    """
    config, dataset_name, options = read_workdir_config(workdir)
    checkpoint = None
    for folder in (BEST_DIRNAME, CHECKPOINT_DIRNAME):
        checkpoint = tf.train.latest_checkpoint(os.path.join(workdir, folder))
        if checkpoint:
            break
    if not checkpoint:
        raise DataError(
            f"No checkpoint in {workdir}/{BEST_DIRNAME} nor {workdir}/{CHECKPOINT_DIRNAME}; "
            f"train first (`python -m dvbpr_tf.train --workdir={workdir}`)."
        )
    dataset = registry.load(dataset_name, options)
    model = DVBPR(config, dataset.num_users)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    try:
        tf.train.Checkpoint(model=model, step=step).restore(
            checkpoint
        ).assert_existing_objects_matched().expect_partial()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as err:
        raise DataError(
            f"Checkpoint {checkpoint} does not fit the config in {workdir}/{CONFIG_FILE}: "
            f"{str(err).splitlines()[0]}."
        ) from None
    export_dir = export_dir or os.path.join(workdir, contract_common.EXPORT_DIRNAME)
    export_recommender(model, dataset, config, export_dir, data_options=options)
    return {
        "export": export_dir,
        "checkpoint": checkpoint,
        "step": int(step.numpy()),
        "dataset": dataset.name,
        "num_items": dataset.num_items,
    }
