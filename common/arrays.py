"""Large host arrays held once: aligned buffers, chunked row norms, zero-copy tensors.

At the paper's size a feature matrix is 234,892 x 4,096 float32 = 3.8 GB, so
every implicit copy counts: `np.linalg.norm(x, axis=1)` allocates a
temporary as large as `x`, and `tf.constant(x)` copies `x` (measured here: a
1 GB array costs 1-2 GB more resident memory after `tf.constant`, the second
GB when numpy's buffer is not 64-byte aligned). These helpers give the same
numbers without those copies.
"""

from __future__ import annotations

import numpy as np

# TensorFlow's CPU kernels check that a tensor's buffer is aligned to
# EIGEN_MAX_ALIGN_BYTES (64 with AVX-512 builds); a zero-copy tensor over a
# numpy buffer that is not aborts the process on the first sliced read.
ALIGNMENT = 64

# Rows per chunk of the chunked helpers: ~64 MB of float32 at D = 4,096.
_CHUNK_BYTES = 64 * 2**20


def aligned_empty(shape, dtype=np.float32) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ALIGNMENT-byte boundary."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGNMENT, np.uint8)
    offset = (-raw.ctypes.data) % ALIGNMENT
    return raw[offset : offset + nbytes].view(dtype).reshape(shape)


def aligned_zeros(shape, dtype=np.float32) -> np.ndarray:
    """`aligned_empty` filled with zeros."""
    out = aligned_empty(shape, dtype)
    out.fill(0)
    return out


def is_aligned(array: np.ndarray) -> bool:
    """True when `array` is C-contiguous and starts on an ALIGNMENT-byte boundary (or is empty)."""
    if array.size == 0:
        return True
    return bool(array.flags.c_contiguous) and array.ctypes.data % ALIGNMENT == 0


def aligned(array, dtype=np.float32, copy: bool = False) -> np.ndarray:
    """`array` as `dtype`, itself when already aligned and of that dtype, else one aligned copy.

    The copy is made a chunk of rows at a time, so a memory-mapped source
    (`np.load(..., mmap_mode="c")`) is never read whole into a temporary.

    Args:
      array: array-like.
      dtype: the result's dtype.
      copy: always copy (into a fresh, writeable, aligned buffer).
    """
    array = np.asanyarray(array)
    if not copy and array.dtype == np.dtype(dtype) and is_aligned(array):
        return array
    out = aligned_empty(array.shape, dtype)
    if array.ndim == 0:
        out[...] = array
        return out
    step = chunk_rows(array)
    for start in range(0, len(array), step):
        out[start : start + step] = array[start : start + step]
    return out


def row_norms(array: np.ndarray) -> np.ndarray:
    """[N] float32 L2 norms of the rows of a [N, D] float32 array, without a [N, D] temporary.

    Bit-identical to `np.linalg.norm(array, axis=1)`: each row is reduced
    the same way whatever the number of rows in its chunk.
    """
    out = np.empty(len(array), np.float32)
    step = chunk_rows(array)
    for start in range(0, len(array), step):
        out[start : start + step] = np.linalg.norm(array[start : start + step], axis=1)
    return out


def chunk_rows(array: np.ndarray) -> int:
    """Rows of `array` per chunk of the chunked loops (~64 MB, at least one row)."""
    row_bytes = max(1, int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize)
    return max(1, _CHUNK_BYTES // row_bytes)


def constant(array: np.ndarray):
    """A tf.Tensor of a host array, sharing its memory when it can (CPU-only runs).

    `tf.constant` copies (see the module docstring). When TensorFlow sees no
    accelerator, an aligned C-contiguous array is handed over by DLPack
    instead: the tensor reads the array's own buffer and keeps it alive, so
    the array must not be written afterwards. With a GPU or TPU visible the
    tensor is made by `tf.constant`, which places it on the accelerator as
    before (a host alias would be copied to the device at every use).

    Args:
      array: any numpy array; float32 feature matrices are the case this is for.

    Returns:
      tf.Tensor of the same shape, dtype and values.
    """
    import tensorflow as tf

    array = np.asarray(array)
    accelerators = tf.config.list_logical_devices("GPU") + tf.config.list_logical_devices("TPU")
    if accelerators or array.size == 0:
        return tf.constant(array)
    # numpy's DLPack export refuses read-only buffers (np.load(mmap_mode="r")): copy those.
    shared = aligned(array, array.dtype, copy=not array.flags.writeable)
    return tf.experimental.dlpack.from_dlpack(shared.__dlpack__())
