"""Item images as model input, inside graphs: the `ImageStore`.

Item images come from an `ImageStore`: the catalogue decoded at S x S when
it fits a memory budget; else, given a cache folder, decoded once into a
memory-mapped `.npy` file at S x S; else the encoded bytes, decoded per
lookup inside the tf.data map. Decoded pixels live in non-trainable
`tf.Variable`s: a tf.data graph serialises captured constants when it
optimises itself (seconds for a few hundred MB, and a hard failure above
2 GB), whereas a variable is captured by handle. The memory-mapped cache
and the encoded bytes stay NumPy arrays, gathered per batch through
`tf.numpy_function`: a string tensor would copy the encoded catalogue a
second time. Build stores outside any `tf.distribute` scope, so that the
variables stay single host-side copies.

Every mode resizes with `data.preprocess.resize_uint8` and scales with
`data.preprocess.preprocess_images`, so all give bit-identical images.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import numpy as np
import tensorflow as tf
from absl import logging

from common.runtime import Progress
from data.core import DataError, ItemImages
from data.preprocess import preprocess_images, resize_uint8

# The default memory budget for a catalogue held decoded (2 GiB).
DEFAULT_DECODED_BUDGET_BYTES = 2 << 30

# Images decoded per chunk when a store decodes its catalogue once.
_DECODE_CHUNK = 1024


def _decode_one(encoded: tf.Tensor, image_size: int, channels: int) -> tf.Tensor:
    """One encoded image (JPEG/PNG/GIF/BMP/WebP bytes) -> [S, S, channels] uint8."""
    # channels=3 turns grayscale into RGB and drops alpha; a GIF gives its first frame.
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False, dtype=tf.uint8)
    image.set_shape([None, None, 3])

    def resized():
        return resize_uint8(image[tf.newaxis], image_size, channels)[0]

    if channels != 3:
        return resized()
    # The decoded size is only known at run time. An antialiased resize to
    # the same size is the identity (weight 1 on each pixel's own centre),
    # so skipping it keeps the pixels and saves ~2/3 of the per-image cost
    # on catalogues stored at the model's size (the authors' 224x224 JPEGs).
    shape = tf.shape(image)
    same = tf.logical_and(shape[0] == image_size, shape[1] == image_size)
    return tf.cond(same, lambda: tf.ensure_shape(image, [image_size, image_size, 3]), resized)


def _hold(array, dtype: tf.DType) -> tf.Variable:
    """A host-side, non-trainable variable holding `array` (captured by handle, not by value)."""
    with tf.device("/cpu:0"):
        return tf.Variable(tf.convert_to_tensor(array, dtype), trainable=False)


class ImageStore:
    """Random access to item images as model input, inside graphs.

    Four ways of holding the catalogue, chosen at construction:

    - "decoded": [N, S, S, C] uint8 in memory when N*S*S*C bytes fit
      `decoded_budget_bytes` (encoded bytes are decoded once, in parallel
      through tf.data; `pixels` of another size are resized once). A lookup
      is a gather plus scaling.
    - "cached": too large for the budget, but `cache_dir` is given: the
      same [N, S, S, C] uint8 array, decoded (or resized) once into a
      `.npy` file in `cache_dir` and memory-mapped; a lookup is one NumPy
      gather per batch. The file is named after a fingerprint of the
      images and (S, C), so a later run on the same catalogue reuses it
      and a changed catalogue never reads a stale one. The OS pages the
      file in and out: the process's anonymous memory does not grow with
      it (its touched pages count as reclaimable, file-backed RSS).
    - "pixels": `images.pixels` too large to hold again at S x S; kept at
      their own size and resized per lookup.
    - "encoded": the dataset's encoded bytes, held as they are (no second
      copy), gathered per batch in NumPy and decoded and resized per lookup
      (`tf.io.decode_image`, grayscale and RGBA to RGB).

    All four give bit-identical images (the same `resize_uint8`).

    Args:
      images: the catalogue's images.
      image_size: S, the output height and width.
      channels: 3 for RGB, 1 for grayscale (BT.601 luma).
      decoded_budget_bytes: the most memory the decoded catalogue may take.
      cache_dir: where a catalogue over the budget is decoded once to a
        memory-mapped file (needs N*S*S*C bytes of disk); None decodes per
        lookup instead.

    Raises:
      DataError: an image fails to decode while the catalogue is decoded
        once (the message lists the item indices).
      ValueError: bad image_size or channels.
    """

    def __init__(
        self,
        images: ItemImages,
        image_size: int,
        channels: int = 3,
        decoded_budget_bytes: int = DEFAULT_DECODED_BUDGET_BYTES,
        cache_dir: str | None = None,
    ):
        if image_size < 1:
            raise ValueError(f"image_size must be positive, got {image_size}.")
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}.")
        self.image_size = int(image_size)
        self.channels = int(channels)
        self.num_items = len(images)
        decoded_bytes = self.num_items * image_size * image_size * channels
        self.fits_budget = decoded_bytes <= decoded_budget_bytes
        self.cache_path = None
        if not self.fits_budget and cache_dir is not None:
            self.mode = "cached"
            self.cache_path = self._cache_once(images, cache_dir)
            self._data = np.load(self.cache_path, mmap_mode="r")
        elif images.pixels is not None:
            if self.fits_budget:
                self.mode = "decoded"
                self._data = self._resize_pixels_once(images.pixels)
            else:
                self.mode = "pixels"
                self._data = _hold(images.pixels, tf.uint8)
        elif self.fits_budget:
            self.mode = "decoded"
            self._data = self._decode_once(images)
        else:
            self.mode = "encoded"
            # The dataset's own bytes objects, not a copy into a TF string
            # tensor: a catalogue of the paper's size (2.3 GB of JPEGs) is
            # then held once in the process, not twice.
            self._data = _as_string_array(images.encoded)
        logging.info(
            "ImageStore: %d items at %dx%dx%d, mode %s (decoded would take %.1f MB, budget %.1f MB)",
            self.num_items,
            image_size,
            image_size,
            channels,
            self.mode,
            decoded_bytes / 2**20,
            decoded_budget_bytes / 2**20,
        )

    @property
    def nbytes(self) -> int:
        """Bytes the store holds."""
        if self.mode == "encoded":
            return int(sum(len(blob) for blob in self._data))
        if self.mode == "cached":
            return 0  # On disk, paged in by the OS.
        return int(np.prod(self._data.shape)) if self._data.shape.rank else 0

    def lookup_uint8(self, items: tf.Tensor) -> tf.Tensor:
        """Images of `items` (int32/int64 [B] in [0, N)) as [B, S, S, C] uint8 in [0, 255]."""
        items = tf.convert_to_tensor(items)
        if self.mode == "decoded":
            return tf.gather(self._data, items)
        if self.mode == "cached":
            # It copies out of the page cache, or from disk for pages not yet resident.
            out = _numpy_gather(self._data, items, tf.uint8)
            return tf.ensure_shape(out, [None, self.image_size, self.image_size, self.channels])
        if self.mode == "pixels":
            return resize_uint8(tf.gather(self._data, items), self.image_size, self.channels)
        size, channels = self.image_size, self.channels
        blobs = tf.ensure_shape(_numpy_gather(self._data, items, tf.string), [None])
        return tf.map_fn(
            lambda blob: _decode_one(blob, size, channels),
            blobs,
            fn_output_signature=tf.TensorSpec([size, size, channels], tf.uint8),
            parallel_iterations=16,
        )

    def lookup(self, items: tf.Tensor) -> tf.Tensor:
        """Images of `items` as model input.

        Args:
          items: [B] int32 or int64 item indices in [0, num_items).

        Returns:
          [B, S, S, channels] float32 in [-1, 1] (`preprocess_images`).
        """
        return preprocess_images(self.lookup_uint8(items), self.image_size)

    def _chunks(self, images: ItemImages):
        """Yields (start, [n, S, S, C] uint8) of the whole catalogue, in order, with progress."""
        n = self.num_items
        # Silent for catalogues of one chunk (seconds at most).
        progress = Progress(n, "images", interval=10.0, prefix=f"decoding at {self.image_size}px")
        if images.pixels is not None:
            chunks = (
                (start, images.pixels[start : start + _DECODE_CHUNK])
                for start in range(0, n, _DECODE_CHUNK)
            )
        else:
            # Streams a catalogue not read into memory yet (see ItemImages).
            chunks = images.encoded_chunks(_DECODE_CHUNK)
        for start, chunk in chunks:
            if images.pixels is not None:
                yield start, resize_uint8(chunk, self.image_size, self.channels).numpy()
            else:
                yield start, self._decode_chunk(chunk, start)
            if n > _DECODE_CHUNK:
                progress.update(min(start + len(chunk), n))

    def _decode_chunk(self, encoded: np.ndarray, start: int) -> np.ndarray:
        """[n] encoded images (items start..start+n-1) -> [n, S, S, C] uint8."""
        size, channels = self.image_size, self.channels
        # Chunks keep the captured bytes small (see the module docstring).
        chunk = _as_string_array(encoded)
        batches = (
            tf.data.Dataset.from_tensor_slices(chunk)
            .map(
                # Plain TF ops: AutoGraph trips on closures.
                tf.autograph.experimental.do_not_convert(
                    lambda blob: _decode_one(blob, size, channels)
                ),
                num_parallel_calls=tf.data.AUTOTUNE,
                deterministic=True,
            )
            .batch(len(chunk))
        )
        try:
            return next(iter(batches)).numpy()
        except tf.errors.InvalidArgumentError as err:
            raise _decode_failure(encoded, start, err) from None

    def _resize_pixels_once(self, pixels: np.ndarray) -> tf.Variable:
        if pixels.shape[1:3] == (self.image_size, self.image_size) and self.channels == 3:
            return _hold(pixels, tf.uint8)
        return self._decode_once(ItemImages(pixels=pixels))

    def _decode_once(self, images: ItemImages) -> tf.Variable:
        size, channels, n = self.image_size, self.channels, self.num_items
        with tf.device("/cpu:0"):
            out = tf.Variable(tf.zeros([n, size, size, channels], tf.uint8), trainable=False)
        for start, chunk in self._chunks(images):
            out[start : start + len(chunk)].assign(chunk)
        return out

    def _cache_once(self, images: ItemImages, cache_dir: str) -> str:
        """Path of the catalogue decoded at S x S in a `.npy` file, written once (atomically)."""
        shape = (self.num_items, self.image_size, self.image_size, self.channels)
        key = _fingerprint(images, shape)
        path = os.path.join(cache_dir, f"images_{'x'.join(map(str, shape))}_{key}.npy")
        if os.path.exists(path):
            logging.info("ImageStore: reusing the decoded catalogue %s", path)
            return path
        os.makedirs(cache_dir, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_dir, prefix=".tmp-", suffix=".npy")
        os.close(fd)
        try:
            out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=shape)
            for start, chunk in self._chunks(images):
                out[start : start + len(chunk)] = chunk
            out.flush()
            del out
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return path


def _numpy_gather(array: np.ndarray, items: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """`array[items]` for a NumPy array held outside the graph: one gather per batch."""
    return tf.numpy_function(lambda k: array[np.asarray(k)], [items], dtype, stateful=False)


def _fingerprint(images: ItemImages, shape: tuple[int, ...]) -> str:
    """A short hash of the images' content and the decoded shape (names the cache file)."""
    digest = hashlib.blake2b(repr(shape).encode(), digest_size=10)
    digest.update(images.content_digest.encode())
    return digest.hexdigest()


def _as_string_array(encoded) -> np.ndarray:
    return np.asarray([bytes(b) for b in encoded], dtype=object)


def _decode_failure(encoded, start: int, err: Exception) -> DataError:
    """The DataError for a chunk of images (items start, start+1, ...) that failed to decode."""
    from data.images import MAX_LISTED, decode_error

    bad = [start + k for k, blob in enumerate(encoded) if decode_error(blob) is not None]
    listed = ", ".join(str(k) for k in bad[:MAX_LISTED]) or "unknown"
    return DataError(
        f"Item images failed to decode (item indices {listed}): {err.message.splitlines()[0]}. "
        f"Loaders check images at load time; reload the dataset with --bad_images=skip "
        f"or fix the files."
    )
