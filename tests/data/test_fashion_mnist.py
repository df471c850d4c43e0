"""Tests of data/fashion_mnist.py (and data/fashion_mnist_files.py) on small idx files written here.

The tests never read Debian's copy of Fashion-MNIST (CI machines may lack
it): they write a few hundred structured 28x28 images in the exact idx
format (magic numbers, big-endian dimensions, gzip) and load them through
`fashion_mnist_dir`.
"""

from __future__ import annotations

import gzip
import os
import re
import struct

import numpy as np
import pytest

from data import fashion_mnist as fm
from data import fashion_mnist_files, registry
from data.core import DataError

NUM_TRAIN = 320
NUM_T10K = 100


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes a uint8 array as a gzip-compressed idx file."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def fake_images(labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[n, 28, 28] uint8 garment-like silhouettes that vary within a class.

    Each class has its own silhouette (rows covered, half-width, a leg gap
    for trousers); each image draws its own width, length, brightness and
    stripe pattern, so the content features vary within every class.
    """
    n = len(labels)
    # Per class: first row, last row, half-width of the silhouette.
    shape = np.array(
        [
            [4, 22, 8],  # T-shirt
            [2, 26, 5],  # Trouser
            [3, 24, 9],  # Pullover
            [3, 25, 7],  # Dress
            [2, 26, 10],  # Coat
            [16, 24, 11],  # Sandal
            [3, 24, 8],  # Shirt
            [14, 24, 12],  # Sneaker
            [8, 24, 11],  # Bag
            [8, 25, 11],  # Ankle boot
        ]
    )[labels]
    yy, xx = np.mgrid[0:28, 0:28]
    top = (shape[:, 0] + rng.integers(-1, 2, n))[:, None, None]
    bottom = (shape[:, 1] + rng.integers(-2, 2, n))[:, None, None]
    half = (shape[:, 2] * rng.uniform(0.6, 1.2, n))[:, None, None]
    mask = (np.abs(xx - 13.5) < half) & (yy >= top) & (yy <= bottom)
    legs = (labels == 1)[:, None, None] & (np.abs(xx - 13.5) < 1.5) & (yy > 12)
    mask &= ~legs
    freq = rng.uniform(0.3, 1.5, n)[:, None, None]
    depth = rng.uniform(0.0, 0.6, n)[:, None, None]
    stripes = 1.0 - depth * (np.sin(yy * freq) > 0)
    brightness = rng.uniform(90, 255, n)[:, None, None]
    noise = rng.uniform(0.9, 1.0, (n, 28, 28))
    return np.where(mask, brightness * stripes * noise, 0).astype(np.uint8)


def write_fake_fashion_mnist(folder: str, seed: int = 0) -> dict:
    """Writes the four idx files; returns {split: (images, labels)}."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    out = {}
    for split, n in (("train", NUM_TRAIN), ("t10k", NUM_T10K)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = fake_images(labels, rng)
        images_file, labels_file = fashion_mnist_files.SOURCE_FILES[split]
        write_idx(os.path.join(folder, images_file), images)
        write_idx(os.path.join(folder, labels_file), labels)
        out[split] = (images, labels)
    return out


def numpy_auc(ds, score_fn, item_classes=None) -> float:
    """The paper's AUC on the test split (NumPy reference).

    Per user: the share of items the user never observed (in any split)
    scored below the held-out item, ties 1/2; averaged over users. With
    `item_classes`, only unobserved items of the held-out item's class count.
    """
    observed = np.zeros((ds.num_users, ds.num_items), bool)
    for rows in (ds.train, ds.validation, ds.test):
        observed[rows[:, 0], rows[:, 1]] = True
    users, held = ds.test[:, 0], ds.test[:, 1]
    scores = np.asarray(score_fn(users), np.float64)
    pos = scores[np.arange(len(users)), held][:, None]
    negative = ~observed[users]
    if item_classes is not None:
        negative &= item_classes[None, :] == item_classes[held][:, None]
    wins = ((scores < pos) & negative).sum(1) + 0.5 * ((scores == pos) & negative).sum(1)
    count = negative.sum(1)
    keep = count > 0
    return float(np.mean(wins[keep] / count[keep]))


@pytest.fixture(scope="module")
def fmnist_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("fmnist"))
    return folder, write_fake_fashion_mnist(folder)


