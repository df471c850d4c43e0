"""Pre-trained visual features of a catalogue, for VisRank, FM and VBPR.

    feats = data.features.load_features(ds, "efficientnet_lite0", cache_dir="~/.cache/dvbpr")
    feats = data.features.load_features(ds, "mcauley", mcauley_path="image_features_Men.b")

Extractors:
  efficientnet_lite0: the 1280-d pooled features of the ImageNet
    EfficientNet-Lite0 (`metrics.efficientnet_lite`), computed offline from the
    dataset's images at 224x224 ("efficientnet_lite0_112": at 112x112, a
    quarter of the cost, for catalogues of small images).
  mcauley: the 4096-d features McAuley et al. published for the Amazon
    data (`image_features_*.b`), read from the file (`read_mcauley_features`).
  pixels: the item image shrunk to 8x8 RGB (192-d, in [-1, 1]); no
    network, for tests and quick looks.

Features are cached at `<cache_dir>/<dataset>/<extractor>.npy` ([num_items,
D] float32; `<dataset>` is the registry name, so configs nest as folders),
written atomically, with a `.json` sidecar recording the number of items and
a fingerprint of the item ids: a cache written for another catalogue (say,
another simulator seed) is recomputed instead of used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

import numpy as np
from absl import logging

from common import arrays
from common.runtime import Progress
from data.core import DataError, RecDataset

EXTRACTORS = ("efficientnet_lite0", "efficientnet_lite0_112", "mcauley", "pixels")

# McAuley's records: a 10-byte ASIN, then 4096 little-endian float32.
MCAULEY_ASIN_BYTES = 10
MCAULEY_DIM = 4096


def _record_dtype(dim: int) -> np.dtype:
    return np.dtype([("asin", f"S{MCAULEY_ASIN_BYTES}"), ("f", "<f4", (dim,))])


def write_mcauley_features(path: str, asins, features: np.ndarray) -> None:
    """Writes features in McAuley's `image_features_*.b` layout (for tests and tools).

    Args:
      path: output file.
      asins: N ids of at most 10 ASCII characters (shorter ones are padded
        with spaces, as ASINs are always 10).
      features: [N, D] float32.
    """
    features = np.asarray(features, np.float32)
    records = np.zeros(len(features), _record_dtype(features.shape[1]))
    records["asin"] = [str(a).ljust(MCAULEY_ASIN_BYTES).encode("ascii") for a in asins]
    records["f"] = features
    with open(path, "wb") as f:
        f.write(records.tobytes())


def read_mcauley_features(
    path: str,
    item_ids,
    dim: int = MCAULEY_DIM,
    chunk_records: int = 4096,
) -> np.ndarray:
    """Reads McAuley's binary features for a catalogue, streaming the file.

    The file is a plain sequence of records (10-byte ASIN, then `dim`
    little-endian float32) with no header; the Amazon files are tens of GB,
    so it is read `chunk_records` records at a time and only the catalogue's
    rows are kept. ASINs are matched to `item_ids` vectorised (sorted ids +
    searchsorted), not per record in Python.

    Args:
      path: the `.b` file.
      item_ids: [num_items] the catalogue's external ids (ASINs), in item
        index order.
      dim: floats per record.
      chunk_records: records per read.

    Returns:
      [num_items, dim] float32; rows of items the file does not have are
      zero (a warning gives their count, and the count of records whose ASIN
      is not in the catalogue).

    Raises:
      DataError: missing file, or a size that is not a whole number of
        records (a truncated download or the wrong `dim`).
    """
    if not os.path.exists(path):
        raise DataError(f"McAuley features file {path} does not exist.")
    rtype = _record_dtype(dim)
    size = os.path.getsize(path)
    if size % rtype.itemsize:
        raise DataError(
            f"{path}: {size} bytes is not a whole number of {rtype.itemsize}-byte records "
            f"(10-byte ASIN + {dim} float32); the file is truncated or not McAuley's format."
        )
    ids = np.asarray([str(i).strip().encode("ascii", "replace") for i in item_ids], dtype="S10")
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    out = arrays.aligned_zeros((len(ids), dim))  # shared, not copied, by arrays.constant
    found = np.zeros(len(ids), bool)
    unknown = 0
    progress = Progress(size // rtype.itemsize, "records", interval=10.0, prefix=f"reading {path}")
    progress.last = progress.start  # small files print nothing
    done = 0
    with open(path, "rb") as f:
        while True:
            chunk = np.frombuffer(f.read(chunk_records * rtype.itemsize), rtype)
            if not len(chunk):
                break
            done += len(chunk)
            progress.update(done)
            asins = np.char.strip(chunk["asin"])
            pos = np.searchsorted(sorted_ids, asins).clip(max=max(len(ids) - 1, 0))
            hit = sorted_ids[pos] == asins if len(ids) else np.zeros(len(chunk), bool)
            unknown += int((~hit).sum())
            rows = order[pos[hit]]
            out[rows] = chunk["f"][hit]
            found[rows] = True
    if progress.elapsed > progress.interval:
        progress.update(done, force=True)
    missing = int((~found).sum())
    if missing or unknown:
        logging.warning(
            "%s: %d of %d catalogue items have no features (zeros used); %d records are for "
            "items not in the catalogue.",
            path,
            missing,
            len(ids),
            unknown,
        )
    return out


# ---------------------------------------------------------------------------
# The on-disk cache.


def fingerprint(item_ids) -> str:
    """A short hash of the catalogue's item ids, in order."""
    h = hashlib.sha1()
    for i in item_ids:
        h.update(str(i).encode("utf-8", "replace") + b"\0")
    return h.hexdigest()[:16]


