"""Tests of the embedded `synthetic_fashion` dataset (data/synthetic/)."""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pytest

from data import registry, synthetic
from data.core import AMAZON_FASHION_CATEGORIES, DataError


@pytest.fixture(scope="module")
def tiny():
    start = time.process_time()
    ds = synthetic.load("tiny")
    # CPU time, not wall time: the test machine is shared.
    assert time.process_time() - start < 2.0
    return ds


def all_rows(ds):
    return np.concatenate([ds.train, ds.validation, ds.test])


def reference_auc(ds, scores_fn, split="test"):
    """The paper's AUC, one user at a time (a slow, obvious NumPy reference).

    Per held-out (user, item): the share of items the user never observed in
    any split that score below it, ties counting 1/2; averaged per user, then
    over users.
    """
    observed = {}
    for u, i in all_rows(ds):
        observed.setdefault(int(u), set()).add(int(i))
    held = ds.split(split)
    per_user = {}
    for u, i in held:
        scores = np.asarray(scores_fn(np.array([u])), np.float64)[0]
        negatives = np.ones(ds.num_items, bool)
        negatives[list(observed[int(u)])] = False
        neg = scores[negatives]
        value = (np.sum(neg < scores[i]) + 0.5 * np.sum(neg == scores[i])) / len(neg)
        per_user.setdefault(int(u), []).append(value)
    return float(np.mean([np.mean(v) for v in per_user.values()]))


def test_reference_auc_on_a_hand_computed_case(tiny):
    ds = dataclasses.replace(
        tiny,
        num_users=1,
        num_items=5,
        train=np.array([[0, 0]]),
        validation=np.zeros((0, 2), np.int64),
        test=np.array([[0, 1]]),
        item_ids=np.array(["a", "b", "c", "d", "e"], object),
        user_ids=np.array(["u"], object),
        categories=None,
        images=None,
    )
    scores = np.array([[9.0, 5.0, 5.0, 7.0, 1.0]])
    # Negatives are items 2, 3, 4 (scores 5, 7, 1): one below, one tie.
    assert reference_auc(ds, lambda u: scores) == pytest.approx(1.5 / 3)


def test_shapes_dtypes_and_ids(tiny):
    n = tiny.num_items
    assert tiny.name == "synthetic_fashion/tiny"
    assert tiny.images.pixels.shape == (n, 64, 64, 3)
    assert tiny.images.pixels.dtype == np.uint8
    assert tiny.categories.shape == (n,) and tiny.categories.dtype == np.int64
    assert tiny.category_names == AMAZON_FASHION_CATEGORIES
    for split in ("train", "validation", "test"):
        rows = tiny.split(split)
        assert rows.dtype == np.int64 and rows.ndim == 2 and rows.shape[1] == 2
    assert tiny.item_ids[0] == "syn-000000" and tiny.item_ids[123] == "syn-000123"
    assert all(re.fullmatch(r"syn-\d{6}", i) for i in tiny.item_ids)
    assert tiny.user_ids[42] == "u00042"
    assert len(set(tiny.user_ids)) == tiny.num_users
    info = tiny.info
    assert info["preset"]["name"] == "tiny"
    assert info["seed"] == synthetic.PRESETS["tiny"].seed
    assert info["image_size"] == 64
    assert info["generator_version"] == synthetic.GENERATOR_VERSION
    assert sum(info["items"]["category_counts"]) == n


def test_images_are_product_photos_on_a_light_background(tiny):
    px = tiny.images.pixels.astype(np.int32)
    border = np.concatenate(
        [px[:, :2].reshape(len(px), -1), px[:, -2:].reshape(len(px), -1)]
        + [px[:, :, :2].reshape(len(px), -1), px[:, :, -2:].reshape(len(px), -1)],
        axis=1,
    )
    assert border.min() >= 200  # every border pixel of every image is light
    # Each picture shows an object: a real share of pixels differs from
    # that image's background by a lot.
    background = np.median(border, axis=1)[:, None, None]
    differs = (np.abs(px - background[..., None]).max(axis=-1) > 40).mean(axis=(1, 2))
    assert differs.min() > 0.04
    assert np.median(differs) > 0.12


def test_same_seed_same_arrays_other_seed_other_arrays(tiny):
    again = synthetic.load("tiny", seed=synthetic.PRESETS["tiny"].seed)
    for field in ("train", "validation", "test", "categories"):
        np.testing.assert_array_equal(getattr(tiny, field), getattr(again, field))
    np.testing.assert_array_equal(tiny.images.pixels, again.images.pixels)
    np.testing.assert_array_equal(tiny.true_scores(np.arange(5)), again.true_scores(np.arange(5)))
    other = synthetic.load("tiny", seed=7)
    assert other.info["seed"] == 7
    assert len(other.train) != len(tiny.train) or not np.array_equal(other.train, tiny.train)
    k = min(other.num_items, tiny.num_items)
    assert not np.array_equal(other.images.pixels[:k], tiny.images.pixels[:k])


