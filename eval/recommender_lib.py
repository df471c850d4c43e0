"""Evaluation of an exported recommender, as a library; `eval.recommender` is its binary.

    result = recommender_lib.evaluate_export("/tmp/dvbpr/export", catalogue)
    result["test"]["auc"]

See `eval/recommender.py` for which exports qualify and what is computed.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common import runtime
from data import image_store
from data.core import DataError, RecDataset
from exports.recommender import LoadedEmbedder, load_embedder
from metrics import auc as auc_lib


def embed_with_export(
    loaded: LoadedEmbedder,
    ds: RecDataset,
    batch_size: int = 256,
    image_cache_dir: str | None = None,
):
    """Item and user embeddings of `ds` through an export.

    Args:
      loaded: the export (`exports.recommender.load_embedder`).
      ds: the dataset it was trained on (checked: its users and catalogue).
      batch_size: images per item_embedding call.
      image_cache_dir: where a catalogue over the memory budget is decoded
        once into a memory-mapped file (`data.image_store.ImageStore`; the
        files `dvbpr_tf.train --image_cache_dir` writes are reused); None
        decodes such catalogues per lookup.

    Returns:
      (user_emb [num_users, K], item_emb [num_items, K]) float32 arrays.

    Raises:
      DataError: `ds` has no images, or is not the export's dataset.
    """
    if not ds.has_images:
        raise DataError(f"Dataset {ds.name} has no images; the export embeds items from images.")
    loaded.check_dataset(ds)
    store = image_store.ImageStore(ds.images, loaded.image_size, cache_dir=image_cache_dir)
    items = (
        tf.data.Dataset.range(ds.num_items)
        .batch(batch_size)
        .map(lambda i: store.lookup_uint8(i), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    progress = runtime.Progress(ds.num_items, "images", prefix="embed catalogue")
    chunks = []
    for images in items:
        chunks.append(loaded.module.item_embedding(images).numpy())
        progress.update(sum(len(c) for c in chunks))
    item_emb = np.concatenate(chunks).astype(np.float32)
    users = np.arange(ds.num_users, dtype=np.int32)
    user_emb = np.concatenate(
        [
            loaded.module.user_embedding(tf.constant(users[s : s + 65536])).numpy()
            for s in range(0, len(users), 65536)
        ]
    ).astype(np.float32)
    return user_emb, item_emb


def evaluate_export(
    export_dir: str,
    ds: RecDataset,
    *,
    batch_size: int = 256,
    seed: int = 0,
    options: auc_lib.AUCOptions | None = None,
    image_cache_dir: str | None = None,
):
    """AUC of an exported recommender on validation and test.

    Args:
      export_dir: the export directory, or a training workdir holding
        `export/` (`exports.common.resolve_export_dir`).
      ds: the dataset it was trained on.
      batch_size: images per item_embedding call.
      seed: seed of the sampled-100 negatives.
      options: the metric definitions.
      image_cache_dir: see `embed_with_export`.

    Returns:
      {"validation": {auc, auc_cold, auc_warm, auc_sampled100}, "test": {...}}.
    """
    loaded = load_embedder(export_dir, flag="--export")
    user_emb, item_emb = embed_with_export(loaded, ds, batch_size, image_cache_dir)
    out = {}
    for split in ("validation", "test"):
        m = auc_lib.evaluate_embeddings(ds, split, user_emb, item_emb, options=options, seed=seed)
        out[split] = {k: m[k] for k in auc_lib.METRICS}
    return out
