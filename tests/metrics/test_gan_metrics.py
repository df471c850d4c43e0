"""metrics/gan_metrics.py against independent NumPy / SciPy references and closed forms."""

import numpy as np
import pytest

from metrics import gan_metrics, quality
from tests.testlib.images import smooth_noise_images

# ---------------------------------------------------------------------------
# FID.


def _scipy_fid(a, b):
    """The reference FID code's form: scipy sqrtm of the product, eps fallback, real part."""
    linalg = pytest.importorskip("scipy.linalg")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s_a @ s_b)
    if not np.isfinite(covmean).all():
        eps = np.eye(len(s_a)) * 1e-6
        covmean = linalg.sqrtm((s_a + eps) @ (s_b + eps))
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a + s_b - 2 * covmean))


def test_frechet_distance_matches_scipy_reference():
    rng = np.random.default_rng(0)
    mix_a, mix_b = rng.normal(size=(6, 6)), rng.normal(size=(6, 6))
    a = rng.normal(size=(300, 6)) @ mix_a + 1.0
    b = rng.normal(size=(250, 6)) @ mix_b - 0.5
    want = _scipy_fid(a, b)
    assert want > 1.0
    assert gan_metrics.frechet_distance(a, b) == pytest.approx(want, rel=1e-9)
    assert gan_metrics.frechet_distance(b, a) == pytest.approx(want, rel=1e-9)  # symmetric
    # float32 input is computed in float64 all the same.
    got32 = gan_metrics.frechet_distance(a.astype(np.float32), b.astype(np.float32))
    assert got32 == pytest.approx(_scipy_fid(a.astype(np.float32), b.astype(np.float32)), rel=1e-6)


def test_frechet_distance_closed_forms_including_singular_covariances():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5))
    assert gan_metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert gan_metrics.frechet_distance(a, a + shift) == pytest.approx(shift @ shift, rel=1e-9)
    # N < D: rank-deficient covariances. For b = c a, S_b = c^2 S_a and
    # (S_a S_b)^(1/2) = c S_a, so FID = (1 - c)^2 (||mu_a||^2 + Tr S_a).
    wide = rng.normal(size=(20, 50)) + 0.3
    mu, cov = wide.mean(0), np.cov(wide, rowvar=False)
    for c in (2.0, 0.5, 3.0):
        want = (1 - c) ** 2 * (mu @ mu + np.trace(cov))
        assert gan_metrics.frechet_distance(wide, c * wide) == pytest.approx(want, rel=1e-6)
    # Diagonal Gaussians (independent coordinates, sample covariances made exactly
    # diagonal by a sign design): sum (sd_a - sd_b)^2 + ||mu_a - mu_b||^2.
    signs = np.array([[1, 1], [1, -1], [-1, 1], [-1, -1]], np.float64)
    x = signs * np.array([2.0, 0.5])
    y = signs * np.array([1.0, 3.0]) + np.array([0.5, 0.0])
    sd_x = np.sqrt(np.array([4.0, 0.25]) * 4 / 3)
    sd_y = np.sqrt(np.array([1.0, 9.0]) * 4 / 3)
    want = np.sum((sd_x - sd_y) ** 2) + 0.25
    assert gan_metrics.frechet_distance(x, y) == pytest.approx(want, rel=1e-9)
    with pytest.raises(ValueError, match="dimensions differ"):
        gan_metrics.frechet_distance(a, a[:, :3])
    with pytest.raises(ValueError, match="N >= 2"):
        gan_metrics.frechet_distance(a[:1], a)


# ---------------------------------------------------------------------------
# Precision and recall.


