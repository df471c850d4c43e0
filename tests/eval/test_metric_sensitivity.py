"""eval/metric_sensitivity_lib.py: the degradations against NumPy/TF references, and the table."""

import re

import numpy as np
import pytest
import tensorflow as tf
from skimage.filters import gaussian as skimage_gaussian

from data.core import DataError
from eval import metric_sensitivity_lib as lib
from metrics import gan_metrics
from tests.testlib.gan import two_category_dataset
from tests.testlib.images import smooth_noise_images


def _images(n=4, size=16, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n, size, size, channels)).astype(np.float32)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_blur_matches_skimage_and_keeps_flat_regions(sigma):
    images = _images()
    ours = lib.gaussian_blur(images, sigma)
    # skimage truncates at 4 sigma and reflects as "mirror"; with the same
    # truncation and mode the two kernels are the same.
    reference = np.stack(
        [
            skimage_gaussian(
                im.astype(np.float64),
                sigma=sigma,
                mode="mirror",
                truncate=max(1, int(np.ceil(3 * sigma))) / sigma,
                channel_axis=-1,
                preserve_range=True,
            )
            for im in images
        ]
    )
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    flat = np.full((1, 8, 8, 3), 0.25, np.float32)
    np.testing.assert_allclose(lib.gaussian_blur(flat, sigma), flat, atol=1e-6)


def test_noise_has_the_asked_spread_and_stays_in_range():
    images = np.zeros((8, 32, 32, 3), np.float32)
    noisy = lib.add_noise(images, 0.05, np.random.default_rng(0))
    assert abs(noisy.std() - 0.05) < 0.002
    assert noisy.min() >= -1 and noisy.max() <= 1
    assert lib.add_noise(np.ones_like(images), 0.5, np.random.default_rng(0)).max() == 1.0


def test_down_up_and_channel_mix():
    images = _images(size=16)
    # 2x2-constant blocks lose less to a 2x down-up than pixel noise loses to a 4x one;
    # the exact values are checked against TF's two resizes below.
    blocks = np.repeat(np.repeat(_images(size=8), 2, axis=1), 2, axis=2)
    softened = lib.down_up(blocks, 2)
    assert softened.shape == blocks.shape
    assert np.abs(softened - blocks).mean() < np.abs(lib.down_up(images, 4) - images).mean()
    reference = tf.image.resize(tf.image.resize(images, [4, 4], "area"), [16, 16]).numpy()
    np.testing.assert_allclose(lib.down_up(images, 4), reference, atol=1e-6)
    mixed = lib.mix_channels(images, 0.3)
    np.testing.assert_allclose(
        mixed[..., 0], np.clip(0.7 * images[..., 0] + 0.3 * images[..., 1], -1, 1), atol=1e-6
    )
    grey = images[..., :1]
    assert lib.mix_channels(grey, 0.3) is grey


def test_table_has_every_degradation_and_none_is_real_vs_real():
    rng = np.random.default_rng(0)
    reference = np.clip(smooth_noise_images(rng, 40, 8, 3), -1, 1).astype(np.float32)

    def pixels(images):
        return np.asarray(images, np.float64).reshape(len(images), -1)

    # Compared with itself: "none" is a perfect match; noise and blur move away from it.
    rows = lib.sensitivity(reference, reference, pixels, seed=0)
    assert [r["degradation"] for r in rows] == list(lib.degradations(0))
    by_name = {r["degradation"]: r for r in rows}
    assert by_name["none"]["precision"] == by_name["none"]["recall"] == 1.0
    assert by_name["none"]["fid"] == pytest.approx(0.0, abs=1e-6)
    assert by_name["noise sigma 0.05"]["fid"] > by_name["noise sigma 0.01"]["fid"] > 0
    assert by_name["blur sigma 2 px"]["fid"] > by_name["blur sigma 0.5 px"]["fid"] > 0
    other = np.clip(smooth_noise_images(rng, 40, 8, 3), -1, 1).astype(np.float32)
    np.testing.assert_allclose(
        lib.sensitivity(reference, other, pixels)[0]["fid"],
        gan_metrics.compare(pixels(reference), pixels(other))["fid"],
    )


