"""Reads the authors' published `.npy` datasets without trusting them.

The paper's image datasets exist only as the authors' files
(`AmazonFashion6ImgPartitioned.npy`, ...; see AUTHORS_CODE.md): a `.npy`
header for a 6-element object array followed by a Python 2 pickle of

    [user_train, user_validation, user_test, Item, usernum, itemnum]

`np.load(allow_pickle=True)` would run whatever a crafted file asks for, so
this module parses the header itself and unpickles the rest with an
unpickler that can build only what the format contains: dicts, lists,
tuples, strings, numbers, NumPy arrays, dtypes and scalars. Anything else
(`os.system`, `builtins.eval`, ...) is refused before it is imported.

Both forms that circulate are accepted:
  - the authors' own files (Python 2 `str` keys and image blobs), read
    here as `bytes` (`b'productid'`, `b'imgs'`, ...);
  - files re-saved by Python 3 after `np.load(..., encoding='latin1')`,
    whose keys are `str` and whose `imgs` is a latin-1 `str`.

The result is normalised into `AuthorsData` (plain ints, bytes and str).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import pickle
from collections.abc import Iterable

import numpy as np
from absl import logging
from numpy.lib import format as npy_format

from common.runtime import Progress
from data.core import DataError

# The authors' files are [user_train, user_validation, user_test, Item, usernum, itemnum].
NUM_OBJECTS = 6

# Where the authors publish their files (linked from github.com/kang205/DVBPR).
PUBLISHED_AT = "http://cseweb.ucsd.edu/~wckang/DVBPR/"

# Files smaller than this read in well under a second: no progress lines.
_PROGRESS_MIN_BYTES = 64 << 20

# (module, name) pairs an authors' file may import, and where NumPy keeps
# them now. NumPy 1.x wrote `numpy.core.multiarray`; NumPy 2 moved it to
# `numpy._core` (importing the old path only warns), so both spellings
# resolve to the current object directly.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): ("_core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): ("_core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): ("_core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): ("_core.multiarray", "scalar"),
    ("numpy", "ndarray"): ("", "ndarray"),
    ("numpy", "dtype"): ("", "dtype"),
}


def _numpy_attr(submodule: str, name: str):
    """numpy.<submodule>.<name>, trying NumPy 2's `_core` then NumPy 1's `core`."""
    if not submodule:
        return getattr(np, name)
    try:
        module = importlib.import_module(f"numpy.{submodule}")
    except ImportError:  # NumPy 1.x has no numpy._core.
        module = importlib.import_module("numpy." + submodule.replace("_core", "core"))
    return getattr(module, name)


@dataclasses.dataclass
class AuthorsData:
    """The content of one authors' file, as plain Python values.

    Attributes:
      user_train: {user: [item, ...]} training items in file order
        (repeats kept).
      user_validation: {user: [item]} the one validation item per user.
      user_test: {user: [item]} the one test item per user.
      items: {item: {"image": bytes (encoded JPEG/PNG, as published),
        "asin": str | None, "category": int | None}}, one entry for every
        item in 0..itemnum-1. `category` is the index of the one-hot `c`
        vector (Amazon Fashion's order: see data.core.AMAZON_FASHION_CATEGORIES).
      usernum: number of users; user ids are in [0, usernum).
      itemnum: number of items; item ids are in [0, itemnum).
    """

    user_train: dict[int, list[int]]
    user_validation: dict[int, list[int]]
    user_test: dict[int, list[int]]
    items: dict[int, dict]
    usernum: int
    itemnum: int


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that imports nothing but the few NumPy names the format uses."""

    def __init__(self, file, source: str, encoding: str):
        super().__init__(file, encoding=encoding)
        self._source = source

    def find_class(self, module: str, name: str):
        target = _ALLOWED_GLOBALS.get((module, name))
        if target is None:
            raise DataError(
                f"refusing to load {self._source}: it asks to import {module}.{name}, which "
                "the authors' format never uses; the file may be crafted to run code on "
                f"your machine. Use the file as published on the authors' page ({PUBLISHED_AT}); "
                "if you made it yourself, save only dicts, lists, str/bytes, numbers and "
                "NumPy arrays."
            )
        return _numpy_attr(*target)

    def persistent_load(self, pid):
        raise DataError(
            f"refusing to load {self._source}: it holds a persistent reference, which the "
            "authors' format never uses."
        )


class _CountingReader:
    """File wrapper that reports bytes consumed to a `Progress`.

    The C unpickler reads through `peek` (prefetch) and `read`/`readinto`
    (consume), a few calls per 100 KB, so counting here costs nothing
    measurable.
    """

    def __init__(self, raw, progress: Progress | None, offset: int):
        self._raw = raw
        self._progress = progress
        self._done = offset
        self.peek = raw.peek

    def _advance(self, n: int) -> None:
        self._done += n
        if self._progress is not None:
            self._progress.update(self._done >> 20)

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self._advance(len(data))
        return data

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)
        self._advance(n or 0)
        return n

    def readline(self, limit: int = -1) -> bytes:
        data = self._raw.readline(limit)
        self._advance(len(data))
        return data