@pytest.fixture(scope="module")
def tiny(fmnist_dir):
    folder, _ = fmnist_dir
    return fm.load_with_classes("tiny", fashion_mnist_dir=folder)


def test_read_idx_round_trip(tmp_path):
    images = np.arange(3 * 28 * 28, dtype=np.int64).reshape(3, 28, 28).astype(np.uint8)
    path = str(tmp_path / "x-images-idx3-ubyte.gz")
    write_idx(path, images)
    np.testing.assert_array_equal(fashion_mnist_files.read_idx(path, 3), images)
    labels = np.array([9, 0, 3], np.uint8)
    write_idx(str(tmp_path / "l.gz"), labels)
    np.testing.assert_array_equal(fashion_mnist_files.read_idx(str(tmp_path / "l.gz"), 1), labels)


def test_counts_and_categories(tiny):
    ds, classes = tiny
    cfg = fm.CONFIGS["tiny"]
    assert ds.name == "fashion_mnist_users/tiny"
    assert ds.num_users == cfg.num_users == 60
    assert len(ds.validation) == len(ds.test) == ds.num_users
    per_user = np.bincount(
        np.concatenate([ds.train[:, 0], ds.validation[:, 0], ds.test[:, 0]]),
        minlength=ds.num_users,
    )
    assert per_user.min() >= 5 and per_user.max() <= cfg.max_interactions
    assert len(ds.train) == per_user.sum() - 2 * ds.num_users
    # Candidates are sampled from the kept classes; unchosen ones are dropped.
    assert ds.info["candidate_items"] == cfg.num_candidate_items
    assert ds.num_items == cfg.num_candidate_items - ds.info["dropped_unchosen_items"]
    assert 100 < ds.num_items <= cfg.num_candidate_items
    assert ds.category_names == ("tops", "bottoms", "shoes")
    assert ds.categories.dtype == np.int64
    # Dress (3) and Bag (8) are dropped; the rest map as the paper's categories.
    assert not np.isin(classes, [3, 8]).any()
    expected = {0: 0, 2: 0, 4: 0, 6: 0, 1: 1, 5: 2, 7: 2, 9: 2}
    np.testing.assert_array_equal(ds.categories, [expected[c] for c in classes])
    assert set(np.unique(ds.categories)) == {0, 1, 2}
    assert sum(ds.info["items_per_class"].values()) == ds.num_items
    assert re.fullmatch(r"u\d{5}", ds.user_ids[42]) and ds.user_ids[42] == "u00042"


def test_pixels_are_the_source_images_padded(tiny, fmnist_dir):
    ds, classes = tiny
    _, source = fmnist_dir
    pixels = ds.images.pixels
    assert pixels.shape == (ds.num_items, 32, 32, 3) and pixels.dtype == np.uint8
    # The 2-pixel border is zero; the three channels are equal.
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert not pixels[:, border].any()
    np.testing.assert_array_equal(pixels[..., 0], pixels[..., 1])
    np.testing.assert_array_equal(pixels[..., 0], pixels[..., 2])
    # Each item id names its source image, and the pixels are that image's.
    for i, item_id in enumerate(ds.item_ids):
        m = re.fullmatch(r"fmnist-(train|t10k)-(\d{5})", item_id)
        assert m, item_id
        images, labels = source[m.group(1)]
        index = int(m.group(2))
        np.testing.assert_array_equal(pixels[i, 2:30, 2:30, 0], images[index])
        assert classes[i] == labels[index]
    assert len(set(ds.item_ids)) == ds.num_items
    assert pixels.max() > 0


def test_split_invariants(tiny):
    ds, _ = tiny
    for rows in (ds.train, ds.validation, ds.test):
        assert rows.dtype == np.int64
        order = np.lexsort((rows[:, 1], rows[:, 0]))
        np.testing.assert_array_equal(order, np.arange(len(rows)))
    np.testing.assert_array_equal(ds.validation[:, 0], np.arange(ds.num_users))
    np.testing.assert_array_equal(ds.test[:, 0], np.arange(ds.num_users))
    everything = np.concatenate([ds.train, ds.validation, ds.test])
    keys = everything[:, 0] * ds.num_items + everything[:, 1]
    assert len(np.unique(keys)) == len(keys), "an interaction appears twice"
    # Every item in the catalogue was chosen by somebody.
    assert np.bincount(everything[:, 1], minlength=ds.num_items).min() >= 1
    assert np.bincount(ds.train[:, 0], minlength=ds.num_users).min() >= 3