def _brute_precision_recall(real, fake, k):
    """One sample at a time, exact differences and sorted distances."""

    def radius(x, i):
        d = [np.linalg.norm(x[i] - x[j]) for j in range(len(x)) if j != i]
        return sorted(d)[k - 1]

    r_real = [radius(real, i) for i in range(len(real))]
    r_fake = [radius(fake, j) for j in range(len(fake))]
    precision = np.mean(
        [any(np.linalg.norm(f - real[i]) <= r_real[i] for i in range(len(real))) for f in fake]
    )
    recall = np.mean(
        [any(np.linalg.norm(r - fake[j]) <= r_fake[j] for j in range(len(fake))) for r in real]
    )
    return precision, recall


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_matches_brute_force(k):
    rng = np.random.default_rng(k)
    real = rng.normal(size=(45, 4))
    # Fakes: a wider cloud, off-centre, so that neither figure is 0 or 1.
    fake = 1.3 * rng.normal(size=(33, 4)) + np.array([1.5, 0.0, 0.0, 0.0])
    want = _brute_precision_recall(real, fake, k)
    # A small block size: the distances come in several blocks of rows.
    got = gan_metrics.precision_recall(real, fake, k=k, max_block_bytes=8 * 45 * 7)
    assert (got["precision"], got["recall"]) == pytest.approx(want, abs=1e-12)
    assert 0 < want[0] < 1 and 0 < want[1] < 1  # the test can tell wrong answers apart
    assert got == gan_metrics.precision_recall(real, fake, k=k)  # block size is invisible


def test_precision_recall_by_group_matches_brute_force_per_group():
    rng = np.random.default_rng(11)
    real = rng.normal(size=(40, 3))
    real[20:] += 10.0  # two separate real clusters
    real_groups = np.repeat([0, 1], 20)
    # Group 1's fakes cover group 1's real points; group 0's sit far away, and
    # group 2 exists among the fakes only, far away too.
    fake = np.concatenate([real[:10] + 50.0, real[20:35] + 0.01, rng.normal(size=(5, 3)) - 50.0])
    fake_groups = np.repeat([0, 1, 2], [10, 15, 5])
    got = gan_metrics.precision_recall(
        real, fake, k=3, real_groups=real_groups, fake_groups=fake_groups
    )

    # Membership by brute force: each sample against the whole other set.
    def radii(x):
        d = np.linalg.norm(x[:, None] - x[None], axis=-1)
        np.fill_diagonal(d, np.inf)
        return np.sort(d, 1)[:, 2]

    cross = np.linalg.norm(real[:, None] - fake[None], axis=-1)
    fake_inside = (cross <= radii(real)[:, None]).any(0)
    real_inside = (cross <= radii(fake)[None, :]).any(1)
    assert got["precision"] == pytest.approx(fake_inside.mean())
    assert got["recall"] == pytest.approx(real_inside.mean())
    assert set(got["per_group"]) == {0, 1, 2}
    for g in (0, 1, 2):
        want_p = fake_inside[fake_groups == g].mean()
        assert got["per_group"][g]["precision"] == pytest.approx(want_p)
    assert got["per_group"][0]["precision"] == 0.0
    assert got["per_group"][1]["recall"] == pytest.approx(real_inside[20:].mean())
    assert got["per_group"][1]["recall"] > 0.5 > got["per_group"][0]["recall"]
    assert got["per_group"][2]["recall"] is None  # no real sample of group 2
    # The masks behind the figures, and how far outside each real sample lies.
    membership = gan_metrics.manifold_membership(real, fake, k=3, max_block_bytes=8 * 45 * 7)
    np.testing.assert_array_equal(membership["real_inside"], real_inside)
    np.testing.assert_array_equal(membership["fake_inside"], fake_inside)
    want_reach = (cross / radii(fake)[None, :]).min(1)
    np.testing.assert_allclose(membership["real_reach"], want_reach, rtol=1e-9)
    np.testing.assert_array_equal(membership["real_reach"] <= 1.0, real_inside)
    assert real_inside.any() and not real_inside.all()  # both sides of 1 are exercised
    # Without groups the answer is the overall one alone.
    assert gan_metrics.precision_recall(real, fake, k=3) == {
        "precision": got["precision"],
        "recall": got["recall"],
    }
    with pytest.raises(ValueError, match="both"):
        gan_metrics.precision_recall(real, fake, real_groups=real_groups)
    with pytest.raises(ValueError, match="Groups of shapes"):
        gan_metrics.precision_recall(
            real, fake, real_groups=real_groups[:5], fake_groups=fake_groups
        )