def read_authors_npy(path: str, encoding: str = "bytes") -> AuthorsData:
    """Reads and validates one of the authors' `.npy` files, safely.

    Args:
      path: e.g. ".../AmazonFashion6ImgPartitioned.npy".
      encoding: how Python 2 `str` in the pickle is decoded: "bytes"
        (default; no copies of the image blobs) or "latin1" (as
        `np.load(encoding='latin1')`). Either gives the same result.

    Returns:
      The normalised `AuthorsData`.

    Raises:
      DataError: the file is missing, is not a `.npy` file, is not in the
        authors' format (the message names the offending user or item),
        is truncated, or asks to import anything but NumPy's array
        reconstruction (a crafted file).
    """
    if encoding not in ("bytes", "latin1"):
        raise ValueError(f"encoding must be 'bytes' or 'latin1', got {encoding!r}.")
    if not os.path.isfile(path):
        raise DataError(f"{path} does not exist.")
    size = os.path.getsize(path)
    # A large buffer: the authors' files are GBs of image blobs read sequentially.
    with open(path, "rb", buffering=1 << 20) as f:
        _read_header(f, path)
        # Only files that take a while to read get progress lines.
        progress = None
        if size >= _PROGRESS_MIN_BYTES:
            progress = Progress(size >> 20, "MB", interval=10.0, prefix=f"reading {path}")
            progress.last = progress.start  # first line after one interval, with a real rate
        reader = _CountingReader(f, progress, f.tell())
        try:
            array = _RestrictedUnpickler(reader, path, encoding).load()
        except (DataError, MemoryError):
            raise
        except Exception as err:  # pickle raises many types on damaged input.
            raise DataError(
                f"{path} is truncated or damaged ({type(err).__name__}: {err}); download it "
                f"again from the authors' page, {PUBLISHED_AT}."
            ) from err
        if progress is not None and progress.elapsed > progress.interval:
            progress.update(size >> 20, force=True)
    if not isinstance(array, np.ndarray) or array.dtype != object or array.shape != (6,):
        raise _format_error(path, f"the pickle holds {_describe(array)}, not 6 objects")
    objects = list(array)
    del array
    return _normalise(objects, path)


def _read_header(f, path: str) -> None:
    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            shape, _, dtype = npy_format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, _, dtype = npy_format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except ValueError as err:
        raise DataError(
            f"{path} is not in the authors' format: it is not a readable .npy file ({err})."
        ) from err
    if dtype != np.dtype(object):
        raise _format_error(path, f"it holds a {dtype} array of shape {shape}, not pickled objects")
    if tuple(shape) != (NUM_OBJECTS,):
        raise _format_error(path, f"its object array has shape {shape}, not (6,)")


def _format_error(path: str, what: str) -> DataError:
    return DataError(
        f"{path} is not in the authors' format: {what}. Expected np.save of [user_train, "
        f"user_validation, user_test, Item, usernum, itemnum] as published at {PUBLISHED_AT}."
    )


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


_MISSING = object()


def _field(record: dict, key: str):
    """record[key] whether keys were read as str or as bytes."""
    value = record.get(key, _MISSING)
    if value is _MISSING:
        value = record.get(key.encode(), _MISSING)
    return value


def _as_int(value, what: str, path: str) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise _format_error(path, f"{what} is a bool, not an integer id")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, np.ndarray) and value.shape == () and value.dtype.kind in "iu":
        return int(value)
    raise _format_error(path, f"{what} is {_describe(value)}, not an integer id")


