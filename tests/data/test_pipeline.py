"""Tests of preprocessing (data.preprocess), image stores (data.image_store), and
triplets, item and GAN batches (data.pipeline)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.images import tf_to_uint8
from data import image_store, pipeline, preprocess
from data.core import DataError, ItemImages, RecDataset, as_str_ids, sort_rows

NUM_USERS = 30
NUM_ITEMS = 25
SOURCE = 20  # Height and width of the test images.
STEP = 1.0 / 127.5  # One uint8 level after scaling.


def _smooth_images(rng: np.random.Generator, n: int, size: int = SOURCE) -> np.ndarray:
    """[n, size, size, 3] uint8: random colour gradients plus noise (JPEG-friendly)."""
    ramp = np.linspace(0.0, 1.0, size)
    base = rng.uniform(30, 220, (n, 1, 1, 3))
    slope = rng.uniform(-30, 30, (n, 1, 1, 3))
    images = base + slope * (ramp[None, :, None, None] + ramp[None, None, :, None])
    images = images + rng.normal(0, 8, images.shape)
    return np.clip(np.round(images), 0, 255).astype(np.uint8)


def _encode(images: np.ndarray, fmt: str, mode: str = "RGB") -> np.ndarray:
    blobs = []
    for image in images:
        picture = Image.fromarray(image)
        if mode != "RGB":
            picture = picture.convert(mode)
        buffer = io.BytesIO()
        picture.save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        blobs.append(buffer.getvalue())
    return np.asarray(blobs, dtype=object)


def make_dataset(
    images: ItemImages | None = None,
    *,
    seed: int = 0,
    num_users: int = NUM_USERS,
    num_items: int = NUM_ITEMS,
    categories: np.ndarray | None = None,
) -> RecDataset:
    """Users own 0..8 random train items (some own none), so sampling has work to do."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(num_users):
        count = 0 if user % 7 == 3 else min(rng.integers(1, 9), num_items)
        rows += [(user, item) for item in rng.choice(num_items, count, replace=False)]
    train = sort_rows(np.asarray(rows))
    if categories is None:
        categories = np.where(np.arange(num_items) % 5 == 4, -1, np.arange(num_items) % 3)
    return RecDataset(
        name="test",
        num_users=num_users,
        num_items=num_items,
        train=train,
        validation=np.zeros((0, 2), np.int64),
        test=np.zeros((0, 2), np.int64),
        item_ids=as_str_ids(f"i{k}" for k in range(num_items)),
        user_ids=as_str_ids(f"u{k}" for k in range(num_users)),
        categories=categories,
        category_names=("a", "b", "c"),
        images=images,
    )


@pytest.fixture(scope="module")
def pixels() -> np.ndarray:
    return _smooth_images(np.random.default_rng(1), NUM_ITEMS)


@pytest.fixture(scope="module")
def rgb_ds(pixels) -> RecDataset:
    return make_dataset(ItemImages(pixels=pixels))


def _train_sets(ds: RecDataset) -> list[set[int]]:
    sets = [set() for _ in range(ds.num_users)]
    for user, item in ds.train:
        sets[user].add(int(item))
    return sets


def _take(dataset: tf.data.Dataset, n: int) -> list[dict]:
    return [{k: v.numpy() for k, v in batch.items()} for batch in dataset.take(n)]


# ---------------------------------------------------------------------------
# Preprocessing against NumPy references.


def _triangle_weights(in_size: int, out_size: int) -> np.ndarray:
    """[out, in] antialiased bilinear (triangle) resampling matrix, half-pixel centres."""
    scale = in_size / out_size
    width = max(scale, 1.0)  # The kernel widens when shrinking: the antialias filter.
    centres = (np.arange(out_size) + 0.5) * scale
    taps = np.arange(in_size) + 0.5
    weights = np.maximum(0.0, 1.0 - np.abs(taps[None, :] - centres[:, None]) / width)
    return weights / weights.sum(axis=1, keepdims=True)


