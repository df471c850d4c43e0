"""data.features: the McAuley reader, the feature cache and pixel features."""

import logging
import os

import numpy as np
import pytest

from data import features
from data.core import DataError, ItemImages, RecDataset, as_str_ids


def _dataset(num_items, images=None, name="feat"):
    return RecDataset(
        name=name,
        num_users=1,
        num_items=num_items,
        train=np.array([[0, 0]], np.int64),
        validation=np.zeros((0, 2), np.int64),
        test=np.zeros((0, 2), np.int64),
        item_ids=as_str_ids([f"B00000000{i}" for i in range(num_items)]),
        user_ids=as_str_ids(["u"]),
        images=images,
    )


# ---------------------------------------------------------------------------
# McAuley's image_features_*.b


def test_mcauley_round_trip_streams_and_maps_asins(tmp_path, caplog):
    rng = np.random.default_rng(0)
    catalogue = ["B000000001", "B000000002", "B000000003", "X12"]
    # The file: three catalogue items out of order, one stranger, one short id.
    asins = ["B000000003", "B0STRANGER", "B000000001", "X12", "B000000002"]
    values = rng.normal(size=(5, 6)).astype(np.float32)
    path = str(tmp_path / "image_features_Test.b")
    features.write_mcauley_features(path, asins, values)
    assert os.path.getsize(path) == 5 * (10 + 4 * 6)
    with caplog.at_level(logging.WARNING):
        # chunk_records=2: records cross chunk boundaries.
        got = features.read_mcauley_features(path, catalogue, dim=6, chunk_records=2)
    np.testing.assert_array_equal(got[0], values[2])
    np.testing.assert_array_equal(got[1], values[4])
    np.testing.assert_array_equal(got[2], values[0])
    np.testing.assert_array_equal(got[3], values[3])
    assert "1 records are for items not in the catalogue" in caplog.text

    # A catalogue item missing from the file gets zeros and a count.
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        got = features.read_mcauley_features(path, ["B000000001", "B0MISSING0"], dim=6)
    np.testing.assert_array_equal(got[0], values[2])
    assert not got[1].any()
    assert "1 of 2 catalogue items have no features" in caplog.text


def test_mcauley_default_layout_is_4096_floats(tmp_path):
    values = np.arange(2 * 4096, dtype=np.float32).reshape(2, 4096)
    path = str(tmp_path / "f.b")
    features.write_mcauley_features(path, ["B000000001", "B000000002"], values)
    raw = open(path, "rb").read()
    assert raw[:10] == b"B000000001"
    assert np.frombuffer(raw[10 : 10 + 16], "<f4").tolist() == [0.0, 1.0, 2.0, 3.0]
    got = features.read_mcauley_features(path, ["B000000002", "B000000001"])
    np.testing.assert_array_equal(got, values[::-1])


def test_mcauley_errors(tmp_path):
    path = str(tmp_path / "bad.b")
    with open(path, "wb") as f:
        f.write(b"B000000001" + b"\0" * 7)
    with pytest.raises(DataError, match="not a whole number"):
        features.read_mcauley_features(path, ["B000000001"], dim=4)
    with pytest.raises(DataError, match="does not exist"):
        features.read_mcauley_features(str(tmp_path / "none.b"), ["x"])
    with pytest.raises(DataError, match="mcauley_features"):
        features.load_features(_dataset(2), "mcauley")
    with pytest.raises(DataError, match="Unknown --features"):
        features.load_features(_dataset(2), "resnet")


# ---------------------------------------------------------------------------
# The cache.


def test_cache_writes_once_and_checks_the_catalogue(tmp_path):
    calls = []

    def compute(n, value=1.0):
        calls.append(n)
        return np.full((n, 3), value, np.float32)

    ds = _dataset(4, name="synthetic_fashion/tiny")
    cache = str(tmp_path)
    first = features.cached_features(cache, ds, "pixels", lambda: compute(4))
    path = os.path.join(cache, "synthetic_fashion", "tiny", "pixels.npy")
    assert features.cache_path(cache, ds.name, "pixels") == path
    assert os.path.exists(path) and os.path.exists(path[:-4] + ".json")
    again = features.cached_features(cache, ds, "pixels", lambda: compute(4, 2.0))
    np.testing.assert_array_equal(first, again)
    assert calls == [4]
    # Another catalogue under the same name (e.g. another seed) is recomputed.
    other = _dataset(5, name="synthetic_fashion/tiny")
    got = features.cached_features(cache, other, "pixels", lambda: compute(5, 3.0))
    assert got.shape == (5, 3) and got[0, 0] == 3.0 and calls == [4, 5]
    assert not [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp")]
    with pytest.raises(ValueError, match="expected"):
        features.cached_features(None, ds, "pixels", lambda: np.zeros((3, 2)))


def test_pixel_features():
    pixels = np.zeros((3, 16, 16, 3), np.uint8)
    pixels[1] = 255
    pixels[2, :, :, 0] = 255
    got = features.load_features(_dataset(3, ItemImages(pixels=pixels)), "pixels")
    assert got.shape == (3, 192)
    np.testing.assert_allclose(got[0], -1.0)
    np.testing.assert_allclose(got[1], 1.0)
    np.testing.assert_allclose(got[2].reshape(8, 8, 3)[..., 0], 1.0)
    with pytest.raises(DataError, match="no images"):
        features.load_features(_dataset(2), "pixels")
