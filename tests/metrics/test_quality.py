"""Quality metrics against NumPy / scikit-image references."""

import io

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import structural_similarity

from common.images import to_uint8
from metrics import quality


def _reference_score(probs):
    """exp(mean_x sum_y p(y|x) log(p(y|x) / p(y))) with explicit loops."""
    marginal = probs.mean(0)
    kls = []
    for row in probs:
        kls.append(sum(p * np.log(p / q) for p, q in zip(row, marginal, strict=True) if p > 0))
    return float(np.exp(np.mean(kls)))


def test_classifier_score_matches_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 6)) * 3
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert quality.classifier_score(probs) == pytest.approx(_reference_score(probs), rel=1e-10)
    # Edge cases: identical rows -> 1; balanced one-hot rows (with zeros) -> C.
    assert quality.classifier_score(np.tile(probs[:1], (7, 1))) == pytest.approx(1.0)
    assert quality.classifier_score(np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]]) == pytest.approx(4.0)
    # Two classes, unbalanced one-hot 3:1 -> exp(entropy of the marginal).
    marginal = np.array([0.75, 0.25])
    assert quality.classifier_score(np.eye(2)[[0, 0, 0, 1]]) == pytest.approx(
        np.exp(-(marginal * np.log(marginal)).sum())
    )
    with pytest.raises(ValueError, match="probability"):
        quality.classifier_score(np.array([[0.5, 0.6]]))
    with pytest.raises(ValueError, match=r"\[N, C\]"):
        quality.classifier_score(np.ones(3) / 3)


@pytest.mark.parametrize("channels,data_range", [(3, 2.0), (1, 2.0), (3, 255.0)])
def test_ssim_matches_skimage(channels, data_range):
    rng = np.random.default_rng(channels)
    lo, hi = (-1.0, 1.0) if data_range == 2.0 else (0.0, 255.0)
    x = rng.uniform(lo, hi, (5, 20, 17, channels))
    # Noisier and noisier copies, so SSIM values spread over (0, 1).
    sigma = (hi - lo) * np.linspace(0.02, 0.6, 5)[:, None, None, None]
    y = np.clip(x + sigma * rng.normal(size=x.shape), lo, hi)
    got = quality.ssim_pairs(x, y, data_range)
    want = [
        structural_similarity(
            a if channels > 1 else a[..., 0],
            b if channels > 1 else b[..., 0],
            data_range=data_range,
            channel_axis=-1 if channels > 1 else None,
        )
        for a, b in zip(x, y, strict=True)
    ]
    np.testing.assert_allclose(got, want, atol=1e-10)
    assert np.ptp(want) > 0.2
    np.testing.assert_allclose(quality.ssim_pairs(x, x, data_range), 1.0)


def test_opposite_mean_ssim_pairs_and_groups():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (2, 16, 16, 3))
    # Group 0: three copies of a, group 1: two copies of b -> every within-group pair is identical.
    images = np.stack([a, a, a, b, b])
    assert quality.opposite_mean_ssim(images, groups=[0, 0, 0, 1, 1]) == pytest.approx(0.0)
    # One group: pairs (a,a) x3, (b,b) x1 and (a,b) x6 -> 1 - mean.
    s_ab = quality.ssim_pairs(a[None], b[None], 2.0)[0]
    assert quality.opposite_mean_ssim(images) == pytest.approx(1 - (4 + 6 * s_ab) / 10)
    # Per-group means are averaged over groups (the paper's per-query average).
    c = rng.uniform(-1, 1, (3, 16, 16, 3))
    images = np.concatenate([c, [a, a]])
    pairs_c = quality.ssim_pairs(c[[0, 0, 1]], c[[1, 2, 2]], 2.0).mean()
    got = quality.opposite_mean_ssim(images, groups=[0, 0, 0, 1, 1], chunk=2)
    assert got == pytest.approx(1 - (pairs_c + 1.0) / 2)
    # A random subset of pairs per group.
    many = rng.uniform(-1, 1, (12, 16, 16, 1))
    sub = quality.opposite_mean_ssim(many, max_pairs_per_group=10, seed=3)
    assert 0.5 < sub < 1.5
    with pytest.raises(ValueError, match="two images"):
        quality.opposite_mean_ssim(many[:2], groups=[0, 1])


def test_nearest_neighbours_l1_matches_brute_force():
    rng = np.random.default_rng(0)
    real = rng.integers(0, 256, (37, 8, 8, 3)).astype(np.uint8)
    generated = real[[5, 20, 36]].astype(np.float32) + rng.normal(0, 3, (3, 8, 8, 3))
    generated = np.concatenate([generated, rng.uniform(0, 255, (4, 8, 8, 3))])
    idx, dist = quality.nearest_neighbours_l1(generated, real, max_block_bytes=4 * 7 * 192 * 5)
    full = np.abs(generated[:, None].reshape(7, 1, -1) - real.reshape(1, 37, -1)).mean(-1)
    np.testing.assert_array_equal(idx, full.argmin(1))
    np.testing.assert_allclose(dist, full.min(1), rtol=1e-5)
    assert list(idx[:3]) == [5, 20, 36]
    with pytest.raises(ValueError, match="differ"):
        quality.nearest_neighbours_l1(generated, real[:, :4])


def test_neighbours_figure(tmp_path):
    rng = np.random.default_rng(0)
    generated = rng.uniform(-1, 1, (6, 8, 8, 1))
    neighbours = rng.integers(0, 256, (6, 8, 8, 1)).astype(np.uint8)
    groups = np.array([0, 0, 0, 1, 1, 1])
    path = quality.write_neighbours_figure(
        str(tmp_path / "fig4.png"), generated, neighbours, groups, ["tops", "shoes"], scale=2
    )
    picture = np.asarray(Image.open(io.BytesIO(open(path, "rb").read())))
    assert picture.shape == (2 * (2 * 16 + 12), 110 + 3 * (16 + 4), 3)
    # The first sample sits at the top-left tile, its neighbour below it (grey -> RGB, 2x).
    tile = picture[0:16, 110:126]
    np.testing.assert_array_equal(tile[::2, ::2, 0], to_uint8(generated[0, ..., 0]))
    below = picture[20:36, 110:126]
    np.testing.assert_array_equal(below[::2, ::2, 1], neighbours[0, ..., 0])


def test_colour_spread():
    colours = np.array([[0.1, 0.5, 0.9], [0.3, 0.5, 0.1], [0.8, 0.5, 0.5], [0.2, 0.2, 0.2]])
    images = np.broadcast_to(colours[:, None, None, :], (4, 5, 5, 3)).copy()
    assert quality.colour_spread(images) == pytest.approx(colours.std(0).mean())
    groups = np.array([0, 0, 1, 1])
    want = (colours[:2].std(0).mean() + colours[2:].std(0).mean()) / 2
    assert quality.colour_spread(images, groups) == pytest.approx(want)
    # Varied structure in one colour: SSIM sees diversity, colour_spread does not.
    rng = np.random.default_rng(0)
    shapes = (rng.uniform(size=(6, 16, 16, 1)) > 0.5) * np.array([1.0, 0.0, 1.0])
    shapes = shapes - shapes.mean(axis=(1, 2), keepdims=True) + np.array([0.5, 0.0, 0.5])
    assert quality.colour_spread(shapes) == pytest.approx(0.0, abs=1e-12)
    assert quality.opposite_mean_ssim(shapes, data_range=1.0) > 0.5
