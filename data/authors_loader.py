"""The registry's loader for the authors' datasets: TFDS records prepared once, read back.

    ds = data.authors_loader.load("amazon_fashion", manual_dir="~/Downloads")

The first `load` has the dataset's builder (`data.authors_tfds`) convert
the authors' `.npy` file into TFDS records; later loads read only the
records, a batch of records parsed at a time, and never touch the pickle
again. The image bytes stay on disk until something asks for them
(`ItemImages.from_reader`): a run that streams them once into an image
cache, or reuses one, never holds the encoded catalogue; one that needs
random access to them reads them once (`ItemImages.encoded`).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import logging

from common.runtime import Progress
from data import images
from data.authors_tfds import BUILDERS, PUBLISHED_AT, USER_LISTS, AuthorsBuilder
from data.core import AMAZON_FASHION_CATEGORIES, DataError, ItemImages, RecDataset, sort_rows

# Items per tf.data batch when reading the records back.
_READ_BATCH = 1024

# Every field of a record (`data.authors_tfds`).
RECORD_FIELDS = ("item", "image", "image_ok", "category", *USER_LISTS)


def load(
    name: str,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    bad_images: str = "fail",
) -> RecDataset:
    """Loads one of the authors' datasets, preparing TFDS records on first use.

    Args:
      name: "amazon_fashion", "amazon_women", "amazon_men" or "tradesy".
      data_dir: where TFDS keeps prepared records (~/tensorflow_datasets
        when None).
      manual_dir: folder holding the authors' `.npy` file
        (`<data_dir>/downloads/manual` when None). Only read when the
        records are not prepared yet.
      bad_images: "fail" stops at undecodable images and lists their item
        ids; "skip" drops those items and their interactions.

    Returns:
      A RecDataset whose users and items are the authors' ids (item k is
      the authors' productid k unless items were skipped; `item_ids` keeps
      the productids), with the published train/validation/test splits,
      encoded images (`ItemImages.encoded`, RGB JPEG/PNG bytes), and
      categories when the file has them.

    Raises:
      DataError: unknown name; the `.npy` file is missing (the message says
        where to put it and where it is published), malformed or crafted;
        undecodable images with bad_images="fail".
    """
    if name not in BUILDERS:
        raise DataError(f"Unknown authors' dataset {name!r}; known: {', '.join(BUILDERS)}.")
    if bad_images not in ("fail", "skip"):
        raise DataError(f"bad_images must be 'fail' or 'skip', got {bad_images!r}.")
    if data_dir:
        data_dir = os.path.expanduser(data_dir)
    builder = BUILDERS[name](data_dir=data_dir, bad_images=bad_images)
    if not builder.is_prepared():
        _prepare(builder, manual_dir)
        # The file's objects are gone by now, but the allocator keeps their
        # pages; hand them back so the catalogue read next is the only copy.
        _release_freed_memory()
    else:
        logging.info("%s: reading prepared records from %s", name, builder.data_path)
    ds = _read_records(builder, name, bad_images)
    _release_freed_memory()  # the read's parsed batches (~5% of the catalogue)
    return ds


def _release_freed_memory() -> None:
    """Returns the C heap's free pages to the OS (glibc only; a no-op elsewhere).

    Conversion frees hundreds of thousands of ~10 KB image blobs and their
    serialized records; glibc keeps those pages, and the catalogue read back
    next did not reuse them, so the process held the file's size twice
    (measured at 30% of Amazon Fashion, before conversion streamed: 1.36 GB
    resident after conversion, 0.65 GB after this call, TF's own 0.57 GB
    included).
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _prepare(builder: AuthorsBuilder, manual_dir: str | None) -> None:
    default_manual = os.path.join(os.fspath(builder.data_dir_root), "downloads", "manual")
    folder = os.path.expanduser(manual_dir) if manual_dir else default_manual
    path = os.path.join(folder, builder.FILE_NAME)
    if not os.path.isfile(path):
        where = f"--manual_dir={manual_dir}" if manual_dir else f"the TFDS manual dir {folder}"
        raise DataError(
            f"{builder.name}: {builder.FILE_NAME} not found in {where}. "
            f"{builder.manual_instructions()} It is converted once into TFDS records under "
            f"{builder.data_dir_root}; later runs do not need the file."
        )
    logging.info("%s: converting %s into TFDS records (once)", builder.name, path)
    # TFDS prints its banners to stdout, which belongs to the binaries' JSON line.
    with contextlib.redirect_stdout(sys.stderr):
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(
                manual_dir=folder,
                # The records can only come from the local file; never ask GCS.
                try_download_gcs=False,
            )
        )


