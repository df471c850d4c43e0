"""eval/gan_report.py on stand-in generators whose right answers are known."""

import dataclasses
import json
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from common.images import to_uint8, to_unit_range
from data.core import DataError
from eval import classifier as classifier_lib
from eval import gan_report_lib as gan_report
from metrics import gan_metrics
from tests.testlib.gan import two_category_dataset
from tests.testlib.images import smooth_noise_images


@dataclasses.dataclass
class StandInGAN:
    """Returns real images: of the requested category, the other one, or one image per category."""

    ds: object
    mode: str  # "perfect", "swapped", "collapsed", "bright_collapsed" or "checkerboard"
    resolution: int = 16
    channels: int = 3
    num_categories: int = 2
    category_names: tuple = ("dark", "bright")
    path: str = "stand-in"

    def sample(self, per_category, seed):
        rng = np.random.default_rng(seed)
        cats = np.asarray(self.ds.categories)
        category = np.repeat(np.arange(2, dtype=np.int32), per_category)
        shown = (1, 0) if self.mode == "swapped" else (0, 1)
        items = np.concatenate([rng.choice(np.flatnonzero(cats == c), per_category) for c in shown])
        if self.mode == "collapsed":
            items = np.repeat(items[[0, per_category]], per_category)
        if self.mode == "bright_collapsed":  # one category's mode dropped, the other's intact
            items[per_category:] = items[per_category]
        uint8 = classifier_lib.real_images(self.ds, items, 16, 3)
        if self.mode == "checkerboard":
            # The period-2 pattern of a stride-2 transposed conv's uneven overlap.
            yy, xx = np.indices((16, 16))
            board = np.where((yy + xx) % 2, 40, -40)[None, :, :, None]
            uint8 = np.clip(uint8.astype(np.int64) + board, 0, 255).astype(np.uint8)
        return {
            "category": category,
            "images": to_unit_range(uint8),
            "images_uint8": uint8,
            "shown_items": items,
        }