def _as_text(value) -> str | None:
    if value is _MISSING or value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _as_image(value, item: int, path: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        # A Python 2 str decoded as latin-1 maps bytes 0..255 to code points 0..255.
        try:
            return value.encode("latin1")
        except UnicodeEncodeError as err:
            raise _format_error(
                path,
                f"item {item}'s 'imgs' is text with characters beyond latin-1; the file was "
                "re-saved with another encoding. Use the file as published",
            ) from err
    if value is _MISSING:
        raise _format_error(path, f"item {item} has no 'imgs' (its encoded image)")
    raise _format_error(path, f"item {item}'s 'imgs' is {_describe(value)}, not encoded bytes")


def _as_category(value, item: int, path: str) -> int | None:
    """Index of the one-hot `c`; None when absent or textual (Men/Women/Tradesy)."""
    if value is _MISSING or value is None or isinstance(value, (str, bytes)):
        return None
    if isinstance(value, np.ndarray) and value.ndim == 1 and len(value):
        index = int(value.argmax())  # fast path: the usual float one-hot array
        return index if value[index] > 0 else None
    try:
        vector = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise _format_error(path, f"item {item}'s category 'c' is not a numeric vector") from err
    if vector.ndim != 1 or len(vector) == 0:
        raise _format_error(
            path, f"item {item}'s category 'c' has shape {vector.shape}, not a one-hot vector"
        )
    if not np.any(vector > 0):
        return None
    return int(np.argmax(vector))


def _split(raw, name: str, path: str, usernum: int, itemnum: int, one: bool) -> dict:
    """{user: [records]} -> {user: [item ids]}, validated."""
    if not isinstance(raw, dict):
        raise _format_error(path, f"{name} is {_describe(raw)}, not a dict of users")
    out: dict[int, list[int]] = {}
    for key in list(raw):
        records = raw.pop(key)
        user = _as_int(key, f"a user id in {name} ({key!r})", path)
        if not 0 <= user < usernum:
            raise _format_error(path, f"{name} has user {user} outside [0, usernum={usernum})")
        if not isinstance(records, list):
            raise _format_error(path, f"{name}[{user}] is {_describe(records)}, not a list")
        if one and len(records) != 1:
            raise _format_error(
                path,
                f"{name}[{user}] holds {len(records)} items; the authors' splits hold exactly "
                "one per user",
            )
        items = []
        for record in records:
            if not isinstance(record, dict):
                raise _format_error(
                    path, f"{name}[{user}] holds {_describe(record)}, not a dict with 'productid'"
                )
            value = _field(record, "productid")
            if value is _MISSING:
                raise _format_error(path, f"an entry of {name}[{user}] has no 'productid'")
            item = _as_int(value, f"a productid of {name}[{user}]", path)
            if not 0 <= item < itemnum:
                raise _format_error(
                    path, f"{name}[{user}] has item {item} outside [0, itemnum={itemnum})"
                )
            items.append(item)
        out[user] = items
    return out


def _items(raw, path: str, itemnum: int) -> dict[int, dict]:
    if isinstance(raw, list):
        # The authors' code only indexes Item[i]; a list indexed by item id reads the same.
        entries = dict(enumerate(raw))
        raw.clear()
        raw = entries
    if not isinstance(raw, dict):
        raise _format_error(path, f"Item is {_describe(raw)}, not a dict of items")
    out: dict[int, dict] = {}
    # Pops as it goes so that latin-1 text blobs are freed as soon as their
    # bytes exist: the file's images are held once, not twice.
    for key in list(raw):
        entry = raw.pop(key)
        item = _as_int(key, f"an item id in Item ({key!r})", path)
        if not 0 <= item < itemnum:
            raise _format_error(path, f"Item has item {item} outside [0, itemnum={itemnum})")
        if not isinstance(entry, dict):
            raise _format_error(path, f"Item[{item}] is {_describe(entry)}, not a dict")
        out[item] = {
            "image": _as_image(_field(entry, "imgs"), item, path),
            "asin": _as_text(_field(entry, "asin")),
            "category": _as_category(_field(entry, "c"), item, path),
        }
    missing = _first_missing(out, itemnum)
    if missing is not None:
        raise _format_error(
            path, f"Item has no entry for item {missing} (itemnum={itemnum}, {len(out)} entries)"
        )
    return out


def _first_missing(keys: Iterable[int], n: int) -> int | None:
    present = np.zeros(n, bool)
    present[np.fromiter(keys, np.int64)] = True
    absent = np.flatnonzero(~present)
    return int(absent[0]) if len(absent) else None


def _normalise(objects: list, path: str) -> AuthorsData:
    usernum = _as_int(objects[4], "usernum (the 5th object)", path)
    itemnum = _as_int(objects[5], "itemnum (the 6th object)", path)
    if usernum < 1 or itemnum < 1:
        raise _format_error(path, f"usernum={usernum}, itemnum={itemnum}")
    train = _split(objects[0], "user_train", path, usernum, itemnum, one=False)
    validation = _split(objects[1], "user_validation", path, usernum, itemnum, one=True)
    test = _split(objects[2], "user_test", path, usernum, itemnum, one=True)
    items = _items(objects[3], path, itemnum)
    objects.clear()
    logging.info(
        "%s: %d users, %d items, %d train / %d validation / %d test interactions",
        path,
        usernum,
        itemnum,
        sum(map(len, train.values())),
        len(validation),
        len(test),
    )
    return AuthorsData(
        user_train=train,
        user_validation=validation,
        user_test=test,
        items=items,
        usernum=usernum,
        itemnum=itemnum,
    )
