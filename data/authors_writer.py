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

Used by the tests (`tests/testlib/authors_format.py`) and by
`benchmarks/bench_paper_scale.py`; `data.authors_synthetic` builds the
content of files at the paper's sizes.
"""

from __future__ import annotations

import io
import os
import struct
import tempfile
from collections.abc import Callable, Iterable

import numpy as np

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