def test_deterministic_per_seed(fmnist_dir, tiny):
    folder, _ = fmnist_dir
    ds, _ = tiny
    again = fm.load("tiny", fashion_mnist_dir=folder)
    for field in ("train", "validation", "test", "item_ids", "categories"):
        np.testing.assert_array_equal(getattr(ds, field), getattr(again, field))
    np.testing.assert_array_equal(ds.images.pixels, again.images.pixels)
    np.testing.assert_array_equal(ds.true_scores([0, 5]), again.true_scores([0, 5]))
    assert ds.info["seed"] == 0
    other = fm.load("tiny", fashion_mnist_dir=folder, seed=1)
    assert other.info["seed"] == 1
    assert not (len(other.train) == len(ds.train) and np.array_equal(other.train, ds.train)), (
        "a different seed gave the same data"
    )
    # The registry calls the same loader.
    via_registry = registry.load(
        "fashion_mnist_users/tiny", registry.DataOptions(fashion_mnist_dir=folder)
    )
    np.testing.assert_array_equal(via_registry.train, ds.train)


def test_true_scores_and_features(tiny):
    ds, _ = tiny
    true = ds.true_scores
    scores = true(np.array([3, 0, 59], np.int32))
    assert scores.shape == (3, ds.num_items) and scores.dtype == np.float32
    manual = true.affinity[[3, 0, 59]][:, ds.categories] + true.weights[[3, 0, 59]] @ (
        true.features.T
    )
    np.testing.assert_allclose(scores, manual, rtol=1e-5, atol=1e-5)
    assert true.features.shape == (ds.num_items, fm.CONFIGS["tiny"].num_pca + 3)
    assert np.abs(true.features).max() < 2.5


def test_content_features_standardised_within_category():
    rng = np.random.default_rng(3)
    labels = rng.choice([0, 1, 5, 7], 400)
    images = fake_images(labels, rng)
    feats = fm.content_features(images, fm.CLASS_TO_CATEGORY[labels], num_pca=5)
    assert feats.shape == (400, 8) and feats.dtype == np.float32
    for c in (0, 1, 2):
        rows = fm.CLASS_TO_CATEGORY[labels] == c
        # Soft clipping moves the moments a little off 0 and 1.
        np.testing.assert_allclose(feats[rows].mean(0), 0.0, atol=0.15)
        assert np.all((feats[rows].std(0) > 0.75) & (feats[rows].std(0) < 1.01))
    # The ink-area feature follows the silhouette's size within a category.
    area = (images > 0.1 * 255).mean(axis=(1, 2))
    rows = fm.CLASS_TO_CATEGORY[labels] == 0
    assert np.corrcoef(area[rows], feats[rows, 6])[0, 1] > 0.95
    # With more images than pixels the PCA takes the covariance route; each
    # image twice has the same components, so the same features.
    twice = fm.content_features(
        np.concatenate([images, images]), np.tile(fm.CLASS_TO_CATEGORY[labels], 2), num_pca=5
    )
    np.testing.assert_allclose(twice[:400], feats, atol=1e-4)


def test_oracle_auc_is_high_and_not_just_the_label(tiny):
    ds, classes = tiny
    oracle = numpy_auc(ds, ds.true_scores)
    popularity = ds.item_train_counts().astype(np.float64)
    pop = numpy_auc(ds, lambda u: np.broadcast_to(popularity, (len(u), ds.num_items)))
    within_class = numpy_auc(ds, ds.true_scores, item_classes=classes)
    label_only = numpy_auc(ds, lambda u: ds.true_scores.affinity[u][:, ds.categories])
    assert oracle > 0.85, oracle
    assert oracle > pop + 0.1, (oracle, pop)
    # Ranking only within the held-out item's own class still works: the
    # utility depends on the image beyond its label.
    assert within_class > 0.75, within_class
    assert oracle > label_only + 0.15, (oracle, label_only)