def _record_batches(builder: AuthorsBuilder, fields: tuple[str, ...] = RECORD_FIELDS):
    """Yields the prepared records as NumPy batches, parsed a batch at a time.

    TFDS's `as_dataset` parses and decodes one example per graph call
    (~150 us an item here, most of a load); `tf.io.parse_example` on a
    batch of serialized records does the same work vectorised. Lists of
    users come back flat with their row lengths.

    Args:
      builder: a prepared builder.
      fields: the record fields to parse (`RECORD_FIELDS` or a subset).

    Yields:
      dicts of NumPy arrays, for the fields asked for: item [b] int64, image
      [b] object (bytes), image_ok [b] bool, category [b] int64, and for each
      of train_users, validation_users, test_users the flat [n] int64 users
      plus `<key>_len` [b] int64.
    """
    if builder.info.file_format != tfds.core.FileFormat.TFRECORD:
        raise DataError(
            f"{builder.name}: records under {builder.data_path} are in "
            f"{builder.info.file_format}, not TFRecord; delete that folder to prepare them again."
        )
    every = {
        "item": tf.io.FixedLenFeature([], tf.int64),
        "image": tf.io.FixedLenFeature([], tf.string),
        "image_ok": tf.io.FixedLenFeature([], tf.int64),
        "category": tf.io.FixedLenFeature([], tf.int64),
        **{key: tf.io.RaggedFeature(tf.int64) for key in USER_LISTS},
    }
    spec = {key: every[key] for key in fields}

    def parse(serialized):
        parsed = tf.io.parse_example(serialized, spec)
        out = {k: parsed[k] for k in ("item", "image", "category") if k in parsed}
        if "image_ok" in parsed:
            out["image_ok"] = parsed["image_ok"] != 0
        for key in USER_LISTS:
            if key in parsed:
                out[key] = parsed[key].flat_values
                out[key + "_len"] = parsed[key].row_lengths()
        return out

    files = [os.fspath(path) for path in builder.info.splits["items"].filepaths]
    dataset = (
        tf.data.TFRecordDataset(files, buffer_size=8 << 20)
        .batch(_READ_BATCH)
        .map(parse, num_parallel_calls=2, deterministic=True)
        .prefetch(1)
    )
    for batch in dataset:
        yield {key: value.numpy() for key, value in batch.items()}


def _image_chunks(builder: AuthorsBuilder, name: str, itemnum: int):
    """Yields the records' images as [b] object arrays of bytes, in item order, with progress."""
    progress = Progress(itemnum, "images", interval=10.0, prefix=f"{name}: reading images")
    progress.last = progress.start  # short reads print nothing
    done = 0
    for batch in _record_batches(builder, ("item", "image")):
        if not np.array_equal(batch["item"], np.arange(done, done + len(batch["item"]))):
            raise DataError(
                f"{name}: the records under {builder.data_path} are no longer in item order "
                f"(changed since they were loaded?); delete that folder to prepare them again."
            )
        done += len(batch["item"])
        progress.update(done)
        yield batch["image"]