def _numpy_preprocess(images: np.ndarray, size: int) -> np.ndarray:
    rows = _triangle_weights(images.shape[1], size)
    cols = _triangle_weights(images.shape[2], size)
    resized = np.einsum("oh,bhwc,pw->bopc", rows, images.astype(np.float64), cols)
    return (np.round(np.clip(resized, 0, 255)) - 127.5) / 127.5


@pytest.mark.parametrize("size", [20, 8, 7, 33])
def test_preprocess_images_matches_numpy(pixels, size):
    got = preprocess.preprocess_images(pixels[:6], size).numpy()
    want = _numpy_preprocess(pixels[:6], size)
    assert got.shape == (6, size, size, 3) and got.dtype == np.float32
    assert got.min() >= -1.0 and got.max() <= 1.0
    # Only a value within float error of .5 may round the other way.
    diff = np.abs(got - want)
    assert diff.max() <= STEP + 1e-6
    assert np.mean(diff > 1e-6) < 0.01
    if size == SOURCE:
        np.testing.assert_array_equal(got, (pixels[:6].astype(np.float32) - 127.5) / 127.5)


def test_preprocess_extremes_and_inverse(pixels):
    extremes = np.array([0, 255], np.uint8).reshape(1, 1, 2, 1).repeat(3, axis=3)
    np.testing.assert_array_equal(
        preprocess.preprocess_images(np.tile(extremes, (1, 2, 1, 1)), 2).numpy()[0, 0, :, 0],
        [-1.0, 1.0],
    )
    scaled = preprocess.preprocess_images(pixels, SOURCE)
    np.testing.assert_array_equal(tf_to_uint8(scaled).numpy(), pixels)
    with pytest.raises(ValueError, match="uint8"):
        preprocess.preprocess_images(pixels.astype(np.float32), SOURCE)


# ---------------------------------------------------------------------------
# Image stores.


def test_image_store_paths_give_the_same_images(pixels, tmp_path):
    items = np.array([3, 0, 24, 3, 11], np.int32)
    png = ItemImages(encoded=_encode(pixels, "PNG"))
    reference = preprocess.preprocess_images(pixels[items], 16).numpy()
    stores = {
        "pixels_decoded": image_store.ImageStore(ItemImages(pixels=pixels), 16),
        "pixels_per_lookup": image_store.ImageStore(
            ItemImages(pixels=pixels), 16, decoded_budget_bytes=100
        ),
        "png_decoded": image_store.ImageStore(png, 16),
        "png_on_the_fly": image_store.ImageStore(png, 16, decoded_budget_bytes=0),
        "png_cached": image_store.ImageStore(png, 16, decoded_budget_bytes=0, cache_dir=tmp_path),
        "pixels_cached": image_store.ImageStore(
            ItemImages(pixels=pixels), 16, decoded_budget_bytes=0, cache_dir=tmp_path
        ),
    }
    modes = {name: store.mode for name, store in stores.items()}
    assert modes == {
        "pixels_decoded": "decoded",
        "pixels_per_lookup": "pixels",
        "png_decoded": "decoded",
        "png_on_the_fly": "encoded",
        "png_cached": "cached",
        "pixels_cached": "cached",
    }
    for name, store in stores.items():
        got = store.lookup(tf.constant(items)).numpy()
        assert got.shape == (5, 16, 16, 3) and got.dtype == np.float32, name
        np.testing.assert_array_equal(got, reference, err_msg=name)
    assert stores["pixels_decoded"].nbytes == NUM_ITEMS * 16 * 16 * 3
    # Inside a tf.data map too (the cached store gathers through NumPy).
    mapped = tf.data.Dataset.from_tensors(items).map(stores["png_cached"].lookup)
    np.testing.assert_array_equal(next(iter(mapped)).numpy(), reference)


