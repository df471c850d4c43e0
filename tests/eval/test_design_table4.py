"""Tests of eval/table4.py (Table IV and the Fig. 3 sweep) on stand-in exports."""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import os
import re

import numpy as np
import pytest

from common.images import to_unit_range
from data.core import DataError, ItemImages, RecDataset, as_str_ids
from design import standins
from design.config import DesignConfig
from design.optimize import Designer
from eval import classifier as classifier_lib
from eval import table4_config, table4_metrics, table4_report
from eval import table4_lib as table4
from exports.gan import load_generator
from exports.recommender import load_recommender
from metrics import gan_metrics, quality


def test_sampling_within_counts_is_uniform_over_ordered_subsets():
    rng = np.random.default_rng(0)
    n = 120_000
    draws = table4.sample_without_replacement_within(np.full(n, 5), 3, rng)
    assert draws.min() >= 0 and draws.max() <= 4
    assert np.all((draws[:, 0] != draws[:, 1]) & (draws[:, 0] != draws[:, 2]))
    assert np.all(draws[:, 1] != draws[:, 2])
    codes = (draws * np.array([25, 5, 1])).sum(1)
    freq = np.bincount(codes, minlength=125)
    triples = [a * 25 + b * 5 + c for a, b, c in itertools.permutations(range(5), 3)]
    expected = n / 60
    assert np.all(np.abs(freq[triples] - expected) < 0.12 * expected)
    assert freq.sum() == freq[triples].sum()  # nothing outside the 60 ordered triples
    mixed = table4.sample_without_replacement_within(np.array([3, 4, 9, 100]), 3, rng)
    assert np.all(mixed < np.array([3, 4, 9, 100])[:, None])
    assert sorted(mixed[0]) == [0, 1, 2]
    with pytest.raises(ValueError):
        table4.sample_without_replacement_within(np.array([2]), 3, rng)


def test_random_category_items_are_distinct_members():
    cats = np.array([0, 1, 0, 2, 1, 0, 0, 1, 2, 2, 1])
    trial_cats = np.array([0, 1, 2, 0, 1])
    items = table4.random_category_items(cats, trial_cats, 3, np.random.default_rng(1))
    assert items.shape == (5, 3)
    np.testing.assert_array_equal(cats[items], np.repeat(trial_cats[:, None], 3, 1))
    assert all(len(set(row)) == 3 for row in items.tolist())
    with pytest.raises(DataError, match="fewer than 4"):
        table4.random_category_items(cats, np.array([2]), 4, np.random.default_rng(1))


def _dataset(num_items=24, num_users=6, size=16) -> RecDataset:
    rng = np.random.default_rng(3)
    # Category 0 dark, category 1 bright, so that a classifier can tell them apart.
    cats = (np.arange(num_items) % 2).astype(np.int64)
    base = np.where(cats == 0, 50, 200)[:, None, None, None]
    pixels = np.clip(base + rng.integers(-40, 41, (num_items, size, size, 3)), 0, 255)
    users = np.arange(num_items) % num_users
    rows = np.stack([users, np.arange(num_items)], 1).astype(np.int64)
    # Each user's last item is its test item; user 5's has an unknown category.
    test_mask = np.arange(num_items) >= num_items - num_users
    cats[num_items - 1] = -1
    return RecDataset(
        name="tiny_table4",
        num_users=num_users,
        num_items=num_items,
        train=rows[~test_mask],
        validation=np.zeros((0, 2), np.int64),
        test=rows[test_mask],
        item_ids=as_str_ids(range(num_items)),
        user_ids=as_str_ids(range(num_users)),
        categories=cats,
        category_names=("dark", "bright"),
        images=ItemImages(pixels=pixels.astype(np.uint8)),
    )


def test_sample_trials_use_the_category_of_the_test_item():
    ds = _dataset()
    users, cats = table4.sample_trials(ds, ds.categories, 50, seed=0)
    assert set(users.tolist()) <= {0, 1, 2, 3, 4}  # user 5's test item has no category
    test_item = dict(ds.test.tolist())
    np.testing.assert_array_equal(cats, ds.categories[[test_item[u] for u in users]])
    few_users, _ = table4.sample_trials(ds, ds.categories, 3, seed=0)
    assert len(set(few_users.tolist())) == 3  # without replacement when possible
    with pytest.raises(DataError, match="no user has a test item"):
        table4.sample_trials(ds, np.full(ds.num_items, -1), 3, seed=0)