def test_precision_recall_k_changes_the_answer_and_duplicates_count():
    rng = np.random.default_rng(7)
    real = rng.normal(size=(30, 3))
    fake = rng.normal(size=(30, 3)) * 1.5
    small = gan_metrics.precision_recall(real, fake, k=1)
    large = gan_metrics.precision_recall(real, fake, k=10)
    # Larger k, larger balls: neither figure can fall, and here both rise.
    assert large["precision"] > small["precision"] and large["recall"] > small["recall"]
    # Duplicated real samples have radius 0 at k = 1 (the copy, not the sample, is
    # its nearest neighbour); a fake equal to one of them is inside.
    dup = np.concatenate([real[:10], real[:10], real[10:]])
    fakes = np.concatenate([real[:2], real[:2] + 100.0])
    got = gan_metrics.precision_recall(dup, fakes, k=1)
    want = _brute_precision_recall(dup, fakes, 1)
    assert (got["precision"], got["recall"]) == pytest.approx(want, abs=1e-12)
    assert got["precision"] == 0.5
    # The other way round: real samples equal to duplicated fakes (radius 0) reach
    # 0; beyond the balls of radius 0 alone, infinitely far.
    reach = gan_metrics.manifold_membership(fakes[:2], dup, k=1)["real_reach"]
    np.testing.assert_array_equal(reach, [0.0, 0.0])
    lone = gan_metrics.manifold_membership(real[:2] + 0.5, np.repeat(real[:3], 2, 0), k=1)
    assert np.all(np.isinf(lone["real_reach"])) and not lone["real_inside"].any()


def test_precision_recall_extremes_and_errors():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 8))
    assert gan_metrics.precision_recall(x, x.copy(), k=3) == {"precision": 1.0, "recall": 1.0}
    assert gan_metrics.precision_recall(x, x + 1000.0, k=3) == {"precision": 0.0, "recall": 0.0}
    # Mode collapse: fakes inside the real manifold (precision 1), covering little of it.
    collapsed = x[:1] + 1e-3 * rng.normal(size=(50, 8))
    got = gan_metrics.precision_recall(x, collapsed, k=3)
    assert got["precision"] == 1.0 and got["recall"] < 0.1
    with pytest.raises(ValueError, match="N > k"):
        gan_metrics.precision_recall(x[:3], x, k=3)
    with pytest.raises(ValueError, match="one D"):
        gan_metrics.precision_recall(x, x[:, :4])


# ---------------------------------------------------------------------------
# Checkerboard energy.


def test_checkerboard_frequencies():
    np.testing.assert_array_equal(np.flatnonzero(gan_metrics.checkerboard_frequencies(32, 1)), [16])
    np.testing.assert_array_equal(
        np.flatnonzero(gan_metrics.checkerboard_frequencies(32, 3)), [4, 8, 12, 16, 20, 24, 28]
    )
    with pytest.raises(ValueError, match="divisible"):
        gan_metrics.checkerboard_frequencies(24, 4)


def test_planted_checkerboard_raises_the_energy():
    rng = np.random.default_rng(3)
    smooth = smooth_noise_images(rng, 12, 32, 3)
    yy, xx = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    board = smooth + 0.1 * (-1.0) ** (yy + xx)[None, :, :, None]  # period 2: frequency (16, 16)
    base1, planted1 = (gan_metrics.checkerboard_energy(x, 1) for x in (smooth, board))
    assert base1 < 0.002 and planted1 > 20 * base1
    # At s = 3 the marked rows and columns (4, 8, ..., 28) also cross the smooth
    # images' strong low frequencies along the other axis: a larger floor.
    base3, planted3 = (gan_metrics.checkerboard_energy(x, 3) for x in (smooth, board))
    assert 0.03 < base3 < 0.15 and planted3 > base3 + 0.05
    # Period-4 stripes along x (frequency index 8) count from s = 2 on: at s = 1 they
    # only add to the denominator.
    stripes = smooth + 0.1 * np.cos(np.pi * xx / 2)[None, :, :, None]
    assert gan_metrics.checkerboard_energy(stripes, 1) < base1
    base2 = gan_metrics.checkerboard_energy(smooth, 2)
    assert gan_metrics.checkerboard_energy(stripes, 2) > 3 * base2
    # Flat images have no non-DC power at all.
    assert gan_metrics.checkerboard_energy(np.full((2, 8, 8, 1), 0.3), 2) == 0.0