def test_registry_loads_the_configs_and_rejects_unknown_ones():
    ds = registry.load("synthetic_fashion/tiny", registry.DataOptions(seed=3))
    assert ds.name == "synthetic_fashion/tiny" and ds.info["seed"] == 3
    with pytest.raises(DataError, match=r"tiny, default, large"):
        registry.load("synthetic_fashion/huge")
    with pytest.raises(DataError, match="seed"):
        synthetic.load("tiny", seed=-1)


def test_split_follows_the_paper(tiny):
    rows = all_rows(tiny)
    per_user = np.bincount(rows[:, 0], minlength=tiny.num_users)
    assert per_user.min() >= 5
    assert per_user.max() >= 3 * per_user.min()  # long-tailed users
    np.testing.assert_array_equal(np.bincount(tiny.validation[:, 0], minlength=tiny.num_users), 1)
    np.testing.assert_array_equal(np.bincount(tiny.test[:, 0], minlength=tiny.num_users), 1)
    # No (user, item) pair twice, within or across splits.
    keys = rows[:, 0] * tiny.num_items + rows[:, 1]
    assert len(np.unique(keys)) == len(keys)
    # Train is sorted by user then item, as RecDataset documents.
    order = np.lexsort((tiny.train[:, 1], tiny.train[:, 0]))
    np.testing.assert_array_equal(order, np.arange(len(tiny.train)))


def test_long_tail_and_categories(tiny):
    counts = tiny.item_train_counts()
    assert np.median(counts) <= 3
    total = np.bincount(all_rows(tiny)[:, 1], minlength=tiny.num_items)
    assert total.min() >= 1  # unbought catalogue items were dropped
    assert np.mean(total <= 3) > 0.5  # most items have 1-3 interactions
    assert counts.max() >= 10  # and a few are popular
    assert tiny.cold_items().mean() > 0.7
    assert set(np.unique(tiny.categories)) == set(range(6))


def test_true_scores_match_the_utility_model(tiny):
    ts = tiny.true_scores
    users = np.array([0, 5, 17], np.int32)
    scores = ts(users)
    assert scores.shape == (3, tiny.num_items) and scores.dtype == np.float32
    expected = ts.user_weights[users] @ ts.item_features.T + ts.item_bias
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(ts.attributes.category, tiny.categories)


def test_choices_are_draws_without_replacement_from_the_softmax():
    # One dominant item, so that most users need more than the first round
    # of draws to find a second distinct item.
    p = np.array([0.94, 0.03, 0.02, 0.01])
    users = 20000
    weights = np.tile(np.log(p)[None].astype(np.float32), (users, 1))
    rows = synthetic.sample_choices(
        weights,
        np.eye(4, dtype=np.float32),
        np.zeros(4, np.float32),
        np.full(users, 2),
        1.0,
        np.random.default_rng(0),
        block=4096,
    )
    np.testing.assert_array_equal(rows[:, 0], np.repeat(np.arange(users), 2))
    pairs = np.sort(rows[:, 1].reshape(users, 2), axis=1)
    assert (pairs[:, 0] != pairs[:, 1]).all()
    for a, b in ((0, 1), (0, 2), (0, 3), (1, 2)):
        # P({a, b}) = P(a first, then b) + P(b first, then a).
        exact = p[a] * p[b] / (1 - p[a]) + p[b] * p[a] / (1 - p[b])
        seen = np.mean((pairs[:, 0] == a) & (pairs[:, 1] == b))
        assert abs(seen - exact) < 4.5 * np.sqrt(exact * (1 - exact) / users) + 1e-4, (a, b)


def test_oracle_auc_is_high_and_popularity_auc_is_much_lower(tiny):
    oracle = reference_auc(tiny, tiny.true_scores)
    counts = tiny.item_train_counts().astype(np.float64)
    popularity = reference_auc(tiny, lambda u: counts[None, :])
    assert oracle >= 0.9
    assert popularity < 0.7
    assert oracle - popularity > 0.2