def test_two_samples_are_disjoint_and_category_matched():
    ds = two_category_dataset(num_items=40)
    first, second = lib.two_real_samples(ds, per_category=5, seed=0)
    assert not set(first) & set(second)
    cats = np.asarray(ds.categories)
    np.testing.assert_array_equal(np.bincount(cats[first]), np.bincount(cats[second]))
    assert len(first) == 10
    with pytest.raises(DataError, match="more than k"):
        lib.two_real_samples(ds, per_category=1, seed=0)


def test_tv_denoising_flattens_grain_and_keeps_edges():
    flat = np.full((2, 16, 16, 3), 0.4, np.float32)
    np.testing.assert_allclose(lib.denoise_tv(flat, 0.1), flat, atol=1e-6)
    rng = np.random.default_rng(0)
    step = np.where(np.arange(16) < 8, -0.8, 0.8)[None, None, :, None] * np.ones((2, 16, 16, 1))
    grainy = np.clip(step + rng.normal(0, 0.05, step.shape), -1, 1).astype(np.float32)
    out = lib.denoise_tv(grainy, 0.1)
    assert out.shape == grainy.shape and out.dtype == np.float32
    # Grain within each half falls by more than half; the step keeps over 80% of its height.
    for half in (slice(0, 7), slice(9, 16)):
        assert out[:, :, half].std() < 0.5 * grainy[:, :, half].std()
    assert out[:, :, 9:].mean() - out[:, :, :7].mean() > 0.8 * 1.6
    # Each channel alone: a grey image in three channels denoises as one grey channel.
    grey = lib.denoise_tv(grainy[..., :1], 0.1)
    np.testing.assert_allclose(
        lib.denoise_tv(np.repeat(grainy, 3, -1), 0.1), np.repeat(grey, 3, -1)
    )


def test_gan_mode_takes_the_gans_shape_and_refuses_a_clash():
    from types import SimpleNamespace

    ds = two_category_dataset(num_items=40)
    gan = SimpleNamespace(
        path="/g", resolution=16, channels=3, num_categories=2, category_names=ds.category_names
    )
    assert lib.image_shape(0, 0, ds, gan) == (16, 3)
    assert lib.image_shape(16, 3, ds, gan) == (16, 3)
    assert lib.image_shape(0, 0, ds, None) == (64, 3)
    assert lib.image_shape(32, 1, ds, None) == (32, 1)
    with pytest.raises(DataError, match="--resolution=32, but the GAN at /g makes 16"):
        lib.image_shape(32, 0, ds, gan)
    with pytest.raises(DataError, match="--channels=1, but the GAN at /g makes 3"):
        lib.image_shape(0, 1, ds, gan)
    # Another catalogue's GAN is refused, also one with as many categories as the dataset.
    for names in (("a", "b", "c"), ("tops", "shoes")):
        other = SimpleNamespace(
            **{**vars(gan), "num_categories": len(names), "category_names": names}
        )
        expected = f"trained on categories {list(names)}, but --dataset={ds.name} has"
        with pytest.raises(DataError, match=re.escape(expected)):
            lib.image_shape(0, 0, ds, other)


def test_binary_compares_a_gans_images(tmp_path):
    """`--gan`: the table's second sample is the GAN's images, "compared" says so."""
    import json
    import os
    import subprocess
    import sys

    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    gan_dir, out = str(tmp_path / "gan"), str(tmp_path / "sensitivity")
    common = {"cwd": repo, "capture_output": True, "text": True, "timeout": 600}
    train = subprocess.run(
        [sys.executable, "-m", "gan_tf.train", "--dataset=synthetic_fashion/tiny",
         "--resolution=32", "--g_widths=8,8,8", "--d_widths=8,8", "--g_dense_width=8",
         "--max_steps=1", f"--workdir={gan_dir}"],
        **common,
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    proc = subprocess.run(
        [sys.executable, "-m", "eval.metric_sensitivity", "--dataset=synthetic_fashion/tiny",
         f"--gan={gan_dir}/export", "--samples_per_category=5", "--space=classifier",
         "--classifier_epochs=1", f"--workdir={out}"],
        **common,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (result["compared"], result["resolution"], result["channels"]) == ("generated", 32, 3)
    assert [r["degradation"] for r in result["rows"]] == list(lib.degradations(0))
    # An untrained G is nowhere near the renders: far from the real-vs-real floor.
    assert all(r["precision"] < 0.5 for r in result["rows"])
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["gan"] == f"{gan_dir}/export"
