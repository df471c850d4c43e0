"""What every binary of this project does the same way.

- the resolved config goes into the workdir (`write_config`), a finished
  run's figures too (`write_result`), under the names of `common.layout`;
- files are written to a temporary path and renamed (`atomic_write_*`), so
  a kill never leaves a half-written file where readers look;
- long loops report progress with rate and ETA on stderr (`Progress`);
- the run ends with one JSON line of headline results on stdout
  (`emit_result`);
- bad input (a `DataError`) ends it with one `error:` line on stderr and
  exit status 2, no traceback (`exit_on_data_error`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from absl import logging

from common import layout
from common.errors import DataError

T = TypeVar("T")


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON text of dataclasses, numpy scalars/arrays, dicts and lists."""
    return json.dumps(_jsonable(value), indent=indent, sort_keys=indent is not None)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str, payload: bytes) -> None:
    """Writes `payload` to `path` through a temporary file in the same folder."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-" + os.path.basename(path))
    try:
        # mkstemp makes 0600 files; the result should be as shareable as open() makes it.
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_dir(path: str, writer: Callable[[str], None]) -> None:
    """Builds a directory with `writer(tmp_dir)`, then swaps it in at `path`.

    Readers of `path` see either the previous complete directory or the new
    complete one, never a partial one.
    """
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".tmp-" + os.path.basename(path))
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700 folders
        writer(tmp)
        old = None
        if os.path.exists(path):
            old = tempfile.mkdtemp(dir=parent, prefix=".old-" + os.path.basename(path))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_config(workdir: str, config: Any, name: str = layout.CONFIG) -> str:
    """Writes the resolved config (a dataclass or dict) as JSON into the workdir."""
    path = os.path.join(workdir, name)
    atomic_write_text(path, to_json(config, indent=2) + "\n")
    logging.info("Wrote resolved config to %s", path)
    return path


def write_result(workdir: str, result: Any) -> str:
    """Writes a finished run's result as JSON into the workdir (`layout.RESULT`)."""
    path = os.path.join(workdir, layout.RESULT)
    atomic_write_text(path, to_json(result, indent=2) + "\n")
    return path


def emit_result(result: dict) -> None:
    """Prints the one JSON line of headline results that ends every binary."""
    sys.stdout.write(to_json(result) + "\n")
    sys.stdout.flush()


def exit_on_data_error(run: Callable[[], T]) -> T:
    """`run()`; bad input (DataError) ends the binary with the message, exit status 2."""
    try:
        return run()
    except DataError as err:
        sys.stderr.write(f"error: {err}\n")
        sys.exit(2)


def absl_main(run: Callable[[], object]) -> Callable[[list[str]], None]:
    """An `app.run` main that calls `run()` and ends on bad input as `exit_on_data_error`.

    For binaries whose flags are their only input (`main = runtime.absl_main(_run)`).
    """

    def main(argv: list[str]) -> None:
        del argv
        exit_on_data_error(run)

    return main


class Progress:
    """Progress with rate and ETA on stderr, at most every `interval` seconds.

    Args:
      total: number of units of work (steps, items), or None if unknown.
      what: what a unit is, e.g. "steps" or "images".
      interval: minimum seconds between lines.
      prefix: what the loop is, at the start of every line.
      quiet_start: print the first line only after `interval` seconds, so
        that loops which are usually short (an evaluation of a small
        dataset, called every epoch) print nothing, and long ones still
        report with an ETA.
    """

    def __init__(
        self,
        total: int | None,
        what: str = "steps",
        interval: float = 5.0,
        prefix: str = "",
        quiet_start: bool = False,
    ):
        self.total = total
        self.what = what
        self.interval = interval
        self.prefix = prefix
        self.start = time.perf_counter()
        self.last = self.start if quiet_start else -float("inf")
        self.done = 0

    def update(self, done: int, extra: str = "", force: bool = False) -> None:
        """Reports that `done` units are finished (absolute count).

        With `force`, prints now, unless this is a quiet-start loop that has
        not printed yet (it finished within `interval`).
        """
        self.done = done
        now = time.perf_counter()
        if force and self.last == self.start:
            return
        if not force and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        parts = [self.prefix] if self.prefix else []
        if self.total:
            eta = (self.total - done) / rate if rate > 0 else float("inf")
            parts.append(f"{done}/{self.total} {self.what} ({100.0 * done / self.total:.0f}%)")
            parts.append(f"{rate:.1f} {self.what}/s, ETA {_fmt_seconds(eta)}")
        else:
            parts.append(f"{done} {self.what}, {rate:.1f} {self.what}/s")
        if extra:
            parts.append(extra)
        sys.stderr.write(" | ".join(parts) + "\n")
        sys.stderr.flush()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def _fmt_seconds(seconds: float) -> str:
    if not np.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
