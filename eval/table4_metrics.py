"""Table IV's metrics of one source: preference, quality, diversity and field metrics.

Each source (`eval.table4_config.SOURCES`) has T trials x k images at the
GAN's resolution and their preference scores; `source_metrics` reduces
them to mean / std dicts, `paired_difference` compares two sources on the
same trials, and `field_reference` draws the held-out real images the
field metrics (FID, precision / recall) compare with.
"""

from __future__ import annotations

import numpy as np

from common.images import to_unit_range
from data.core import RecDataset
from design import report
from eval import classifier as classifier_lib
from eval.table4_config import Table4Config
from metrics import gan_metrics, quality


def preference_stats(scores: np.ndarray) -> dict:
    """Mean and std over trials of the per-trial mean score ([T, k] -> dict)."""
    # float64 throughout, so that this mean and `paired_difference` agree exactly.
    mean, std = report.mean_std(np.asarray(scores, np.float64).mean(axis=1))
    return {"mean": mean, "std": std}


def paired_difference(better: np.ndarray, baseline: np.ndarray) -> dict:
    """Per-trial comparison of two sources' mean scores on the same trials.

    Args:
      better, baseline: float [T, k] preference scores of the same T trials.

    Returns:
      dict: mean and std of the per-trial difference (better - baseline),
      its standard error (std / sqrt(T)), z = mean / standard error, and the
      share of trials where `better` is higher.
    """
    diff = np.asarray(better, np.float64).mean(axis=1) - np.asarray(baseline, np.float64).mean(
        axis=1
    )
    n = len(diff)
    std = float(diff.std(ddof=1)) if n > 1 else float("nan")
    sem = std / np.sqrt(n) if n > 1 else float("nan")
    mean = float(diff.mean()) if n else float("nan")
    return {
        "mean": mean,
        "std": std,
        "standard_error": sem,
        "z": mean / sem if sem and np.isfinite(sem) else float("nan"),
        "win_share": float(np.mean(diff > 0)) if n else float("nan"),
    }


def split_classifier_score(probs: np.ndarray, splits: int, seed: int) -> dict:
    """The classifier score over `splits` random splits: mean and std."""
    probs = np.asarray(probs)
    order = np.random.default_rng([seed, 7]).permutation(len(probs))
    chunks = [c for c in np.array_split(order, min(splits, len(probs))) if len(c)]
    values = [quality.classifier_score(probs[c]) for c in chunks]
    mean, std = report.mean_std(values)
    return {"mean": mean, "std": std}


def diversity_stats(images: np.ndarray) -> dict:
    """1 - mean SSIM over the pairs of each trial's images ([T, k, H, W, C]): mean and std."""
    images = np.asarray(images, np.float32)
    k = images.shape[1]
    if k < 2:
        return {"mean": float("nan"), "std": float("nan")}
    pairs = [(i, j) for i in range(k) for j in range(i + 1, k)]
    ssim = np.stack([quality.ssim_pairs(images[:, i], images[:, j], 2.0) for i, j in pairs], 1)
    mean, std = report.mean_std(1.0 - ssim.mean(axis=1))
    return {"mean": mean, "std": std}


def manifold_share(reference: dict, features: np.ndarray) -> dict:
    """Share of a set of images inside the held-out real manifold: precision, with its error.

    Precision scores each image on its own (is it within some held-out real
    image's k-NN ball?), so unlike FID and recall it needs no particular
    number of images and is comparable across subsets of any size.

    Args:
      reference: `field_reference`'s result.
      features: float [n, D] features of the images, in the reference's space.

    Returns:
      {"mean": precision in [0, 1], "std": its standard error
       sqrt(p (1 - p) / n), "n": n}; the key names fit the mean / std dicts
       of the other sweep metrics.
    """
    inside = gan_metrics.manifold_membership(reference["heldout"], features, reference["k"])[
        "fake_inside"
    ]
    p = float(inside.mean())
    return {"mean": p, "std": float(np.sqrt(p * (1.0 - p) / len(inside))), "n": int(len(inside))}


def field_space(config: Table4Config, imagenet_available: bool) -> str:
    """The field metrics' feature space: "imagenet" or "classifier" (`Table4Config.field_features`).

    ImageNet features are used when asked for and the ImageNet scorer runs;
    otherwise the dataset classifier's.
    """
    if config.field_features == "imagenet" and imagenet_available:
        return "imagenet"
    return "classifier"


