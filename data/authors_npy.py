"""Reads the authors' published `.npy` datasets without trusting them.

The paper's image datasets exist only as the authors' files
(`AmazonFashion6ImgPartitioned.npy`, ...; see AUTHORS_CODE.md): a `.npy`
header for a 6-element object array followed by a Python 2 pickle of

    [user_train, user_validation, user_test, Item, usernum, itemnum]

`np.load(allow_pickle=True)` would run whatever a crafted file asks for, so
this module parses the header itself and unpickles the rest with an
unpickler that can build only what the format contains: dicts, lists,
tuples, strings, numbers, NumPy arrays, dtypes and scalars. Anything else
(`os.system`, `builtins.eval`, ...) is refused before it is imported
(`data.authors_unpickler`).

Both forms that circulate are accepted:
  - the authors' own files (Python 2 `str` keys and image blobs), read
    here as `bytes` (`b'productid'`, `b'imgs'`, ...);
  - files re-saved by Python 3 after `np.load(..., encoding='latin1')`,
    whose keys are `str` and whose `imgs` is a latin-1 `str`.

The result is normalised into `AuthorsData` (plain ints, bytes and str),
or handed out item by item by `AuthorsStream`, which converters use so
that a 2.3 GB file is never held whole.
"""

from __future__ import annotations

import dataclasses
import itertools
import os

import numpy as np
from absl import logging
from numpy.lib import format as npy_format

from common.runtime import Progress
from data.authors_unpickler import PUBLISHED_AT, CountingReader, StreamingUnpickler
from data.core import DataError

# The authors' files are [user_train, user_validation, user_test, Item, usernum, itemnum].
NUM_OBJECTS = 6

# Files smaller than this read in well under a second: no progress lines.
_PROGRESS_MIN_BYTES = 64 << 20


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