def test_image_store_cache_file_is_reused_and_keyed_on_content(pixels, tmp_path):
    png = ItemImages(encoded=_encode(pixels, "PNG"))
    first = image_store.ImageStore(png, 12, decoded_budget_bytes=0, cache_dir=tmp_path)
    want = np.load(first.cache_path)
    np.testing.assert_array_equal(want, preprocess.resize_uint8(pixels, 12).numpy())
    stamp = os.stat(first.cache_path).st_mtime_ns
    assert os.stat(first.cache_path).st_mode & 0o777 == 0o644  # readable by other users
    again = image_store.ImageStore(png, 12, decoded_budget_bytes=0, cache_dir=tmp_path)
    assert again.cache_path == first.cache_path
    assert os.stat(again.cache_path).st_mtime_ns == stamp  # Reused, not rewritten.
    # Another size, channel count or catalogue gets its own file.
    changed = png.encoded.copy()
    changed[0] = _encode(pixels[1:2], "PNG")[0]
    others = {
        image_store.ImageStore(png, 8, decoded_budget_bytes=0, cache_dir=tmp_path).cache_path,
        image_store.ImageStore(png, 12, 1, decoded_budget_bytes=0, cache_dir=tmp_path).cache_path,
        image_store.ImageStore(
            ItemImages(encoded=changed), 12, decoded_budget_bytes=0, cache_dir=tmp_path
        ).cache_path,
    }
    assert first.cache_path not in others and len(others) == 3
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]


def test_decoding_skips_the_resize_only_at_the_model_size(pixels):
    """Images already S x S decode to their own pixels; other sizes are resized as always."""
    jpeg = ItemImages(encoded=_encode(pixels, "JPEG"))
    items = np.arange(NUM_ITEMS)
    decoded = np.stack([tf.io.decode_jpeg(blob, channels=3).numpy() for blob in jpeg.encoded])
    same = image_store.ImageStore(jpeg, SOURCE, decoded_budget_bytes=0).lookup_uint8(items)
    np.testing.assert_array_equal(same.numpy(), decoded)
    smaller = image_store.ImageStore(jpeg, 13, decoded_budget_bytes=0).lookup_uint8(items)
    np.testing.assert_array_equal(smaller.numpy(), preprocess.resize_uint8(decoded, 13).numpy())


def test_image_store_jpeg_and_grayscale(pixels):
    items = np.arange(NUM_ITEMS, dtype=np.int64)
    jpeg = ItemImages(encoded=_encode(pixels, "JPEG"))
    decoded = image_store.ImageStore(jpeg, 12).lookup(items).numpy()
    on_the_fly = image_store.ImageStore(jpeg, 12, decoded_budget_bytes=0).lookup(items).numpy()
    np.testing.assert_array_equal(decoded, on_the_fly)
    # JPEG at quality 95 stays close to the source pixels.
    exact = preprocess.preprocess_images(pixels, 12).numpy()
    assert np.mean(np.abs(decoded - exact)) < 4 * STEP

    # Grayscale PNG bytes decode to RGB with three equal channels.
    gray = np.asarray([np.asarray(Image.fromarray(p).convert("L")) for p in pixels])
    gray_png = ItemImages(encoded=_encode(pixels, "PNG", mode="L"))
    for budget in (0, 1 << 30):
        got = image_store.ImageStore(gray_png, SOURCE, decoded_budget_bytes=budget).lookup(items)
        np.testing.assert_array_equal(
            got.numpy(), np.repeat((gray[..., None].astype(np.float32) - 127.5) / 127.5, 3, axis=3)
        )


def test_image_store_single_channel(pixels):
    luma = np.round(pixels.astype(np.float64) @ np.array([0.2989, 0.5870, 0.1140]))
    want = (luma[..., None] - 127.5) / 127.5
    png = ItemImages(encoded=_encode(pixels, "PNG"))
    for store in (
        image_store.ImageStore(ItemImages(pixels=pixels), SOURCE, channels=1),
        image_store.ImageStore(png, SOURCE, channels=1, decoded_budget_bytes=0),
    ):
        got = store.lookup(np.arange(NUM_ITEMS)).numpy()
        assert got.shape == (NUM_ITEMS, SOURCE, SOURCE, 1)
        assert np.abs(got - want).max() <= STEP + 1e-6


def test_image_store_reports_undecodable_items(pixels, tmp_path):
    blobs = _encode(pixels, "PNG")
    blobs[7] = b"not an image"
    with pytest.raises(DataError, match=r"item indices 7\b"):
        image_store.ImageStore(ItemImages(encoded=blobs), 8)
    with pytest.raises(DataError, match=r"item indices 7\b"):
        image_store.ImageStore(
            ItemImages(encoded=blobs), 8, decoded_budget_bytes=0, cache_dir=tmp_path
        )
    assert os.listdir(tmp_path) == []  # No half-written cache left behind.