def field_subset(num_images: int, config: Table4Config) -> np.ndarray:
    """Sorted indices of the images of a source that the ImageNet score and field metrics use.

    The same for every source (all have T x k images), so the field metrics
    compare sources on the same trials' categories.
    """
    if config.imagenet_max_images and num_images > config.imagenet_max_images:
        rng = np.random.default_rng([config.seed, 8])
        return np.sort(rng.choice(num_images, config.imagenet_max_images, replace=False))
    return np.arange(num_images)


def field_reference(
    ds: RecDataset, classifier, categories: np.ndarray, features, image_shape, seed: int
) -> dict | None:
    """The real images the field metrics compare each source with, and the real-vs-real row.

    Two real sets matched to the wanted categories one for one: held-out
    items of the dataset classifier (the reference every source is
    compared with) and its training items (compared with the same held-out
    set: the real-vs-real row, what a source of real images scores at this
    N). Positions whose category has no item in either pool are dropped.

    Args:
      ds: the dataset.
      classifier: the `metrics.quality.CategoryClassifier` whose split is used.
      categories: int [N] the category of each image of a source's subset.
      features: images float [n, R, R, C] in [-1, 1] -> float [n, D].
      image_shape: (R, C), the GAN's resolution and channels.
      seed: seeds the draws.

    Returns:
      {"heldout": float [n, D] features, "n": n, "k": the precision/recall
       k, "real_vs_real": {"fid", "precision", "recall"}}, or None when n is
      too small for precision and recall (n <= k).
    """
    rng = np.random.default_rng([seed, 13])
    cats = np.asarray(ds.categories)
    draws = [
        gan_metrics.category_matched_sample(pool, cats[pool], categories, rng)
        for pool in (classifier.heldout_items, classifier.train_items)
    ]
    keep = (draws[0] >= 0) & (draws[1] >= 0)
    k = gan_metrics.PRECISION_RECALL_K
    if keep.sum() <= k:
        return None
    heldout, train = (
        features(to_unit_range(classifier_lib.real_images(ds, d[keep], *image_shape)))
        for d in draws
    )
    return {
        "heldout": heldout,
        "n": int(keep.sum()),
        "k": k,
        "real_vs_real": gan_metrics.compare(heldout, train, k),
    }


def source_metrics(
    images: np.ndarray,
    scores: np.ndarray,
    classifier,
    imagenet,
    config: Table4Config,
    reference: dict | None = None,
) -> dict:
    """Preference, quality (both classifiers), diversity and field metrics of one source.

    Args:
      images: float32 [T, k, R, R, C] in [-1, 1].
      scores: float32 [T, k] preference scores.
      classifier: an `metrics.quality.CategoryClassifier`.
      imagenet: `eval.table4_lib._imagenet_scorer()`'s function, or None.
      config: the run's config.
      reference: `field_reference`'s result, in `field_space(config,
        imagenet is not None)`'s features, or None: no field metrics.

    Returns:
      {"preference", "preference_top1", "quality_dataset", "diversity":
       mean/std dicts; "quality_imagenet" with `imagenet`; "field": {"fid",
       "precision", "recall"} of the `field_subset` images against the
       reference's held-out real images, with `reference`}.
    """
    flat = images.reshape((-1,) + images.shape[2:])
    out = {
        "preference": preference_stats(scores),
        "preference_top1": dict(zip(("mean", "std"), report.mean_std(scores[:, 0]), strict=True)),
        "quality_dataset": split_classifier_score(
            quality.predict_probs(classifier.model, flat), config.quality_splits, config.seed
        ),
        "diversity": diversity_stats(images),
    }
    subset = flat[field_subset(len(flat), config)]
    features = None
    if imagenet is not None:
        scored = imagenet(subset)
        out["quality_imagenet"] = split_classifier_score(
            scored["probs"], config.quality_splits, config.seed
        )
        if field_space(config, True) == "imagenet":
            features = scored["features"]
    if reference is not None:
        if features is None:
            features = gan_metrics.classifier_features(classifier, subset)
        out["field"] = gan_metrics.compare(reference["heldout"], features, reference["k"])
    return out
