"""Headed CSV files read into columns, with errors that name the file and line.

Shared by the custom catalogue (`data.custom`) and the Amazon interactions
(`data.amazon_interactions`): columns are found by header name in any
order, values are stripped strings, and every error says which file, which
line and what was expected.
"""

from __future__ import annotations

import csv
import os

import numpy as np

from data.core import DataError
from data.images import MAX_LISTED


def listed(values, limit: int = MAX_LISTED) -> str:
    values = list(values)
    text = ", ".join(str(v) for v in values[:limit])
    return text + (f" and {len(values) - limit} more" if len(values) > limit else "")


def read_csv(
    path: str, allowed: tuple[str, ...], required: tuple[str, ...], usage: str
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Reads a headed CSV file into columns.

    Args:
      path: the file.
      allowed: column names that may appear (in any order).
      required: column names that must appear.
      usage: the expected header, for error messages.

    Returns:
      columns: name -> [n] numpy str array of the values, stripped of
        surrounding white space.
      lines: [n] int64 line number (1-based, as an editor shows it) of each row.

    Raises:
      DataError: missing or empty file, bad header, a row with the wrong
        number of fields, or no rows; the message names file and line.
    """
    if not os.path.isfile(path):
        raise DataError(f"{path} does not exist; a custom catalogue needs it ({usage}).")
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        # utf-8-sig: spreadsheet programs often prepend a byte-order mark.
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = None
            for row in reader:
                if "".join(row).strip():
                    header = [name.strip().lower() for name in row]
                    break
            if header is None:
                raise DataError(f"{path} is empty; it needs a header line and rows: {usage}.")
            header_line = reader.line_num
            _check_header(path, header, header_line, allowed, required, usage)
            width = len(header)
            # The hot loop: millions of rows are common, so the cheap test first.
            for row in reader:
                if len(row) == width:
                    rows.append(row)
                    lines.append(reader.line_num)
                elif "".join(row).strip():
                    raise DataError(
                        f"{path}, line {reader.line_num}: {len(row)} fields but the header "
                        f"(line {header_line}) has {width}; every row needs exactly the "
                        f"columns {','.join(header)}."
                    )
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text ({err}); save it as UTF-8 CSV.") from err
    except csv.Error as err:
        raise DataError(f"{path}: malformed CSV ({err}); expected {usage}.") from err
    if not rows:
        raise DataError(f"{path} has a header but no rows; expected {usage}.")
    columns = {
        name: np.char.strip(np.asarray(values, dtype=str))
        for name, values in zip(header, zip(*rows, strict=True), strict=True)
    }
    return columns, np.asarray(lines, np.int64)


def _check_header(path, header, header_line, allowed, required, usage) -> None:
    unknown = [name for name in header if name not in allowed]
    missing = [name for name in required if name not in header]
    if unknown or missing:
        problems = []
        if unknown:
            problems.append(f"unknown column(s) {', '.join(repr(n) for n in unknown)}")
        if missing:
            problems.append(f"missing column(s) {', '.join(repr(n) for n in missing)}")
        raise DataError(
            f"{path}, line {header_line} (header): {'; '.join(problems)}. Expected columns "
            f"{usage} (the first line must be this header; column order is free)."
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path}, line {header_line}: column(s) {', '.join(repeated)} repeated.")


def check_nonempty(path: str, name: str, column: np.ndarray, lines: np.ndarray) -> None:
    empty = np.flatnonzero(column == "")
    if len(empty):
        raise DataError(
            f"{path}, line(s) {listed(lines[empty])}: empty {name}; every row needs one."
        )


def parse_timestamps(path: str, column: np.ndarray, lines: np.ndarray) -> np.ndarray:
    try:
        # Python's float() is several times faster than numpy's str->float cast.
        stamps = np.fromiter(map(float, column.tolist()), np.float64, len(column))
        bad = np.flatnonzero(~np.isfinite(stamps))
    except ValueError:
        bad = []
        for k, text in enumerate(column.tolist()):
            try:
                if not np.isfinite(float(text)):
                    bad.append(k)
            except ValueError:
                bad.append(k)
        bad = np.asarray(bad, np.int64)
    if len(bad):
        raise DataError(
            f"{path}, line {lines[bad[0]]}: timestamp {str(column[bad[0]])!r} is not a number "
            f"({len(bad)} such rows, lines {listed(lines[bad])}); use numbers such as Unix "
            f"seconds."
        )
    return stamps


def parse_splits(
    path: str, column: np.ndarray, lines: np.ndarray, splits: tuple[str, ...]
) -> np.ndarray:
    """Split names (any case) -> [n] int64 index into `splits`; DataError naming the bad lines."""
    names = np.char.lower(column)
    codes = np.full(len(names), -1, np.int64)
    for code, split in enumerate(splits):
        codes[names == split] = code
    bad = np.flatnonzero(codes < 0)
    if len(bad):
        raise DataError(
            f"{path}, line {lines[bad[0]]}: unknown split {str(column[bad[0]])!r} ({len(bad)} such "
            f"rows, lines {listed(lines[bad])}); split must be one of {', '.join(splits)}."
        )
    return codes


def duplicate_lines(keys: np.ndarray, lines: np.ndarray) -> list[tuple[int, int]]:
    """(line, line of its first occurrence) for each repeated key, in file order."""
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    repeat = np.flatnonzero(sorted_keys[1:] == sorted_keys[:-1]) + 1
    if not len(repeat):
        return []
    group_start = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    first = group_start[np.searchsorted(group_start, repeat, side="right") - 1]
    pairs = sorted(zip(lines[order[repeat]].tolist(), lines[order[first]].tolist(), strict=True))
    return pairs