# ---------------------------------------------------------------------------
# Triplets.


def test_triplet_shapes_dtypes_ranges(rgb_ds):
    dataset = pipeline.triplet_dataset(rgb_ds, 16, 8, seed=3)
    spec = dataset.element_spec
    assert spec["pos_image"] == tf.TensorSpec([8, 16, 16, 3], tf.float32)
    assert spec["user"] == tf.TensorSpec([8], tf.int32)
    for batch in _take(dataset, 3):
        assert set(batch) == {"user", "pos_item", "neg_item", "pos_image", "neg_image"}
        for key in ("pos_image", "neg_image"):
            assert batch[key].min() >= -1.0 and batch[key].max() <= 1.0
        reference = preprocess.preprocess_images(rgb_ds.images.pixels[batch["neg_item"]], 16)
        np.testing.assert_array_equal(batch["neg_image"], reference.numpy())
    no_images = pipeline.triplet_dataset(rgb_ds, 16, 8, seed=3, with_images=False)
    assert set(no_images.element_spec) == {"user", "pos_item", "neg_item"}
    # uint8 images: the same batches, scaled by the consumer into the same floats.
    raw = pipeline.triplet_dataset(rgb_ds, 16, 8, seed=3, uint8_images=True)
    assert raw.element_spec["pos_image"] == tf.TensorSpec([8, 16, 16, 3], tf.uint8)
    for want, got in zip(_take(dataset, 2), _take(raw, 2), strict=True):
        np.testing.assert_array_equal(got["neg_item"], want["neg_item"])
        for key in ("pos_image", "neg_image"):
            scaled = preprocess.preprocess_images(got[key], 16).numpy()
            np.testing.assert_array_equal(scaled, want[key])


@pytest.fixture(scope="module")
def many_triplets(rgb_ds):
    batches = _take(pipeline.triplet_dataset(rgb_ds, 16, 256, seed=7, with_images=False), 60)
    return {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}


def test_positives_in_train_negatives_not(rgb_ds, many_triplets):
    owned = _train_sets(rgb_ds)
    users, pos, neg = many_triplets["user"], many_triplets["pos_item"], many_triplets["neg_item"]
    assert all(p in owned[u] for u, p in zip(users, pos, strict=True))
    assert not any(n in owned[u] for u, n in zip(users, neg, strict=True))
    assert neg.min() >= 0 and neg.max() < NUM_ITEMS


def _pooled_chi_square(groups) -> tuple[float, int]:
    """Sum over groups of Pearson's statistic against uniform cells, and its degrees of freedom."""
    stat, dof = 0.0, 0
    for counts in groups:
        counts = np.asarray(counts, np.float64)
        if len(counts) < 2:
            continue
        expected = counts.sum() / len(counts)
        stat += float(np.sum((counts - expected) ** 2) / expected)
        dof += len(counts) - 1
    return stat, dof


def _assert_uniform(groups, name):
    stat, dof = _pooled_chi_square(groups)
    # A chi-square with `dof` degrees of freedom exceeds dof + 5 sqrt(2 dof) with
    # probability below about 1e-4; a biased sampler (say, per-user counts of 1 vs 2)
    # lands far above it at these sample sizes.
    assert stat < dof + 5 * np.sqrt(2 * dof), f"{name}: chi2 {stat:.1f} with {dof} dof"
    assert stat > 0.2 * dof, f"{name}: suspiciously even, chi2 {stat:.1f} with {dof} dof"


