"""Fashion-MNIST's files: finding and reading them (for `fashion_mnist_users`).

Where the files come from (first found wins):

1. `fashion_mnist_dir` (`--fashion_mnist_dir=DIR`), when given: a folder with
   `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
   `t10k-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`;
2. Debian's `/usr/share/datasets/fashion-mnist` (`apt-get install
   dataset-fashion-mnist`);
3. Keras's download cache `~/.keras/datasets/fashion-mnist` (or
   `$KERAS_HOME/datasets/fashion-mnist`), which
   `keras.datasets.fashion_mnist.load_data()` fills on a machine with
   internet;
4. a TFDS copy already prepared by `tfds.load('fashion_mnist')` (in
   `$TFDS_DATA_DIR` or `~/tensorflow_datasets`). It is read, never
   downloaded. TFDS stores the examples in its own shuffled order, so its
   items get ids `fmnist-tfds-{train,test}-NNNNN` and a given seed samples a
   different (equally valid) catalogue than from the idx files.

The idx files are parsed here (magic number, dimensions, payload length);
the `.gz` files Debian ships were recompressed, so no hash is checked.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np
from absl import logging

from data.core import DataError

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

# Source split -> (images file, labels file), the names upstream, Debian and
# Keras all use.
SOURCE_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "t10k": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

IMAGE_SIZE = 28

# The idx format: two zero bytes, a type code (0x08 = unsigned byte), the
# number of dimensions, then one big-endian int32 per dimension.
_IDX_UBYTE = 0x08


def read_idx(path: str, ndim: int) -> np.ndarray:
    """Reads one gzip-compressed idx file of unsigned bytes.

    Args:
      path: the `.gz` file.
      ndim: the number of dimensions the file must have (3 for images, 1
        for labels).

    Returns:
      uint8 array of the shape the header gives.

    Raises:
      DataError: unreadable gzip, wrong magic number, wrong number of
        dimensions or a payload of the wrong length; the message names the
        file.
    """
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(
            f"{path}: not a readable gzip file ({e}). Reinstall it "
            f"(apt-get install --reinstall dataset-fashion-mnist) or point "
            f"--fashion_mnist_dir at a good copy."
        ) from e
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path}: {len(raw)} bytes is too short for an idx header.")
    if raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE or raw[3] != ndim:
        raise DataError(
            f"{path}: bad idx magic number 0x{raw[:4].hex()}; expected "
            f"0x0000{_IDX_UBYTE:02x}{ndim:02x} (unsigned bytes, {ndim} dimension(s)). "
            f"Is this a Fashion-MNIST {'images' if ndim == 3 else 'labels'} file?"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    expected = int(np.prod(dims, dtype=np.int64))
    if len(raw) - header != expected:
        raise DataError(
            f"{path}: the header promises {dims} = {expected} bytes of data but "
            f"the file holds {len(raw) - header}; the file is truncated or corrupt."
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(dims)


def _read_split(folder: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    images_file, labels_file = (os.path.join(folder, f) for f in SOURCE_FILES[split])
    images = read_idx(images_file, 3)
    labels = read_idx(labels_file, 1)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(
            f"{images_file}: images are {images.shape[1]}x{images.shape[2]}; "
            f"Fashion-MNIST's are {IMAGE_SIZE}x{IMAGE_SIZE}."
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_file} holds {len(images)} images but {labels_file} holds "
            f"{len(labels)} labels; the two files must come from the same release."
        )
    if len(labels) and labels.max() >= len(CLASS_NAMES):
        raise DataError(
            f"{labels_file}: label {int(labels.max())} is out of range; "
            f"Fashion-MNIST labels are 0..{len(CLASS_NAMES) - 1}."
        )
    return images, labels


def _has_files(folder: str) -> bool:
    return all(
        os.path.exists(os.path.join(folder, f)) for pair in SOURCE_FILES.values() for f in pair
    )


def _keras_cache_dir() -> str:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return os.path.join(home, "datasets", "fashion-mnist")


def _missing_files_error(folder: str | None, searched: list[str]) -> DataError:
    names = ", ".join(f for pair in SOURCE_FILES.values() for f in pair)
    if folder is not None:
        missing = [
            f
            for pair in SOURCE_FILES.values()
            for f in pair
            if not os.path.exists(os.path.join(folder, f))
        ]
        where = f"--fashion_mnist_dir={folder} lacks {', '.join(missing)}"
    else:
        where = f"Fashion-MNIST was not found (looked in {', '.join(searched)})"
    return DataError(
        f"{where}. fashion_mnist_users needs the four idx files {names}. Either "
        f"`apt-get install dataset-fashion-mnist` (installs them in {DEBIAN_DIR}), "
        f"or pass `--fashion_mnist_dir=DIR` pointing at a folder holding them, or, "
        f"on a machine with internet, run `tfds.load('fashion_mnist')` (a prepared "
        f"TFDS copy is picked up when no folder is given) or "
        f"`keras.datasets.fashion_mnist.load_data()` (saves the files in "
        f"{_keras_cache_dir()}, which is searched too)."
    )


def _read_tfds() -> dict[str, tuple[np.ndarray, np.ndarray]] | None:
    """Fashion-MNIST from an already prepared TFDS copy, or None.

    Never downloads: a builder that is not prepared is left alone.
    """
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    try:
        builder = tfds.builder("fashion_mnist")
        if not builder.is_prepared():
            return None
        out = {}
        for split in ("train", "test"):
            # Batches of a known size rather than batch_size=-1, which needs a
            # known cardinality.
            batches = list(
                tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False).batch(10000))
            )
            out[split] = (
                np.concatenate([b["image"] for b in batches])
                .astype(np.uint8)
                .reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
                np.concatenate([b["label"] for b in batches]).astype(np.uint8),
            )
        return out
    except Exception as e:  # A broken TFDS copy must not hide the real advice.
        logging.warning("Could not read the prepared TFDS fashion_mnist: %s", e)
        return None


def read_fashion_mnist(
    fashion_mnist_dir: str | None = None,
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], str]:
    """Finds and reads Fashion-MNIST.

    Args:
      fashion_mnist_dir: folder with the four idx `.gz` files; when None,
        Debian's folder, then Keras's cache, then a prepared TFDS copy.

    Returns:
      ({source split: (uint8 [n, 28, 28] images, uint8 [n] labels in 0..9)},
      source) where the splits are "train"/"t10k" for idx files and
      "tfds-train"/"tfds-test" for TFDS, and source names the folder or
      "tfds".

    Raises:
      DataError: files missing (the message says how to get them) or
        malformed (the message names the file).
    """
    if fashion_mnist_dir is not None:
        folder = os.path.expanduser(fashion_mnist_dir)
        if not _has_files(folder):
            raise _missing_files_error(folder, [])
        return {s: _read_split(folder, s) for s in SOURCE_FILES}, folder
    searched = [DEBIAN_DIR, _keras_cache_dir()]
    for folder in searched:
        if _has_files(folder):
            return {s: _read_split(folder, s) for s in SOURCE_FILES}, folder
    tfds_data = _read_tfds()
    if tfds_data is not None:
        return {f"tfds-{s}": v for s, v in tfds_data.items()}, "tfds"
    raise _missing_files_error(None, [*searched, "TFDS prepared data"])