def test_paired_difference_matches_numpy():
    rng = np.random.default_rng(4)
    base = rng.normal(size=(50, 3))
    better = base + rng.normal(0.3, 0.5, size=(50, 3))
    got = table4_metrics.paired_difference(better, base)
    diff = better.mean(1) - base.mean(1)
    assert got["mean"] == pytest.approx(diff.mean())
    assert got["standard_error"] == pytest.approx(diff.std(ddof=1) / np.sqrt(50))
    assert got["z"] == pytest.approx(diff.mean() / (diff.std(ddof=1) / np.sqrt(50)))
    assert got["win_share"] == pytest.approx(np.mean(diff > 0))
    assert np.isnan(table4_metrics.paired_difference(better[:1], base[:1])["standard_error"])


def test_diversity_and_quality_helpers_match_eval_quality():
    rng = np.random.default_rng(2)
    images = rng.uniform(-1, 1, (5, 3, 8, 8, 3)).astype(np.float32)
    images[0, 1] = images[0, 0]  # one identical pair lowers trial 0's diversity
    stats = table4_metrics.diversity_stats(images)
    groups = np.repeat(np.arange(5), 3)
    overall = quality.opposite_mean_ssim(images.reshape(15, 8, 8, 3), groups=groups)
    assert abs(stats["mean"] - overall) < 1e-9
    per_trial = [quality.opposite_mean_ssim(images[t]) for t in range(5)]
    assert abs(stats["std"] - np.std(per_trial)) < 1e-9
    probs = rng.dirichlet(np.ones(4), 40)
    one = table4_metrics.split_classifier_score(probs, 1, seed=0)
    assert abs(one["mean"] - quality.classifier_score(probs)) < 1e-9 and one["std"] == 0