def test_triplet_marginals_are_uniform(rgb_ds, many_triplets):
    owned = _train_sets(rgb_ds)
    users, pos, neg = many_triplets["user"], many_triplets["pos_item"], many_triplets["neg_item"]
    eligible = [u for u in range(NUM_USERS) if owned[u]]
    user_counts = np.bincount(users, minlength=NUM_USERS)
    assert set(np.flatnonzero(user_counts)) == set(eligible)
    _assert_uniform([user_counts[eligible]], "users")
    pos_groups, neg_groups = [], []
    for u in eligible:
        mine = users == u
        pos_counts = np.bincount(pos[mine], minlength=NUM_ITEMS)
        neg_counts = np.bincount(neg[mine], minlength=NUM_ITEMS)
        pos_groups.append(pos_counts[sorted(owned[u])])
        neg_groups.append(neg_counts[sorted(set(range(NUM_ITEMS)) - owned[u])])
    _assert_uniform(pos_groups, "positives")
    _assert_uniform(neg_groups, "negatives")


def test_triplets_deterministic_and_resumable(rgb_ds):
    first = _take(pipeline.triplet_dataset(rgb_ds, 12, 16, seed=5), 6)
    again = _take(pipeline.triplet_dataset(rgb_ds, 12, 16, seed=5), 6)
    resumed = _take(pipeline.triplet_dataset(rgb_ds, 12, 16, seed=5, start_step=4), 2)
    other = _take(pipeline.triplet_dataset(rgb_ds, 12, 16, seed=6), 1)
    for a, b in zip(first, again, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    for a, b in zip(first[4:], resumed, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(first[0]["neg_item"], other[0]["neg_item"])
    assert not np.array_equal(first[0]["user"], first[1]["user"])


def test_triplet_errors(pixels):
    small = make_dataset(ItemImages(pixels=pixels[:4]), num_items=4)
    # User 0 owns all four items (one row twice); user 1 owns three.
    train = sort_rows([(0, 0), (0, 1), (0, 1), (0, 2), (0, 3), (1, 0), (1, 2), (1, 3)])
    everything = RecDataset(**{**small.__dict__, "train": train})
    with pytest.raises(DataError, match=r"user\(s\) u0 interacted with every one of the 4"):
        pipeline.triplet_dataset(everything, 8, 4, seed=0)
    # Four rows but three distinct items: user 1 still has a negative.
    fine = RecDataset(**{**small.__dict__, "train": sort_rows([*train[3:], (1, 0)])})
    batch = _take(pipeline.triplet_dataset(fine, 8, 64, seed=0, with_images=False), 1)[0]
    np.testing.assert_array_equal(batch["neg_item"][batch["user"] == 1], 1)
    no_images = make_dataset(None)
    with pytest.raises(DataError, match="no item images"):
        pipeline.triplet_dataset(no_images, 8, 4, seed=0)
    batch = _take(pipeline.triplet_dataset(no_images, 8, 4, seed=0, with_images=False), 1)[0]
    assert batch["user"].shape == (4,)


def test_steps_per_epoch(rgb_ds):
    n = len(rgb_ds.train)
    assert pipeline.steps_per_epoch(rgb_ds, n) == 1
    assert pipeline.steps_per_epoch(rgb_ds, n - 1) == 2
    assert pipeline.steps_per_epoch(rgb_ds, 1) == n


# ---------------------------------------------------------------------------
# Catalogue and GAN batches.


def test_item_dataset_covers_every_item_in_order(rgb_ds, pixels):
    batches = _take(pipeline.item_dataset(rgb_ds, 10, 8), 100)
    assert [len(b["item"]) for b in batches] == [8, 8, 8, 1]
    items = np.concatenate([b["item"] for b in batches])
    np.testing.assert_array_equal(items, np.arange(NUM_ITEMS))
    images = np.concatenate([b["image"] for b in batches])
    np.testing.assert_array_equal(images, preprocess.preprocess_images(pixels, 10).numpy())

    subset = [9, 2, 2, 17]
    (batch,) = _take(pipeline.item_dataset(rgb_ds, 10, 8, items=subset), 100)
    np.testing.assert_array_equal(batch["item"], subset)
    np.testing.assert_array_equal(batch["image"], images[subset])
    with pytest.raises(DataError, match="items must be integer indices"):
        pipeline.item_dataset(rgb_ds, 10, 8, items=[0, NUM_ITEMS])


def test_gan_dataset(rgb_ds, pixels):
    categories = rgb_ds.categories
    known = np.flatnonzero(categories >= 0)  # 20 of the 25 items.
    dataset = pipeline.gan_dataset(rgb_ds, 8, 5, seed=2)
    assert dataset.element_spec == {
        "image": tf.TensorSpec([5, 8, 8, 3], tf.float32),
        "category": tf.TensorSpec([5], tf.int32),
    }
    batches = _take(dataset, 8)  # Two epochs of 20 items.
    catalogue = preprocess.preprocess_images(pixels, 8).numpy().reshape(NUM_ITEMS, -1)
    seen = []
    for batch in batches:
        for image, category in zip(batch["image"], batch["category"], strict=True):
            (item,) = np.flatnonzero((catalogue == image.reshape(-1)).all(axis=1))
            assert categories[item] == category >= 0
            seen.append(item)
    # Every epoch visits each known item once, in a fresh order.
    assert sorted(seen[:20]) == list(known) and sorted(seen[20:]) == list(known)
    assert seen[:20] != seen[20:]
    resumed = _take(pipeline.gan_dataset(rgb_ds, 8, 5, seed=2, start_step=5), 1)[0]
    np.testing.assert_array_equal(resumed["image"], batches[5]["image"])

    gray = _take(pipeline.gan_dataset(rgb_ds, 8, 5, seed=2, channels=1), 1)[0]
    assert gray["image"].shape == (5, 8, 8, 1)
    assert gray["image"].min() >= -1.0 and gray["image"].max() <= 1.0


def test_gan_dataset_balances_categories(pixels):
    # 25 items: category 0 has 16, category 2 five, four have none (-1, never drawn); 1 is empty.
    categories = np.array([0] * 16 + [2] * 5 + [-1] * 4)
    skewed = make_dataset(ItemImages(pixels=pixels), categories=categories)
    known = np.flatnonzero(categories >= 0)
    batch = 6
    steps = 400
    store = image_store.ImageStore(skewed.images, 8)
    catalogue = store.lookup(np.arange(NUM_ITEMS)).numpy().reshape(NUM_ITEMS, -1)
    drawn = pipeline.gan_dataset(skewed, 8, batch, seed=3, store=store, balance_categories=True)
    batches = _take(drawn, steps)
    labels = np.concatenate([b["category"] for b in batches])
    # The two present categories, each about half of the draws (n = 2,400: sd ~0.01).
    share = np.bincount(labels, minlength=3) / labels.size
    np.testing.assert_allclose(share, [0.5, 0.0, 0.5], atol=0.04)
    first = np.stack([b["image"].reshape(batch, -1) for b in batches[:20]]).reshape(20 * batch, -1)
    items = [int(np.flatnonzero((catalogue == row).all(axis=1))[0]) for row in first]
    assert set(items) <= set(known)
    np.testing.assert_array_equal(categories[items], labels[: len(items)])
    # Every item of the small category is drawn (5 items, ~60 draws of it).
    assert set(range(16, 21)) <= set(items)
    # Without the option, categories come in the catalogue's proportions (16 : 5).
    plain = np.concatenate(
        [
            b["category"]
            for b in _take(pipeline.gan_dataset(skewed, 8, batch, seed=3, store=store), 100)
        ]
    )
    np.testing.assert_allclose(
        np.bincount(plain, minlength=3) / plain.size, [16 / 21, 0.0, 5 / 21], atol=0.02
    )
    # Deterministic in the seed, and resumable.
    again = _take(
        pipeline.gan_dataset(
            skewed, 8, batch, seed=3, store=store, balance_categories=True, start_step=7
        ),
        1,
    )[0]
    np.testing.assert_array_equal(again["image"], batches[7]["image"])


def test_gan_dataset_needs_categories(pixels):
    unknown = make_dataset(ItemImages(pixels=pixels), categories=np.full(NUM_ITEMS, -1))
    with pytest.raises(DataError, match="no item has a known category"):
        pipeline.gan_dataset(unknown, 8, 4, seed=0)
    plain = make_dataset(ItemImages(pixels=pixels))
    plain = RecDataset(**{**plain.__dict__, "categories": None})
    with pytest.raises(DataError, match="no item categories"):
        pipeline.gan_dataset(plain, 8, 4, seed=0)