def test_numpy_auc_reference():
    # Two users, four items; user 0 holds out item 1, user 1 item 3.
    from data.core import RecDataset

    ds = RecDataset(
        name="t",
        num_users=2,
        num_items=4,
        train=np.array([[0, 0], [1, 0]]),
        validation=np.array([[0, 2], [1, 1]]),
        test=np.array([[0, 1], [1, 3]]),
        item_ids=np.array(["a", "b", "c", "d"], object),
        user_ids=np.array(["u", "v"], object),
    )
    scores = np.array([[9.0, 1.0, 9.0, 1.0], [0.0, 0.0, 3.0, 2.0]])
    # User 0: only item 3 unobserved, tied -> 1/2. User 1: item 2 above -> 0.
    assert numpy_auc(ds, lambda u: scores[u]) == pytest.approx(0.25)


@pytest.mark.parametrize(
    "mangle, message",
    [
        (lambda raw: b"\x00\x00\x08\x02" + raw[4:], "magic"),
        (lambda raw: raw[:-10], "truncated"),
        (lambda raw: raw[:10], "too short"),
    ],
)
def test_malformed_idx_names_the_file(tmp_path, mangle, message):
    folder = str(tmp_path)
    write_fake_fashion_mnist(folder)
    path = os.path.join(folder, "train-images-idx3-ubyte.gz")
    with gzip.open(path, "rb") as f:
        raw = f.read()
    with gzip.open(path, "wb") as f:
        f.write(mangle(raw))
    with pytest.raises(DataError, match=message) as err:
        fm.load("tiny", fashion_mnist_dir=folder)
    assert path in str(err.value)


def test_not_gzip_and_mismatched_files_name_the_file(tmp_path):
    folder = str(tmp_path)
    write_fake_fashion_mnist(folder)
    labels = os.path.join(folder, "t10k-labels-idx1-ubyte.gz")
    with open(labels, "wb") as f:
        f.write(b"this is not gzip")
    with pytest.raises(DataError, match="gzip") as err:
        fm.load("tiny", fashion_mnist_dir=folder)
    assert labels in str(err.value)
    write_idx(labels, np.zeros(NUM_T10K - 1, np.uint8))
    with pytest.raises(DataError, match="labels") as err:
        fm.load("tiny", fashion_mnist_dir=folder)
    assert labels in str(err.value)


def test_missing_dir_says_what_to_do(tmp_path):
    folder = str(tmp_path / "nowhere")
    with pytest.raises(DataError) as err:
        fm.load("tiny", fashion_mnist_dir=folder)
    text = str(err.value)
    for needed in (
        folder,
        "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "apt-get install dataset-fashion-mnist",
        "--fashion_mnist_dir=DIR",
        "tfds.load('fashion_mnist')",
    ):
        assert needed in text, needed


def test_unknown_config(fmnist_dir):
    with pytest.raises(DataError, match="default, tiny"):
        fm.load("huge", fashion_mnist_dir=fmnist_dir[0])


def test_default_search_keras_cache_then_error(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_mnist_files, "DEBIAN_DIR", str(tmp_path / "no-debian"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))
    with pytest.raises(DataError) as err:
        fm.load("tiny")
    assert "no-debian" in str(err.value) and "keras" in str(err.value)
    write_fake_fashion_mnist(str(tmp_path / "keras" / "datasets" / "fashion-mnist"))
    ds = fm.load("tiny")
    assert ds.info["source"] == str(tmp_path / "keras" / "datasets" / "fashion-mnist")


def test_prepared_tfds_copy_is_used_when_no_files(tmp_path, monkeypatch):
    # TFDS's mock stands in for a prepared copy (nothing is downloaded).
    import tensorflow_datasets as tfds
    from tensorflow_datasets import testing as tfds_testing

    monkeypatch.setattr(fashion_mnist_files, "DEBIAN_DIR", str(tmp_path / "no-debian"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds_testing.mock_data(num_examples=100):
        ds, classes = fm.load_with_classes("tiny")
    assert ds.info["source"] == "tfds"
    assert all(re.fullmatch(r"fmnist-tfds-(train|test)-\d{5}", i) for i in ds.item_ids)
    assert not np.isin(classes, [3, 8]).any()
    assert ds.images.pixels.shape[1:] == (32, 32, 3)
