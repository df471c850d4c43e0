"""Bring-your-own catalogue (`--dataset=custom`): loading and writing the folder.

A custom catalogue is a folder:

    DIR/interactions.csv   user_id,item_id[,timestamp][,split]   (header required)
    DIR/items.csv          item_id[,category]                      (optional)
    DIR/images/<item_id>.jpg | .jpeg | .png                         (optional)

Columns are found by header name, in any order. Ids are strings (kept
verbatim apart from surrounding white space). `timestamp` is a number
(e.g. Unix seconds). `split` is `train`, `validation` or `test`.
`category` is a name (`women_shoes`) or a non-negative integer index;
empty or -1 means unknown.

How the split is made:

- With a `split` column, rows are used as given, and users may hold any
  number of validation and test rows. Users with no `train` row are
  dropped with their rows (and reported): nothing can be learnt about
  them, and the training sampler draws a positive from every user's train
  items.
- Otherwise as the paper (Section IV-A): users with fewer than 5
  interactions are dropped, and one interaction per user is withheld for
  validation and one for test, chosen at random from `seed`, or, with
  `split_by_time`, the latest (test) and the second latest (validation)
  by `timestamp` (ties broken at random from `seed`).

Users and items are indexed in sorted order of their ids, and the random
split is drawn after sorting, so the result does not depend on the order
of the rows in the file.

When `images/` exists every kept item needs a decodable image; items
without one stop the load with a list of their ids, or, with
`bad_images="skip"`, are dropped with their interactions. Users who then
fall below 5 interactions (or lose all train rows) are dropped as well,
and so are items left without any interaction. Every drop is logged and
recorded in `RecDataset.info["dropped"]`.

Duplicate (user, item) rows are an error rather than silently merged:
they usually mean a join went wrong upstream, and silently merging them
would change how often an item counts as observed (the cold-item flag).
"""

from __future__ import annotations

import csv
import os
import re

import numpy as np
from absl import logging

from data.core import (
    AMAZON_FASHION_CATEGORIES,
    DataError,
    ItemImages,
    RecDataset,
    as_str_ids,
    sort_rows,
)
from data.csv_reader import (
    check_nonempty,
    duplicate_lines,
    listed,
    parse_splits,
    parse_timestamps,
    read_csv,
)
from data.images import MAX_LISTED, check_images
from data.splits import hold_out_per_user

INTERACTIONS_FILE = "interactions.csv"
ITEMS_FILE = "items.csv"
IMAGES_DIR = "images"
INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp", "split")
ITEM_COLUMNS = ("item_id", "category")
SPLITS = ("train", "validation", "test")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png")

# The paper keeps users with at least 5 interactions (Section IV-A), so
# that each keeps at least 3 for training after the two held-out ones.
MIN_USER_INTERACTIONS = 5


# ----------------------------------------------------------------------------
# items.csv and images/.


def _read_items_csv(path: str, item_ids: np.ndarray):
    """Categories of `item_ids` (all ids in interactions.csv) from items.csv.

    Items of items.csv that no interaction mentions are ignored (logged).

    Returns:
      categories: [len(item_ids)] int64, -1 where unknown; None if the file
        has no category column.
      names: category names, indexed by category.
    """
    usage = "item_id[,category]"
    columns, lines = read_csv(path, ITEM_COLUMNS, ("item_id",), usage)
    check_nonempty(path, "item_id", columns["item_id"], lines)
    dups = duplicate_lines(columns["item_id"], lines)
    ids = columns["item_id"].tolist()
    if dups:
        shown = "; ".join(f"line {a} repeats line {b}" for a, b in dups[:MAX_LISTED])
        raise DataError(
            f"{path}: {len(dups)} duplicate item_id row(s) ({shown}); list each item once."
        )
    position = {item: k for k, item in enumerate(ids)}
    unknown = sorted(set(ids) - set(item_ids.tolist()))
    if unknown:
        logging.info(
            "%s: ignoring %d item(s) that no interaction mentions: %s",
            path,
            len(unknown),
            listed(unknown),
        )
    if "category" not in columns:
        return None, ()
    raw = columns["category"].tolist()
    known = [(k, v) for k, v in enumerate(raw) if v and v != "-1"]
    if all(re.fullmatch(r"\d+", v) for _, v in known):
        # Integer categories are indices, as in the authors' one-hot order.
        per_row = np.full(len(raw), -1, np.int64)
        for k, v in known:
            per_row[k] = int(v)
        names = tuple(str(c) for c in range(int(per_row.max()) + 1)) if known else ()
    else:
        found = sorted({v for _, v in known})
        # Amazon's names keep the authors' order, so that category k means
        # the same class as in the paper's data and the pretrained GANs.
        if set(found) <= set(AMAZON_FASHION_CATEGORIES):
            names = AMAZON_FASHION_CATEGORIES
        else:
            names = tuple(found)
        index = {name: c for c, name in enumerate(names)}
        per_row = np.full(len(raw), -1, np.int64)
        for k, v in known:
            per_row[k] = index[v]
    categories = np.asarray(
        [per_row[position[item]] if item in position else -1 for item in item_ids.tolist()],
        np.int64,
    )
    return categories, names


