"""common/images.py: the one image convention, against NumPy references, NumPy vs TF."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from common import images

ALL_UINT8 = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)


def _floats() -> np.ndarray:
    """float32 [1, N, 1, 1]: uniform values beyond [-1, 1], exact ties (k + 0.5 on the
    uint8 scale), both ends and every uint8 level's own float."""
    rng = np.random.default_rng(0)
    ties = (np.arange(-3, 259) + 0.5 - 127.5) / 127.5
    levels = (np.arange(256) - 127.5) / 127.5
    values = np.concatenate([rng.uniform(-1.3, 1.3, 4000), ties, levels, [-1, 1, 0, -5, 5]])
    return values.astype(np.float32).reshape(1, -1, 1, 1)


def test_to_unit_range_matches_reference():
    want = (ALL_UINT8.astype(np.float64) - 127.5) / 127.5
    got = images.to_unit_range(ALL_UINT8)
    assert got.dtype == np.float32 and got.shape == ALL_UINT8.shape
    np.testing.assert_array_equal(got, want.astype(np.float32))
    assert got.min() == -1.0 and got.max() == 1.0


def test_to_uint8_matches_reference():
    x = _floats()
    # The formula, step by step in float32 (the input's dtype).
    scaled = x * np.float32(127.5) + np.float32(127.5)
    want = np.round(np.clip(scaled, 0, 255)).astype(np.uint8)
    got = images.to_uint8(x)
    assert got.dtype == np.uint8 and got.shape == x.shape
    np.testing.assert_array_equal(got, want)
    # And what it means: the nearest level of the clipped value, within float error.
    exact = np.clip((x.astype(np.float64) + 1) / 2 * 255, 0, 255)
    assert np.abs(got - exact).max() <= 0.5 + 1e-4
    np.testing.assert_array_equal(images.to_uint8(ALL_UINT8), ALL_UINT8)  # uint8 passes through


def test_round_to_uint8_clips_then_rounds_half_to_even():
    got = images.round_to_uint8(np.array([-3.0, 0.5, 1.5, 2.49, 254.5, 254.51, 300.0]))
    np.testing.assert_array_equal(got, [0, 0, 2, 2, 254, 255, 255])
    tf_got = images.tf_round_to_uint8(tf.constant([-3.0, 0.5, 1.5, 2.49, 254.5, 254.51, 300.0]))
    np.testing.assert_array_equal(tf_got.numpy(), got)


def test_round_trips():
    np.testing.assert_array_equal(images.to_uint8(images.to_unit_range(ALL_UINT8)), ALL_UINT8)
    back = images.tf_to_uint8(images.tf_to_unit_range(tf.constant(ALL_UINT8)))
    assert back.dtype == tf.uint8
    np.testing.assert_array_equal(back.numpy(), ALL_UINT8)
    # [-1, 1] -> uint8 -> [-1, 1] moves a value by at most half a level.
    x = np.clip(_floats(), -1, 1)
    again = images.to_unit_range(images.to_uint8(x))
    assert np.abs(again - x).max() <= 0.5 / 127.5 + 1e-6


@pytest.mark.parametrize("in_graph", [False, True])
def test_tf_and_numpy_agree_bit_for_bit(in_graph):
    to_unit, to_u8 = images.tf_to_unit_range, images.tf_to_uint8
    if in_graph:  # as traced into a SavedModel signature
        to_unit, to_u8 = tf.function(to_unit), tf.function(to_u8)
    else:
        np.testing.assert_array_equal(
            to_unit(tf.constant(ALL_UINT8)).numpy(), images.to_unit_range(ALL_UINT8)
        )
    x = _floats()
    np.testing.assert_array_equal(to_u8(tf.constant(x)).numpy(), images.to_uint8(x))
    # An array-like is taken as float32, as a float32 tensor would be.
    np.testing.assert_array_equal(
        images.tf_to_uint8(x.astype(np.float64)).numpy(), images.to_uint8(x)
    )


@pytest.mark.parametrize("shape", [(2, 5, 4, 1), (2, 5, 4, 3), (5, 4, 1), (0, 3, 3, 1)])
def test_grey_to_rgb_shapes(shape):
    x = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    got = images.grey_to_rgb(x)
    assert got.shape == shape[:-1] + (3,) and got.dtype == np.uint8
    if shape[-1] == 3:
        assert got is x
    else:
        for c in range(3):
            np.testing.assert_array_equal(got[..., c], x[..., 0])
    if len(shape) == 4:
        tf_got = images.tf_grey_to_rgb(tf.constant(x))
        assert tf_got.shape == got.shape
        np.testing.assert_array_equal(tf_got.numpy(), got)


def test_unit_range_in_a_data_map_is_exact_and_in_a_graph_one_ulp_off():
    """Pins the TODO in `tf_to_unit_range`: a tf.data map scales as NumPy does; a
    tf.function multiplies by 1 / 127.5 (Grappler), at most 1 ulp away."""
    want = images.to_unit_range(ALL_UINT8)
    mapped = tf.data.Dataset.from_tensors(ALL_UINT8).map(images.tf_to_unit_range)
    np.testing.assert_array_equal(next(iter(mapped)).numpy(), want)
    graph = tf.function(images.tf_to_unit_range)(tf.constant(ALL_UINT8)).numpy()
    reciprocal = (ALL_UINT8.astype(np.float32) - np.float32(127.5)) * np.float32(1 / 127.5)
    np.testing.assert_array_equal(graph, reciprocal)
    assert np.abs(graph.view(np.int32) - want.view(np.int32)).max() <= 1