def cache_path(cache_dir: str, dataset_name: str, extractor: str) -> str:
    """`<cache_dir>/<dataset>/<extractor>.npy`."""
    return os.path.join(os.path.expanduser(cache_dir), *dataset_name.split("/"), extractor + ".npy")


def _save_atomic(path: str, array: np.ndarray, meta: dict) -> None:
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide the cache from other users
        # Array first, sidecar last: a kill in between leaves a sidecar that
        # does not match, so the next run recomputes rather than trusts it.
        from common import runtime

        os.replace(tmp, path)
        runtime.atomic_write_text(path[:-4] + ".json", json.dumps(meta, indent=2) + "\n")
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _checked(features, ds: RecDataset, extractor: str) -> np.ndarray:
    features = arrays.aligned(features)
    if features.ndim != 2 or features.shape[0] != ds.num_items:
        raise ValueError(
            f"Extractor {extractor} returned {features.shape}, expected [{ds.num_items}, D]."
        )
    return features


def cached_features(cache_dir: str | None, ds: RecDataset, extractor: str, compute) -> np.ndarray:
    """Features from the cache, or `compute()` written to it.

    Args:
      cache_dir: cache root; None disables caching.
      ds: the dataset (its name and item ids key the cache).
      extractor: extractor name (the file name).
      compute: () -> [num_items, D] float32.

    Returns:
      [num_items, D] float32.
    """
    meta = dict(
        dataset=ds.name, extractor=extractor, num_items=ds.num_items, items=fingerprint(ds.item_ids)
    )
    if cache_dir is None:
        return _checked(compute(), ds, extractor)
    path = cache_path(cache_dir, ds.name, extractor)
    if os.path.exists(path) and os.path.exists(path[:-4] + ".json"):
        with open(path[:-4] + ".json") as f:
            stored = json.load(f)
        if stored.get("num_items") == meta["num_items"] and stored.get("items") == meta["items"]:
            # Memory-mapped copy-on-write: the pages are the file's, read on
            # demand, and the baselines' tensors share them
            # (`common.arrays.constant`; the .npy header keeps the data
            # 64-byte aligned, else `aligned` copies once).
            features = arrays.aligned(np.load(path, mmap_mode="c"))
            if features.shape[0] == ds.num_items:
                logging.info("Features from cache %s %s.", path, features.shape)
                return features
        logging.warning("Cache %s was written for another catalogue; recomputing.", path)
    features = _checked(compute(), ds, extractor)
    _save_atomic(path, features, {**meta, "dim": int(features.shape[1])})
    logging.info("Wrote features cache %s %s.", path, features.shape)
    return features