def _image_files(images_dir: str, wanted: np.ndarray) -> tuple[dict[str, str], dict]:
    """Maps item ids to image paths in `images_dir`; reports duplicates and strays."""
    by_item: dict[str, list[str]] = {}
    others = 0
    with os.scandir(images_dir) as entries:
        for entry in entries:
            stem, ext = os.path.splitext(entry.name)
            if entry.is_file() and ext.lower() in IMAGE_EXTENSIONS:
                by_item.setdefault(stem, []).append(entry.name)
            else:
                others += 1
    wanted_set = set(wanted.tolist())
    ambiguous = sorted(
        item for item, names in by_item.items() if len(names) > 1 and item in wanted_set
    )
    if ambiguous:
        shown = "; ".join(
            f"{item}: {', '.join(sorted(by_item[item]))}" for item in ambiguous[:MAX_LISTED]
        )
        raise DataError(
            f"{images_dir}: {len(ambiguous)} item(s) have more than one image ({shown}); "
            f"keep one file per item."
        )
    unused = len(set(by_item) - wanted_set)
    if others or unused:
        logging.info(
            "%s: ignoring %d file(s) that are not .jpg/.jpeg/.png and %d image(s) of items "
            "not in use.",
            images_dir,
            others,
            unused,
        )
    paths = {item: os.path.join(images_dir, names[0]) for item, names in by_item.items()}
    return paths, {"ignored_files": others, "unused_images": unused}


def _read_images(images_dir: str, item_ids: np.ndarray, bad_images: str):
    """Reads and checks the images of `item_ids`.

    Returns:
      encoded: [n] object array of bytes (None where missing).
      missing: [n] bool, no image file.
      undecodable: [n] bool, a file that does not decode.
      facts: counts for the report.
    """
    paths, facts = _image_files(images_dir, item_ids)
    encoded = np.empty(len(item_ids), dtype=object)
    missing = np.zeros(len(item_ids), bool)
    for k, item in enumerate(item_ids.tolist()):
        path = paths.get(item)
        if path is None:
            missing[k] = True
            continue
        with open(path, "rb") as f:
            encoded[k] = f.read()
    if missing.any():
        message = (
            f"{missing.sum()} of {len(item_ids)} items have no image in {images_dir} "
            f"(expected {IMAGES_DIR}/<item_id>.jpg, .jpeg or .png): item ids "
            f"{listed(item_ids[missing])}"
        )
        if bad_images == "fail":
            raise DataError(
                message + "; add them, remove the images/ folder to use the catalogue without "
                "images, or pass --bad_images=skip to drop those items."
            )
        logging.warning("Skipping their items: %s.", message)
    present = np.flatnonzero(~missing)
    ok = check_images(encoded[present], item_ids[present], images_dir, bad_images)
    undecodable = np.zeros(len(item_ids), bool)
    undecodable[present[~ok]] = True
    return encoded, missing, undecodable, facts


# ----------------------------------------------------------------------------
# The loader.


class _Drops:
    """Collects what was dropped and why, for the log and `info['dropped']`."""

    def __init__(self, source: str):
        self.source = source
        self.entries: dict[str, dict[str, int]] = {}

    def add(self, reason: str, users: int = 0, items: int = 0, rows: int = 0) -> None:
        if users or items or rows:
            self.entries[reason] = {"users": int(users), "items": int(items), "rows": int(rows)}
            logging.info(
                "%s: dropped %d user(s), %d item(s), %d interaction row(s): %s.",
                self.source,
                users,
                items,
                rows,
                reason,
            )