def test_checkerboard_energy_equals_a_direct_computation():
    rng = np.random.default_rng(4)
    images = rng.uniform(-1, 1, (3, 8, 8, 2))
    n = 8
    # The DFT as an explicit matrix product, per image and channel.
    w = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)
    power = np.zeros((n, n))
    for img in images:
        for c in range(2):
            x = img[:, :, c] - img[:, :, c].mean()
            power += np.abs(w @ x @ w.T) ** 2
    power /= 6
    for s in (1, 2, 3):
        step = n // 2**s
        on = sum(
            power[u, v]
            for u in range(n)
            for v in range(n)
            if (u % step == 0 and u != 0) or (v % step == 0 and v != 0)
        )
        want = on / (power.sum() - power[0, 0])
        assert gan_metrics.checkerboard_energy(images, s, chunk=2) == pytest.approx(want, rel=1e-10)


def test_spectrum_bands_equal_a_direct_computation():
    rng = np.random.default_rng(5)
    # 16 px, so that the first band holds more than the DC bin (8 px: |f| < 1/8).
    images = rng.uniform(-1, 1, (3, 16, 16, 2))
    n = 16
    w = np.exp(-2j * np.pi * np.outer(np.arange(n), np.arange(n)) / n)
    want = np.zeros(4)
    edges = [0.0, 0.25, 0.5, 0.75]
    for img in images:
        for c in range(2):
            x = img[:, :, c] - img[:, :, c].mean()
            power = np.abs(w @ x @ w.T) ** 2 / 6
            for u in range(n):
                for v in range(n):
                    # Signed frequencies in cycles per pixel, over Nyquist (0.5).
                    fu, fv = (u if u < n / 2 else u - n) / n, (v if v < n / 2 else v - n) / n
                    radius = np.hypot(fu, fv) / 0.5
                    want[sum(radius >= e for e in edges) - 1] += power[u, v]
    got = gan_metrics.spectrum_bands(images, chunk=2)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert got[0] > 0.01 * got.sum()
    # Parseval: the bands hold all the power of the mean-removed images.
    centred = images - images.mean(axis=(1, 2), keepdims=True)
    assert got.sum() == pytest.approx(n * n * np.sum(centred**2) / 6, rel=1e-10)


def test_spectrum_bands_see_blur_and_grain():
    rng = np.random.default_rng(6)
    images = rng.uniform(-1, 1, (16, 32, 32, 1))
    # A 3-tap box blur along both axes removes high frequencies; noise adds them.
    blurred = sum(np.roll(images, s, axis=1) for s in (-1, 0, 1)) / 3
    blurred = sum(np.roll(blurred, s, axis=2) for s in (-1, 0, 1)) / 3
    base = gan_metrics.spectrum_bands(blurred)
    grainy = gan_metrics.spectrum_bands(blurred + rng.normal(0, 0.1, blurred.shape))
    sharp = gan_metrics.spectrum_bands(images)
    assert (sharp / base)[-1] > 10 * (sharp / base)[0]
    assert grainy[-1] / base[-1] > 2 and grainy[0] / base[0] < 1.2


# ---------------------------------------------------------------------------
# Feature spaces.


def test_classifier_features_are_the_penultimate_layer():
    model = quality.build_category_classifier(16, 3, 4, width=8)
    rng = np.random.default_rng(5)
    images = rng.uniform(-1, 1, (10, 16, 16, 3)).astype(np.float32)
    feats = gan_metrics.classifier_features(model, images, batch_size=4)
    assert feats.shape == (10, 32) and feats.dtype == np.float32
    assert np.all(feats >= 0) and feats.std() > 0  # pooled ReLUs, not constant
    kernel, bias = model.get_layer("logits").get_weights()
    logits = model.predict(images, verbose=0)
    np.testing.assert_allclose(feats @ kernel + bias, logits, rtol=1e-4, atol=1e-5)
    # A CategoryClassifier works too.
    clf = quality.CategoryClassifier(model, 16, 3, 1.0, np.zeros(0), np.zeros(0))
    np.testing.assert_array_equal(gan_metrics.classifier_features(clf, images), feats)


