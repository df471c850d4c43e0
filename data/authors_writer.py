"""Writes files in the exact format of the authors' published `.npy` datasets.

The authors' files (`AmazonFashion6ImgPartitioned.npy`, ...) were written
by `np.save` under Python 2 with NumPy 1.x: a version-1.0 `.npy` header
(`'|O'`, shape `(6,)`, padded to 16 bytes) followed by a protocol-2
`cPickle` stream in which every Python 2 `str` (dict keys, asins, image
blobs) is a SHORT_BINSTRING/BINSTRING and the object array is rebuilt
through `numpy.core.multiarray._reconstruct`. Python 3's pickler cannot
produce that stream (it writes `bytes` through `_codecs.encode` at
protocol 2 and `str` as BINUNICODE), so `Py2Pickler` emits the opcodes
itself, following CPython 2.7's `cPickle` and NumPy 1.x's `__reduce__`.

The pickler writes to a file object as it goes, and a `Streamed` mapping
produces its entries one at a time, so a file of the paper's size (2.3 GB
for Amazon Fashion) is written without holding its images in memory:

    items = Streamed(itemnum, lambda: ((i, make_entry(i)) for i in range(itemnum)))
    write_authors_npy(path, [train, validation, test, items, usernum, itemnum])

Used by the tests (`tests/authors_format.py`) and by
`benchmarks/bench_paper_scale.py`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import tempfile
from collections.abc import Callable, Iterable

import numpy as np
from PIL import Image

# Number of entries CPython 2.7 puts in one APPENDS / SETITEMS batch.
_BATCHSIZE = 1000
# End of a dict's pairs.
_END = object()


class Streamed:
    """A dict pickled from a generator of (key, value) pairs, never held whole.

    Args:
      length: number of pairs `items()` yields (informational; the pickle
        does not store it).
      items: called once per pickling; returns an iterable of (key, value).
    """

    def __init__(self, length: int, items: Callable[[], Iterable[tuple]]):
        self._length = length
        self._items = items

    def __len__(self) -> int:
        return self._length

    def items(self) -> Iterable[tuple]:
        return self._items()


class Py2Pickler:
    """Emits a protocol-2 pickle the way Python 2.7 + NumPy 1.x wrote one.

    Handles exactly the types of the authors' files: None, bool, int, float,
    str and bytes (both as Python 2 `str`: SHORT_BINSTRING/BINSTRING; `str`
    must be ASCII/latin-1), tuple, list, dict, `Streamed`, `np.ndarray`,
    `np.dtype` and NumPy scalars. Objects seen twice are memoised
    (BINPUT/BINGET) as cPickle does, so repeated keys such as 'productid'
    become BINGETs. The values of a `Streamed` mapping are forgotten once
    written (their memo slots stay numbered, as cPickle's would), so
    memory stays that of one entry; dict keys and dtypes stay memoised.

    Args:
      out: binary file object written to (an in-memory buffer if None;
        `dumps` returns its content).
    """

    def __init__(self, out=None):
        self._out = out if out is not None else io.BytesIO()
        self._memo: dict[object, int] = {}
        self._next_index = 0
        # Keeps memoised objects alive so that their ids stay unique.
        self._keep: dict[object, object] = {}
        # Memo keys of objects that outlive a streamed entry.
        self._persistent: set = set()
        # Memo keys added since a streamed entry began (None outside one).
        self._added: list | None = None

    def dump(self, obj) -> None:
        """Writes the whole pickle of `obj` (PROTO ... STOP) to the output."""
        self._out.write(b"\x80\x02")  # PROTO 2
        self._save(obj)
        self._out.write(b".")  # STOP

    def dumps(self, obj) -> bytes:
        self.dump(obj)
        return self._out.getvalue()

    # Memo ---------------------------------------------------------------

    def _put(self, key, obj=None) -> None:
        index = self._next_index
        self._next_index += 1
        self._memo[key] = index
        self._keep[key] = obj
        if self._added is not None:
            self._added.append(key)
        if index < 256:
            self._out.write(b"q" + bytes([index]))  # BINPUT
        else:
            self._out.write(b"r" + struct.pack("<I", index))  # LONG_BINPUT

    def _get(self, key) -> bool:
        if key not in self._memo:
            return False
        index = self._memo[key]
        if index < 256:
            self._out.write(b"h" + bytes([index]))  # BINGET
        else:
            self._out.write(b"j" + struct.pack("<I", index))  # LONG_BINGET
        return True

    # Dispatch -----------------------------------------------------------

    def _save(self, obj) -> None:
        w = self._out.write
        if obj is None:
            w(b"N")
        elif obj is True:
            w(b"\x88")  # NEWTRUE
        elif obj is False:
            w(b"\x89")  # NEWFALSE
        elif isinstance(obj, np.ndarray):
            self._save_ndarray(obj)
        elif isinstance(obj, np.dtype):
            self._save_dtype(obj)
        elif isinstance(obj, np.generic):
            # numpy scalar: scalar(dtype, raw bytes), no state.
            self._save_reduce(
                ("numpy.core.multiarray", "scalar"), (obj.dtype, obj.tobytes()), None, obj
            )
        elif isinstance(obj, int):
            self._save_int(obj)
        elif isinstance(obj, float):
            w(b"G" + struct.pack(">d", obj))  # BINFLOAT
        elif isinstance(obj, (str, bytes)):
            self._save_py2_str(obj)
        elif isinstance(obj, tuple):
            self._save_tuple(obj)
        elif isinstance(obj, list):
            self._save_list(obj)
        elif isinstance(obj, (dict, Streamed)):
            self._save_dict(obj)
        else:
            raise TypeError(f"Py2Pickler does not handle {type(obj).__name__}")

    def _save_int(self, value: int) -> None:
        w = self._out.write
        if 0 <= value < 256:
            w(b"K" + bytes([value]))  # BININT1
        elif 0 <= value < 65536:
            w(b"M" + struct.pack("<H", value))  # BININT2
        elif -(2**31) <= value < 2**31:
            w(b"J" + struct.pack("<i", value))  # BININT
        else:
            # cPickle writes a 64-bit Python 2 int that does not fit BININT as text.
            w(b"I%d\n" % value)

    def _save_py2_str(self, value: str | bytes) -> None:
        if self._get(id(value)):
            return
        data = value.encode("latin1") if isinstance(value, str) else value
        if len(data) < 256:
            self._out.write(b"U" + bytes([len(data)]) + data)  # SHORT_BINSTRING
        else:
            self._out.write(b"T" + struct.pack("<i", len(data)) + data)  # BINSTRING
        self._put(id(value), value)

    def _save_tuple(self, value: tuple) -> None:
        if not value:
            self._out.write(b")")  # EMPTY_TUPLE
            return
        if self._get(id(value)):
            return
        if len(value) <= 3:
            for item in value:
                self._save(item)
            self._out.write({1: b"\x85", 2: b"\x86", 3: b"\x87"}[len(value)])  # TUPLE1..3
        else:
            self._out.write(b"(")  # MARK
            for item in value:
                self._save(item)
            self._out.write(b"t")  # TUPLE
        self._put(id(value), value)

    def _save_list(self, value: list) -> None:
        if self._get(id(value)):
            return
        self._out.write(b"]")  # EMPTY_LIST
        self._put(id(value), value)
        for start in range(0, len(value), _BATCHSIZE):
            batch = value[start : start + _BATCHSIZE]
            if len(batch) == 1:
                self._save(batch[0])
                self._out.write(b"a")  # APPEND
            else:
                self._out.write(b"(")
                for item in batch:
                    self._save(item)
                self._out.write(b"e")  # APPENDS

    def _save_dict(self, value: dict | Streamed) -> None:
        if self._get(id(value)):
            return
        self._out.write(b"}")  # EMPTY_DICT
        self._put(id(value), value)
        save_value = self._save_forgotten if isinstance(value, Streamed) else self._save
        # Batches as cPickle: MARK pairs SETITEMS, but a lone last pair is
        # SETITEM. One pair of look-ahead tells which, so a streamed dict
        # never holds more than two entries.
        pairs = iter(value.items())
        pending = next(pairs, _END)
        while pending is not _END:
            following = next(pairs, _END)
            if following is _END:
                self._save_key(pending[0])
                save_value(pending[1])
                self._out.write(b"s")  # SETITEM
                return
            self._out.write(b"(")  # MARK
            self._save_key(pending[0])
            save_value(pending[1])
            pending, count = following, 1
            while pending is not _END and count < _BATCHSIZE:
                self._save_key(pending[0])
                save_value(pending[1])
                pending, count = next(pairs, _END), count + 1
            self._out.write(b"u")  # SETITEMS

    def _save_key(self, key) -> None:
        """Dict keys ('productid', 'imgs', ...) repeat in every entry: always memoised."""
        self._save(key)
        if id(key) in self._memo:
            self._persistent.add(id(key))

    def _save_forgotten(self, item) -> None:
        """Saves one streamed value, then drops what the memo holds of it."""
        outer = self._added
        self._added = []
        self._save(item)
        for key in self._added:
            if key in self._persistent:
                if outer is not None:
                    outer.append(key)
            else:
                del self._memo[key]
                del self._keep[key]
        self._added = outer

    def _save_global(self, module: str, name: str) -> None:
        key = ("global", module, name)
        if self._get(key):
            return
        self._out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")  # GLOBAL
        self._put(key)
        self._persistent.add(key)

    def _save_reduce(self, func: tuple[str, str], args: tuple, state, obj) -> None:
        self._save_global(*func)
        self._save(args)
        self._out.write(b"R")  # REDUCE
        self._put(id(obj), obj)
        if state is not None:
            self._save(state)
            self._out.write(b"b")  # BUILD

    def _save_dtype(self, dtype: np.dtype) -> None:
        if self._get(id(dtype)):
            return
        # NumPy 1.x: dtype.__reduce__() == (dtype, (kind+size, 0, 1), state).
        if dtype.hasobject:
            descr, endian, flags = "O8", "|", 63
        else:
            descr = f"{dtype.kind}{dtype.itemsize}"
            endian = "|" if dtype.itemsize == 1 else "<"
            flags = 0
        state = (3, endian, None, None, None, -1, -1, flags)
        self._save_reduce(("numpy", "dtype"), (descr, 0, 1), state, dtype)
        self._persistent.add(id(dtype))

    def _save_ndarray(self, array: np.ndarray) -> None:
        if self._get(id(array)):
            return
        # NumPy 1.x: ndarray.__reduce__() == (_reconstruct, (ndarray, (0,), 'b'),
        # (1, shape, dtype, is_fortran, list of objects or raw-data str)).
        if array.dtype.hasobject:
            data = list(array.ravel())
        else:
            data = np.ascontiguousarray(array).tobytes()
        self._save_global("numpy.core.multiarray", "_reconstruct")
        self._save_global("numpy", "ndarray")
        self._save((0,))
        self._save(b"b")
        self._out.write(b"\x87")  # TUPLE3 (a fresh tuple: memoised, never reused)
        self._put(("args", id(array)))
        self._out.write(b"R")  # REDUCE
        self._put(id(array), array)
        self._save((1, tuple(int(s) for s in array.shape), array.dtype, False, data))
        self._out.write(b"b")  # BUILD


def npy_v1_header(shape: tuple[int, ...] = (6,), descr: str = "|O") -> bytes:
    """The `.npy` 1.0 header NumPy 1.x wrote under Python 2 (16-byte aligned)."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    # magic (6) + version (2) + length (2) + header + padding + '\n' is a multiple of 16.
    total = 10 + len(header) + 1
    header += " " * ((16 - total % 16) % 16) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def _object_array(objects: list) -> np.ndarray:
    array = np.empty(len(objects), dtype=object)
    for k, value in enumerate(objects):
        array[k] = value
    return array


def authors_npy_bytes(objects: list) -> bytes:
    """The bytes of `np.save(path, objects)` as Python 2 + NumPy 1.x wrote them.

    Args:
      objects: [user_train, user_validation, user_test, Item, usernum,
        itemnum] with keys and strings as `str` or `bytes` (both become
        Python 2 `str`).
    """
    return npy_v1_header((len(objects),)) + Py2Pickler().dumps(_object_array(objects))


def write_authors_npy(path: str, objects: list, buffer_bytes: int = 1 << 20) -> int:
    """Writes `objects` at `path` in the authors' exact (Python 2) format.

    Streams to a temporary file in the same folder, then renames it, so a
    killed run never leaves a truncated file under `path`. `Streamed`
    values are generated while writing.

    Args:
      path: the `.npy` file to write.
      objects: as `authors_npy_bytes`; dicts may be `Streamed`.
      buffer_bytes: write buffer size.

    Returns:
      The size of the file written, in bytes.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-" + os.path.basename(path))
    try:
        with os.fdopen(fd, "wb", buffering=buffer_bytes) as f:
            f.write(npy_v1_header((len(objects),)))
            Py2Pickler(f).dump(_object_array(objects))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return os.path.getsize(path)


def write_latin1_variant(path: str, objects: list) -> None:
    """Writes what a Python 3 user gets by re-saving a file loaded with encoding='latin1'.

    Keys are `str`, `imgs` is a latin-1 `str`, `asin` a `str`; NumPy arrays
    stay arrays. Saved by this process's `np.save` (a Python 3 pickle).
    """

    def to_text(value):
        if isinstance(value, bytes):
            return value.decode("latin1")
        if isinstance(value, (dict, Streamed)):
            return {to_text(k): to_text(v) for k, v in value.items()}
        if isinstance(value, list):
            return [to_text(v) for v in value]
        return value

    array = _object_array([to_text(value) for value in objects])
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=True)


# Synthetic files at the paper's sizes --------------------------------------

# Table II of the paper: (users, items, interactions, categories).
TABLE_II = {
    "amazon_fashion": (64583, 234892, 513367, 6),
    "amazon_women": (97678, 347591, 827678, 53),
    "amazon_men": (34244, 110636, 254870, 50),
    "tradesy": (33864, 326393, 655409, 0),
}

# The paper keeps users with at least 5 interactions (one validation, one test).
MIN_PER_USER = 5


@dataclasses.dataclass(frozen=True)
class SyntheticSpec:
    """What `synthetic_objects` builds.

    Attributes:
      num_users, num_items, num_interactions: the file's counts (train +
        validation + test interactions).
      num_categories: one-hot length of each item's `c`; 0 writes no `c`
        (as Tradesy, which has no categories).
      pool_images: distinct JPEGs encoded; items reuse them (see
        `jpeg_pool`).
      image_size: height and width of the JPEGs.
      jpeg_quality: JPEG quality of the pool.
      popularity_exponent: item popularity is Zipf-like, p(rank r) ~ 1 /
        (r + 1) ** exponent.
      seed: seeds everything.
    """

    num_users: int
    num_items: int
    num_interactions: int
    num_categories: int = 6
    pool_images: int = 3000
    image_size: int = 224
    jpeg_quality: int = 93
    popularity_exponent: float = 0.8
    seed: int = 0

    @classmethod
    def table_ii(cls, name: str, scale: float = 1.0, **overrides) -> SyntheticSpec:
        """The sizes of one of the paper's datasets, times `scale`."""
        if name not in TABLE_II:
            raise ValueError(f"Unknown dataset size {name!r}; use one of {', '.join(TABLE_II)}.")
        users, items, interactions, categories = TABLE_II[name]
        users = max(2, round(users * scale))
        items = max(MIN_PER_USER + 2, round(items * scale))
        interactions = max(MIN_PER_USER * users, round(interactions * scale))
        return cls(users, items, interactions, categories, **overrides)


