"""The one in-memory description of a recommendation dataset.

Every dataset in the registry (`data.registry.load`) is turned into a
`RecDataset`; every pipeline, model, baseline and metric reads only this
type, so a new catalogue needs one loader and nothing else.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from common.errors import DataError  # noqa: F401  (re-exported: data's callers raise it)
from metrics.protocol import COLD_ITEM_THRESHOLD, interactions_csr  # noqa: F401

# The paper (Section IV-C) calls an item "cold" when it has fewer than 5
# observations at training time (the reference code of its baselines counts
# "<= 5", i.e. a threshold of 6; `metrics.auc.AUCOptions.cold_threshold`).

# Amazon Fashion's one-hot category order (AUTHORS_CODE.md).
AMAZON_FASHION_CATEGORIES = (
    "men_tops",
    "women_tops",
    "men_bottoms",
    "women_bottoms",
    "men_shoes",
    "women_shoes",
)


class ItemImages:
    """Item images: encoded bytes (JPEG/PNG/...), held or read on first use, or decoded pixels.

    Exactly one of `encoded` and `pixels` is given, or the encoded bytes
    come from a reader (`ItemImages.from_reader`): a catalogue stored on disk
    (the authors' datasets as TFDS records) is then not held in memory until
    something asks for `encoded`. Consumers that only stream the catalogue
    (`encoded_chunks`: an image cache built once) or pick a few items
    (`encoded_items`) never hold it; `content_digest` names the images
    without reading them when the reader's owner knows it.

    Immutable after construction (the lazily read bytes are set once).

    Attributes:
      encoded: [num_items] object array of `bytes` (JPEG or PNG, any size,
        RGB or grayscale); decoding to RGB happens in the tf.data pipeline.
        Reads the whole catalogue into memory on first access when it comes
        from a reader.
      pixels: [num_items, H, W, 3] uint8 array in [0, 255], for small
        catalogues that are cheaper to hold decoded than to decode per step;
        None for encoded images.
    """

    __slots__ = ("_encoded", "_pixels", "_count", "_read_chunks", "_digest")

    def __init__(self, encoded: np.ndarray | None = None, pixels: np.ndarray | None = None):
        if (encoded is None) == (pixels is None):
            raise ValueError("ItemImages needs exactly one of `encoded` or `pixels`.")
        if pixels is not None:
            if pixels.dtype != np.uint8 or pixels.ndim != 4 or pixels.shape[-1] != 3:
                raise ValueError(
                    f"ItemImages.pixels must be [N, H, W, 3] uint8, got "
                    f"{pixels.shape} {pixels.dtype}."
                )
        self._encoded = encoded
        self._pixels = pixels
        self._count = len(encoded) if encoded is not None else len(pixels)
        self._read_chunks = None
        self._digest = None

    @classmethod
    def from_reader(
        cls, count: int, read_chunks: Callable[[], Iterator[np.ndarray]], digest: str | None
    ) -> ItemImages:
        """Encoded images read from storage when first needed.

        Args:
          count: number of items.
          read_chunks: () -> iterator over [n] object arrays of `bytes`, the
            catalogue in item order, a chunk at a time; each call reads
            afresh. It must yield `count` images in all.
          digest: `content_digest` of those images when the storage knows
            it (computed when they were written); None computes it on demand
            (which reads them).
        """
        images = cls.__new__(cls)
        images._encoded, images._pixels, images._count = None, None, int(count)
        images._read_chunks, images._digest = read_chunks, digest
        return images

    @property
    def encoded(self) -> np.ndarray | None:
        if self._encoded is None and self._read_chunks is not None:
            chunks = list(self._read_chunks())
            encoded = np.concatenate(chunks) if chunks else np.zeros(0, object)
            _check_count(len(encoded), self._count)
            self._encoded = encoded
        return self._encoded

    @property
    def pixels(self) -> np.ndarray | None:
        return self._pixels

    @property
    def is_encoded(self) -> bool:
        """Whether the images are encoded bytes (held or not yet read)."""
        return self._pixels is None

    def __len__(self) -> int:
        return self._count

    @property
    def nbytes(self) -> int:
        """Bytes held in memory (0 for encoded images not read yet)."""
        if self._pixels is not None:
            return int(self._pixels.nbytes)
        if self._encoded is None:
            return 0
        return int(sum(len(b) for b in self._encoded))

    def encoded_chunks(self, chunk: int) -> Iterator[tuple[int, np.ndarray]]:
        """Yields (start, [n <= chunk] object array of bytes) over the catalogue, in order.

        Encoded images not read yet are streamed from the reader, never held whole.
        """
        if self._pixels is not None:
            raise ValueError("encoded_chunks: these images are decoded pixels.")
        if self._encoded is not None:
            for start in range(0, self._count, chunk):
                yield start, self._encoded[start : start + chunk]
            return
        start, held = 0, np.zeros(0, object)
        for part in self._read_chunks():
            held = np.concatenate([held, part]) if len(held) else part
            while len(held) >= chunk:
                yield start, held[:chunk]
                start, held = start + chunk, held[chunk:]
        if len(held):
            yield start, held
            start += len(held)
        _check_count(start, self._count)

    def encoded_items(self, indices: Sequence[int]) -> list[bytes]:
        """The encoded bytes of a few items (in the order given), without holding the catalogue."""
        indices = [int(k) for k in indices]
        if self._encoded is not None or self._read_chunks is None:
            return [bytes(self.encoded[k]) for k in indices]
        wanted, found = set(indices), {}
        for start, part in self.encoded_chunks(4096):
            for k in wanted.intersection(range(start, start + len(part))):
                found[k] = bytes(part[k - start])
            if len(found) == len(wanted):
                break
        return [found[k] for k in indices]

    @property
    def content_digest(self) -> str:
        """A hex digest of the images' content (names caches derived from them).

        Encoded images: `digest_of_blobs` over the items' bytes in item
        order. Pixels: BLAKE2b of their shape and bytes. Read (and cached)
        on first use unless given by the reader's owner.
        """
        if self._digest is None:
            if self._pixels is not None:
                digest = hashlib.blake2b(repr(self._pixels.shape).encode(), digest_size=16)
                digest.update(np.ascontiguousarray(self._pixels).data)
                self._digest = digest.hexdigest()
            else:
                per_item = [blob_digest(b) for _, part in self.encoded_chunks(4096) for b in part]
                self._digest = digest_of_blobs(per_item)
        return self._digest


def blob_digest(blob: bytes) -> bytes:
    """A 16-byte BLAKE2b digest of one item's encoded image (see `digest_of_blobs`)."""
    return hashlib.blake2b(blob, digest_size=16).digest()


def digest_of_blobs(item_digests: Sequence[bytes]) -> str:
    """`ItemImages.content_digest` of encoded images from their `blob_digest`s in item order.

    Per-item digests let a writer that sees items out of order (the authors'
    pickle) compute the same digest as a reader that sees them in order.
    """
    digest = hashlib.blake2b(len(item_digests).to_bytes(8, "little"), digest_size=16)
    for item_digest in item_digests:
        digest.update(item_digest)
    return digest.hexdigest()


def _check_count(got: int, expected: int) -> None:
    if got != expected:
        raise DataError(
            f"The catalogue's image storage yielded {got} images for {expected} items; "
            f"prepare the dataset again (delete its prepared records)."
        )


@dataclasses.dataclass(frozen=True)
class RecDataset:
    """Users, items, splits, categories and images of one dataset.

    Users and items are dense integer indices `0..num_users-1` and
    `0..num_items-1`; `user_ids` / `item_ids` keep the external ids.
    Interactions are [n, 2] int64 arrays of (user, item) rows, sorted by
    user then item for `train`. The paper's protocol holds one validation and
    one test item per user, but a custom split may hold any number.

    Attributes:
      name: registry name, e.g. "synthetic_fashion/tiny".
      num_users: number of users.
      num_items: number of items.
      train: [n_train, 2] int64 (user, item) training interactions.
      validation: [n_val, 2] int64 validation interactions.
      test: [n_test, 2] int64 test interactions.
      item_ids: [num_items] external item ids (str).
      user_ids: [num_users] external user ids (str).
      categories: [num_items] int64 category index, -1 where unknown; None
        when the dataset has no categories.
      category_names: names of the categories, indexed by category.
      images: item images, or None for interaction-only datasets.
      true_scores: optional callable (user_indices [b] int64) -> [b,
        num_items] float32 giving the simulator's true utilities; for
        simulated datasets only, used for the oracle AUC.
      info: free-form facts about how the data was made (seed, preset,
        dropped rows, source files), written into reports.
    """

    name: str
    num_users: int
    num_items: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    item_ids: np.ndarray
    user_ids: np.ndarray
    categories: np.ndarray | None = None
    category_names: tuple[str, ...] = ()
    images: ItemImages | None = None
    true_scores: object | None = None
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for split in ("train", "validation", "test"):
            rows = getattr(self, split)
            if rows.ndim != 2 or rows.shape[1] != 2:
                raise ValueError(f"{self.name}: {split} must be [n, 2], got {rows.shape}.")
            if len(rows) and (
                rows[:, 0].min() < 0
                or rows[:, 0].max() >= self.num_users
                or rows[:, 1].min() < 0
                or rows[:, 1].max() >= self.num_items
            ):
                raise ValueError(f"{self.name}: {split} holds a user or item index out of range.")
        if len(self.item_ids) != self.num_items or len(self.user_ids) != self.num_users:
            raise ValueError(f"{self.name}: item_ids/user_ids lengths do not match the counts.")
        if self.categories is not None and len(self.categories) != self.num_items:
            raise ValueError(f"{self.name}: categories must have one entry per item.")
        if self.images is not None and len(self.images) != self.num_items:
            raise ValueError(f"{self.name}: images must have one entry per item.")

    # Derived views. Cheap enough to recompute; cached on first use would
    # fight `frozen`, and callers keep what they need.

    def split(self, name: str) -> np.ndarray:
        """Returns the [n, 2] interactions of "train", "validation" or "test"."""
        if name not in ("train", "validation", "test"):
            raise ValueError(f"Unknown split {name!r}; use train, validation or test.")
        return getattr(self, name)

    def item_train_counts(self) -> np.ndarray:
        """[num_items] int64: training observations per item."""
        return np.bincount(self.train[:, 1], minlength=self.num_items).astype(np.int64)

    def cold_items(self, threshold: int = COLD_ITEM_THRESHOLD) -> np.ndarray:
        """[num_items] bool: fewer than `threshold` training observations (the paper: 5)."""
        return self.item_train_counts() < threshold

    def train_csr(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-user training items as CSR.

        Returns:
          indptr: [num_users + 1] int64; user u's items are
            `indices[indptr[u]:indptr[u + 1]]`.
          indices: [n_train] int64 item indices, sorted within each user.
        """
        return interactions_csr(self.train, self.num_users)

    @property
    def has_images(self) -> bool:
        return self.images is not None

    @property
    def num_categories(self) -> int:
        return len(self.category_names)


def sort_rows(rows: np.ndarray) -> np.ndarray:
    """Returns [n, 2] int64 rows sorted by user then item."""
    rows = np.asarray(rows, np.int64).reshape(-1, 2)
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def as_str_ids(ids: Sequence) -> np.ndarray:
    """External ids as a numpy array of str."""
    return np.asarray([str(i) for i in ids], dtype=object)


def check_indices(ids, count: int, what: str, owner: str, dtype=np.int32) -> np.ndarray:
    """Dense indices in [0, count) as a flat array, or a DataError naming the bad ones.

    Args:
      ids: array-like of integer indices, any shape (flattened).
      count: how many the owner knows; valid indices are 0..count-1.
      what: the plural noun in the message, e.g. "user(s)" or "category id(s)".
      owner: who knows them, e.g. "the recommender at /path", with anything
        that helps the reader pick a valid id.
      dtype: the returned dtype.

    Returns:
      `ids` flattened, as `dtype`.
    """
    ids = np.asarray(ids).reshape(-1)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise DataError(f"{what.capitalize()} must be integer indices, got {ids.dtype}.")
    bad = ids[(ids < 0) | (ids >= count)]
    if len(bad):
        raise DataError(
            f"Unknown {what} {sorted(set(bad.tolist()))[:10]}: {owner} knows 0..{count - 1}."
        )
    return ids.astype(dtype)
