"""Checks that encoded item images decode, before any training sees them.

An undecodable image inside a tf.data pipeline surfaces as an
InvalidArgumentError deep inside TF, many minutes into a run, with no hint
of which item it was. Every loader that reads encoded images therefore
calls `check_images` once, at load time, and either stops with a list of
the offending item ids or drops them (`--bad_images=skip`).

The check really decodes each image (PIL's `verify()` alone only parses
headers and misses truncated data) and walks PNG chunks up to IEND as
libpng in TF does, so that what passes here decodes in
`tf.io.decode_image` (tests compare the two on damaged files). JPEGs are
decoded through `Image.draft`, which makes libjpeg decode at 1/8 scale:
the whole entropy-coded stream is still read, so truncation is still
caught, at a fraction of the cost.
"""

from __future__ import annotations

import concurrent.futures
import io
import os
import zlib
from collections.abc import Sequence

import numpy as np
from absl import logging
from PIL import Image

from common.runtime import Progress
from data.core import DataError

# Formats accepted. `tf.io.decode_image` (used by the tf.data pipeline)
# also reads GIF and BMP, but on damaged GIF/BMP files PIL and TF disagree
# both ways, so this check could not promise that what passes decodes in
# TF; PIL reads more (TIFF, ...), which TF cannot decode at all.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})

# How many offending item ids an error message lists.
MAX_LISTED = 10

# Below this many images a thread pool costs more than it saves.
_MIN_PARALLEL = 64

# Images handed to the thread pool at a time (bounds its queue of futures).
_CHECK_SLICE = 4096


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk_error(blob: bytes) -> str | None:
    """What libpng would reject in a PNG's chunk structure, or None.

    libpng (inside TF) reads every chunk up to IEND and rejects a critical
    chunk with a bad CRC; PIL's decoder stops as soon as it has the pixels
    and never reads the tail. So a PNG with a damaged tail passes PIL and
    fails in TF; this walk closes that gap (CRCs by zlib, in C).
    """
    view = memoryview(blob)
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(view):
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(view):
            return f"PNG chunk {kind!r} at byte {pos} runs past the end (truncated file)"
        crc = int.from_bytes(view[end - 4 : end], "big")
        # Ancillary chunks (lower-case first letter) with a bad CRC are
        # dropped by libpng with a warning; critical ones are fatal.
        if kind[:1].isupper() and zlib.crc32(view[pos + 4 : end - 4]) != crc:
            return f"PNG chunk {kind!r} at byte {pos} has a bad CRC"
        if kind == b"IEND":
            return None if length == 0 else "PNG IEND chunk is not empty"
        pos = end
    return "PNG has no IEND chunk (truncated file)"


def decode_error(blob: bytes | None) -> str | None:
    """Why an encoded image cannot be decoded, or None when it decodes.

    Args:
      blob: JPEG/PNG/WebP bytes (any size, RGB, RGBA, palette or
        grayscale), or None.

    Returns:
      None if the image decodes to RGB, else a short reason.
    """
    if blob is None or len(blob) == 0:
        return "empty"
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        return f"not bytes but {type(blob).__name__}"
    blob = bytes(blob)
    try:
        with Image.open(io.BytesIO(blob)) as image:
            fmt = image.format
            if fmt not in ACCEPTED_FORMATS:
                return f"format {fmt} is not accepted; convert it to JPEG or PNG"
        if fmt == "PNG":
            error = _png_chunk_error(blob)
            if error:
                return error
        if fmt == "JPEG":
            # libjpeg inside TF fails when it runs off the end looking for the
            # end-of-image marker (a damaged EOI); PIL pads and succeeds.
            last_scan = blob.rfind(b"\xff\xda")
            if last_scan < 0 or blob.find(b"\xff\xd9", last_scan) < 0:
                return "JPEG has no end-of-image marker after its last scan (damaged file)"
        with Image.open(io.BytesIO(blob)) as image:
            if fmt == "JPEG":
                # Smallest DCT scale: reads all the data, decodes 1/64 of the pixels.
                image.draft("RGB", (1, 1))
            image.load()
            if image.width < 1 or image.height < 1:
                return "zero-sized image"
    except Exception as err:  # PIL raises many types (OSError, SyntaxError, ...).
        return f"{type(err).__name__}: {err}".strip()
    return None