@dataclasses.dataclass
class SyntheticTruth:
    """What a loader must read back from a `synthetic_objects` file.

    Attributes:
      train, validation, test: [n, 2] int64 (user, item) rows, sorted.
      categories: [num_items] int64, -1 without categories.
      pool_index: [num_items] which pool JPEG each item's image is.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    categories: np.ndarray
    pool_index: np.ndarray


def jpeg_pool(spec: SyntheticSpec) -> list[bytes]:
    """`spec.pool_images` distinct product-photo-like JPEGs (~10 KB at 224x224).

    Coarse colour blobs plus finer texture give JPEGs of the size of the
    authors' images; encoding each of 234,892 items' own image with PIL
    would take most of an hour, so items reuse this pool (their bytes
    still differ: `item_jpeg` adds the item id as a JPEG comment). Image
    p belongs to category p % num_categories and is tinted by it.
    """
    rng = np.random.default_rng(spec.seed + 1)
    size, out = spec.image_size, []
    tints = rng.uniform(-60, 60, (max(spec.num_categories, 1), 3))
    for p in range(spec.pool_images):
        coarse = Image.fromarray(rng.integers(0, 256, (5, 5, 3), dtype=np.uint8))
        coarse = np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC), np.float32)
        fine = Image.fromarray(rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8))
        fine = np.asarray(fine.resize((size, size), Image.Resampling.BILINEAR), np.float32)
        pixels = 0.75 * coarse + 0.25 * fine + tints[p % len(tints)]
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
            buffer, format="JPEG", quality=spec.jpeg_quality
        )
        out.append(buffer.getvalue())
    return out


def item_jpeg(pool_blob: bytes, item: int) -> bytes:
    """The pool JPEG with a COM segment naming the item: distinct bytes, same pixels."""
    comment = b"item %d" % item
    return (
        pool_blob[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + pool_blob[2:]
    )


def _interactions(spec: SyntheticSpec, rng: np.random.Generator) -> np.ndarray:
    """[n, 2] distinct (user, item) rows: >= 5 per user, Zipf-like item popularity."""
    users, items = spec.num_users, spec.num_items
    extra = max(spec.num_interactions - MIN_PER_USER * users, 0)
    # Long-tailed activity: a few users hold many interactions.
    weights = rng.gamma(0.5, size=users)
    counts = MIN_PER_USER + rng.multinomial(extra, weights / weights.sum())
    counts = np.minimum(counts, items)
    popularity = 1.0 / np.arange(1, items + 1) ** spec.popularity_exponent
    popularity = popularity[rng.permutation(items)]
    cdf = np.cumsum(popularity / popularity.sum())
    user = np.repeat(np.arange(users), counts)
    item = np.searchsorted(cdf, rng.random(len(user))).clip(max=items - 1)
    # Redraw repeats within a user (uniformly after a few Zipf rounds).
    for attempt in range(64):
        order = np.lexsort((item, user))
        user, item = user[order], item[order]
        repeat = np.zeros(len(user), bool)
        repeat[1:] = (user[1:] == user[:-1]) & (item[1:] == item[:-1])
        if not repeat.any():
            break
        draws = rng.random(int(repeat.sum()))
        item[repeat] = (
            np.searchsorted(cdf, draws).clip(max=items - 1)
            if attempt < 8
            else (draws * items).astype(np.int64)
        )
    return np.stack([user, item], 1).astype(np.int64)


def synthetic_objects(spec: SyntheticSpec) -> tuple[list, SyntheticTruth]:
    """The six objects of an authors' file of `spec`'s size, items streamed.

    Each user's interactions get one random validation and one random test
    item; the rest are training items. Items carry a JPEG from the pool,
    an ASIN-like id and (with categories) a one-hot float64 `c`; category
    sizes are uneven (the largest holds ~17% of the items, ~40,000 of
    Amazon Fashion's 234,892).

    Returns:
      (objects, truth): objects for `write_authors_npy` (user splits as
      dicts of the authors' records, `Item` as a `Streamed` mapping that
      builds each entry when written), and what a loader must return.
    """
    rng = np.random.default_rng(spec.seed)
    rows = _interactions(spec, rng)
    # One random validation and test row per user: shuffle within users.
    order = np.lexsort((rng.random(len(rows)), rows[:, 0]))
    rows = rows[order]
    first = np.r_[0, np.flatnonzero(np.diff(rows[:, 0])) + 1]
    rank = np.arange(len(rows)) - np.repeat(first, np.diff(np.r_[first, len(rows)]))
    validation, test, train = rows[rank == 0], rows[rank == 1], rows[rank >= 2]
    times = 1262304000 + rng.integers(0, 5 * 365 * 86400, len(rows))

    def records(split_rows, split_times) -> Streamed:
        """{user: [{'productid': item, 'time': t}, ...]}, built while it is written."""
        starts = np.searchsorted(split_rows[:, 0], np.arange(spec.num_users + 1))

        def pairs():
            for user in range(spec.num_users):
                lo, hi = starts[user], starts[user + 1]
                if hi > lo:
                    items, stamps = split_rows[lo:hi, 1].tolist(), split_times[lo:hi].tolist()
                    yield (
                        user,
                        [{_PRODUCTID: i, _TIME: t} for i, t in zip(items, stamps, strict=True)],
                    )

        return Streamed(int(np.count_nonzero(np.diff(starts))), pairs)

    objects_splits = [
        records(split, times[rank == r] if r < 2 else times[rank >= 2])
        for split, r in ((train, 2), (validation, 0), (test, 1))
    ]
    c = spec.num_categories
    if c:
        shares = np.linspace(1.0, 0.5, c) if c > 1 else np.ones(1)
        shares = shares / shares.sum()
        if c == 6:
            shares = np.array([0.17, 0.17, 0.17, 0.17, 0.16, 0.16])
        categories = rng.choice(c, size=spec.num_items, p=shares)
    else:
        categories = np.full(spec.num_items, -1, np.int64)
    per_category = max(spec.pool_images // max(c, 1), 1)
    pool_index = (
        np.maximum(categories, 0) + max(c, 1) * rng.integers(0, per_category, spec.num_items)
    ) % spec.pool_images
    eye = np.eye(max(c, 1), dtype=np.float64)

    def item_entries():
        pool = jpeg_pool(spec)
        for i in range(spec.num_items):
            entry = {_IMGS: item_jpeg(pool[pool_index[i]], i), _ASIN: b"B%09d" % i}
            if c:
                entry[_C] = eye[categories[i]].copy()
            yield i, entry

    items = Streamed(spec.num_items, item_entries)
    objects = [*objects_splits, items, spec.num_users, spec.num_items]
    truth = SyntheticTruth(
        train=train,
        validation=validation,
        test=test,
        categories=categories.astype(np.int64),
        pool_index=pool_index,
    )
    return objects, truth


# Keys of the authors' records (Python 2 `str`, so bytes here); module
# constants, so every entry shares them and the pickle memoises them.
_PRODUCTID, _TIME = b"productid", b"time"
_IMGS, _ASIN, _C = b"imgs", b"asin", b"c"
