"""Writes small files in the exact format of the authors' published `.npy` datasets.

The authors' files (`AmazonFashion6ImgPartitioned.npy`, ...) were written
by `np.save` under Python 2 with NumPy 1.x: a version-1.0 `.npy` header
(`'|O'`, shape `(6,)`, padded to 16 bytes) followed by a protocol-2
`cPickle` stream in which every Python 2 `str` (dict keys, asins, image
blobs) is a SHORT_BINSTRING/BINSTRING and the object array is rebuilt
through `numpy.core.multiarray._reconstruct`. Python 3's pickler cannot
produce that stream (it writes `bytes` through `_codecs.encode` at
protocol 2 and `str` as BINUNICODE), so `Py2Pickler` emits the opcodes
itself, following CPython 2.7's `cPickle` and NumPy 1.x's `__reduce__`.

`write_latin1_variant` makes the other form the loader must accept: what a
Python 3 user gets by loading an authors' file with `encoding='latin1'`
(keys are `str`, `imgs` is a latin-1 `str`) and saving it again.

Test data only; the content (sizes, images, splits) is described by
`make_sample`.
"""

from __future__ import annotations

import dataclasses
import io
import struct

import numpy as np
from PIL import Image

# Number of entries CPython 2.7 puts in one APPENDS / SETITEMS batch.
_BATCHSIZE = 1000


class Py2Pickler:
    """Emits a protocol-2 pickle the way Python 2.7 + NumPy 1.x wrote one.

    Handles exactly the types of the authors' files: None, bool, int, float,
    str and bytes (both as Python 2 `str`: SHORT_BINSTRING/BINSTRING; `str`
    must be ASCII/latin-1), tuple, list, dict, `np.ndarray`, `np.dtype` and
    NumPy scalars. Objects seen twice are memoised (BINPUT/BINGET) as
    cPickle does, so repeated keys such as 'productid' become BINGETs.
    """

    def __init__(self):
        self._out = io.BytesIO()
        self._memo: dict[object, int] = {}
        # Keeps memoised objects alive so that their ids stay unique.
        self._keep: list[object] = []

    def dumps(self, obj) -> bytes:
        self._out.write(b"\x80\x02")  # PROTO 2
        self._save(obj)
        self._out.write(b".")  # STOP
        return self._out.getvalue()

    # Memo ---------------------------------------------------------------

    def _put(self, key) -> None:
        index = len(self._memo)
        self._memo[key] = index
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
        elif isinstance(obj, dict):
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
        self._keep.append(value)
        self._put(id(value))

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
        self._keep.append(value)
        self._put(id(value))

    def _save_list(self, value: list) -> None:
        if self._get(id(value)):
            return
        self._out.write(b"]")  # EMPTY_LIST
        self._keep.append(value)
        self._put(id(value))
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

    def _save_dict(self, value: dict) -> None:
        if self._get(id(value)):
            return
        self._out.write(b"}")  # EMPTY_DICT
        self._keep.append(value)
        self._put(id(value))
        items = list(value.items())
        for start in range(0, len(items), _BATCHSIZE):
            batch = items[start : start + _BATCHSIZE]
            if len(batch) == 1:
                self._save(batch[0][0])
                self._save(batch[0][1])
                self._out.write(b"s")  # SETITEM
            else:
                self._out.write(b"(")
                for key, item in batch:
                    self._save(key)
                    self._save(item)
                self._out.write(b"u")  # SETITEMS

    def _save_global(self, module: str, name: str) -> None:
        key = ("global", module, name)
        if self._get(key):
            return
        self._out.write(b"c" + module.encode() + b"\n" + name.encode() + b"\n")  # GLOBAL
        self._put(key)

    def _save_reduce(self, func: tuple[str, str], args: tuple, state, obj) -> None:
        self._save_global(*func)
        self._save(args)
        self._out.write(b"R")  # REDUCE
        self._keep.append(obj)
        self._put(id(obj))
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
        self._keep.append(array)
        self._put(id(array))
        self._save((1, tuple(int(s) for s in array.shape), array.dtype, False, data))
        self._out.write(b"b")  # BUILD


def npy_v1_header(shape: tuple[int, ...] = (6,), descr: str = "|O") -> bytes:
    """The `.npy` 1.0 header NumPy 1.x wrote under Python 2 (16-byte aligned)."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape!r}, }}"
    # magic (6) + version (2) + length (2) + header + padding + '\n' is a multiple of 16.
    total = 10 + len(header) + 1
    header += " " * ((16 - total % 16) % 16) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1")


def authors_npy_bytes(objects: list) -> bytes:
    """The bytes of `np.save(path, objects)` as Python 2 + NumPy 1.x wrote them.

    Args:
      objects: [user_train, user_validation, user_test, Item, usernum,
        itemnum] with keys and strings as `str` or `bytes` (both become
        Python 2 `str`).
    """
    array = np.empty(len(objects), dtype=object)
    for k, value in enumerate(objects):
        array[k] = value
    return npy_v1_header((len(objects),)) + Py2Pickler().dumps(array)


def write_authors_npy(path: str, objects: list) -> None:
    """Writes `objects` at `path` in the authors' exact (Python 2) format."""
    with open(path, "wb") as f:
        f.write(authors_npy_bytes(objects))