# ---------------------------------------------------------------------------
# Extractors.


def efficientnet_features(
    ds: RecDataset, batch_size: int = 32, image_size: int = 224, progress: bool = True
) -> np.ndarray:
    """[num_items, 1280] float32 EfficientNet-Lite0 pooled features of the item images.

    Args:
      ds: the dataset (with images).
      batch_size: images per forward pass.
      image_size: network input side; 224 is what the network was trained
        at; 112 costs a quarter and suits catalogues of 64x64 or smaller
        images, which hold no more detail than that.
      progress: report progress on stderr.

    Raises:
      DataError: the dataset has no images.
    """
    import tensorflow as tf

    from common import runtime
    from data import pipeline
    from metrics import efficientnet_lite

    if not ds.has_images:
        raise DataError(f"{ds.name} has no images: visual features cannot be extracted.")
    model = efficientnet_lite.build_model()

    @tf.function(reduce_retracing=True)
    def embed(images):
        return model(images, training=False)["features"]

    out = np.zeros((ds.num_items, efficientnet_lite.FEATURE_DIM), np.float32)
    bar = (
        runtime.Progress(ds.num_items, "images", prefix="EfficientNet-Lite0") if progress else None
    )
    done = 0
    for batch in pipeline.item_dataset(ds, image_size, batch_size):
        out[batch["item"].numpy()] = embed(batch["image"]).numpy()
        done += int(batch["item"].shape[0])
        if bar:
            bar.update(done)
    return out


def pixel_features(ds: RecDataset, size: int = 8) -> np.ndarray:
    """[num_items, size*size*3] float32: each image shrunk to size x size, in [-1, 1]."""
    import tensorflow as tf

    from data import pipeline

    if not ds.has_images:
        raise DataError(f"{ds.name} has no images: visual features cannot be extracted.")
    out = np.zeros((ds.num_items, size * size * 3), np.float32)
    for batch in pipeline.item_dataset(ds, size, 1024):
        out[batch["item"].numpy()] = tf.reshape(batch["image"], [-1, size * size * 3]).numpy()
    return out


def load_features(
    ds: RecDataset,
    extractor: str = "efficientnet_lite0",
    cache_dir: str | None = None,
    mcauley_path: str | None = None,
) -> np.ndarray:
    """Visual features of every item of a dataset.

    Args:
      ds: the dataset.
      extractor: one of EXTRACTORS.
      cache_dir: cache root (see the module docstring); None: no cache.
      mcauley_path: the `image_features_*.b` file (extractor "mcauley").

    Returns:
      [num_items, D] float32.

    Raises:
      DataError: unknown extractor, no images, or no McAuley file.
    """
    if extractor.startswith("efficientnet_lite0"):
        size = extractor[len("efficientnet_lite0") :].lstrip("_") or "224"
        if not size.isdigit() or not 32 <= int(size) <= 1024:
            raise DataError(
                f"Unknown --features={extractor!r}: use efficientnet_lite0 (224x224 input) or "
                "efficientnet_lite0_S for an S x S input, e.g. efficientnet_lite0_112."
            )
        compute = lambda: efficientnet_features(ds, image_size=int(size))  # noqa: E731
    elif extractor == "pixels":
        compute = lambda: pixel_features(ds)  # noqa: E731
    elif extractor == "mcauley":
        if not mcauley_path:
            raise DataError("--features=mcauley needs --mcauley_features=PATH/image_features_*.b.")
        compute = lambda: read_mcauley_features(mcauley_path, ds.item_ids)  # noqa: E731
    else:
        raise DataError(f"Unknown --features={extractor!r}; use one of {', '.join(EXTRACTORS)}.")
    return cached_features(cache_dir, ds, extractor, compute)