@pytest.mark.skipif(
    not gan_metrics.imagenet_available(), reason="EfficientNet-Lite0 weights missing"
)
def test_imagenet_features_resize_and_tile_grey():
    from metrics import efficientnet_lite

    rng = np.random.default_rng(6)
    grey = rng.uniform(-1, 1, (3, 16, 16, 1)).astype(np.float32)
    out = gan_metrics.imagenet_outputs(grey, batch_size=2)
    assert out["features"].shape == (3, 1280) and out["logits"].shape == (3, 1000)
    np.testing.assert_allclose(gan_metrics.imagenet_features(grey), out["features"], atol=1e-5)
    # The same as running the network on the bilinear 224 x 224 RGB images directly.
    import tensorflow as tf

    big = tf.image.resize(np.repeat(grey, 3, -1), [224, 224], method="bilinear")
    model_out = efficientnet_lite.build_model()(big, training=False)
    np.testing.assert_allclose(out["features"], model_out["features"], rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------
# The suite.


def test_category_matched_sample():
    rng = np.random.default_rng(8)
    pool = np.arange(100, 120)
    pool_cats = np.array([0] * 10 + [1] * 3 + [2] * 7)
    wanted = np.array([0, 1, 1, 0, 1, 1, 3, 0])
    got = gan_metrics.category_matched_sample(pool, pool_cats, wanted, rng)
    cat_of = dict(zip(pool.tolist(), pool_cats.tolist(), strict=True))
    assert got[6] == -1  # no item of category 3
    assert [cat_of[i] for i in got[wanted != 3]] == wanted[wanted != 3].tolist()
    assert len(set(got[wanted == 0].tolist())) == 3  # distinct while the pool allows
    assert set(got[wanted == 1].tolist()) == {110, 111, 112}  # all 3, then a repeat


def test_quality_suite_ranks_generators_and_equalises_n():
    rng = np.random.default_rng(9)
    train, heldout = rng.normal(size=(80, 6)), rng.normal(size=(60, 6))
    good = rng.normal(size=(60, 6))
    bad = 0.3 * rng.normal(size=(60, 6)) + 1.0
    suite_good = gan_metrics.quality_suite(train[:60], heldout, good, k=3)
    suite_bad = gan_metrics.quality_suite(train[:60], heldout, bad, k=3)
    assert suite_good["n"] == 60 and suite_good["dim"] == 6 and suite_good["k"] == 3
    assert suite_good["generated"] == gan_metrics.compare(heldout, good, 3)
    assert suite_good["real"] == gan_metrics.compare(heldout, train[:60], 3)
    assert suite_bad["generated"]["fid"] > 5 * suite_good["generated"]["fid"]
    assert suite_bad["generated"]["recall"] < suite_good["generated"]["recall"]
    # Unequal sets: all cut to the smallest, so the real-vs-real row is at the same N.
    suite = gan_metrics.quality_suite(train, heldout, good[:40], k=3)
    assert suite["n"] == 40
    # A feature function is applied to every set.
    doubled = gan_metrics.quality_suite(train[:60], heldout, good, feature_fn=lambda x: 2 * x)
    assert doubled["generated"]["fid"] == pytest.approx(4 * suite_good["generated"]["fid"])
    assert doubled["generated"]["precision"] == suite_good["generated"]["precision"]
    # Categories follow their images through the cut to the smallest set: category 1
    # of the generated set sits far from every real image, category 0 on them.
    # Category 1's real images are a cluster of their own, 20 away from category 0's.
    heldout, train = heldout.copy(), train.copy()
    heldout[30:] += 20.0
    train[40:] += 20.0
    far = np.concatenate([heldout[:30] + 1e-3, heldout[30:] + 100.0])
    cats = np.repeat([0, 1], 30)
    suite = gan_metrics.quality_suite(
        train, heldout, far, k=3, categories=(np.repeat([0, 1], 40), cats, cats)
    )
    assert suite["n"] == 60
    per_group = suite["generated"]["per_group"]
    assert per_group[1] == {"precision": 0.0, "recall": 0.0}
    assert per_group[0]["precision"] == 1.0 and per_group[0]["recall"] == 1.0
    assert set(suite["real"]["per_group"]) == {0, 1}
    with pytest.raises(ValueError, match="categories of shape"):
        gan_metrics.quality_suite(train, heldout, far, categories=(cats, cats, cats))