def _items(n, **overrides):
    """n identical solid mid-grey men's T-shirts, with `overrides` arrays."""
    attrs = dict(
        category=np.zeros(n, np.int64),
        hue=np.zeros(n, np.float32),
        saturation=np.zeros(n, np.float32),
        lightness=np.full(n, 0.45, np.float32),
        pattern=np.zeros(n, np.int64),
        silhouette_a=np.full(n, 0.5, np.float32),
        silhouette_b=np.full(n, 0.5, np.float32),
        skirt=np.zeros(n, bool),
        popularity=np.zeros(n, np.float32),
        scale=np.full(n, 0.9, np.float32),
        offset=np.zeros((n, 2), np.float32),
        background=np.full(n, 0.97, np.float32),
        pattern_frequency=np.full(n, 9.0, np.float32),
        dark_sole=np.ones(n, bool),
    )
    attrs.update({k: np.asarray(v, attrs[k].dtype) for k, v in overrides.items()})
    return synthetic.ItemAttributes(**attrs)


def _object_mask(images, threshold=30):
    return np.abs(images.astype(np.int32) - images[:, :1, :1].astype(np.int32)).max(-1) > threshold


def test_appearance_follows_the_attributes():
    # Colour: a saturated red and a saturated blue shirt.
    img = synthetic.render_items(_items(2, hue=[0.0, 0.66], saturation=[0.9, 0.9]))
    mask = _object_mask(img)
    mean = np.array([img[k][mask[k]].mean(axis=0) for k in range(2)])
    assert mean[0, 0] > mean[0, 2] + 60 and mean[1, 2] > mean[1, 0] + 60
    # Lightness: brighter garment pixels.
    img = synthetic.render_items(_items(2, lightness=[0.2, 0.75]))
    mask = _object_mask(img, 10)
    assert img[1][mask[1]].mean() > img[0][mask[0]].mean() + 80
    # Sleeve length, shoe shaft, skirt length: more of the picture covered.
    for category, attr in ((0, "silhouette_a"), (1, "silhouette_a"), (4, "silhouette_b")):
        img = synthetic.render_items(_items(2, category=[category] * 2, **{attr: [0.0, 1.0]}))
        area = _object_mask(img).sum(axis=(1, 2))
        assert area[1] > 1.2 * area[0], (category, attr, area)
    img = synthetic.render_items(
        _items(2, category=[3, 3], skirt=[True, True], silhouette_a=[0.0, 1.0])
    )
    area = _object_mask(img).sum(axis=(1, 2))
    assert area[1] > 1.5 * area[0], area
    # Women's heels: the sole rises at the back (dark pixels higher up at the heel).
    img = synthetic.render_items(_items(2, category=[5, 5], silhouette_a=[0.0, 1.0]))
    heel_column = _object_mask(img)[:, :, 50]
    assert heel_column[1].sum() > heel_column[0].sum() + 5
    # Pattern: solid vs stripes / dots / checks of the same colour.
    # Measured as the mean step between neighbouring pixels inside the garment.
    img = synthetic.render_items(_items(4, pattern=[0, 1, 2, 3], lightness=[0.3] * 4))
    grey = img.astype(np.float32).mean(axis=-1)
    steps = np.abs(np.diff(grey, axis=1))[:, :, :-1] + np.abs(np.diff(grey, axis=2))[:, :-1]
    inside = _object_mask(img)
    inside = inside[:, :-1, :-1] & inside[:, 1:, :-1] & inside[:, :-1, 1:] & inside[:, 1:, 1:]
    for _ in range(2):  # stay clear of the outline
        inside[:, 1:-1, 1:-1] &= inside[:, :-2, 1:-1] & inside[:, 2:, 1:-1]
        inside[:, 1:-1, 1:-1] &= inside[:, 1:-1, :-2] & inside[:, 1:-1, 2:]
    texture = [steps[k][inside[k]].mean() for k in range(4)]
    assert texture[0] < 3 and min(texture[1:]) > 10, texture
    # Men's and women's cuts differ for the same attributes.
    for men in (0, 2, 4):
        img = synthetic.render_items(_items(2, category=[men, men + 1])).astype(np.int32)
        assert (np.abs(img[0] - img[1]).max(axis=-1) > 30).mean() > 0.025, men


def test_item_brightness_tracks_the_lightness_attribute(tiny):
    attrs = tiny.true_scores.attributes
    solid = np.flatnonzero(attrs.pattern == 0)
    img = tiny.images.pixels[solid]
    mask = _object_mask(img, 10)
    brightness = (img.mean(axis=-1) * mask).sum(axis=(1, 2)) / np.maximum(mask.sum(axis=(1, 2)), 1)
    assert np.corrcoef(brightness, attrs.lightness[solid])[0, 1] > 0.8