def load(
    custom_dir: str, seed: int = 0, split_by_time: bool = False, bad_images: str = "fail"
) -> RecDataset:
    """Loads a custom catalogue folder (layout in the module docstring).

    Args:
      custom_dir: folder holding interactions.csv (and optionally items.csv
        and images/).
      seed: seed of the random held-out choice (and of tie-breaking with
        split_by_time). Unused when the file has a split column.
      split_by_time: hold out each user's latest interactions instead of
        random ones; needs a timestamp column.
      bad_images: "fail" stops on items whose image is missing or does not
        decode; "skip" drops those items and their interactions.

    Returns:
      A RecDataset named "custom:<folder name>"; images are kept encoded
      (ItemImages.encoded, [num_items] object array of bytes) when
      images/ exists, else None. `info` records the source, the split mode,
      the input counts and every drop (`info["dropped"]`: reason ->
      {"users", "items", "rows"}).

    Raises:
      DataError: a missing, empty or malformed file, bad ids, duplicate
        rows, unknown split values, non-numeric timestamps, missing or
        undecodable images (without skip), or nothing left after the
        drops. The message names the file and line.
    """
    if bad_images not in ("fail", "skip"):
        raise DataError(f"bad_images must be 'fail' or 'skip', got {bad_images!r}.")
    folder = os.path.abspath(os.path.expanduser(custom_dir))
    if not os.path.isdir(folder):
        raise DataError(
            f"--custom_dir={custom_dir} is not a folder; it must hold {INTERACTIONS_FILE}."
        )
    name = "custom:" + os.path.basename(os.path.normpath(folder))
    path = os.path.join(folder, INTERACTIONS_FILE)
    usage = "user_id,item_id[,timestamp][,split]"
    columns, lines = read_csv(path, INTERACTION_COLUMNS, ("user_id", "item_id"), usage)
    for column in ("user_id", "item_id"):
        check_nonempty(path, column, columns[column], lines)

    given_split = "split" in columns
    if given_split and split_by_time:
        raise DataError(
            f"{path} has a split column, which is used as given, so --split_by_time does not "
            f"apply; drop the flag or the column."
        )
    if split_by_time and "timestamp" not in columns:
        raise DataError(
            f"--split_by_time needs a timestamp column in {path}; its columns are "
            f"{', '.join(columns)}."
        )
    split_codes = parse_splits(path, columns["split"], lines, SPLITS) if given_split else None
    stamps = parse_timestamps(path, columns["timestamp"], lines) if "timestamp" in columns else None

    # Sorted-id indexing makes everything below independent of row order.
    user_ids, users = np.unique(columns["user_id"], return_inverse=True)
    item_ids, items = np.unique(columns["item_id"], return_inverse=True)
    users = users.astype(np.int64).ravel()
    items = items.astype(np.int64).ravel()
    dups = duplicate_lines(users * len(item_ids) + items, lines)
    if dups:
        shown = "; ".join(f"line {a} repeats line {b}" for a, b in dups[:MAX_LISTED])
        raise DataError(
            f"{path}: {len(dups)} duplicate (user_id, item_id) row(s) ({shown}); deduplicate "
            f"the file, keeping one row per pair (e.g. the earliest; with pandas: "
            f"`df.drop_duplicates(['user_id', 'item_id'])`)."
        )
    # items.csv is checked before the (slow) image check, so its errors come first.
    categories, category_names = None, ()
    items_path = os.path.join(folder, ITEMS_FILE)
    if os.path.exists(items_path):
        categories, category_names = _read_items_csv(items_path, item_ids)

    info = {
        "source": folder,
        "input": {"users": len(user_ids), "items": len(item_ids), "rows": len(users)},
        "split": "given" if given_split else ("time" if split_by_time else "random"),
        "seed": None if given_split else seed,
        "items_file": items_path if os.path.exists(items_path) else None,
    }
    drops = _Drops(name)
    keep = np.ones(len(users), bool)

    def drop_users(reason: str) -> None:
        """Drops users failing the split's requirement, with all their rows."""
        if given_split:
            has_train = np.bincount(users[keep & (split_codes == 0)], minlength=len(user_ids))
            bad_user = has_train == 0
        else:
            counts = np.bincount(users[keep], minlength=len(user_ids))
            bad_user = counts < MIN_USER_INTERACTIONS
        active = np.bincount(users[keep], minlength=len(user_ids)) > 0
        gone = keep & bad_user[users]
        keep[gone] = False
        drops.add(reason, users=(bad_user & active).sum(), rows=gone.sum())

    if given_split:
        user_reasons = (
            "users with no train rows (nothing to learn them from)",
            "users left with no train rows after dropping items without a usable image",
        )
    else:
        user_reasons = (
            f"users with fewer than {MIN_USER_INTERACTIONS} interactions",
            f"users left with fewer than {MIN_USER_INTERACTIONS} interactions after dropping "
            f"items without a usable image",
        )
    drop_users(user_reasons[0])

    images_dir = os.path.join(folder, IMAGES_DIR)
    encoded = None
    if os.path.isdir(images_dir):
        candidates = np.flatnonzero(np.bincount(items[keep], minlength=len(item_ids)) > 0)
        blobs, missing, undecodable, facts = _read_images(
            images_dir, item_ids[candidates], bad_images
        )
        info["images"] = {
            "dir": images_dir,
            "missing": int(missing.sum()),
            "undecodable": int(undecodable.sum()),
            **facts,
        }
        encoded = np.empty(len(item_ids), dtype=object)
        encoded[candidates] = blobs
        bad_item = np.zeros(len(item_ids), bool)
        bad_item[candidates[missing | undecodable]] = True
        gone = keep & bad_item[items]
        keep[gone] = False
        drops.add(
            "items whose image is missing or does not decode (--bad_images=skip)",
            items=bad_item.sum(),
            rows=gone.sum(),
        )
        drop_users(user_reasons[1])
    else:
        info["images"] = None

    item_rows = np.bincount(items[keep], minlength=len(item_ids))
    dropped_items = np.bincount(items, minlength=len(item_ids)) > 0
    if encoded is not None:
        dropped_items &= ~bad_item
    drops.add(
        "items left without interactions (all their users were dropped)",
        items=(dropped_items & (item_rows == 0)).sum(),
    )
    info["dropped"] = drops.entries

    kept_users = np.flatnonzero(np.bincount(users[keep], minlength=len(user_ids)) > 0)
    kept_items = np.flatnonzero(item_rows > 0)
    if not len(kept_users):
        raise DataError(
            f"{path}: no user is left after the drops ({drops.entries}); "
            + (
                "give every user train rows."
                if given_split
                else f"the paper's split needs users with at least {MIN_USER_INTERACTIONS} "
                f"interactions (or add a split column to split it yourself)."
            )
        )
    user_map = np.full(len(user_ids), -1, np.int64)
    user_map[kept_users] = np.arange(len(kept_users))
    item_map = np.full(len(item_ids), -1, np.int64)
    item_map[kept_items] = np.arange(len(kept_items))
    rows = np.stack([user_map[users[keep]], item_map[items[keep]]], axis=1)

    if given_split:
        codes = split_codes[keep]
        splits = [sort_rows(rows[codes == c]) for c in range(len(SPLITS))]
    else:
        # Rows in (user, item) order before the random keys are drawn, so the
        # split does not depend on the order of the file's rows.
        canonical = np.lexsort((rows[:, 1], rows[:, 0]))
        train, test, validation = hold_out_per_user(
            rows[canonical],
            np.random.default_rng(seed),
            timestamps=stamps[keep][canonical] if split_by_time else None,
        )
        splits = [train, validation, test]

    images = None
    if encoded is not None:
        images = ItemImages(encoded=encoded[kept_items])

    info["counts"] = {
        "users": len(kept_users),
        "items": len(kept_items),
        **{split: len(r) for split, r in zip(SPLITS, splits, strict=True)},
    }
    logging.info("%s: %s", name, info["counts"])
    return RecDataset(
        name=name,
        num_users=len(kept_users),
        num_items=len(kept_items),
        train=splits[0],
        validation=splits[1],
        test=splits[2],
        item_ids=as_str_ids(item_ids[kept_items]),
        user_ids=as_str_ids(user_ids[kept_users]),
        categories=None if categories is None else categories[kept_items],
        category_names=category_names,
        images=images,
        info=info,
    )


