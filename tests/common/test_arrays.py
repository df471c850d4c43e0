"""Large host arrays held once: alignment, chunked norms, zero-copy tensors."""

import numpy as np
import pytest
import tensorflow as tf

from common import arrays


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.uint8])
def test_aligned_buffers_start_on_the_boundary(dtype):
    for shape in [(0,), (1,), (7, 3), (5, 2, 9)]:
        a = arrays.aligned_empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and arrays.is_aligned(a)
    z = arrays.aligned_zeros((4, 6), dtype)
    assert arrays.is_aligned(z) and not z.any()


def test_aligned_copies_only_when_it_must(monkeypatch):
    monkeypatch.setattr(arrays, "_CHUNK_BYTES", 40)  # several chunks of rows
    rng = np.random.default_rng(0)
    a = arrays.aligned_empty((50, 7))
    a[:] = rng.normal(size=(50, 7))
    assert arrays.aligned(a) is a
    misaligned = np.frombuffer(a.tobytes() + b"\0" * 4, np.float32, offset=4)[: a.size]
    misaligned = misaligned.reshape(a.shape)
    assert not arrays.is_aligned(misaligned)
    copy = arrays.aligned(misaligned)
    assert arrays.is_aligned(copy) and copy is not misaligned
    np.testing.assert_array_equal(copy, misaligned)
    as_float = arrays.aligned(np.arange(12).reshape(3, 4))  # int64 -> float32
    assert as_float.dtype == np.float32
    np.testing.assert_array_equal(as_float, np.arange(12).reshape(3, 4))
    transposed = arrays.aligned(a.T)  # not C-contiguous
    assert arrays.is_aligned(transposed)
    np.testing.assert_array_equal(transposed, a.T)


def test_row_norms_are_numpys_bit_for_bit(monkeypatch):
    monkeypatch.setattr(arrays, "_CHUNK_BYTES", 3 * 33 * 4 + 5)  # 3 rows per chunk
    x = np.random.default_rng(1).normal(size=(20, 33)).astype(np.float32) * 7
    got = arrays.row_norms(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, np.linalg.norm(x, axis=1))
    assert arrays.row_norms(np.zeros((0, 4), np.float32)).shape == (0,)


def test_constant_shares_the_array_on_cpu():
    assert not tf.config.list_logical_devices("GPU")  # what this machine is
    a = arrays.aligned_empty((6, 5))
    a[:] = np.arange(30, dtype=np.float32).reshape(6, 5)
    t = arrays.constant(a)
    np.testing.assert_array_equal(t.numpy(), a)
    a[2, 3] = -1.0  # the tensor reads the array's own buffer: no copy was made
    assert float(t[2, 3]) == -1.0
    # The tensor keeps the buffer alive after the array is gone, in and out of XLA.
    del a
    gathered = tf.function(lambda i: tf.gather(t, i) * 2.0, jit_compile=True)(tf.constant([2, 5]))
    np.testing.assert_array_equal(gathered.numpy()[0], [20.0, 22.0, 24.0, -2.0, 28.0])


def test_constant_copies_what_it_cannot_share():
    strided = np.arange(24, dtype=np.float32).reshape(4, 6)[:, ::2]
    np.testing.assert_array_equal(arrays.constant(strided).numpy(), strided)
    ints = arrays.constant(np.arange(5))
    assert ints.dtype == tf.int64 and ints.numpy().tolist() == [0, 1, 2, 3, 4]
    assert arrays.constant(np.zeros((0, 3), np.float32)).shape == (0, 3)


def test_constant_of_a_read_only_memory_map(tmp_path):
    # DLPack cannot export a read-only buffer: the tensor gets a copy.
    path = str(tmp_path / "f.npy")
    np.save(path, np.arange(40, dtype=np.float32).reshape(8, 5))
    for mode in ["r", "c"]:
        mapped = np.load(path, mmap_mode=mode)
        np.testing.assert_array_equal(arrays.constant(mapped).numpy(), mapped)
    forced = arrays.aligned(np.load(path, mmap_mode="r"), copy=True)
    assert forced.flags.writeable and arrays.is_aligned(forced)
