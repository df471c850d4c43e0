r"""Quality figures of a GAN export (issue 5's "Done when") and the paper's Fig. 4.

    python -m eval.gan_report --gan=/tmp/gan_fmnist/export \
        --dataset=fashion_mnist_users --workdir=/tmp/gan_fmnist/report

1. trains a category classifier on the dataset's real images, at the GAN's
   resolution and channels (held-out accuracy reported);
2. generates --samples_per_category images per category, z ~ U(-1, 1);
3. conditioning: the share of generated images the classifier assigns to
   the requested category (goal >= 0.8);
4. diversity: opposite mean SSIM over pairs within each category, of the
   generated images and of as many held-out real images per category
   (goal: generated / real >= 0.8);
5. the classifier score (Inception Score formula) of both samples, and the
   spread of their mean colours (a colour-collapse check SSIM does not make);
6. fig4.png: --figure_samples generated images per category over their
   l1-nearest training images.

Writes WORKDIR/config.json, report.json and fig4.png; ends with one JSON line.
"""

from __future__ import annotations

import os
import time

import numpy as np
from absl import app, flags, logging

from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from common import runtime
from data import flags as data_flags
from data import registry
from data.core import DataError
from eval import quality
from gan_tf import export

CONDITIONING_GOAL = 0.8
DIVERSITY_RATIO_GOAL = 0.8

flags.DEFINE_integer("samples_per_category", 100, "Generated (and real) images per category.")
flags.DEFINE_integer("figure_samples", 8, "Generated images per category in fig4.png.")
flags.DEFINE_integer("classifier_epochs", 10, "Epochs of the category classifier.")
flags.DEFINE_integer(
    "max_pairs_per_category", 2000, "SSIM pairs per category (a random subset; 0: all)."
)
flags.DEFINE_integer("seed", 0, "Seeds the classifier, z and the real sample.")
flags.mark_flags_as_required(["gan", "workdir"])

FLAGS = flags.FLAGS


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


def main(argv) -> None:
    del argv
    os.makedirs(FLAGS.workdir, exist_ok=True)
    runtime.write_config(
        FLAGS.workdir,
        {
            name: FLAGS[name].value
            for name in (
                "gan",
                "dataset",
                "samples_per_category",
                "figure_samples",
                "classifier_epochs",
                "max_pairs_per_category",
                "seed",
            )
        },
    )
    gan = export.load_gan(FLAGS.gan)
    ds = registry.load(FLAGS.dataset, data_flags.options_from_flags())
    report = gan_report(
        gan,
        ds,
        FLAGS.workdir,
        samples_per_category=FLAGS.samples_per_category,
        figure_samples=FLAGS.figure_samples,
        classifier_epochs=FLAGS.classifier_epochs,
        max_pairs_per_category=FLAGS.max_pairs_per_category,
        seed=FLAGS.seed,
    )
    logging.info(
        "conditioning %.3f (goal %.1f), opposite mean SSIM generated %.3f / real %.3f = %.3f "
        "(goal %.1f), classifier score generated %.3f / real %.3f, colour spread ratio %.3f",
        report["conditioning_accuracy"],
        CONDITIONING_GOAL,
        report["opposite_mean_ssim_generated"],
        report["opposite_mean_ssim_real"],
        report["ssim_ratio"] or float("nan"),
        DIVERSITY_RATIO_GOAL,
        report["classifier_score_generated"],
        report["classifier_score_real"],
        report["colour_spread_ratio"] or float("nan"),
    )
    runtime.emit_result(report)


if __name__ == "__main__":
    app.run(main)
