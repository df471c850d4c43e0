"""tf.data pipelines: BPR triplets, catalogue batches and GAN batches.

Every model of this project sees images through this module, so there is
one definition of preprocessing (`preprocess_images`): resize to S x S
(bilinear, antialiased when shrinking), round to uint8 (the precision the
catalogue is stored at), then scale with `(x - 127.5) / 127.5` to [-1, 1],
as the authors' code does. Rounding in every path, including a SavedModel
that calls `preprocess_images` on raw images, makes the catalogue held
decoded in memory, the catalogue decoded on the fly and an export all see
bit-identical inputs.

Item images come from an `ImageStore`: the catalogue decoded at S x S when
it fits a memory budget; else, given a cache folder, decoded once into a
memory-mapped `.npy` file at S x S; else the encoded bytes, decoded per
lookup inside the tf.data map. Decoded pixels live in non-trainable
`tf.Variable`s: a tf.data graph serialises captured constants when it
optimises itself (seconds for a few hundred MB, and a hard failure above
2 GB), whereas a variable is captured by handle. The memory-mapped cache
and the encoded bytes stay NumPy arrays, gathered per batch through
`tf.numpy_function`: a string tensor would copy the encoded catalogue a
second time. Build stores and datasets outside any `tf.distribute` scope,
so that the variables stay single host-side copies.

Training batches are pure functions of `(seed, step)`: batch `b` draws its
users, positives and negatives from stateless Philox streams keyed on
`[seed, b]`. A run resumed with `start_step=k` therefore sees exactly the
batches an uninterrupted run sees from step `k`, with no iterator
checkpoint, and no Python runs per example.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile

import numpy as np
import tensorflow as tf
from absl import logging

from common.images import tf_round_to_uint8, tf_to_unit_range
from common.runtime import Progress
from data import bpr
from data.core import DataError, ItemImages, RecDataset

AUTOTUNE = tf.data.AUTOTUNE

# The default memory budget for a catalogue held decoded (2 GiB).
DEFAULT_DECODED_BUDGET_BYTES = 2 << 30

# ITU-R BT.601 luma weights, the ones tf.image.rgb_to_grayscale uses.
_LUMA = (0.2989, 0.5870, 0.1140)

# Philox gives the same stream on every device; "auto_select" may not.
_RNG_ALG = "philox"

# Images decoded per chunk when a store decodes its catalogue once.
_DECODE_CHUNK = 1024


# ---------------------------------------------------------------------------
# Preprocessing: the one definition.


def resize_uint8(images: tf.Tensor, image_size: int, channels: int | None = None) -> tf.Tensor:
    """Resizes uint8 images to S x S and rounds back to uint8.

    Args:
      images: [B, H, W, C] uint8 in [0, 255] (C = 1 or 3; H, W may be
        dynamic).
      image_size: S, the output height and width.
      channels: output channels; 1 converts RGB to grayscale (BT.601
        luma), None or C keeps the input's channels.

    Returns:
      [B, S, S, channels or C] uint8 in [0, 255]. Bilinear with an
      antialiasing filter (a no-op when enlarging); images already S x S
      (statically known) are passed through untouched.
    """
    images = tf.convert_to_tensor(images)
    image_size = int(image_size)  # A Python int: the output shape is static.
    if images.dtype != tf.uint8:
        raise ValueError(f"Images must be uint8 in [0, 255], got {images.dtype.name}.")
    if images.shape.rank != 4:
        raise ValueError(f"Images must be [B, H, W, C], got shape {images.shape}.")
    in_channels = images.shape[-1]
    if channels is None:
        channels = in_channels
    if channels not in (1, 3) or (channels == 3 and in_channels != 3):
        raise ValueError(f"Cannot turn {in_channels}-channel images into {channels} channels.")
    same_size = images.shape[1] == image_size and images.shape[2] == image_size
    if same_size and channels == in_channels:
        return images
    x = tf.cast(images, tf.float32)
    if not same_size:
        x = tf.image.resize(x, [image_size, image_size], method="bilinear", antialias=True)
    if channels != in_channels:
        x = tf.tensordot(x, tf.constant(_LUMA, tf.float32), axes=[[3], [0]])[..., tf.newaxis]
    return tf_round_to_uint8(x)


def preprocess_images(images: tf.Tensor, image_size: int) -> tf.Tensor:
    """Raw uint8 images -> model input: the one definition of preprocessing.

    Args:
      images: [B, H, W, C] uint8 in [0, 255], any H and W (C is usually 3;
        1 is scaled as is).
      image_size: S, the model's input size.

    Returns:
      [B, S, S, C] float32 in [-1, 1]: `resize_uint8` (bilinear,
      antialiased when shrinking, rounded to uint8), then
      `(x - 127.5) / 127.5` (`common.images.tf_to_unit_range`; the
      inverse is `common.images.tf_to_uint8`).
    """
    return tf_to_unit_range(resize_uint8(images, image_size))


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


# ---------------------------------------------------------------------------
# Item images.


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
        for start in range(0, n, _DECODE_CHUNK):
            if images.pixels is not None:
                chunk = images.pixels[start : start + _DECODE_CHUNK]
                yield start, resize_uint8(chunk, self.image_size, self.channels).numpy()
            else:
                yield start, self._decode_chunk(images.encoded, start)
            if n > _DECODE_CHUNK:
                progress.update(min(start + _DECODE_CHUNK, n))

    def _decode_chunk(self, encoded: np.ndarray, start: int) -> np.ndarray:
        size, channels = self.image_size, self.channels
        # Chunks keep the captured bytes small (see the module docstring).
        chunk = _as_string_array(encoded[start : start + _DECODE_CHUNK])
        batches = (
            tf.data.Dataset.from_tensor_slices(chunk)
            .map(
                _graph_fn(lambda blob: _decode_one(blob, size, channels)),
                num_parallel_calls=AUTOTUNE,
                deterministic=True,
            )
            .batch(len(chunk))
        )
        try:
            return next(iter(batches)).numpy()
        except tf.errors.InvalidArgumentError as err:
            raise _decode_failure(encoded, start, len(chunk), err) from None

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
    if images.pixels is not None:
        digest.update(repr(images.pixels.shape).encode())
        digest.update(np.ascontiguousarray(images.pixels).data)
    else:
        for blob in images.encoded:
            digest.update(len(blob).to_bytes(8, "little"))
            digest.update(blob)
    return digest.hexdigest()


def _as_string_array(encoded) -> np.ndarray:
    return np.asarray([bytes(b) for b in encoded], dtype=object)


def _decode_failure(encoded, start: int, count: int, err: Exception) -> DataError:
    from data.images import MAX_LISTED, decode_error

    bad = [k for k in range(start, start + count) if decode_error(encoded[k]) is not None]
    listed = ", ".join(str(k) for k in bad[:MAX_LISTED]) or "unknown"
    return DataError(
        f"Item images failed to decode (item indices {listed}): {err.message.splitlines()[0]}. "
        f"Loaders check images at load time; reload the dataset with --bad_images=skip "
        f"or fix the files."
    )


def _store_for(ds: RecDataset, image_size: int, store: ImageStore | None, channels: int = 3):
    if store is None:
        if ds.images is None:
            raise DataError(
                f"Dataset {ds.name} has no item images; use an image dataset, or "
                f"with_images=False for triplets."
            )
        return ImageStore(ds.images, image_size, channels)
    if store.image_size != image_size or store.channels != channels:
        raise ValueError(
            f"The ImageStore holds {store.image_size}x{store.image_size}x{store.channels} "
            f"images, but {image_size}x{image_size}x{channels} were asked for."
        )
    if store.num_items != ds.num_items:
        raise ValueError(
            f"The ImageStore holds {store.num_items} items, dataset {ds.name} has {ds.num_items}."
        )
    return store


def _graph_fn(fn):
    """Marks a tf.data map function as plain TF ops (AutoGraph trips on closures)."""
    return tf.autograph.experimental.do_not_convert(fn)


def _options() -> tf.data.Options:
    options = tf.data.Options()
    options.deterministic = True
    return options


# ---------------------------------------------------------------------------
# BPR triplets.


def triplet_dataset(
    ds: RecDataset,
    image_size: int,
    batch_size: int,
    seed: int,
    *,
    start_step: int = 0,
    store: ImageStore | None = None,
    with_images: bool = True,
    uint8_images: bool = False,
) -> tf.data.Dataset:
    """The infinite stream of BPR training batches.

    Batch `b` (counting from 0 at the stream's true start) is a pure
    function of `(seed, b)`; `start_step=k` begins at batch `k`.

    Args:
      ds: the dataset.
      image_size: S.
      batch_size: B.
      seed: the stream's seed.
      start_step: index of the first batch (resume from a checkpoint).
      store: the item images (built from `ds.images` when None).
      with_images: whether to add the images.
      uint8_images: deliver the images as uint8 [B, S, S, 3] in [0, 255]
        (`ImageStore.lookup_uint8`), leaving the scaling of
        `preprocess_images` to the consumer: a quarter of the bytes to copy
        and to send to an accelerator, and three element-wise passes fewer
        on the input pipeline's CPU (the release's loader also queues
        uint8).

    Returns:
      A dataset with element_spec
        {'user': int32 [B], 'pos_item': int32 [B], 'neg_item': int32 [B],
         'pos_image': float32 [B, S, S, 3] in [-1, 1],
         'neg_image': float32 [B, S, S, 3] in [-1, 1]}
      (uint8 images in [0, 255] with `uint8_images`; no image keys when
      `with_images` is False).

    Raises:
      DataError: see `data.bpr.TripletSampler`; no images but `with_images`.
    """
    if batch_size < 1 or start_step < 0:
        raise ValueError(
            f"Need batch_size >= 1 and start_step >= 0, got {batch_size}, {start_step}."
        )
    # The release's protocol in DVBPR's stream (`data.bpr`): every negative is valid.
    sampler = bpr.TripletSampler(ds, bpr.SamplerConfig(seed=seed))
    store = _store_for(ds, image_size, store) if with_images else None

    def make_batch(step):
        batch = sampler.sample(step, batch_size)
        del batch["valid"]
        if store is not None:
            lookup = store.lookup_uint8 if uint8_images else store.lookup
            batch["pos_image"] = lookup(batch["pos_item"])
            batch["neg_image"] = lookup(batch["neg_item"])
        return batch

    steps = tf.data.Dataset.counter(start=start_step, dtype=tf.int64)
    out = steps.map(_graph_fn(make_batch), num_parallel_calls=AUTOTUNE, deterministic=True)
    return out.prefetch(AUTOTUNE).with_options(_options())


def steps_per_epoch(ds: RecDataset, batch_size: int) -> int:
    """Batches per epoch; an epoch is one triplet per training interaction (authors' code)."""
    return math.ceil(len(ds.train) / batch_size)


# ---------------------------------------------------------------------------
# Catalogue and GAN batches.


def item_dataset(
    ds: RecDataset,
    image_size: int,
    batch_size: int,
    *,
    items=None,
    store: ImageStore | None = None,
) -> tf.data.Dataset:
    """Ordered batches of item images, for embedding the catalogue.

    Args:
      ds: the dataset.
      image_size: S.
      batch_size: B; the last batch holds the remainder.
      items: item indices to embed, in this order (all items when None).
      store: the item images (built from `ds.images` when None).

    Returns:
      A finite dataset with element_spec
        {'item': int32 [b], 'image': float32 [b, S, S, 3] in [-1, 1]},
      b = B except for the last batch.

    Raises:
      DataError: no images, or an item index outside [0, num_items).
    """
    store = _store_for(ds, image_size, store)
    if items is None:
        items = np.arange(ds.num_items)
    items = np.asarray(items).reshape(-1)
    if len(items) and (
        not np.issubdtype(items.dtype, np.integer) or items.min() < 0 or items.max() >= ds.num_items
    ):
        raise DataError(
            f"item_dataset: items must be integer indices in [0, {ds.num_items}) of {ds.name}."
        )
    out = (
        tf.data.Dataset.from_tensor_slices(items.astype(np.int32))
        .batch(batch_size)
        .map(
            _graph_fn(lambda it: {"item": it, "image": store.lookup(it)}),
            num_parallel_calls=AUTOTUNE,
            deterministic=True,
        )
    )
    return out.prefetch(AUTOTUNE).with_options(_options())


def gan_dataset(
    ds: RecDataset,
    image_size: int,
    batch_size: int,
    seed: int,
    *,
    channels: int = 3,
    start_step: int = 0,
    store: ImageStore | None = None,
) -> tf.data.Dataset:
    """The infinite stream of GAN training batches over items with a known category.

    Each epoch visits every such item once, in a fresh order drawn from
    `(seed, epoch)`; batches run across epoch boundaries.

    Args:
      ds: the dataset (needs categories and images).
      image_size: S.
      batch_size: B.
      seed: the shuffling seed.
      channels: 3 for RGB, 1 for grayscale.
      start_step: batches to skip (resume); cheap, images are not read.
      store: the item images at (S, channels) (built when None).

    Returns:
      A dataset with element_spec
        {'image': float32 [B, S, S, channels] in [-1, 1],
         'category': int32 [B] in [0, num_categories)}.

    Raises:
      DataError: no categories, no item with a known category, or no images.
    """
    if ds.categories is None:
        raise DataError(f"Dataset {ds.name} has no item categories; the GAN needs them.")
    categories = np.asarray(ds.categories, np.int64)
    known = np.flatnonzero(categories >= 0)
    if len(known) == 0:
        raise DataError(f"Dataset {ds.name}: no item has a known category (all are -1).")
    store = _store_for(ds, image_size, store, channels)
    known_items = tf.constant(known, tf.int64)
    category_of = tf.constant(categories, tf.int64)
    n = len(known)

    def epoch_order(epoch):
        noise = tf.random.stateless_uniform(
            [n], seed=tf.stack([tf.constant(seed, tf.int64), epoch]), alg=_RNG_ALG
        )
        return tf.data.Dataset.from_tensor_slices(tf.gather(known_items, tf.argsort(noise)))

    def add_images(items):
        return {
            "image": store.lookup(items),
            "category": tf.cast(tf.gather(category_of, items), tf.int32),
        }

    out = (
        tf.data.Dataset.counter(dtype=tf.int64)
        .flat_map(_graph_fn(epoch_order))
        .batch(batch_size, drop_remainder=True)
        .skip(start_step)
        .map(_graph_fn(add_images), num_parallel_calls=AUTOTUNE, deterministic=True)
    )
    return out.prefetch(AUTOTUNE).with_options(_options())
