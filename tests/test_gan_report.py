"""eval/gan_report.py on stand-in generators whose right answers are known."""

import dataclasses
import json
import os

import numpy as np
import pytest
from gan_testlib import two_category_dataset
from PIL import Image

from data.core import DataError
from eval import gan_report_lib as gan_report
from eval import quality


@dataclasses.dataclass
class StandInGAN:
    """Returns real images: of the requested category, the other one, or one image per category."""

    ds: object
    mode: str  # "perfect", "swapped" or "collapsed"
    resolution: int = 16
    channels: int = 3
    num_categories: int = 2
    category_names: tuple = ("dark", "bright")
    path: str = "stand-in"

    def sample(self, per_category, seed):
        rng = np.random.default_rng(seed)
        cats = np.asarray(self.ds.categories)
        category = np.repeat(np.arange(2, dtype=np.int32), per_category)
        shown = {"perfect": (0, 1), "swapped": (1, 0), "collapsed": (0, 1)}[self.mode]
        items = np.concatenate([rng.choice(np.flatnonzero(cats == c), per_category) for c in shown])
        if self.mode == "collapsed":
            items = np.repeat(items[[0, per_category]], per_category)
        uint8 = quality.real_images(self.ds, items, 16, 3)
        return {
            "category": category,
            "images": quality.to_unit_range(uint8),
            "images_uint8": uint8,
            "shown_items": items,
        }


@pytest.fixture(scope="module")
def setup():
    ds = two_category_dataset(num_items=120)
    clf = quality.train_category_classifier(ds, 16, 3, epochs=3, batch_size=32, seed=0)
    assert clf.heldout_accuracy == 1.0
    return ds, clf


def _report(setup, mode, tmp_path):
    ds, clf = setup
    return gan_report.gan_report(
        StandInGAN(ds, mode),
        ds,
        str(tmp_path),
        samples_per_category=12,
        figure_samples=3,
        classifier=clf,
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
    assert json.load(open(os.path.join(tmp_path, "report.json")))["conditioning_accuracy"] == 1.0


def test_swapped_and_collapsed_generators_fail(setup, tmp_path):
    swapped = _report(setup, "swapped", tmp_path)
    assert swapped["conditioning_accuracy"] == 0.0 and not swapped["conditioning_ok"]
    collapsed = _report(setup, "collapsed", tmp_path)
    assert collapsed["opposite_mean_ssim_generated"] == pytest.approx(0.0, abs=1e-12)
    assert collapsed["ssim_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert collapsed["colour_spread_ratio"] == pytest.approx(0.0, abs=1e-12)
    assert not collapsed["diversity_ok"]
    assert collapsed["conditioning_ok"]  # collapse is invisible to the classifier alone


def test_mismatched_dataset_is_refused(setup, tmp_path):
    ds, clf = setup
    gan = StandInGAN(ds, "perfect", category_names=("tops", "shoes"))
    with pytest.raises(DataError, match="trained on categories"):
        gan_report.gan_report(gan, ds, str(tmp_path), classifier=clf)
    gan = StandInGAN(ds, "perfect", resolution=32)
    with pytest.raises(ValueError, match="classifier reads 16x16x3"):
        gan_report.gan_report(gan, ds, str(tmp_path), classifier=clf)
