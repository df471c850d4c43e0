"""The restricted, streaming unpickler that reads the authors' `.npy` pickles.

`np.load(allow_pickle=True)` would run whatever a crafted file asks for;
`StreamingUnpickler` can build only what the authors' format contains
(dicts, lists, tuples, strings, numbers, NumPy arrays, dtypes and
scalars) and refuses anything else (`os.system`, `builtins.eval`, ...)
before it is imported. It also hands the file's item entries out as the
pickle builds them and keeps no image blob in its memo, so a 2.3 GB file
is never held whole. `data.authors_npy` validates and normalises what it
reads.
"""

from __future__ import annotations

import collections
import importlib
import pickle
import struct

import numpy as np

from common.runtime import Progress
from data.core import DataError

# Where the authors publish their files (linked from github.com/kang205/DVBPR).
PUBLISHED_AT = "http://cseweb.ucsd.edu/~wckang/DVBPR/"


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


class _Restrictions:
    """Imports nothing but the few NumPy names the format uses; no persistent ids."""

    _source = ""

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


# Strings at least this long are image blobs: the streaming unpickler does
# not keep them in its memo (pickle memoises every string it reads).
_BLOB_BYTES = 1024


def _is_item_entry(value) -> bool:
    return isinstance(value, dict) and (b"imgs" in value or "imgs" in value)


# Stands in the memo for a blob that was not kept.
_DROPPED = object()


class StreamingUnpickler(_Restrictions, pickle._Unpickler):
    """The restricted unpickler, run opcode by opcode, handing items out as they are read.

    The C unpickler returns the whole file at once and its memo holds every
    image until it returns, so a converter would hold the file's size in
    images before writing the first record. This one is Python's reference
    unpickler (same opcodes, same results; ~2x the CPU of the C one, a few
    seconds for Amazon Fashion) with two changes:
      - when a dict receives values that are item entries (dicts with an
        'imgs' key), those entries are taken out of it and queued in
        `ready` as (key, entry); `splits` then holds the three objects built
        before that dict (user_train, user_validation, user_test);
      - image blobs are not kept in the memo (the format never refers to
        one twice; a file that does is refused).
    Items written in any other shape (a list, a non-dict entry) stay where
    they are and are read from the result, as before.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, source: str, encoding: str):
        super().__init__(file, encoding=encoding)
        self._source = source
        self.ready: collections.deque = collections.deque()
        self.container: dict | None = None
        self.splits: list | None = None

    def run(self):
        """Generator over the opcodes: yields after each batch of items; returns the result.

        Follows `pickle._Unpickler.load`, pausing wherever `ready` fills.
        It uses that reference implementation's internals (`_Unframer`,
        `_Stop`, unchanged since Python 3.4); the tests read both dialects
        through it, so a Python that changes them fails there, loudly.
        """
        self._unframer = pickle._Unframer(self._file_read, self._file_readline)
        self.read = self._unframer.read
        self.readinto = self._unframer.readinto
        self.readline = self._unframer.readline
        self.metastack = []
        self.stack = []
        self.append = self.stack.append
        self.proto = 0
        read, dispatch, ready = self.read, self.dispatch, self.ready
        try:
            while True:
                key = read(1)
                if not key:
                    raise EOFError
                dispatch[key[0]](self)
                if ready:
                    yield
        except pickle._Stop as stop:
            return stop.value

    def _take_items(self, target: dict, keys) -> None:
        if self.container is not None and target is not self.container:
            return
        entries = [key for key in keys if _is_item_entry(target.get(key))]
        if not entries:
            return
        if self.container is None:
            # The first dict of item entries is the Item dict; the three
            # objects before it in the top-level list are the splits.
            if len(self.stack) != 4:
                return
            self.container, self.splits = target, self.stack[:3]
        for key in entries:
            self.ready.append((key, target.pop(key)))

    def load_setitems(self):
        items = self.pop_mark()
        target = self.stack[-1]
        for i in range(0, len(items), 2):
            target[items[i]] = items[i + 1]
        if isinstance(target, dict):
            self._take_items(target, items[::2])

    def load_setitem(self):
        key = self.stack[-2]
        super().load_setitem()
        if isinstance(self.stack[-1], dict):
            self._take_items(self.stack[-1], [key])

    def _memo_value(self):
        value = self.stack[-1]
        if isinstance(value, (bytes, str)) and len(value) >= _BLOB_BYTES:
            return _DROPPED
        return value

    def load_binput(self):
        self.memo[self.read(1)[0]] = self._memo_value()

    def load_long_binput(self):
        (i,) = struct.unpack("<I", self.read(4))
        self.memo[i] = self._memo_value()

    def load_memoize(self):
        self.memo[len(self.memo)] = self._memo_value()

    def _push_memo(self, i: int) -> None:
        value = self.memo[i]
        if value is _DROPPED:
            raise DataError(
                f"{self._source} is not in the authors' format: it refers twice to one image "
                "blob. Use the file as published on the authors' page "
                f"({PUBLISHED_AT})."
            )
        self.append(value)

    def load_binget(self):
        self._push_memo(self.read(1)[0])

    def load_long_binget(self):
        self._push_memo(struct.unpack("<I", self.read(4))[0])


for _name in ("setitems", "setitem", "binput", "long_binput", "memoize", "binget", "long_binget"):
    StreamingUnpickler.dispatch[getattr(pickle, _name.upper())[0]] = getattr(
        StreamingUnpickler, "load_" + _name
    )
del _name


class CountingReader:
    """File wrapper that reports bytes consumed to a `Progress`.

    The unpickler reads an opcode at a time; reporting is rate-limited by
    `Progress`, so counting costs a comparison per read.
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