def test_run_table4_end_to_end_and_resume(tmp_path, monkeypatch):
    ds = _dataset()
    rec = standins.recommender_module(
        standins.RecommenderSpec(num_users=ds.num_users),
        seed=0,
        item_images=ds.images.pixels,
        item_categories=ds.categories,
        category_names=ds.category_names,
        dataset_name=ds.name,
    )
    rec_dir = standins.save(rec, str(tmp_path / "rec"))
    gan_dir = standins.save(standins.gan_module(standins.GANSpec(), seed=1), str(tmp_path / "gan"))
    design = DesignConfig(restarts=6, steps=8, top_k=3)
    designer = Designer(load_recommender(rec_dir), load_generator(gan_dir), design)
    config = table4_config.Table4Config(
        trials=10,
        etas=(0.0, 1.0, 10.0),
        sweep_trials=4,
        query_batch=4,
        classifier_epochs=1,
        quality_splits=2,
        imagenet=True,
        design=design,
    )

    def fake_imagenet(images):
        # Two "classes" from the mean brightness, and mean colour and contrast as the
        # features: only the plumbing is under test here.
        images = np.asarray(images)
        bright = (images.mean(axis=(1, 2, 3)) + 1) / 2
        features = np.concatenate([images.mean(axis=(1, 2)), images.std(axis=(1, 2))], 1)
        return {"probs": np.stack([bright, 1 - bright], 1), "features": features}

    monkeypatch.setattr(table4, "_imagenet_scorer", lambda: fake_imagenet)
    workdir = str(tmp_path / "t4")
    headline = table4.run_table4(designer, ds, config, workdir)
    for name in (
        "table4.md",
        "table4.json",
        "fig3_eta.png",
        "fig3_examples.png",
        "table4_examples.png",
    ):
        assert os.path.exists(os.path.join(workdir, name)), name
    with open(os.path.join(workdir, "table4.json")) as f:
        payload = json.load(f)
    metrics = payload["metrics"]
    # Retrieval's top-3 are the category's best, so they beat 3 random members in every trial.
    assert metrics["delta"]["preference"]["mean"] >= metrics["random_real"]["preference"]["mean"]
    assert headline["delta_hat_beats_delta"] == (
        headline["preference_delta_hat"] > headline["preference_delta"]
    )
    assert metrics["delta_hat"]["best_objective_gain"] > 0
    assert headline["paired_difference_mean"] == pytest.approx(
        headline["preference_delta_hat"] - headline["preference_delta"], abs=1e-9
    )
    assert [s["eta"] for s in payload["sweep"]] == [0.0, 1.0, 10.0]
    # Each eta's paired difference is against delta on the same 4 trials.
    for entry in payload["sweep"]:
        want = entry["preference"]["mean"] - entry["delta_reference"]["preference"]["mean"]
        assert entry["paired_vs_delta"]["mean"] == pytest.approx(want, abs=1e-9)
    # Each eta's precision is its 4 trials x 3 images' share inside the held-out manifold.
    for entry in payload["sweep"]:
        for figures in (
            entry["field_precision"],
            entry["delta_reference"]["field_precision"],
            entry["generated_reference"]["field_precision"],
        ):
            p = figures["mean"]
            assert figures["n"] == 12 and p in {i / 12 for i in range(13)}
            assert figures["std"] == pytest.approx(np.sqrt(p * (1 - p) / 12))
    for source in table4_config.SOURCES:
        assert 0 <= metrics[source]["diversity"]["mean"] <= 2
        assert 1 <= metrics[source]["quality_dataset"]["mean"] <= 2  # two categories
        assert 1 <= metrics[source]["quality_imagenet"]["mean"] <= 2
        field = metrics[source]["field"]
        assert field["fid"] >= 0 and 0 <= field["precision"] <= 1 and 0 <= field["recall"] <= 1
        assert headline[f"fid_{source}"] == field["fid"]
    reference = payload["field_reference"]
    assert reference["features"] == "imagenet" and headline["field_features"] == "imagenet"
    assert reference["n_source"] == 30 and reference["k"] == 3
    assert headline["fid_real_vs_real"] == reference["real_vs_real"]["fid"]
    # The stand-in GAN's images are nothing like the dark/bright items: far from real.
    assert headline["fid_random_generated"] > 3 * headline["fid_random_real"]
    with open(os.path.join(workdir, "table4.md")) as f:
        text = f.read()
    assert "δ̂ beats δ in mean preference score" in text and "| η |" in text
    assert "Quality (ImageNet EfficientNet-Lite0)" in text and headline["imagenet_quality"]
    assert "## Field metrics" in text and "| Real vs real (training vs held-out real) |" in text
    assert "Precision (ImageNet features; ± standard error)" in text
    assert "| δ̂ − δ, paired (z) |" in text and re.search(r"\| [+-]\d+\.\d{3} \(z = -?\d", text)
    assert "| G(·, c) (reference) |" in text and "(fig3_examples.png)" in text
    assert re.search(
        r"\| G\(·, c\) \(reference\) \|  \|  \|  \|  \| [01]\.\d{3} ± 0\.\d{3} \|", text
    )
    cached = sorted(os.listdir(os.path.join(workdir, "cache")))
    assert len(cached) == 3 + 2  # 10 trials in batches of 4, and the two other etas' sweeps
    # A resumed run reads the cached delta-hat batches instead of optimising again.
    users, cats = table4.sample_trials(ds, ds.categories, config.trials, config.seed)
    first = table4.delta_hat_images(
        designer, users, cats, 1.0, config, os.path.join(workdir, "cache"), "main"
    )

    def fail(*args, **kwargs):
        raise AssertionError("optimised again instead of reading the cache")

    monkeypatch.setattr(designer, "maximize", fail)
    again = table4.delta_hat_images(
        designer, users, cats, 1.0, config, os.path.join(workdir, "cache"), "main"
    )
    np.testing.assert_array_equal(again["preference"], first["preference"])
    assert abs(first["preference"].mean() - headline["preference_delta_hat"]) < 1e-6
    # A changed config does not reuse stale batches.
    changed = dataclasses.replace(config, design=dataclasses.replace(design, steps=9))
    with pytest.raises(AssertionError, match="optimised again"):
        table4.delta_hat_images(
            designer, users, cats, 1.0, changed, os.path.join(workdir, "cache"), "main"
        )


