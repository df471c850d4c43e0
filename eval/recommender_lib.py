"""Evaluation of an exported recommender, as a library; `eval.recommender` is its binary.

    result = recommender_lib.evaluate_export("/tmp/dvbpr/export", catalogue)
    result["test"]["auc"]

See `eval/recommender.py` for which exports qualify and what is computed.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from common import runtime
from data import pipeline
from data.core import DataError, RecDataset
from metrics import auc as auc_lib


def load_export(export_dir: str):
    """tf.saved_model.load with a message that says what is wrong."""
    if not os.path.isdir(export_dir) or not os.path.exists(
        os.path.join(export_dir, "saved_model.pb")
    ):
        raise DataError(
            f"--export={export_dir} is not a SavedModel folder (no saved_model.pb); point it at "
            f"WORKDIR/export of a finished training run."
        )
    loaded = tf.saved_model.load(export_dir)
    missing = [n for n in ("item_embedding", "user_embedding") if not hasattr(loaded, n)]
    if missing:
        raise DataError(
            f"The export {export_dir} lacks the recommender function(s) {', '.join(missing)}."
        )
    return loaded


def embed_with_export(loaded, ds: RecDataset, batch_size: int = 256):
    """Item and user embeddings of `ds` through an export.

    Returns:
      (user_emb [num_users, K], item_emb [num_items, K]) float32 arrays.
    """
    if not ds.has_images:
        raise DataError(f"Dataset {ds.name} has no images; the export embeds items from images.")
    for what, count in (("users", ds.num_users), ("items", ds.num_items)):
        known = getattr(loaded, f"num_{what}", None)
        if known is not None and int(known.numpy()) != count:
            raise DataError(
                f"The export was trained with {int(known.numpy())} {what} but {ds.name} has "
                f"{count}: evaluate it on the dataset (and --data_seed) it was trained on."
            )
    image_size = int(loaded.image_size.numpy()) if hasattr(loaded, "image_size") else None
    if image_size is None:
        raise DataError("The export has no `image_size` variable; cannot prepare its images.")
    store = pipeline.ImageStore(ds.images, image_size)
    items = (
        tf.data.Dataset.range(ds.num_items)
        .batch(batch_size)
        .map(lambda i: store.lookup_uint8(i), num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )
    progress = runtime.Progress(ds.num_items, "images", prefix="embed catalogue")
    chunks = []
    for images in items:
        chunks.append(loaded.item_embedding(images).numpy())
        progress.update(sum(len(c) for c in chunks))
    item_emb = np.concatenate(chunks).astype(np.float32)
    users = np.arange(ds.num_users, dtype=np.int32)
    user_emb = np.concatenate(
        [
            loaded.user_embedding(tf.constant(users[s : s + 65536])).numpy()
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
):
    """AUC of an exported recommender on validation and test.

    Returns:
      {"validation": {auc, auc_cold, auc_warm, auc_sampled100}, "test": {...}}.
    """
    loaded = load_export(export_dir)
    user_emb, item_emb = embed_with_export(loaded, ds, batch_size)
    out = {}
    for split in ("validation", "test"):
        m = auc_lib.evaluate_embeddings(ds, split, user_emb, item_emb, options=options, seed=seed)
        out[split] = {k: m[k] for k in auc_lib.METRICS}
    return out