def decode_pool() -> concurrent.futures.ThreadPoolExecutor:
    """Threads for `decode_error`: PIL releases the GIL while decoding, so they scale."""
    return concurrent.futures.ThreadPoolExecutor(max(1, min(8, os.cpu_count() or 1)))


def decode_errors(encoded: Sequence[bytes], progress: Progress | None = None) -> list[str | None]:
    """`decode_error` of every image, on a thread pool when there are many.

    Args:
      encoded: [n] encoded images (bytes; None or b"" count as bad).
      progress: reports images done, if given (after the first 2 s).

    Returns:
      [n] reasons, None where the image decodes.
    """
    n = len(encoded)
    if n < _MIN_PARALLEL:
        return [decode_error(blob) for blob in encoded]
    reasons: list[str | None] = [None] * n
    with decode_pool() as pool:
        # A slice at a time: `pool.map` submits everything it is given at
        # once, and a future per image of a 234K-item catalogue is ~0.2 GB.
        for start in range(0, n, _CHECK_SLICE):
            part = encoded[start : start + _CHECK_SLICE]
            reasons[start : start + len(part)] = pool.map(decode_error, part)
            # Only long checks are worth a progress line.
            if progress is not None and progress.elapsed > 2.0:
                progress.update(start + len(part))
    return reasons


def report_bad_images(bad_ids: Sequence, first_reason: str, source: str, bad_images: str) -> None:
    """Raises (bad_images="fail") or logs ("skip") what `check_images` found.

    Args:
      bad_ids: external ids of the undecodable images, in catalogue order.
      first_reason: `decode_error` of the first of them.
      source: the file or folder the images came from.
      bad_images: "fail" or "skip".

    Raises:
      DataError: with bad_images="fail"; the message gives the count, the
        first few item ids and what to do.
    """
    listed = ", ".join(str(i) for i in bad_ids[:MAX_LISTED])
    more = f" and {len(bad_ids) - MAX_LISTED} more" if len(bad_ids) > MAX_LISTED else ""
    message = (
        f"{len(bad_ids)} undecodable images in {source}: item ids {listed}{more}; "
        f"fix or remove them, or pass --bad_images=skip "
        f"(first error, item {bad_ids[0]}: {first_reason})"
    )
    if bad_images == "fail":
        raise DataError(message)
    logging.warning("Skipping their items: %s", message)


def check_images(
    encoded: Sequence[bytes], item_ids: Sequence, source: str, bad_images: str = "fail"
) -> np.ndarray:
    """Decodes every image once and reports the ones that fail.

    Args:
      encoded: [n] encoded images (bytes; None or b"" count as bad).
      item_ids: [n] external item ids, used in the report.
      source: the file or folder the images came from, for the report.
      bad_images: "fail" raises on any bad image; "skip" logs them and
        returns the mask so that the caller drops those items.

    Returns:
      [n] bool array, True where the image decodes.

    Raises:
      DataError: with bad_images="fail" and at least one bad image
        (`report_bad_images`).
      ValueError: bad_images is neither "fail" nor "skip", or the lengths
        of `encoded` and `item_ids` differ.
    """
    if bad_images not in ("fail", "skip"):
        raise ValueError(f"bad_images must be 'fail' or 'skip', got {bad_images!r}.")
    n = len(encoded)
    if len(item_ids) != n:
        raise ValueError(f"check_images: {n} images but {len(item_ids)} item ids.")
    progress = Progress(n, "images", interval=10.0, prefix=f"checking images in {source}")
    reasons = decode_errors(encoded, progress)
    if progress.elapsed > progress.interval:
        progress.update(n, force=True)
    ok = np.fromiter((r is None for r in reasons), dtype=bool, count=n)
    bad = np.flatnonzero(~ok)
    if len(bad):
        report_bad_images([item_ids[k] for k in bad], reasons[bad[0]], source, bad_images)
    return ok