def write_latin1_variant(path: str, objects: list) -> None:
    """Writes what a Python 3 user gets by re-saving a file loaded with encoding='latin1'.

    Keys are `str`, `imgs` is a latin-1 `str`, `asin` a `str`; NumPy arrays
    stay arrays. Saved by this process's `np.save` (a Python 3 pickle).
    """

    def to_text(value):
        if isinstance(value, bytes):
            return value.decode("latin1")
        if isinstance(value, dict):
            return {to_text(k): to_text(v) for k, v in value.items()}
        if isinstance(value, list):
            return [to_text(v) for v in value]
        return value

    array = np.empty(len(objects), dtype=object)
    for k, value in enumerate(objects):
        array[k] = to_text(value)
    with open(path, "wb") as f:
        np.save(f, array, allow_pickle=True)


# Sample content ---------------------------------------------------------


def _encode(pixels: np.ndarray, fmt: str, mode: str | None = None) -> bytes:
    image = Image.fromarray(pixels)
    if mode:
        image = image.convert(mode)
    buf = io.BytesIO()
    image.save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


@dataclasses.dataclass
class Sample:
    """A small dataset in the authors' format and what a loader must return.

    Attributes:
      objects: the 6 objects the file pickles (bytes keys, Python 2 style).
      pixels: {item: [H, W, 3] uint8} the RGB pixels each image decodes to
        with PIL (grayscale replicated to 3 channels).
      kinds: {item: "jpeg" | "png" | "gray_jpeg" | "rgba_png" | "palette_png"}.
      train / validation / test: {user: [item, ...]} as written.
      categories: {item: int | None}.
      asins: {item: str | None}.
      usernum, itemnum: the counts written.
    """

    objects: list
    pixels: dict
    kinds: dict
    train: dict
    validation: dict
    test: dict
    categories: dict
    asins: dict
    usernum: int
    itemnum: int


def make_sample(num_users: int = 7, num_items: int = 12, seed: int = 0) -> Sample:
    """Builds a tiny dataset exercising every part of the format.

    Items cycle through RGB JPEG, RGB PNG, grayscale JPEG, grayscale PNG,
    RGBA PNG (opaque) and palette PNG; images have different sizes. Every
    third item has no category; every fourth has no asin; categories are
    one-hot NumPy float arrays except item 1, whose is a plain list; item 5's
    id inside user 0's training list is a NumPy int64 scalar (to exercise
    `numpy.core.multiarray.scalar`). Each user has 2-4 training items and
    one validation and one test item.
    """
    rng = np.random.default_rng(seed)
    kinds_cycle = ("jpeg", "png", "gray_jpeg", "gray_png", "rgba_png", "palette_png")
    items, pixels, kinds, categories, asins = {}, {}, {}, {}, {}
    for i in range(num_items):
        kind = kinds_cycle[i % len(kinds_cycle)]
        h, w = 20 + 4 * (i % 3), 16 + 4 * (i % 4)
        # Smooth content so that JPEG's loss stays small and comparable.
        yy, xx = np.mgrid[0:h, 0:w]
        base = rng.integers(40, 200, size=3)
        rgb = np.stack(
            [(base[c] + 2 * (yy if c % 2 else xx) + 10 * c) % 256 for c in range(3)], -1
        ).astype(np.uint8)
        if kind == "jpeg":
            blob = _encode(rgb, "JPEG")
        elif kind == "png":
            blob = _encode(rgb, "PNG")
        elif kind == "gray_jpeg":
            blob = _encode(rgb, "JPEG", "L")
        elif kind == "gray_png":
            blob = _encode(rgb, "PNG", "L")
        elif kind == "rgba_png":
            blob = _encode(np.dstack([rgb, np.full((h, w), 255, np.uint8)]), "PNG")
        else:
            blob = _encode(rgb, "PNG", "P")
        with Image.open(io.BytesIO(blob)) as image:
            pixels[i] = np.asarray(image.convert("RGB"))
        kinds[i] = kind
        entry = {b"imgs": blob}
        if i % 4 != 3:
            asins[i] = f"B00{i:07d}"
            entry[b"asin"] = asins[i].encode()
        else:
            asins[i] = None
        if i % 3 != 2:
            categories[i] = int(rng.integers(0, 6))
            one_hot = np.zeros(6, np.float64)
            one_hot[categories[i]] = 1.0
            entry[b"c"] = one_hot.tolist() if i == 1 else one_hot
        else:
            categories[i] = None
        items[i] = entry
    train, validation, test = {}, {}, {}
    for u in range(num_users):
        chosen = rng.choice(num_items, size=rng.integers(4, 7), replace=False).tolist()
        train[u], validation[u], test[u] = sorted(chosen[:-2]), [chosen[-2]], [chosen[-1]]
    if 5 not in train[0]:
        train[0] = sorted(train[0] + [5])

    def records(split):
        out = {}
        for u, its in split.items():
            out[u] = [
                {b"productid": np.int64(i) if (u == 0 and i == 5) else i, b"time": 1000 + i}
                for i in its
            ]
        return out

    objects = [records(train), records(validation), records(test), items, num_users, num_items]
    return Sample(
        objects=objects,
        pixels=pixels,
        kinds=kinds,
        train=train,
        validation=validation,
        test=test,
        categories=categories,
        asins=asins,
        usernum=num_users,
        itemnum=num_items,
    )
