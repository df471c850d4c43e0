"""Table IV and Fig. 3 as a library; `eval.table4` is the binary around it.

    headline = table4_lib.run_table4(designer, catalogue, Table4Config(trials=100), workdir)

See `eval/table4.py` for what the four sources and three metrics are and
what is written into the workdir.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import os
import time

import numpy as np
import tensorflow as tf
from absl import logging

from common import runtime
from common.images import to_unit_range
from data.core import DataError, RecDataset
from design import design_lib, report
from design.config import DesignConfig
from design.optimize import Designer
from eval import classifier as classifier_lib
from metrics import gan_metrics, quality

SOURCES = ("random_real", "random_generated", "delta", "delta_hat")
SOURCE_LABELS = {
    "random_real": "X_c (random real)",
    "random_generated": "G(·, c) (random z)",
    "delta": "δ(u, c), eq. 8 (retrieval)",
    "delta_hat": "δ̂(u, c), eq. 9 (preference maximisation)",
}
SELECTIONS = ("sample", "top")


@dataclasses.dataclass(frozen=True)
class Table4Config:
    """Everything that determines a Table IV run.

    Attributes:
      trials: queries (user, category of the user's test item).
      eta: the realism weight of delta-hat in the table.
      etas: the eta values of the Fig. 3 sweep.
      sweep_trials: trials (the first ones) the sweep runs on; 0 skips it.
      selection: how delta-hat's k images are chosen among the m: "sample"
        (eq. 11, the paper's way to return several images) or "top".
      query_batch: queries optimised together (x restarts rows per batch).
      classifier_epochs: epochs of the dataset category classifier.
      quality_splits: splits of a source's images for the classifier
        score's mean and std.
      imagenet: also score quality with the ImageNet EfficientNet-Lite0,
        and compute the field metrics (FID, precision/recall) on its
        features rather than the dataset classifier's.
      imagenet_max_images: the ImageNet score and the field metrics use a
        random subset of at most this many of a source's images (224 x 224
        passes are the slowest part of the run on a CPU); 0 uses all.
      examples: trials shown in table4_examples.png.
      seed: seeds the trials, the random sources and the starting points.
      design: the design hyper-parameters (restarts, steps, lr, k).
    """

    trials: int = 1000
    eta: float = 1.0
    etas: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
    sweep_trials: int = 100
    selection: str = "sample"
    query_batch: int = 16
    classifier_epochs: int = 5
    quality_splits: int = 10
    imagenet: bool = True
    imagenet_max_images: int = 1000
    examples: int = 4
    seed: int = 0
    design: DesignConfig = DesignConfig()

    def __post_init__(self):
        if self.trials < 1 or self.query_batch < 1 or self.quality_splits < 1:
            raise ValueError("trials, query_batch and quality_splits must be >= 1.")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}.")
        if self.sweep_trials < 0 or any(e < 0 for e in self.etas) or self.eta < 0:
            raise ValueError("sweep_trials and every eta must be >= 0.")


# ---------------------------------------------------------------------------
# Trials and the random sources.


def sample_trials(ds: RecDataset, item_categories: np.ndarray, trials: int, seed: int):
    """Users with a test item of known category, and that category.

    Returns:
      (users int32 [trials], categories int32 [trials]); users are drawn
      uniformly, without replacement when there are enough of them.

    Raises:
      DataError: no user has a test item with a known category.
    """
    test = np.asarray(ds.test)
    users, first = np.unique(test[:, 0], return_index=True)
    categories = np.asarray(item_categories)[test[first, 1]]
    keep = categories >= 0
    users, categories = users[keep], categories[keep]
    if not len(users):
        raise DataError(
            f"Dataset {ds.name}: no user has a test item with a known category; Table IV "
            f"needs one per trial."
        )
    rng = np.random.default_rng([seed, 4])
    pick = rng.choice(len(users), size=trials, replace=trials > len(users))
    return users[pick].astype(np.int32), categories[pick].astype(np.int32)


def sample_without_replacement_within(
    counts: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """k distinct uniform indices in [0, counts[t]) for each row t, vectorised.

    The i-th draw takes r uniform in [0, n - i) and maps it to the r-th
    index not drawn yet (stepping over the earlier draws in ascending
    order), so every k-subset in every order is equally likely.

    Args:
      counts: int [T], each >= k.
      k: draws per row.
      rng: the random source.

    Returns:
      int64 [T, k].
    """
    counts = np.asarray(counts, np.int64)
    if np.any(counts < k):
        raise ValueError(f"Every row needs at least k={k} candidates.")
    out = np.zeros((len(counts), k), np.int64)
    for i in range(k):
        r = np.floor(rng.random(len(counts)) * (counts - i)).astype(np.int64)
        for prev in np.sort(out[:, :i], axis=1).T:
            r += r >= prev
        out[:, i] = r
    return out


def random_category_items(
    item_categories: np.ndarray, categories: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """int64 [T, k]: k distinct random items of each trial's category."""
    item_categories = np.asarray(item_categories)
    order = np.argsort(item_categories, kind="stable")
    sorted_cats = item_categories[order]
    starts = np.searchsorted(sorted_cats, categories, side="left")
    counts = np.searchsorted(sorted_cats, categories, side="right") - starts
    if np.any(counts < k):
        short = sorted(set(categories[counts < k].tolist()))
        raise DataError(f"Category(ies) {short} have fewer than {k} items; Table IV needs {k}.")
    picks = sample_without_replacement_within(counts, k, rng)
    return order[starts[:, None] + picks]


# ---------------------------------------------------------------------------
# delta-hat in cached batches.


def _digest(payload) -> str:
    return hashlib.sha256(runtime.to_json(payload).encode()).hexdigest()[:16]


def delta_hat_images(
    designer: Designer,
    users: np.ndarray,
    categories: np.ndarray,
    eta: float,
    config: Table4Config,
    cache_dir: str | None,
    tag: str,
) -> dict[str, np.ndarray]:
    """delta-hat for every trial, in batches of config.query_batch, cached on disk.

    Batch b's starting points depend only on (seed, its first trial), so a
    resumed run and different etas see the same starting points.

    Returns:
      {'images': float32 [T, k, R, R, C], 'preference': float32 [T, k],
       'best_preference': float32 [T], 'best_objective': float32 [T],
       'initial_best_objective': float32 [T]}.
    """
    b = config.query_batch
    parts = []
    progress = runtime.Progress(len(users), "queries", prefix=f"delta-hat {tag}")
    for start in range(0, len(users), b):
        u, c = users[start : start + b], categories[start : start + b]
        key = _digest(
            [config.design, eta, config.selection, u, c, start, config.seed, designer.rec.path,
             designer.gan.path]
        )  # fmt: skip
        path = os.path.join(cache_dir, f"{tag}_{start:07d}.npz") if cache_dir else None
        part = None
        if path and os.path.exists(path):
            with np.load(path) as f:
                if str(f["key"]) == key:
                    part = {k: f[k] for k in f.files if k != "key"}
        if part is None:
            result = designer.maximize(u, c, eta=eta, seed=config.seed * 1_000_003 + start)
            chosen = result.sampled if config.selection == "sample" else result.top
            images = result.sampled_images if config.selection == "sample" else result.top_images
            part = {
                "images": images,
                "preference": result.pick("preference", chosen),
                "best_preference": result.pick("preference", result.best),
                "best_objective": result.objective.max(1),
                "initial_best_objective": result.initial_objective.max(1),
            }
            if path:
                buffer = io.BytesIO()
                np.savez(buffer, key=key, **part)
                runtime.atomic_write_bytes(path, buffer.getvalue())
        parts.append(part)
        progress.update(min(start + b, len(users)))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


# ---------------------------------------------------------------------------
# Metrics.


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


def _imagenet_scorer(batch_size: int = 64):
    """EfficientNet-Lite0's ImageNet probabilities and pooled features, or None when unavailable.

    Returns:
      images float [N, R, R, C] in [-1, 1] -> {"probs": float32 [N, 1000],
      "features": float32 [N, 1280]}, one network pass for both (the images
      are resized to 224 x 224 by `metrics.gan_metrics.imagenet_outputs`, as
      the Inception Score resizes to its network's input). None when the
      weights package is missing.
    """
    if not gan_metrics.imagenet_available():
        return None

    def outputs(images: np.ndarray) -> dict[str, np.ndarray]:
        out = gan_metrics.imagenet_outputs(images, batch_size)
        return {"probs": tf.nn.softmax(out["logits"]).numpy(), "features": out["features"]}

    return outputs


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
      imagenet: `_imagenet_scorer()`'s function, or None.
      config: the run's config.
      reference: `field_reference`'s result (on ImageNet features when
        `imagenet` is given, else the classifier's), or None: no field
        metrics.

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
        features = scored["features"]
    if reference is not None:
        if features is None:
            features = gan_metrics.classifier_features(classifier, subset)
        out["field"] = gan_metrics.compare(reference["heldout"], features, reference["k"])
    return out


# ---------------------------------------------------------------------------
# The run.


def run_table4(designer: Designer, ds: RecDataset, config: Table4Config, workdir: str) -> dict:
    """Runs Table IV and the Fig. 3 sweep; writes the outputs into `workdir`.

    Returns:
      The headline numbers (also in table4.json).
    """
    t0 = time.perf_counter()
    rec, gan = designer.rec, designer.gan
    k, r, ch = designer.config.top_k, gan.resolution, gan.channels
    cache_dir = os.path.join(workdir, "cache")
    users, cats = sample_trials(ds, rec.item_categories, config.trials, config.seed)
    rng = np.random.default_rng([config.seed, 5])
    logging.info("Table IV: %d trials, %d distinct users", len(users), len(np.unique(users)))

    # Real sources: items, their stored-embedding scores, images at the GAN's size.
    real_items = {
        "random_real": random_category_items(rec.item_categories, cats, k, rng),
        "delta": designer.retrieve(users, cats, k)[0],
    }
    needed = np.unique(np.concatenate([v.reshape(-1) for v in real_items.values()]))
    pixels = to_unit_range(classifier_lib.real_images(ds, needed, r, ch))
    images, scores = {}, {}
    for name, items in real_items.items():
        images[name] = pixels[np.searchsorted(needed, items)]
        scores[name] = designer.score_items(users, items)

    z = rng.uniform(-1.0, 1.0, (len(users) * k, gan.z_dim)).astype(np.float32)
    generated = designer.generate(z, np.repeat(cats, k))
    images["random_generated"] = generated.reshape((len(users), k, r, r, ch))
    scores["random_generated"] = designer.score_generated(np.repeat(users, k), generated).reshape(
        len(users), k
    )

    main = delta_hat_images(designer, users, cats, config.eta, config, cache_dir, "main")
    images["delta_hat"], scores["delta_hat"] = main["images"], main["preference"]

    classifier = classifier_lib.train_category_classifier(
        ds, r, ch, epochs=config.classifier_epochs, seed=config.seed
    )
    imagenet = _imagenet_scorer() if config.imagenet else None
    if config.imagenet and imagenet is None:
        logging.warning(
            "EfficientNet-Lite0 (metrics/efficientnet_lite.py and its weights) is not available: "
            "no ImageNet quality column."
        )
    # Field metrics: each source's images against held-out real images of the same
    # categories, on the features the ImageNet score already computes when it runs.
    if imagenet is not None:
        space, features = "imagenet", lambda x: imagenet(x)["features"]
    else:
        space = "classifier"
        features = functools.partial(gan_metrics.classifier_features, classifier)
    flat_cats = np.repeat(cats, k)[field_subset(len(users) * k, config)]
    reference = field_reference(ds, classifier, flat_cats, features, (r, ch), config.seed)
    if reference is None:
        logging.warning("Too few held-out images for FID and precision/recall: no field metrics.")
    metrics = {
        name: source_metrics(images[name], scores[name], classifier, imagenet, config, reference)
        for name in SOURCES
    }
    metrics["delta_hat"]["best_objective_gain"] = float(
        np.mean(main["best_objective"] - main["initial_best_objective"])
    )

    sweep = run_sweep(designer, users, cats, main, scores, images, classifier, config, cache_dir)
    figure = None
    if sweep:
        figure = report.write_png(os.path.join(workdir, "fig3_eta.png"), sweep_figure(sweep))

    n_ex = min(config.examples, len(users))
    example_items = real_items["delta"][:n_ex]
    sheet = report.fig5_sheet(
        design_lib.item_images(ds, example_items, rec.image_size),
        scores["delta"][:n_ex],
        images["delta_hat"][:n_ex],
        scores["delta_hat"][:n_ex],
        [f"user {u}\n{rec.category_name(int(c))}" for u, c in zip(users, cats, strict=False)][
            :n_ex
        ],
    )
    report.write_png(os.path.join(workdir, "table4_examples.png"), sheet)

    d, dh = metrics["delta"]["preference"]["mean"], metrics["delta_hat"]["preference"]["mean"]
    paired = paired_difference(scores["delta_hat"], scores["delta"])
    headline = {
        "trials": len(users),
        "eta": config.eta,
        "selection": config.selection,
        "restarts": designer.config.restarts,
        "steps": designer.config.steps,
        "classifier_heldout_accuracy": classifier.heldout_accuracy,
        "imagenet_quality": imagenet is not None,
        "field_features": space if reference else None,
        **{f"fid_{name}": metrics[name]["field"]["fid"] if reference else None for name in SOURCES},
        "fid_real_vs_real": reference["real_vs_real"]["fid"] if reference else None,
        **{f"preference_{name}": metrics[name]["preference"]["mean"] for name in SOURCES},
        "delta_hat_beats_delta": bool(dh > d),
        "delta_hat_gain_over_delta": (dh - d) / abs(d) if d else float("nan"),
        "paired_difference_mean": paired["mean"],
        "paired_difference_standard_error": paired["standard_error"],
        "paired_difference_z": paired["z"],
        "delta_hat_win_share": paired["win_share"],
        "seconds": time.perf_counter() - t0,
    }
    field = None
    if reference:
        field = {
            "features": space,
            "n_reference": reference["n"],
            "n_source": len(flat_cats),
            "k": reference["k"],
            "real_vs_real": reference["real_vs_real"],
        }
    payload = {
        "headline": headline,
        "metrics": metrics,
        "field_reference": field,
        "sweep": sweep,
        "config": config,
    }
    runtime.atomic_write_text(
        os.path.join(workdir, "table4.json"), runtime.to_json(payload, indent=2) + "\n"
    )
    markdown = table4_markdown(metrics, sweep, headline, config, designer, ds, figure, field)
    runtime.atomic_write_text(os.path.join(workdir, "table4.md"), markdown)
    return headline


def run_sweep(designer, users, cats, main, scores, images, classifier, config, cache_dir):
    """Fig. 3: delta-hat's metrics for each eta on the first sweep_trials trials."""
    n = min(config.sweep_trials, len(users))
    if not n or not config.etas:
        return []
    u, c = users[:n], cats[:n]
    out = []
    reference = {
        "preference": preference_stats(scores["delta"][:n]),
        "quality_dataset": split_classifier_score(
            quality.predict_probs(
                classifier.model, images["delta"][:n].reshape((-1,) + images["delta"].shape[2:])
            ),
            config.quality_splits,
            config.seed,
        ),
        "diversity": diversity_stats(images["delta"][:n]),
    }
    for eta in config.etas:
        if eta == config.eta:
            result = {key: value[:n] for key, value in main.items()}
        else:
            result = delta_hat_images(designer, u, c, eta, config, cache_dir, f"eta{eta:g}")
        flat = result["images"].reshape((-1,) + result["images"].shape[2:])
        out.append(
            {
                "eta": float(eta),
                "trials": n,
                "preference": preference_stats(result["preference"]),
                "quality_dataset": split_classifier_score(
                    quality.predict_probs(classifier.model, flat),
                    config.quality_splits,
                    config.seed,
                ),
                "diversity": diversity_stats(result["images"]),
                "delta_reference": reference,
            }
        )
    return out


def sweep_figure(sweep: list[dict]) -> np.ndarray:
    """Fig. 3 as pixels: preference, quality and diversity against eta, delta as reference."""
    etas = [s["eta"] for s in sweep]
    panels = []
    for key, title in (
        ("preference", "preference score"),
        ("quality_dataset", "quality (classifier score)"),
        ("diversity", "diversity (1 - mean SSIM)"),
    ):
        ref = sweep[0]["delta_reference"][key]
        panels.append(
            (
                title,
                [
                    ("delta-hat", [s[key]["mean"] for s in sweep], [s[key]["std"] for s in sweep]),
                    ("delta (retrieval)", [ref["mean"]] * len(sweep), None),
                ],
            )
        )
    return report.line_panels(etas, panels, "eta", log_x=True)


def _imagenet_note(scored: bool, config: Table4Config) -> str:
    """Why the ImageNet quality column is missing, if it is."""
    if scored:
        return ""
    if not config.imagenet:
        return " The ImageNet column is disabled (--imagenet=false)."
    return " The ImageNet column is missing: EfficientNet-Lite0 was not available."


def field_markdown(metrics: dict, field: dict) -> list[str]:
    """The lines of the field-metrics table under Table IV (FID, precision, recall per source)."""
    space = {
        "imagenet": "ImageNet EfficientNet-Lite0 pooled features (1280-d)",
        "classifier": "the dataset classifier's penultimate features (EfficientNet-Lite0 was "
        "not used)",
    }[field["features"]]
    rows = [
        [SOURCE_LABELS[name], *_field_cells(metrics[name]["field"])]
        for name in SOURCES
        if "field" in metrics[name]
    ]
    rows.append(["Real vs real (training vs held-out real)", *_field_cells(field["real_vs_real"])])
    return [
        "## Field metrics: each source against held-out real images of the same categories",
        "",
        report.markdown_table(["Item source", "FID ↓", "Precision ↑", "Recall ↑"], rows),
        f"- On {space}; {field['n_source']} images per source against {field['n_reference']} "
        f"held-out real images of the dataset classifier's split, one per source image's "
        f"category; precision and recall are Kynkäänniemi et al.'s with k = {field['k']}. The "
        f"last row compares as many of the classifier's training images with the held-out "
        f"ones: FID's floor and precision's and recall's ceiling at this N (FID grows as N "
        f"shrinks; compare rows of one table only).",
        "",
    ]


def _field_cells(figures: dict) -> list[str]:
    return [f"{figures['fid']:.4g}", f"{figures['precision']:.3f}", f"{figures['recall']:.3f}"]


def table4_markdown(metrics, sweep, headline, config, designer, ds, figure, field=None) -> str:
    """The Markdown of Table IV, its field metrics (when `field`) and the Fig. 3 sweep."""
    imagenet = "quality_imagenet" in metrics["delta"]
    headers = ["Item source", "Preference score", "Quality (dataset classifier)"]
    headers += ["Quality (ImageNet EfficientNet-Lite0)"] if imagenet else []
    headers += ["Diversity (1 - mean SSIM)"]
    rows = []
    for group, names in (
        ("*Random methods*", ("random_real", "random_generated")),
        ("*Personalized methods*", ("delta", "delta_hat")),
    ):
        rows.append([group] + [""] * (len(headers) - 1))
        for name in names:
            m = metrics[name]
            row = [SOURCE_LABELS[name], report.fmt_mean_std(**m["preference"])]
            row.append(report.fmt_mean_std(**m["quality_dataset"]))
            if imagenet:
                row.append(report.fmt_mean_std(**m["quality_imagenet"]))
            row.append(report.fmt_mean_std(**m["diversity"]))
            rows.append(row)
    dc = designer.config
    d = metrics["delta"]["preference"]["mean"]
    dh = metrics["delta_hat"]["preference"]["mean"]
    verdict = "**yes**" if headline["delta_hat_beats_delta"] else "**no**"
    lines = [
        f"# Table IV: top-{dc.top_k} images for a user and category ({headline['trials']} trials)",
        "",
        report.markdown_table(headers, rows),
        f"δ̂ beats δ in mean preference score: {verdict} ({dh:.4f} vs {d:.4f}, "
        f"{100 * headline['delta_hat_gain_over_delta']:+.1f}%; the paper: 7.6760 vs 7.1876, "
        f"+6.8%).",
        "",
        f"- Paired over the same trials, δ̂ - δ = {headline['paired_difference_mean']:+.4f} "
        f"± {headline['paired_difference_standard_error']:.4f} (standard error; "
        f"z = {headline['paired_difference_z']:.1f}); δ̂ is higher in "
        f"{100 * headline['delta_hat_win_share']:.0f}% of the trials.",
        f"- Dataset {ds.name}; recommender `{designer.rec.path}`; GAN `{designer.gan.path}` "
        f"({designer.gan.resolution}x{designer.gan.resolution}x{designer.gan.channels}).",
        f"- δ̂: m = {dc.restarts} restarts, {dc.steps} Adam steps (lr {dc.learning_rate}), "
        f"η = {config.eta}; its {dc.top_k} images are "
        + ("drawn by eq. 11." if config.selection == "sample" else "the best by objective.")
        + f" Mean gain of the best objective over the best start: "
        f"{metrics['delta_hat']['best_objective_gain']:.4f}.",
        f"- Best single image per trial (top-1 preference): δ "
        f"{report.fmt_mean_std(**metrics['delta']['preference_top1'])}, δ̂ "
        f"{report.fmt_mean_std(**metrics['delta_hat']['preference_top1'])}.",
        f"- Preference: mean over the trial's images, then mean ± std over trials. Quality: "
        f"classifier score over {config.quality_splits} splits (mean ± std); the dataset "
        f"classifier's held-out accuracy is {headline['classifier_heldout_accuracy']:.3f}."
        + _imagenet_note(imagenet, config)
        + " Diversity: per trial, then mean ± std over trials. Images compared at the GAN's "
        "resolution.",
        "",
    ]
    if field:
        lines += field_markdown(metrics, field)
    if sweep:
        lines += [
            f"## Fig. 3: effect of η ({sweep[0]['trials']} trials)",
            "",
            f"![effect of eta]({os.path.basename(figure)})" if figure else "",
            "",
            report.markdown_table(
                ["η", "Preference score", "Quality (dataset classifier)", "Diversity"],
                [
                    [
                        f"{s['eta']:g}",
                        report.fmt_mean_std(**s["preference"]),
                        report.fmt_mean_std(**s["quality_dataset"]),
                        report.fmt_mean_std(**s["diversity"]),
                    ]
                    for s in sweep
                ]
                + [
                    [
                        "δ (reference)",
                        report.fmt_mean_std(**sweep[0]["delta_reference"]["preference"]),
                        report.fmt_mean_std(**sweep[0]["delta_reference"]["quality_dataset"]),
                        report.fmt_mean_std(**sweep[0]["delta_reference"]["diversity"]),
                    ]
                ],
            ),
        ]
    lines += ["![examples](table4_examples.png)", ""]
    return "\n".join(lines)