class AuthorsStream:
    """One of the authors' `.npy` files, read front to back, item by item.

        stream = AuthorsStream(path)
        stream.user_train, stream.user_validation, stream.user_test  # ready at once
        for item, entry in stream.items():  # {"image", "asin", "category"}
            ...
        stream.usernum, stream.itemnum  # set once items() has ended

    The file pickles the splits first, then the items, then the counts, so
    the splits are read on construction and each item is handed out as
    soon as the pickle has built it: at most one pickle batch of items
    (1,000) is held at a time, not the file's gigabytes of images. Every
    check of `read_authors_npy` is made; those that need the counts
    (ids in range, no item missing) when `items()` ends, so a consumer
    must treat a DataError from the last step as a failure of the whole
    file.

    Args:
      path: e.g. ".../AmazonFashion6ImgPartitioned.npy".
      encoding: how Python 2 `str` in the pickle is decoded: "bytes"
        (default; no copies of the image blobs) or "latin1" (as
        `np.load(encoding='latin1')`). Either gives the same result.

    Raises:
      DataError: see `read_authors_npy`; raised by the constructor for the
        header and the splits' structure, by `items()` for the rest.
    """

    def __init__(self, path: str, encoding: str = "bytes"):
        if encoding not in ("bytes", "latin1"):
            raise ValueError(f"encoding must be 'bytes' or 'latin1', got {encoding!r}.")
        if not os.path.isfile(path):
            raise DataError(f"{path} does not exist.")
        self.path = path
        self.usernum: int | None = None
        self.itemnum: int | None = None
        self._size = os.path.getsize(path)
        # A large buffer: the authors' files are GBs of image blobs read sequentially.
        self._file = open(path, "rb", buffering=1 << 20)  # noqa: SIM115 (closed by items())
        try:
            _read_header(self._file, path)
            # Only files that take a while to read get progress lines.
            self._progress = None
            if self._size >= _PROGRESS_MIN_BYTES:
                self._progress = Progress(
                    self._size >> 20, "MB", interval=10.0, prefix=f"reading {path}"
                )
                self._progress.last = self._progress.start  # first line after an interval
            reader = CountingReader(self._file, self._progress, self._file.tell())
            self._unpickler = StreamingUnpickler(reader, path, encoding)
            self._run = self._unpickler.run()
            self._objects: list | None = None
            self._advance()  # up to the first item, or the end
            raw = self._unpickler.splits or self._top_objects()[:3]
            self.user_train = _split(raw[0], "user_train", path, one=False)
            self.user_validation = _split(raw[1], "user_validation", path, one=True)
            self.user_test = _split(raw[2], "user_test", path, one=True)
            # The memo still holds every (productid, time) record: empty them.
            for value in self._unpickler.memo.values():
                if type(value) is dict and ("productid" in value or b"productid" in value):
                    value.clear()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Closes the file and drops the unpickler (its memo holds every item's small objects)."""
        self._file.close()
        self._unpickler = self._run = self._objects = None

    def _advance(self) -> None:
        """Runs the unpickler until it has items ready or the pickle ends."""
        try:
            next(self._run)
        except StopIteration as stop:
            self._finish_reading(stop.value)
        except (DataError, MemoryError):
            raise
        except Exception as err:  # pickle raises many types on damaged input.
            raise DataError(
                f"{self.path} is truncated or damaged ({type(err).__name__}: {err}); download "
                f"it again from the authors' page, {PUBLISHED_AT}."
            ) from err

    def _finish_reading(self, array) -> None:
        progress = self._progress
        if progress is not None and progress.elapsed > progress.interval:
            progress.update(self._size >> 20, force=True)
        if not isinstance(array, np.ndarray) or array.dtype != object or array.shape != (6,):
            raise _format_error(self.path, f"the pickle holds {_describe(array)}, not 6 objects")
        self._objects = list(array)

    def _top_objects(self) -> list:
        if self._objects is None:
            raise _format_error(self.path, "the pickle ended before its items")
        return self._objects

    def items(self):
        """Yields (item id, {"image": bytes, "asin": str | None, "category": int | None}).

        In file order. When the generator ends, the whole file has been
        read and validated and `usernum` / `itemnum` are set.
        """
        path, ready = self.path, self._unpickler.ready
        seen = []
        try:
            while True:
                while ready:
                    key, raw = ready.popleft()
                    item, entry = _item_entry(key, raw, path)
                    raw.clear()  # the unpickler's memo still holds the dict
                    seen.append(item)
                    yield item, entry
                if self._objects is not None:
                    break
                self._advance()
            objects = self._objects
            container = self._unpickler.container
            self.close()  # all read: the unpickler and its memo can go
            if container is not None and objects[3] is not container:
                raise _format_error(path, "its item entries are not in Item (the 4th object)")
            # Items the unpickler could not hand out (a list, odd entries): read here.
            for key, raw in _item_pairs(objects[3], path):
                item, entry = _item_entry(key, raw, path)
                seen.append(item)
                yield item, entry
            self._check_counts(objects, np.asarray(seen, np.int64))
        finally:
            self.close()

    def _check_counts(self, objects: list, seen: np.ndarray) -> None:
        path = self.path
        usernum = _as_int(objects[4], "usernum (the 5th object)", path)
        itemnum = _as_int(objects[5], "itemnum (the 6th object)", path)
        if usernum < 1 or itemnum < 1:
            raise _format_error(path, f"usernum={usernum}, itemnum={itemnum}")
        for name in ("user_train", "user_validation", "user_test"):
            _check_split_range(getattr(self, name), name, path, usernum, itemnum)
        outside = seen[(seen < 0) | (seen >= itemnum)]
        if len(outside):
            raise _format_error(path, f"Item has item {outside[0]} outside [0, itemnum={itemnum})")
        counts = np.bincount(seen, minlength=itemnum)
        if (counts > 1).any():
            raise _format_error(path, f"Item has item {np.argmax(counts > 1)} twice")
        missing = np.flatnonzero(counts == 0)
        if len(missing):
            raise _format_error(
                path,
                f"Item has no entry for item {missing[0]} (itemnum={itemnum}, {len(seen)} entries)",
            )
        self.usernum, self.itemnum = usernum, itemnum
        logging.info(
            "%s: %d users, %d items, %d train / %d validation / %d test interactions",
            path,
            usernum,
            itemnum,
            sum(map(len, self.user_train.values())),
            len(self.user_validation),
            len(self.user_test),
        )


def read_authors_npy(path: str, encoding: str = "bytes") -> AuthorsData:
    """Reads and validates one of the authors' `.npy` files, safely, whole.

    Converters should iterate an `AuthorsStream` instead, which holds one
    batch of images at a time. Arguments as for `AuthorsStream`.

    Returns:
      The normalised `AuthorsData`.

    Raises:
      DataError: the file is missing, is not a `.npy` file, is not in the
        authors' format (the message names the offending user or item),
        is truncated, or asks to import anything but NumPy's array
        reconstruction (a crafted file).
    """
    stream = AuthorsStream(path, encoding)
    items = dict(stream.items())
    return AuthorsData(
        user_train=stream.user_train,
        user_validation=stream.user_validation,
        user_test=stream.user_test,
        items=items,
        usernum=stream.usernum,
        itemnum=stream.itemnum,
    )


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


def _split(raw, name: str, path: str, one: bool) -> dict:
    """{user: [records]} -> {user: [item ids]}, validated but for the id ranges.

    The ranges need usernum / itemnum, which the file stores after the
    items: `_check_split_range` checks them at the end.
    """
    if not isinstance(raw, dict):
        raise _format_error(path, f"{name} is {_describe(raw)}, not a dict of users")
    out: dict[int, list[int]] = {}
    for key in list(raw):
        records = raw.pop(key)
        user = _as_int(key, f"a user id in {name} ({key!r})", path)
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
            items.append(_as_int(value, f"a productid of {name}[{user}]", path))
        out[user] = items
    return out


def _check_split_range(split: dict, name: str, path: str, usernum: int, itemnum: int) -> None:
    """Users in [0, usernum) and items in [0, itemnum); the first culprit in file order."""
    users = np.fromiter(split, np.int64, len(split))
    bad = np.flatnonzero((users < 0) | (users >= usernum))
    if len(bad):
        raise _format_error(path, f"{name} has user {users[bad[0]]} outside [0, usernum={usernum})")
    lengths = np.fromiter(map(len, split.values()), np.int64, len(split))
    items = np.fromiter(itertools.chain.from_iterable(split.values()), np.int64, lengths.sum())
    bad = np.flatnonzero((items < 0) | (items >= itemnum))
    if len(bad):
        user = users[np.searchsorted(np.cumsum(lengths), bad[0], side="right")]
        raise _format_error(
            path, f"{name}[{user}] has item {items[bad[0]]} outside [0, itemnum={itemnum})"
        )


def _item_pairs(raw, path: str):
    """(key, entry) pairs of an Item dict or list (a list is indexed by item id)."""
    if isinstance(raw, list):
        # The authors' code only indexes Item[i]; a list indexed by item id reads the same.
        pairs = list(enumerate(raw))
        raw.clear()
        return pairs
    if not isinstance(raw, dict):
        raise _format_error(path, f"Item is {_describe(raw)}, not a dict of items")
    # Popped as they go, so that each blob is held once.
    return ((key, raw.pop(key)) for key in list(raw))


def _item_entry(key, entry, path: str) -> tuple[int, dict]:
    """One Item entry, validated and normalised: (item id, {"image", "asin", "category"})."""
    item = _as_int(key, f"an item id in Item ({key!r})", path)
    if item < 0:
        raise _format_error(path, f"Item has a negative item id {item}")
    if not isinstance(entry, dict):
        raise _format_error(path, f"Item[{item}] is {_describe(entry)}, not a dict")
    return item, {
        "image": _as_image(_field(entry, "imgs"), item, path),
        "asin": _as_text(_field(entry, "asin")),
        "category": _as_category(_field(entry, "c"), item, path),
    }
