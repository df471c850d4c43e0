"""The DVBPR SavedModel: what `eval/` and `design/` load, with TensorFlow alone.

    export_recommender(model, dataset, config, "WORKDIR/export")

    loaded = tf.saved_model.load("WORKDIR/export")      # no project import
    emb = loaded.item_embedding(images_uint8)            # [N, K]
    top = loaded.recommend(tf.constant([0, 1]), 10)      # item_ids, scores

Signatures (also in `loaded.signatures`, returning dicts):
  item_embedding(images uint8 [N, H, W, 3]) -> embedding float32 [N, K]:
    Phi(X), preprocessing (`data.pipeline.preprocess_images`: resize to S x
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

Variables the design package can read: `item_embeddings` [I, K],
`theta` [U, K], `item_categories` int64 [I] (-1 unknown), `item_ids`
string [I] (external ids), `category_names` string [C], and the metadata
scalars `image_size`, `embedding_dim`, `num_users`, `num_items`,
`dataset_name`, `model_name`.

The export is written to a temporary folder and renamed into place
(`common.runtime.atomic_write_dir`), so a reader never sees half of it.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from absl import logging

from common import runtime
from data import pipeline
from data.core import RecDataset
from dvbpr_tf.config import DVBPRConfig
from dvbpr_tf.models import DVBPR

_IMAGES = tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")
_FLOAT_IMAGES = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
_USERS = tf.TensorSpec([None], tf.int32, name="user_ids")
_K = tf.TensorSpec([], tf.int32, name="k")


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
        self.model_name = _const_var("dvbpr", tf.string, "model_name")

    # Plain helpers shared by the signatures (a signature must not call another).

    def _phi(self, images):
        x = pipeline.preprocess_images(images, self.config_image_size)
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
        return {"item_ids": top.indices, "scores": top.values}

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

    return {
        "item_embedding": concrete(module._phi, [_IMAGES], "embedding"),
        "item_embedding_float": concrete(module._phi_float, [_FLOAT_IMAGES], "embedding"),
        "user_embedding": concrete(module._theta, [_USERS], "embedding"),
        "score": concrete(module._score, [_USERS, _IMAGES], "score"),
        "score_matrix": concrete(module._score_matrix, [_USERS, _IMAGES], "scores"),
        "recommend": concrete(module._recommend, [_USERS, _K], None),
    }


def export_recommender(
    model: DVBPR,
    dataset: RecDataset,
    config: DVBPRConfig,
    export_dir: str,
    *,
    item_emb=None,
) -> DVBPRExport:
    """Writes the SavedModel to `export_dir` atomically.

    Args:
      model: the trained model.
      dataset: the dataset it was trained on.
      config: its config.
      export_dir: the target folder (replaced as a whole if it exists).
      item_emb: [num_items, K] float32 catalogue embeddings; computed
        through the exported tower when None.

    Returns:
      The exported module (usable in process).
    """
    if item_emb is None:
        item_emb = embed_catalogue(model, dataset, config)
    module = DVBPRExport(model, dataset, config, np.asarray(item_emb, np.float32))
    signatures = _signatures(module)
    runtime.atomic_write_dir(
        export_dir, lambda tmp: tf.saved_model.save(module, tmp, signatures=signatures)
    )
    logging.info("Exported the recommender to %s", export_dir)
    return module


def embed_catalogue(model: DVBPR, dataset: RecDataset, config: DVBPRConfig) -> np.ndarray:
    """[num_items, K] float32 Phi of every catalogue item (no dropout)."""
    embed = tf.function(model.item_embedding, reduce_retracing=True)
    out = np.zeros([dataset.num_items, config.embedding_dim], np.float32)
    for batch in pipeline.item_dataset(dataset, config.image_size, config.eval_batch_size):
        out[batch["item"].numpy()] = embed(batch["image"]).numpy()
    return out