def test_manifold_share_matches_a_brute_force_count():
    rng = np.random.default_rng(3)
    heldout = rng.normal(size=(40, 5))
    fake = np.concatenate([heldout[:7] + 0.01, rng.normal(size=(13, 5)) * 4 + 9])
    reference = {"heldout": heldout, "k": 3}
    distances = np.linalg.norm(heldout[:, None] - heldout[None], axis=-1)
    radii = np.sort(distances, axis=1)[:, 3]  # column 0 is the point itself
    to_fake = np.linalg.norm(fake[:, None] - heldout[None], axis=-1)
    inside = np.any(to_fake <= radii[None], axis=1)
    got = table4_metrics.manifold_share(reference, fake)
    assert inside[:7].all() and not inside[7:].any()  # the fixture is what it says
    assert got["n"] == 20 and got["mean"] == pytest.approx(inside.mean())
    assert got["std"] == pytest.approx(np.sqrt(0.35 * 0.65 / 20))


def test_sweep_examples_sheet_puts_each_source_in_its_column():
    # Trial t's image from source j is a flat grey (2 * (4 t + j) / 15 - 1 in [-1, 1]).
    levels = np.arange(12, dtype=np.float32).reshape(3, 4) * 2 / 15 - 1
    firsts = {
        key: (np.broadcast_to(levels[:, j, None, None, None], (3, 8, 8, 1)), np.arange(3.0))
        for j, key in enumerate(["delta", 0.0, 1.0, 10.0])
    }
    sheet = table4_report.sweep_examples_sheet(firsts, ["a", "b"], tile=20)
    for t in range(2):
        for j in range(4):
            left = 96 + j * 26 + (18 if j else 0)  # tile_grid's layout: a wider gap after delta
            top = 16 + t * 40
            want = np.round((levels[t, j] + 1) * 127.5)
            assert np.abs(sheet[top + 10, left + 10].astype(float) - want).max() <= 1


def test_field_metrics_on_classifier_features_without_imagenet():
    ds = _dataset(num_items=60)
    clf = classifier_lib.train_category_classifier(ds, 16, 3, epochs=1, batch_size=16, seed=0)
    config = table4_config.Table4Config(trials=8, imagenet=False, imagenet_max_images=0)
    cats = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    flat_cats = np.repeat(cats, 3)
    features = functools.partial(gan_metrics.classifier_features, clf)
    reference = table4_metrics.field_reference(ds, clf, flat_cats, features, (16, 3), seed=0)
    assert reference["n"] == 24 and reference["heldout"].shape == (24, 128)
    # Real items of the trials' categories as the source: compared with the same
    # held-out features by the same functions.
    items = table4.random_category_items(ds.categories, cats, 3, np.random.default_rng(0))
    images = to_unit_range(classifier_lib.real_images(ds, items.reshape(-1), 16, 3))
    images = images.reshape(8, 3, 16, 16, 3)
    got = table4_metrics.source_metrics(images, np.zeros((8, 3)), clf, None, config, reference)
    want = gan_metrics.compare(reference["heldout"], features(images.reshape(24, 16, 16, 3)))
    assert got["field"] == pytest.approx(want)
    assert "quality_imagenet" not in got
    # --field_features=classifier: the same figures while the ImageNet quality column runs.
    assert table4_metrics.field_space(config, imagenet_available=True) == "imagenet"
    on_classifier = dataclasses.replace(config, imagenet=True, field_features="classifier")
    assert table4_metrics.field_space(on_classifier, imagenet_available=True) == "classifier"

    def fake_imagenet(x):
        return {"probs": np.full((len(x), 2), 0.5), "features": np.zeros((len(x), 4))}

    both = table4_metrics.source_metrics(
        images, np.zeros((8, 3)), clf, fake_imagenet, on_classifier, reference
    )
    assert both["field"] == pytest.approx(want) and "quality_imagenet" in both
    with pytest.raises(ValueError, match="field_features must be one of"):
        table4_config.Table4Config(field_features="inception")
    # Too few images for k = 3: no reference, no field metrics.
    assert table4_metrics.field_reference(ds, clf, flat_cats[:3], features, (16, 3), seed=0) is None
    assert "field" not in table4_metrics.source_metrics(images, np.zeros((8, 3)), clf, None, config)
