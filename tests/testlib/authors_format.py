"""Small files in the exact format of the authors' published `.npy` datasets.

The writer itself (`Py2Pickler`, the `.npy` 1.0 header, the Python 3
`latin1` re-save) lives in `data/authors_writer.py`, shared with
`benchmarks/bench_paper_scale.py`; this module re-exports it and adds the
tests' sample content (`make_sample`).
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image

from data.authors_writer import (  # noqa: F401  (re-exported for the tests)
    Py2Pickler,
    Streamed,
    authors_npy_bytes,
    npy_v1_header,
    write_authors_npy,
    write_latin1_variant,
)

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