# ----------------------------------------------------------------------------
# Writing the custom format.


def write_csv_files(ds: RecDataset, folder: str) -> dict[str, int]:
    """Writes `ds` as a custom catalogue (interactions.csv with a split column, items.csv).

    Images are not written. items.csv carries a category column only when
    the dataset has categories. The caller makes the write atomic (e.g.
    `common.runtime.atomic_write_dir`).

    Args:
      ds: the dataset.
      folder: an existing folder.

    Returns:
      Counts: users, items, train_interactions, val_interactions,
      test_interactions.
    """
    with open(os.path.join(folder, INTERACTIONS_FILE), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["user_id", "item_id", "split"])
        for split in SPLITS:
            rows = ds.split(split)
            writer.writerows(
                zip(
                    ds.user_ids[rows[:, 0]],
                    ds.item_ids[rows[:, 1]],
                    [split] * len(rows),
                    strict=True,
                )
            )
    with open(os.path.join(folder, ITEMS_FILE), "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if ds.categories is None:
            writer.writerow(["item_id"])
            writer.writerows([item] for item in ds.item_ids)
        else:
            names = [""] + list(ds.category_names)  # -1 (unknown) -> ""
            writer.writerow(["item_id", "category"])
            writer.writerows(zip(ds.item_ids, [names[c + 1] for c in ds.categories], strict=True))
    return {
        "users": ds.num_users,
        "items": ds.num_items,
        "train_interactions": len(ds.train),
        "val_interactions": len(ds.validation),
        "test_interactions": len(ds.test),
    }
