"""TFDS builders for the authors' published datasets (`data.authors_loader` loads them).

    ds = data.authors_loader.load("amazon_fashion", manual_dir="~/Downloads")

The paper's four image datasets exist only as the authors' `.npy` files
(AUTHORS_CODE.md), published at http://cseweb.ucsd.edu/~wckang/DVBPR/
(linked from github.com/kang205/DVBPR) and downloaded by hand. The first
`load` reads the file once, as a stream (`data.authors_npy.AuthorsStream`:
each item is checked and written as soon as the pickle has built it, so
conversion holds about one batch of images, not the file), and writes TFDS
records; later loads read only the records, a batch of records parsed at a
time, and never touch the pickle again. The conversion also stores a
digest of the images (metadata `images_digest`, `ItemImages.content_digest`)
so that a load can name them, e.g. find their decoded cache, without
reading them (`data.authors_loader`).

Records: one split, "items", with one example per item:

    item              int64    the authors' item id (productid), 0..itemnum-1
    asin              text     Amazon id ("" when absent)
    image             string   encoded image: JPEGs in RGB kept byte for byte;
                               anything else (PNG, grayscale or CMYK JPEG, ...)
                               re-encoded as an RGB PNG, so decoders always get RGB
    image_ok          bool     False where the published image does not decode
    category          int64    index of the one-hot `c`; -1 when unknown
    train_users       [n] int64  users holding the item in user_train (repeats kept)
    validation_users  [n] int64  users whose validation item it is
    test_users        [n] int64  users whose test item it is

`usernum` / `itemnum` are kept in the dataset's metadata, so the published
user splits come back exactly.
"""

from __future__ import annotations

import io
import itertools
import os

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from data import authors_npy, images
from data.core import DataError, blob_digest, digest_of_blobs

PUBLISHED_AT = authors_npy.PUBLISHED_AT
CODE_URL = "https://github.com/kang205/DVBPR"

_CITATION = """\
@inproceedings{kang2017visually,
  title={Visually-Aware Fashion Recommendation and Design with Generative Image Models},
  author={Kang, Wang-Cheng and Fang, Chen and Wang, Zhaowen and McAuley, Julian},
  booktitle={IEEE International Conference on Data Mining (ICDM)},
  year={2017}
}"""

# Images checked at a time while converting (the check runs on a thread pool).
_CHECK_CHUNK = 2048

# The per-item lists of users, one per split.
USER_LISTS = ("train_users", "validation_users", "test_users")

# Background that transparent pixels are composited onto: product photos
# are shot on white, and PIL's plain RGBA->RGB conversion would expose
# whatever colour the transparent pixels happen to hold (often black).
_BACKGROUND = (255, 255, 255)


def to_rgb_encoding(blob: bytes) -> bytes:
    """The image as the pipeline should get it: RGB JPEG/PNG bytes.

    RGB JPEGs and RGB PNGs are returned unchanged (no generation loss);
    everything else is decoded, converted to RGB (transparent pixels onto
    white, 16-bit grayscale scaled to 8 bits) and re-encoded losslessly as
    PNG. Undecodable bytes are returned unchanged (the caller flags them).

    Args:
      blob: encoded image bytes.

    Returns:
      Encoded RGB image bytes.
    """
    if _jpeg_components(blob) == 3:
        return blob  # the common case, decided from the header alone
    try:
        with Image.open(io.BytesIO(blob)) as image:
            if image.format in ("JPEG", "PNG") and image.mode == "RGB":
                return blob
            image.load()
            if image.mode in ("I", "I;16", "I;16B", "I;16L"):
                # PIL's I->L conversion clips at 255 instead of scaling.
                gray = np.asarray(image, dtype=np.float64)
                scale = 255.0 / 65535.0 if gray.max() > 255 else 1.0
                image = Image.fromarray(np.clip(gray * scale + 0.5, 0, 255).astype(np.uint8))
            if image.mode == "P":
                image = image.convert("RGBA" if "transparency" in image.info else "RGB")
            if image.mode in ("RGBA", "LA", "PA"):
                rgba = image.convert("RGBA")
                background = Image.new("RGBA", rgba.size, _BACKGROUND + (255,))
                image = Image.alpha_composite(background, rgba)
            rgb = image.convert("RGB")
            out = io.BytesIO()
            rgb.save(out, format="PNG")
            return out.getvalue()
    except Exception:  # PIL raises many types; check_images reports the reason.
        return blob


# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic);
# 0xC4 (DHT), 0xC8 (JPG) and 0xCC (DAC) share the range but are not frames.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_components(blob: bytes) -> int | None:
    """Colour components of a JPEG (1 gray, 3 YCbCr/RGB, 4 CMYK), from its header.

    About a hundred times cheaper than PIL's `Image.open`, which matters
    for a quarter of a million images. None when `blob` is not a JPEG or
    its header is damaged.
    """
    if blob[:2] != b"\xff\xd8":
        return None
    pos, n = 2, len(blob)
    while pos + 4 <= n:
        if blob[pos] != 0xFF:
            return None
        marker = blob[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker in _JPEG_SOF:
            # FF Cn, length (2), precision (1), height (2), width (2), components (1).
            return blob[pos + 9] if pos + 9 < n else None
        pos += 2 + int.from_bytes(blob[pos + 2 : pos + 4], "big")
    return None


class AuthorsBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base builder: converts one authors' `.npy` file into TFDS records.

    Subclasses set `FILE_NAME` and `DESCRIPTION`; the TFDS name is the
    snake-case class name, which equals the registry name.
    """

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Authors' published file converted item by item."}
    FILE_NAME = ""
    DESCRIPTION = ""
    # TFDS looks for a checksums file beside a builder's code, and finding
    # that code inside a package imports `importlib_resources`, which TFDS
    # does not install. These builders download nothing, so there is no code
    # path to search.
    code_path = None

    @classmethod
    def manual_instructions(cls) -> str:
        return (
            f"Download {cls.FILE_NAME} from the first author's page, "
            f"{PUBLISHED_AT}{cls.FILE_NAME} (linked from {CODE_URL}), and place it in the "
            "folder passed as --manual_dir=DIR, or in <data_dir>/downloads/manual/ "
            "(TFDS's manual dir; <data_dir> defaults to ~/tensorflow_datasets)."
        )

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.MANUAL_DOWNLOAD_INSTRUCTIONS = cls.manual_instructions()

    def __init__(self, *, bad_images: str = "fail", **kwargs):
        """Creates the builder.

        Args:
          bad_images: "fail" stops preparation at the first check that finds
            undecodable images (nothing is written); "skip" records them
            with image_ok=False, so that `load` can drop them.
          **kwargs: TFDS builder arguments (data_dir, ...).
        """
        super().__init__(**kwargs)
        self._bad_images = bad_images

    def _info(self) -> tfds.core.DatasetInfo:
        # A variable-length Tensor encodes a whole list at once; a Sequence
        # would encode element by element (10x slower to prepare).
        users = tfds.features.Tensor(shape=(None,), dtype=tf.int64)
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.DESCRIPTION,
            features=tfds.features.FeaturesDict(
                {
                    "item": tf.int64,
                    "asin": tfds.features.Text(),
                    "image": tfds.features.Tensor(shape=(), dtype=tf.string),
                    "image_ok": tf.bool,
                    "category": tf.int64,
                    "train_users": users,
                    "validation_users": users,
                    "test_users": users,
                }
            ),
            # Records stay in item order, so reading back is deterministic.
            disable_shuffling=True,
            homepage=CODE_URL,
            citation=_CITATION,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager: tfds.download.DownloadManager):
        path = os.path.join(os.fspath(dl_manager.manual_dir), self.FILE_NAME)
        if not os.path.isfile(path):
            raise DataError(f"{path} is missing. {self.manual_instructions()}")
        # Reads the header and the splits now: a file that is not in the
        # authors' format fails before anything is written.
        stream = authors_npy.AuthorsStream(path)
        return {"items": self._generate_examples(stream)}

    def _generate_examples(self, stream: authors_npy.AuthorsStream):
        """Streams the file's items into examples, a chunk of images checked at a time.

        Holds the splits and two chunks of images, never the file: TFDS
        serializes each example as it is yielded, while a thread pool
        checks the next chunk's images. The stream validates the ids and
        counts when it ends, and images that do not decode are reported
        then, so with bad_images="fail" any such file fails as a whole and
        TFDS discards what it wrote.
        """
        path = stream.path
        users = {
            key: _UsersByItem(getattr(stream, split))
            for key, split in zip(
                USER_LISTS, ("user_train", "user_validation", "user_test"), strict=True
            )
        }
        bad: list[tuple[int, str]] = []
        digests: dict[int, bytes] = {}  # item -> blob_digest of its stored image
        items = stream.items()
        with images.decode_pool() as pool:

            def read_and_check():
                """The next chunk of (item, entry), with its images' checks under way."""
                chunk = list(itertools.islice(items, _CHECK_CHUNK))
                return chunk, [pool.submit(images.decode_error, e["image"]) for _, e in chunk]

            pending = read_and_check()
            while pending[0]:
                chunk, checks = pending
                # The pool checks the next chunk while this one is serialized.
                pending = read_and_check()
                yield from _examples(chunk, checks, users, bad, digests)
        # The stream has ended: the whole file is read and validated.
        if bad:
            images.report_bad_images([item for item, _ in bad], bad[0][1], path, self._bad_images)
        self.info.metadata.update(
            usernum=stream.usernum,
            itemnum=stream.itemnum,
            source=self.FILE_NAME,
            source_bytes=os.path.getsize(path),
        )
        if not bad and sorted(digests) == list(range(stream.itemnum)):
            # Names the images without reading them back (`ItemImages.content_digest`),
            # so a load can leave the bytes on disk.
            self.info.metadata["images_digest"] = digest_of_blobs(
                [digests[item] for item in range(stream.itemnum)]
            )


def _examples(chunk, checks, users: dict, bad: list, digests: dict):
    """(item, example) for a chunk of (item, entry).

    (item, reason) of bad images go to `bad`, item -> `blob_digest` of the
    stored image to `digests`.
    """
    for (item, entry), check in zip(chunk, checks, strict=True):
        reason = check.result()
        if reason is not None:
            bad.append((item, reason))
        category = entry["category"]
        image = entry["image"] if reason else to_rgb_encoding(entry["image"])
        digests[item] = blob_digest(image)
        yield (
            _record_key(item),
            {
                "item": item,
                "asin": entry["asin"] or "",
                "image": image,
                "image_ok": reason is None,
                "category": -1 if category is None else category,
                **{key: lookup[item] for key, lookup in users.items()},
            },
        )


# Keys spread over TFDS's 128-bit key range (see `_record_key`): ids below
# 2**_KEY_ID_BITS get a bucket of their own neighbourhood.
_KEY_ID_BITS = 20


def _record_key(item: int) -> int:
    """The TFDS key of an item's example: in item order, spread over the key range.

    With shuffling disabled, TFDS uses the key itself as the 128-bit hash
    that picks one of its 1,000 temporary buckets, as key * 1000 / 2**128:
    plain item ids all land in bucket 0, which TFDS then reads back whole to
    sort it, the whole catalogue in memory at the end of the conversion
    (2.2 GB for Amazon Fashion). Shifting the id to the top bits keeps the
    order and spreads a catalogue of up to 2**20 items over the buckets;
    larger ids keep their own value (correct, only less frugal).
    """
    return item << (128 - _KEY_ID_BITS) if 0 <= item < 1 << _KEY_ID_BITS else item


class _UsersByItem:
    """item -> [n] int64 users holding it in one split, in the split's order (repeats kept).

    Built once, vectorised (a stable sort of the split's (user, item)
    pairs by item), from {user: [item, ...]}.
    """

    def __init__(self, split: dict[int, list[int]]):
        lengths = np.fromiter(map(len, split.values()), np.int64, len(split))
        users = np.repeat(np.fromiter(split, np.int64, len(split)), lengths)
        items = np.fromiter(itertools.chain.from_iterable(split.values()), np.int64, len(users))
        self._users = users[np.argsort(items, kind="stable")]
        self._indptr = np.zeros(int(items.max(initial=-1)) + 2, np.int64)
        np.cumsum(np.bincount(items, minlength=len(self._indptr) - 1), out=self._indptr[1:])

    def __getitem__(self, item: int) -> np.ndarray:
        if item + 1 >= len(self._indptr):
            return self._users[:0]
        return self._users[self._indptr[item] : self._indptr[item + 1]]


class AmazonFashion(AuthorsBuilder):
    """Amazon Fashion as published by the authors (64K users, 234K images, 6 categories)."""

    FILE_NAME = "AmazonFashion6ImgPartitioned.npy"
    DESCRIPTION = (
        "Amazon Fashion (Kang et al., ICDM 2017): 64K users, 234K item images, 0.5M "
        "interactions; one-hot categories men's/women's tops, bottoms, shoes."
    )


class AmazonWomen(AuthorsBuilder):
    """Amazon Women as published by the authors (97K users, 347K images)."""

    FILE_NAME = "AmazonWomenWithImgPartitioned.npy"
    DESCRIPTION = "Amazon Women (Kang et al., ICDM 2017): 97K users, 347K images, 0.8M actions."


class AmazonMen(AuthorsBuilder):
    """Amazon Men as published by the authors (34K users, 110K images)."""

    FILE_NAME = "AmazonMenWithImgPartitioned.npy"
    DESCRIPTION = "Amazon Men (Kang et al., ICDM 2017): 34K users, 110K images, 0.2M actions."


class Tradesy(AuthorsBuilder):
    """Tradesy as published by the authors (33K users, 326K images)."""

    FILE_NAME = "TradesyImgPartitioned.npy"
    DESCRIPTION = "Tradesy (Kang et al., ICDM 2017): 33K users, 326K images, 0.6M actions."


BUILDERS: dict[str, type[AuthorsBuilder]] = {
    "amazon_fashion": AmazonFashion,
    "amazon_women": AmazonWomen,
    "amazon_men": AmazonMen,
    "tradesy": Tradesy,
}
