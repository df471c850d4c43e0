"""Synthetic files in the authors' format at the sizes of the paper's Table II.

`synthetic_objects(SyntheticSpec.table_ii("amazon_fashion"))` builds the
six objects of an authors' file of Amazon Fashion's size, its items
streamed (`data.authors_writer.Streamed`), for `write_authors_npy` to
write, and what a loader must read back. Used by the tests and by
`benchmarks/bench_paper_scale.py`.
"""

from __future__ import annotations

import dataclasses
import io
import struct

import numpy as np
from PIL import Image

from data.authors_writer import Streamed

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
