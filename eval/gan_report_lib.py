"""GAN quality figures and the paper's Fig. 4 as a library; `eval.gan_report` is its binary.

    report = gan_report_lib.gan_report(gan, catalogue, workdir)
    report["conditioning_accuracy"], report["ssim_ratio"]

See `eval/gan_report.py` for what is measured and written.
"""

from __future__ import annotations

import os
import time

import numpy as np

from common import runtime
from data.core import DataError
from eval import quality
from gan_tf import export

CONDITIONING_GOAL = 0.8
DIVERSITY_RATIO_GOAL = 0.8


def gan_report(
    gan: export.LoadedGAN,
    ds,
    workdir: str,
    *,
    samples_per_category: int = 100,
    figure_samples: int = 8,
    classifier_epochs: int = 10,
    max_pairs_per_category: int | None = 2000,
    seed: int = 0,
    classifier: quality.CategoryClassifier | None = None,
) -> dict:
    """Computes the report (see the module docstring) and writes fig4.png.

    Args:
      gan: the generator: an `export.LoadedGAN`, or anything with its
        `sample`, `resolution`, `channels`, `num_categories`,
        `category_names` and `path`.
      ds: the dataset the GAN was trained on.
      workdir: where fig4.png and report.json go.
      samples_per_category: generated (and real) images per category.
      figure_samples: generated images per category in fig4.png.
      classifier_epochs: epochs of the category classifier.
      max_pairs_per_category: SSIM pairs per category (None: all).
      seed: seeds the classifier, z and the real sample.
      classifier: a category classifier already trained on `ds` at the GAN's
        size and channels (trained here when None).

    Returns:
      The report as a dict (also written to WORKDIR/report.json).

    Raises:
      DataError: the export's categories do not match the dataset's.
    """
    start = time.perf_counter()
    if gan.num_categories != ds.num_categories or (tuple(ds.category_names) != gan.category_names):
        raise DataError(
            f"The GAN at {gan.path} was trained on categories {list(gan.category_names)}, "
            f"but --dataset={ds.name} has {list(ds.category_names)}; pass the dataset it was "
            f"trained on."
        )
    size, channels, k = gan.resolution, gan.channels, gan.num_categories
    names = gan.category_names

    if classifier is None:
        classifier = quality.train_category_classifier(
            ds, size, channels, epochs=classifier_epochs, seed=seed
        )
    elif (classifier.image_size, classifier.channels) != (size, channels):
        raise ValueError(
            f"The classifier reads {classifier.image_size}x{classifier.image_size}x"
            f"{classifier.channels} images, the GAN makes {size}x{size}x{channels}."
        )

    samples = gan.sample(samples_per_category, seed)
    generated, requested = samples["images"], samples["category"]
    probs_generated = quality.predict_probs(classifier.model, generated)
    hit = probs_generated.argmax(1) == requested
    per_category = {names[c]: float(hit[requested == c].mean()) for c in range(k)}

    # The real reference: held-out images (the classifier did not fit them),
    # up to samples_per_category per category.
    rng = np.random.default_rng(seed)
    held = classifier.heldout_items
    held_cats = np.asarray(ds.categories)[held]
    real_items = np.concatenate(
        [
            rng.permutation(held[held_cats == c])[:samples_per_category]
            for c in range(k)
            if np.any(held_cats == c)
        ]
    )
    real_cats = np.asarray(ds.categories)[real_items]
    real = quality.to_unit_range(quality.real_images(ds, real_items, size, channels))
    probs_real = quality.predict_probs(classifier.model, real)

    max_pairs = max_pairs_per_category or None
    ssim_generated = quality.opposite_mean_ssim(
        generated, groups=requested, max_pairs_per_group=max_pairs, seed=seed
    )
    ssim_real = quality.opposite_mean_ssim(
        real, groups=real_cats, max_pairs_per_group=max_pairs, seed=seed
    )

    colour_generated = quality.colour_spread(generated, requested)
    colour_real = quality.colour_spread(real, real_cats)

    # Fig. 4: the first figure_samples of each category against every
    # labelled training image.
    shown = np.concatenate([np.flatnonzero(requested == c)[:figure_samples] for c in range(k)])
    labelled = np.flatnonzero(np.asarray(ds.categories) >= 0)
    catalogue = quality.real_images(ds, labelled, size, channels)
    shown_uint8 = samples["images_uint8"][shown]
    nearest, distance = quality.nearest_neighbours_l1(shown_uint8, catalogue)
    fig = quality.write_neighbours_figure(
        os.path.join(workdir, "fig4.png"),
        shown_uint8,
        catalogue[nearest],
        requested[shown],
        names,
    )

    report = {
        "dataset": ds.name,
        "gan": gan.path,
        "resolution": size,
        "channels": channels,
        "samples_per_category": samples_per_category,
        "classifier_heldout_accuracy": classifier.heldout_accuracy,
        "conditioning_accuracy": float(hit.mean()),
        "conditioning_accuracy_per_category": per_category,
        "conditioning_goal": CONDITIONING_GOAL,
        "conditioning_ok": bool(hit.mean() >= CONDITIONING_GOAL),
        "opposite_mean_ssim_generated": ssim_generated,
        "opposite_mean_ssim_real": ssim_real,
        "ssim_ratio": ssim_generated / ssim_real if ssim_real > 0 else None,
        "ssim_ratio_goal": DIVERSITY_RATIO_GOAL,
        "diversity_ok": bool(ssim_real > 0 and ssim_generated / ssim_real >= DIVERSITY_RATIO_GOAL),
        "colour_spread_generated": colour_generated,
        "colour_spread_real": colour_real,
        "colour_spread_ratio": colour_generated / colour_real if colour_real > 0 else None,
        "classifier_score_generated": quality.classifier_score(probs_generated),
        "classifier_score_real": quality.classifier_score(probs_real),
        "nearest_l1_mean": float(distance.mean() / 255.0),
        "fig4": fig,
        "seconds": time.perf_counter() - start,
    }
    runtime.atomic_write_text(os.path.join(workdir, "report.json"), runtime.to_json(report, 2))
    return report