def _fake_imagenet_features(images):
    """A cheap stand-in feature space (mean colour, contrast, 4x4 thumbnail): the plumbing is under test."""
    images = np.asarray(images, np.float64)
    n, size = len(images), images.shape[1]
    thumb = images.mean(-1).reshape(n, 4, size // 4, 4, size // 4).mean((2, 4)).reshape(n, 16)
    return np.concatenate([images.mean((1, 2)), images.std((1, 2)), thumb], 1)


@pytest.fixture(autouse=True)
def fast_imagenet(monkeypatch):
    monkeypatch.setattr(gan_metrics, "imagenet_available", lambda: True)
    monkeypatch.setattr(gan_metrics, "imagenet_features", _fake_imagenet_features)


@pytest.fixture(scope="module")
def setup():
    ds = two_category_dataset(num_items=120)
    clf = classifier_lib.train_category_classifier(ds, 16, 3, epochs=3, batch_size=32, seed=0)
    assert clf.heldout_accuracy == 1.0
    return ds, clf


def _report(setup, mode, tmp_path, **kwargs):
    ds, clf = setup
    return gan_report.gan_report(
        StandInGAN(ds, mode),
        ds,
        str(tmp_path),
        samples_per_category=12,
        figure_samples=3,
        classifier=clf,
        **kwargs,
    )


def test_perfect_generator_passes(setup, tmp_path):
    report = _report(setup, "perfect", tmp_path)
    assert report["conditioning_accuracy"] == 1.0 and report["conditioning_ok"]
    assert report["conditioning_accuracy_per_category"] == {"dark": 1.0, "bright": 1.0}
    # Real images against real images: the same diversity up to sampling.
    assert 0.8 < report["ssim_ratio"] < 1.25 and report["diversity_ok"]
    # Both samples are real images: equal classifier scores up to sampling, above 1.
    assert report["classifier_score_generated"] > 1.05
    assert report["classifier_score_generated"] == pytest.approx(
        report["classifier_score_real"], rel=0.1
    )
    assert 0.7 < report["colour_spread_ratio"] < 1.4
    # Generated images that are training images have themselves as nearest neighbours.
    assert report["nearest_l1_mean"] == 0.0
    fig = np.asarray(Image.open(report["fig4"]))
    assert fig.shape[0] == 2 * (2 * 32 + 12)
    saved = json.load(open(os.path.join(tmp_path, "report.json")))
    assert saved["conditioning_accuracy"] == 1.0
    # Field metrics: 12 held-out images per category, matched by as many of each.
    assert report["field_metrics_n"] == 24 and report["precision_recall_k"] == 3
    assert report["imagenet_metrics"] and report["imagenet_note"] is None
    for space in ("imagenet", "classifier"):
        assert saved[f"fid_{space}"] == report[f"fid_{space}"]
        # Real images as "generated": as close to held-out real as training real images are.
        assert report[f"fid_{space}"] < 2 * report[f"fid_{space}_real"] + 1e-3
        assert report[f"precision_{space}"] > 0.7 and report[f"recall_{space}"] > 0.7
        assert report[f"precision_{space}_real"] > 0.7 and report[f"recall_{space}_real"] > 0.7
    assert set(report["colour_spread_per_category_generated"]) == {"dark", "bright"}
    assert np.mean(list(report["colour_spread_per_category_generated"].values())) == (
        pytest.approx(report["colour_spread_generated"])
    )
    assert report["checkerboard_upsamplings"] == 2  # 16 = 4 x 2^2
    assert 0.8 < report["checkerboard_ratio"] < 1.25 and report["checkerboard_ok"]
    assert 0.8 < report["checkerboard_period2_ratio"] < 1.25
    # Real images as "generated": real power in every radial band, as training real has.
    assert report["spectrum_band_edges_nyquist"][:2] == [0.0, 0.25]
    for name in ("spectrum_band_ratio", "spectrum_band_ratio_real"):
        assert len(report[name]) == 4 and all(0.7 < r < 1.4 for r in report[name])
    assert saved["spectrum_band_ratio"] == report["spectrum_band_ratio"]
    assert report["recall_figure_space"] == "imagenet"
    assert saved["recall_figure"] == os.path.join(tmp_path, "recall.png")
    # Real images as "generated": their reach is the real-vs-real one, up to sampling.
    assert saved["recall_reach_quantiles"]["0.5"] == pytest.approx(
        saved["recall_reach_quantiles_real"]["0.5"], rel=0.3
    )
    assert np.asarray(Image.open(report["recall_figure"])).ndim == 3


def test_swapped_and_collapsed_generators_fail(setup, tmp_path):
    swapped = _report(setup, "swapped", tmp_path)
    assert swapped["conditioning_accuracy"] == 0.0 and not swapped["conditioning_ok"]
    collapsed = _report(setup, "collapsed", tmp_path)
    assert collapsed["opposite_mean_ssim_generated"] == pytest.approx(0.0, abs=1e-12)
    assert collapsed["ssim_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert collapsed["colour_spread_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert not collapsed["diversity_ok"]
    assert collapsed["conditioning_ok"]  # collapse is invisible to the classifier alone
    # ... but not to recall: one image per category covers a few of the held-out ones.
    for space in ("imagenet", "classifier"):
        assert collapsed[f"recall_{space}"] < 0.3 < collapsed[f"recall_{space}_real"]
        assert collapsed[f"fid_{space}"] > 2 * collapsed[f"fid_{space}_real"]
    assert collapsed["colour_spread_per_category_generated"] == {"dark": 0.0, "bright": 0.0}
    # Most held-out images lie outside (reach > 1; None for the infinite reach of
    # balls of radius 0, the one image per category repeated).
    median = collapsed["recall_reach_quantiles"]["0.5"]
    assert median is None or median > 1.0


def test_recall_by_category_finds_the_collapsed_category(setup, tmp_path):
    report = _report(setup, "bright_collapsed", tmp_path)
    for space in ("imagenet", "classifier"):
        per_category = report[f"precision_recall_per_category_{space}"]
        real = report[f"precision_recall_per_category_{space}_real"]
        assert set(per_category) == set(real) == {"dark", "bright"}
        assert per_category["bright"]["recall"] < 0.3 < per_category["dark"]["recall"]
        assert real["bright"]["recall"] > 0.5
        # 12 held-out images of each category: the overall figures are the categories' means.
        for metric in ("precision", "recall"):
            mean = np.mean([figures[metric] for figures in per_category.values()])
            assert report[f"{metric}_{space}"] == pytest.approx(mean)
    saved = json.load(open(os.path.join(tmp_path, "report.json")))
    assert (
        saved["precision_recall_per_category_classifier"]
        == (report["precision_recall_per_category_classifier"])
    )


def test_recall_figure_shows_the_missed_real_images(tmp_path):
    rng = np.random.default_rng(3)
    # Dark images around -0.5, bright ones around +0.5, far apart in the stand-in
    # feature space (mean colour, contrast, thumbnail).
    real_cats = np.repeat([0, 1], 8)
    real = (real_cats - 0.5)[:, None, None, None] + 0.1 * rng.uniform(-1, 1, (16, 16, 16, 3))
    # The generator draws the dark real images for both categories: every dark real
    # image is covered (a copy of it), every bright one missed.
    generated = np.concatenate([real[:8], real[:8]])
    # Training real images: the held-out ones, slightly moved (all well inside).
    train = real + 0.01 * rng.uniform(-1, 1, real.shape)
    sets = {"train": train, "real": real, "generated": generated}
    features = {"imagenet": {name: _fake_imagenet_features(x) for name, x in sets.items()}}

    def recall_picture(name, features):
        return gan_report._recall_picture(
            str(tmp_path / name), features, real, real_cats, ("dark", "bright"), 3, 4
        )

    out = recall_picture("recall.png", features)
    assert out["recall_figure_space"] == "imagenet"
    # Half the held-out images are copies of generated ones (reach 0), half far outside.
    reach = out["recall_reach_quantiles"]
    assert list(reach) == ["0.25", "0.5", "0.75", "0.9"]
    assert reach["0.25"] == 0.0 and reach["0.75"] > 2.0
    assert out["recall_reach_quantiles_real"]["0.9"] < 1.0
    picture = np.asarray(Image.open(out["recall_figure"]))
    # design.report.tile_grid: a 16 px header, rows of 32 px tiles (16 px images at
    # 2x) with 14 px captions and 6 px gaps, 80 px of row labels; 4 rows of 4.
    assert picture.shape == (16 + 4 * (32 + 14 + 6), 80 + 4 * (32 + 6), 3)

    def tile(row, col):
        top, left = 16 + row * 52, 80 + col * 38
        return picture[top : top + 32 : 2, left : left + 32 : 2]

    # Rows: dark missed (none), dark covered, bright missed, bright covered (none).
    assert np.all(tile(0, 0) == 255) and np.all(tile(3, 0) == 255)
    np.testing.assert_array_equal(tile(1, 0), to_uint8(real[0]))
    np.testing.assert_array_equal(tile(2, 3), to_uint8(real[11]))
    # No features: the field metrics were skipped (too few images).
    assert recall_picture("none.png", {}) == dict.fromkeys(
        [
            "recall_figure",
            "recall_figure_space",
            "recall_reach_quantiles",
            "recall_reach_quantiles_real",
        ]
    )


def test_checkerboard_artefacts_fail_the_checkerboard_goal(setup, tmp_path):
    report = _report(setup, "checkerboard", tmp_path)
    # The stand-in images are white noise, whose power is spread evenly: a high floor.
    assert report["checkerboard_period2_ratio"] > 4
    assert report["checkerboard_ratio"] > gan_report.CHECKERBOARD_RATIO_GOAL
    assert not report["checkerboard_ok"]
    assert report["conditioning_ok"]  # the artefacts do not change the category
    # The period-2 board sits at the corner frequency (the top band); the lowest band has
    # no more power than real (a little less: the added board clips at 0 and 255).
    low, *_, top = report["spectrum_band_ratio"]
    assert top > 4 and low < 1.2


def test_without_imagenet_the_report_says_why(setup, tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        report = _report(setup, "perfect", tmp_path, imagenet=False, draws=3)
    assert report["fid_imagenet"] is None and report["recall_imagenet_real"] is None
    assert not report["imagenet_metrics"] and "--imagenet=false" in report["imagenet_note"]
    # Said once, not once per draw.
    assert sum("--imagenet=false" in r.getMessage() for r in caplog.records) == 1
    assert report["fid_classifier"] is not None
    assert report["recall_figure_space"] == "classifier"
    monkeypatch.setattr(gan_metrics, "imagenet_available", lambda: False)
    report = _report(setup, "perfect", tmp_path)
    assert report["fid_imagenet"] is None and "not installed" in report["imagenet_note"]
    assert report["precision_classifier"] is not None


def test_mismatched_dataset_is_refused(setup, tmp_path):
    ds, clf = setup
    gan = StandInGAN(ds, "perfect", category_names=("tops", "shoes"))  # as many, not the same
    with pytest.raises(DataError, match=r"trained on categories \['tops', 'shoes'\]"):
        gan_report.gan_report(gan, ds, str(tmp_path), classifier=clf)
    gan = StandInGAN(ds, "perfect", num_categories=3, category_names=("a", "b", "c"))
    with pytest.raises(DataError, match="pass the dataset it was trained on"):
        gan_report.gan_report(gan, ds, str(tmp_path), classifier=clf)
    gan = StandInGAN(ds, "perfect", resolution=32)
    with pytest.raises(ValueError, match="classifier reads 16x16x3"):
        gan_report.gan_report(gan, ds, str(tmp_path), classifier=clf)


def test_a_faint_period_2_pattern_fails_though_the_all_stages_ratio_passes():
    # The demo GAN's case: over periods 2..8 the real images' own low frequencies on the
    # marked rows hide a faint period-2 checkerboard that is 6x the real images' there.
    rng = np.random.default_rng(0)
    real, clean = smooth_noise_images(rng, 40, 32, 3), smooth_noise_images(rng, 40, 32, 3)
    yy, xx = np.indices((32, 32))
    faint = clean + 0.02 * (-1.0) ** (yy + xx)[None, :, :, None]
    out = gan_report._checkerboard(faint, real)
    assert out["checkerboard_upsamplings"] == 3
    assert out["checkerboard_ratio"] < 1.2 and out["checkerboard_period2_ratio"] > 4
    assert not out["checkerboard_ok"]
    clean_out = gan_report._checkerboard(clean, real)
    assert clean_out["checkerboard_ok"] and clean_out["checkerboard_period2_ratio"] < 1.2


def test_draws_repeat_the_field_metrics_on_fresh_samples(setup, tmp_path, monkeypatch):
    one = _report(setup, "perfect", tmp_path)
    three = _report(setup, "perfect", tmp_path, draws=3)
    assert one["field_metrics_draws"] == 1 and three["field_metrics_draws"] == 3
    for space in ("imagenet", "classifier"):
        for metric in ("fid", "precision", "recall"):
            for suffix in ("", "_real"):
                name = f"{metric}_{space}{suffix}"
                values = three[f"{name}_draws"]
                # The first draw is the headline figure, the same with or without more draws.
                assert values[0] == three[name] == one[name] == one[f"{name}_draws"][0]
                assert one[f"{name}_sd"] is None
                assert three[f"{name}_mean"] == pytest.approx(np.mean(values))
                assert three[f"{name}_sd"] == pytest.approx(np.std(values, ddof=1))
        # Fresh samples each draw: 24 images' FID is not the same twice.
        assert len(set(three[f"fid_{space}_draws"])) == 3
        assert len(set(three[f"fid_{space}_real_draws"])) == 3
    saved = json.load(open(os.path.join(tmp_path, "report.json")))
    assert saved["recall_classifier_draws"] == three["recall_classifier_draws"]
    # The rest of the report comes from the first draw's sets, whatever the number of draws.
    assert three["ssim_ratio"] == one["ssim_ratio"]
    assert three["colour_spread_ratio"] == one["colour_spread_ratio"]

    # A bad --draws fails before the classifier's training, not after it.
    def no_training(*args, **kwargs):
        raise AssertionError("the classifier was trained before draws was checked")

    monkeypatch.setattr(classifier_lib, "train_category_classifier", no_training)
    ds, _ = setup
    with pytest.raises(ValueError, match="draws must be >= 1"):
        gan_report.gan_report(StandInGAN(ds, "perfect"), ds, str(tmp_path), draws=0)


def test_spectrum_ratio_is_none_where_real_images_have_no_power():
    rng = np.random.default_rng(0)
    generated = rng.uniform(-1, 1, (4, 16, 16, 1))
    flat = np.full((4, 16, 16, 1), 0.5)
    spectrum = gan_report._spectrum(generated, flat, flat)
    assert spectrum["spectrum_band_ratio"] == [None] * 4
    assert spectrum["spectrum_band_ratio_real"] == [None] * 4
    same = gan_report._spectrum(generated, generated, generated[:0])
    assert same["spectrum_band_ratio"] == [1.0] * 4 and same["spectrum_band_ratio_real"] is None


class RangeStandIn:
    """A stand-in `LoadedGenerator` whose range is known: every 16x16x3 image, or faint ones only.

    "everything": G(z, c) = z as an image (z_dim = 768), so eq. 12 can
    reproduce any real image; "faint": G(z, c) = z / 10, pixels within
    0.1 of mid-grey, while the dataset's images are dark (about -0.7) or
    bright (about 0.65): however well chosen, none is like a real one.
    """

    resolution, channels, z_dim, num_categories = 16, 3, 16 * 16 * 3, 2
    category_names, path = ("dark", "bright"), "range-stand-in"

    def __init__(self, drawn: str):
        self.drawn = drawn

    def check_categories(self, categories):
        return np.asarray(categories, np.int32).reshape(-1)

    def generate(self, z, category):
        del category
        images = tf.reshape(z, [-1, 16, 16, 3])
        return images / 10.0 if self.drawn == "faint" else images


@pytest.mark.parametrize("drawn", ["everything", "faint"])
def test_inversion_measures_what_g_can_draw(setup, tmp_path, monkeypatch, drawn):
    from exports import gan as gan_exports

    loaded, featurised = [], []
    monkeypatch.setattr(
        gan_exports, "load_generator", lambda path: loaded.append(path) or RangeStandIn(drawn)
    )
    monkeypatch.setattr(
        gan_metrics,
        "imagenet_features",
        lambda images: featurised.append(len(images)) or _fake_imagenet_features(images),
    )
    report = _report(setup, "perfect", tmp_path, invert=True, invert_restarts=2, invert_steps=150)
    assert loaded == ["stand-in"]  # the report's GAN export, read once
    # Training real, held-out real and samples once each, then the inversions alone:
    # the real sets' features are not computed again.
    assert featurised == [24, 24, 24, 24]
    assert report["inversion_restarts"] == 2 and report["inversion_steps"] == 150
    assert set(report["inversion_l1_per_category"]) == {"dark", "bright"}
    for space in ("imagenet", "classifier"):
        fid, precision, recall = (
            report[f"inversion_{m}_{space}"] for m in ("fid", "precision", "recall")
        )
        if drawn == "everything":
            # Inverted, the training-real images come back: the real-vs-real row again.
            assert precision > 0.7 and recall > 0.7
            assert fid < 2 * report[f"fid_{space}_real"] + 0.05
        else:
            # G's closest images are still mid-grey: outside the real manifold.
            assert precision < 0.1 and recall < 0.1
            assert fid > 5 * report[f"fid_{space}_real"] + 1.0
        assert set(report[f"inversion_precision_recall_per_category_{space}"]) == {
            "dark",
            "bright",
        }
    if drawn == "everything":
        assert report["inversion_l1_mean"] < 0.03
    else:
        # At best 0.1 short of every real pixel, which lie 0.45 to 0.95 from mid-grey.
        assert report["inversion_l1_mean"] > 0.4
    figure = np.asarray(Image.open(report["inversion_figure"]))
    assert figure.shape[0] == 2 * (2 * 32 + 12)  # two categories, real over inverted
    saved = json.load(open(os.path.join(tmp_path, "report.json")))
    assert saved["inversion_recall_imagenet"] == report["inversion_recall_imagenet"]


def test_inversion_arguments_are_checked_before_the_classifier_trains(setup, tmp_path, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("the classifier was trained before the inversion was checked")

    monkeypatch.setattr(classifier_lib, "train_category_classifier", no_training)
    ds, _ = setup
    with pytest.raises(ValueError, match="invert_restarts must be >= 1"):
        gan_report.gan_report(
            StandInGAN(ds, "perfect"), ds, str(tmp_path), invert=True, invert_restarts=0
        )
