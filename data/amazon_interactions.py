"""`amazon_fashion_interactions`: the real Amazon Fashion interactions, published split.

The folder (../shared/data/amazon_fashion_interactions, or where
$DVBPR_SHARED_DIR or `--custom_dir` says) holds `users.csv`
(`user_index,reviewer_id`), `items.csv` (`item_index,asin`) and `train.txt` /
`test.txt` (one line per user: `user_index item_index ...`). There are no
images or categories. `python -m data.convert_amazon_interactions` writes
it as a custom catalogue folder.
"""

from __future__ import annotations

import os

import numpy as np
from absl import logging

from data.core import DataError, RecDataset, as_str_ids, sort_rows
from data.csv_reader import check_nonempty, read_csv

NAME = "amazon_fashion_interactions"
SHARED_DIR_ENV = "DVBPR_SHARED_DIR"
# As published (README.md of the folder); a different count is logged.
PUBLISHED_COUNTS = {"users": 3934, "items": 9833, "train": 14695, "test": 6099}


def default_dir() -> str | None:
    """Where the Amazon Fashion interactions are, or None.

    Looks at $DVBPR_SHARED_DIR/data/amazon_fashion_interactions, then for a
    `shared/data/amazon_fashion_interactions` folder beside this file's
    folder or any of its parents (a checkout at <root>/main finds
    <root>/shared).
    """
    relative = os.path.join("data", NAME)
    env = os.environ.get(SHARED_DIR_ENV)
    if env:
        candidate = os.path.join(os.path.expanduser(env), relative)
        return candidate if os.path.isdir(candidate) else None
    here = os.path.dirname(os.path.abspath(__file__))
    while True:
        candidate = os.path.join(here, "shared", relative)
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def _read_index_csv(path: str, header: tuple[str, str]) -> np.ndarray:
    """Reads `index,id` rows into an array of ids ordered by index (0..n-1)."""
    usage = ",".join(header)
    columns, lines = read_csv(path, header, header, usage)
    check_nonempty(path, header[1], columns[header[1]], lines)
    ids = columns[header[1]].tolist()
    try:
        index = columns[header[0]].astype(np.int64)
    except ValueError as err:
        raise DataError(f"{path}: {header[0]} must be integers ({err}).") from err
    if sorted(index.tolist()) != list(range(len(index))):
        raise DataError(f"{path}: {header[0]} must number the rows 0..{len(index) - 1}, each once.")
    out = np.empty(len(index), dtype=object)
    out[index] = ids
    if len(set(ids)) != len(ids):
        raise DataError(f"{path}: an id in column {header[1]} appears twice.")
    return out


def _read_adjacency(path: str, num_users: int, num_items: int) -> np.ndarray:
    """Reads `user item item ...` lines into [n, 2] int64 (user, item) rows."""
    if not os.path.isfile(path):
        raise DataError(f"{path} does not exist; expected lines 'user_index item_index ...'.")
    users, items = [], []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            try:
                numbers = [int(x) for x in fields]
            except ValueError as err:
                raise DataError(
                    f"{path}, line {line_no}: expected integers 'user_index item_index ...' "
                    f"({err})."
                ) from err
            user, line_items = numbers[0], numbers[1:]
            bad = [i for i in line_items if not 0 <= i < num_items]
            if not 0 <= user < num_users or bad:
                raise DataError(
                    f"{path}, line {line_no}: user {user} or item(s) {bad} out of range "
                    f"(users.csv has {num_users} users, items.csv {num_items} items)."
                )
            users.extend([user] * len(line_items))
            items.extend(line_items)
    if not users:
        raise DataError(f"{path} holds no interactions.")
    rows = np.stack([np.asarray(users, np.int64), np.asarray(items, np.int64)], axis=1)
    if len(np.unique(rows[:, 0] * num_items + rows[:, 1])) != len(rows):
        raise DataError(f"{path}: a (user, item) pair appears twice.")
    return rows


def load(path: str | None = None) -> RecDataset:
    """Loads the real Amazon Fashion interactions with their published split.

    The published split has train and test only (users may hold several
    test items), so `validation` is empty: inventing one would change the
    published train set that the README's reference AUCs were measured on.
    Tune on a validation split carved from train yourself, or use
    `--dataset=custom` on the converted folder with your own split column.

    Args:
      path: the folder with train.txt, test.txt, users.csv and items.csv;
        None looks for it (`default_dir`).

    Returns:
      RecDataset "amazon_fashion_interactions": 3,934 users, 9,833 items,
      14,695 train and 6,099 test rows, no images or categories; user_ids
      are reviewer ids and item_ids ASINs.

    Raises:
      DataError: the folder or a file is missing or malformed.
    """
    if path is None:
        path = default_dir()
        if path is None:
            raise DataError(
                f"Cannot find the {NAME} folder: pass --custom_dir=DIR "
                f"(the folder with train.txt, test.txt, users.csv, items.csv), or set "
                f"{SHARED_DIR_ENV} to the folder holding data/{NAME}."
            )
    folder = os.path.abspath(os.path.expanduser(path))
    if not os.path.isdir(folder):
        raise DataError(f"{path} is not a folder; expected the {NAME} folder.")
    user_ids = _read_index_csv(os.path.join(folder, "users.csv"), ("user_index", "reviewer_id"))
    item_ids = _read_index_csv(os.path.join(folder, "items.csv"), ("item_index", "asin"))
    train = _read_adjacency(os.path.join(folder, "train.txt"), len(user_ids), len(item_ids))
    test = _read_adjacency(os.path.join(folder, "test.txt"), len(user_ids), len(item_ids))
    overlap = np.intersect1d(
        train[:, 0] * len(item_ids) + train[:, 1], test[:, 0] * len(item_ids) + test[:, 1]
    )
    if len(overlap):
        raise DataError(f"{folder}: {len(overlap)} (user, item) pairs are in train and test.")
    counts = {
        "users": len(user_ids),
        "items": len(item_ids),
        "train": len(train),
        "test": len(test),
    }
    if counts != PUBLISHED_COUNTS:
        logging.warning(
            "%s: counts %s differ from the published %s.",
            folder,
            counts,
            PUBLISHED_COUNTS,
        )
    return RecDataset(
        name=NAME,
        num_users=len(user_ids),
        num_items=len(item_ids),
        train=sort_rows(train),
        validation=np.zeros((0, 2), np.int64),
        test=sort_rows(test),
        item_ids=as_str_ids(item_ids),
        user_ids=as_str_ids(user_ids),
        info={
            "source": folder,
            "split": "published (train/test; no validation split is published)",
            "counts": counts,
        },
    )