def _read_records(builder: AuthorsBuilder, name: str, bad_images: str) -> RecDataset:
    metadata = builder.info.metadata
    usernum, itemnum = int(metadata["usernum"]), int(metadata["itemnum"])
    source = str(metadata.get("source", builder.FILE_NAME))
    # Records written with the images' digest (all images fine, see
    # `data.authors_tfds`) leave the image bytes on disk until something
    # needs them: a training run on an image cache never reads them.
    digest = metadata.get("images_digest")
    lazy = digest is not None
    fields = tuple(f for f in RECORD_FIELDS if f != "image") if lazy else RECORD_FIELDS
    item_parts, image_parts, ok_parts, category_parts = [], [], [], []
    rows = {"train": [], "validation": [], "test": []}
    progress = Progress(itemnum, "items", interval=10.0, prefix=f"{name}: reading records")
    progress.last = progress.start  # short loads print nothing
    done = 0
    for batch in _record_batches(builder, fields):
        item_parts.append(batch["item"])
        if not lazy:
            image_parts.append(batch["image"])
        ok_parts.append(batch["image_ok"])
        category_parts.append(batch["category"])
        for split in rows:
            users = batch[f"{split}_users"]
            items = np.repeat(batch["item"], batch[f"{split}_users_len"])
            rows[split].append(np.stack([users, items], axis=1))
        done += len(batch["item"])
        progress.update(done)
    if progress.elapsed > progress.interval:
        progress.update(done, force=True)
    item = np.concatenate(item_parts)
    if len(item) != itemnum or not np.array_equal(np.sort(item), np.arange(itemnum)):
        raise DataError(
            f"{name}: the prepared records under {builder.data_path} hold {len(item)} items, "
            f"expected {itemnum}; delete that folder to prepare them again."
        )
    order = np.argsort(item, kind="stable")
    if lazy and not (np.array_equal(item, order) and all(map(np.all, ok_parts))):
        # Not what a digest's records hold (items in order, all fine): read the bytes now.
        lazy = False
        image_parts = [batch["image"] for batch in _record_batches(builder, ("image",))]
    if lazy:
        encoded = None
        item_images = ItemImages.from_reader(
            itemnum, lambda: _image_chunks(builder, name, itemnum), str(digest)
        )
    else:
        encoded = np.concatenate(image_parts)[order]
    del image_parts
    ok = np.concatenate(ok_parts)[order]
    categories = np.concatenate(category_parts)[order].astype(np.int64)
    splits = {
        split: np.concatenate(parts) if parts else np.zeros((0, 2), np.int64)
        for split, parts in rows.items()
    }
    info = {
        "source": source,
        "published_at": PUBLISHED_AT + builder.FILE_NAME,
        "records": str(builder.data_path),
        "usernum": usernum,
        "itemnum": itemnum,
    }

    item_ids = np.arange(itemnum)
    if not ok.all():
        bad = np.flatnonzero(~ok)
        # Raises with the item ids for "fail"; logs them for "skip".
        images.check_images(list(encoded[bad]), item_ids[bad].tolist(), source, bad_images)
        keep = ok
        new_index = np.cumsum(keep) - 1
        for split, pairs in splits.items():
            pairs = pairs[keep[pairs[:, 1]]]
            pairs[:, 1] = new_index[pairs[:, 1]]
            splits[split] = pairs
        encoded, categories, item_ids = encoded[keep], categories[keep], item_ids[keep]
        info["skipped_items"] = len(bad)
        info["skipped_item_ids"] = bad[: images.MAX_LISTED].tolist()

    has_categories = bool((categories >= 0).any())
    if has_categories and name == "amazon_fashion":
        if categories.max() >= len(AMAZON_FASHION_CATEGORIES):
            raise DataError(
                f"{name}: category index {categories.max()} in {source}; Amazon Fashion has "
                f"{len(AMAZON_FASHION_CATEGORIES)} categories."
            )
        names = AMAZON_FASHION_CATEGORIES
    elif has_categories:
        names = tuple(f"category_{k}" for k in range(int(categories.max()) + 1))
    else:
        names = ()
    return RecDataset(
        name=name,
        num_users=usernum,
        num_items=len(item_ids),
        train=sort_rows(splits["train"]),
        validation=sort_rows(splits["validation"]),
        test=sort_rows(splits["test"]),
        item_ids=np.asarray([str(i) for i in item_ids], dtype=object),
        user_ids=np.asarray([str(u) for u in range(usernum)], dtype=object),
        categories=categories if has_categories else None,
        category_names=names,
        images=item_images if encoded is None else ItemImages(encoded=encoded),
        info=info,
    )
