"""Table IV and Fig. 3 as a library; `eval.table4` is the binary around it.

    headline = table4_lib.run_table4(designer, catalogue, Table4Config(trials=100), workdir)

See `eval/table4.py` for what the four sources and three metrics are and
what is written into the workdir. This module draws the trials and the
sources' images and runs the table and the sweep; `eval.table4_config`
holds `Table4Config`, `eval.table4_metrics` the metrics of one source and
`eval.table4_report` the Markdown and Fig. 3.
"""

from __future__ import annotations

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
from design.optimize import Designer
from eval import classifier as classifier_lib
from eval.table4_config import SOURCES, Table4Config
from eval.table4_metrics import (
    diversity_stats,
    field_reference,
    field_space,
    field_subset,
    manifold_share,
    paired_difference,
    preference_stats,
    source_metrics,
    split_classifier_score,
)
from eval.table4_report import (
    SWEEP_EXAMPLES,
    sweep_examples_sheet,
    sweep_figure,
    table4_markdown,
)
from metrics import gan_metrics, quality

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
# The ImageNet scorer (the metrics are in eval.table4_metrics).


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
    # categories, on the features the ImageNet score already computes when it runs
    # (unless --field_features=classifier).
    space = field_space(config, imagenet is not None)
    features = (
        (lambda x: imagenet(x)["features"])
        if space == "imagenet"
        else functools.partial(gan_metrics.classifier_features, classifier)
    )
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

    sweep, sweep_images = run_sweep(
        designer,
        users,
        cats,
        main,
        scores,
        images,
        classifier,
        config,
        cache_dir,
        field=(features, reference) if reference else None,
    )
    figure = None
    if sweep:
        figure = report.write_png(os.path.join(workdir, "fig3_eta.png"), sweep_figure(sweep, space))
        # One image per trial and eta (the examples sheet shows k per trial): three times
        # as many trials fit the same page.
        n_sheet = min(3 * config.examples, len(sweep_images["delta"][0]))
        report.write_png(
            os.path.join(workdir, SWEEP_EXAMPLES),
            sweep_examples_sheet(
                sweep_images,
                [
                    f"u {u}\n{rec.category_name(int(c))}"
                    for u, c in zip(users[:n_sheet], cats[:n_sheet], strict=True)
                ],
            ),
        )

    n_ex = min(config.examples, len(users))
    example_items = real_items["delta"][:n_ex]
    sheet = report.fig5_sheet(
        design_lib.item_images(ds, example_items, rec.image_size),
        scores["delta"][:n_ex],
        images["delta_hat"][:n_ex],
        scores["delta_hat"][:n_ex],
        [
            f"user {u}\n{rec.category_name(int(c))}"
            for u, c in zip(users[:n_ex], cats[:n_ex], strict=True)
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


def run_sweep(
    designer, users, cats, main, scores, images, classifier, config, cache_dir, field=None
):
    """Fig. 3: delta-hat's metrics for each eta on the first sweep_trials trials.

    Args:
      field: (features, reference): the field metrics' feature function
        (images float [n, R, R, C] in [-1, 1] -> float [n, D]) and
        `field_reference`'s result; each eta's images then also get their
        share inside the held-out real manifold ("field_precision", with
        delta's and G's random samples' on the same trials as references).
        None: no such column.

    Returns:
      (sweep, images): sweep is [{"eta", "trials", "preference",
      "quality_dataset", "diversity", "field_precision" (with `field`): mean
      / std dicts, "paired_vs_delta": `paired_difference` against delta on
      the same trials, "delta_reference": the same for delta,
      "generated_reference" (with `field`): {"field_precision"} of G(., c)}]
      in eta order; images is {"delta": (images, scores), eta: (images,
      scores)} of each trial's first image (float32 [n, R, R, C], float32
      [n]), for `eval.table4_report.sweep_examples_sheet`.
    """
    n = min(config.sweep_trials, len(users))
    if not n or not config.etas:
        return [], {}
    u, c = users[:n], cats[:n]

    def flat(x):
        return x.reshape((-1,) + x.shape[2:])

    def precision(x):
        return manifold_share(field[1], field[0](flat(x)))

    out = []
    reference = {
        "preference": preference_stats(scores["delta"][:n]),
        "quality_dataset": split_classifier_score(
            quality.predict_probs(classifier.model, flat(images["delta"][:n])),
            config.quality_splits,
            config.seed,
        ),
        "diversity": diversity_stats(images["delta"][:n]),
    }
    firsts = {"delta": (images["delta"][:n, 0], scores["delta"][:n, 0])}
    generated = None
    if field:
        reference["field_precision"] = precision(images["delta"][:n])
        generated = {"field_precision": precision(images["random_generated"][:n])}
    for eta in config.etas:
        if eta == config.eta:
            result = {key: value[:n] for key, value in main.items()}
        else:
            result = delta_hat_images(designer, u, c, eta, config, cache_dir, f"eta{eta:g}")
        entry = {
            "eta": float(eta),
            "trials": n,
            "preference": preference_stats(result["preference"]),
            "quality_dataset": split_classifier_score(
                quality.predict_probs(classifier.model, flat(result["images"])),
                config.quality_splits,
                config.seed,
            ),
            "diversity": diversity_stats(result["images"]),
            # delta-hat against delta on the same trials: whether this eta still wins.
            "paired_vs_delta": paired_difference(result["preference"], scores["delta"][:n]),
            "delta_reference": reference,
        }
        if field:
            entry["field_precision"] = precision(result["images"])
            entry["generated_reference"] = generated
        out.append(entry)
        firsts[float(eta)] = (result["images"][:, 0], result["preference"][:, 0])
    return out, firsts
