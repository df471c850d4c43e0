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
   l1-nearest training images;
7. the field's metrics (`metrics/gan_metrics.py`): FID and improved
   precision/recall (k = 3) of the generated images against the held-out
   real ones (held out from the classifier, not from the GAN, which
   trains on every labelled item), on ImageNet EfficientNet-Lite0
   features (--imagenet) and on the category classifier's penultimate
   features, each beside the same
   figures for the classifier's training images against the held-out ones
   (real-vs-real: FID's floor, precision's and recall's ceiling); all three
   sets of one size and category composition; precision and recall also by
   category (which category's real images the generator misses: a dropped
   mode shows there); with --draws > 1 (the default 3), each figure's mean
   and standard deviation over as many independent draws of the three sets;
8. the colour spread per category, generated and real;
9. checkerboard energy: the share of spectral power on the frequencies
   G's stride-2 transposed convs leave artefacts at (periods 2 .. 2^s),
   and on period 2 alone, generated / real (goal: both <= 1.5; the first
   alone is diluted by the real content those frequency rows cross).
10. spectral power per radial frequency band (quarters of the Nyquist
   frequency), generated / held-out real and training / held-out real:
   below 1 in the top band, the samples are softer than the photographs;
   above, grainier.
11. recall.png: what recall counts, per category a row of held-out real
   images outside the generated manifold ("missed") over a row inside it
   ("covered"), in the headline draw's feature space (ImageNet when used),
   each captioned with its reach (distance / the nearest generated ball's
   radius; above 1 is outside); the reach's quartiles and 90th percentile
   over the held-out images, against the generated and against the
   training real images: with the median near 1, recall sits on a sharp
   edge, where a few percent of distance moves it a lot.
12. with --invert, G's range: each training-real image of the real-vs-real
   row is inverted into G (the paper's eq. 12, as `design.tailor` inverts
   a prototype: --invert_restarts Adam runs of --invert_steps steps, the
   l1-closest kept), and the inversions' FID, precision and recall against
   the held-out real images are logged beside the samples' and
   real-vs-real (report.json: `inversion_*`; inversion.png shows real
   images over their inversions). Their recall estimates how much of the
   real manifold G can draw at all (a low estimate: the search is local
   and in pixels); a sampled recall near it means the shortfall is in
   what G can draw rather than in where its samples fall. It
   costs restarts x steps G passes per image (about 6 minutes for 300
   Fashion-MNIST images at 4 x 300 on 2 cores), so it is off by default.

Writes WORKDIR/config.json, report.json, fig4.png and recall.png (and
inversion.png with --invert); ends with one JSON line.
"""

from __future__ import annotations

import dataclasses
import os

from absl import app, flags, logging

from common import config_flags, runtime
from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from data import flags as data_flags
from data import registry
from eval import classifier as classifier_lib
from eval.gan_report_lib import (
    CHECKERBOARD_RATIO_GOAL,
    CONDITIONING_GOAL,
    DIVERSITY_RATIO_GOAL,
    gan_report,
)
from exports.gan import load_gan


@dataclasses.dataclass(frozen=True)
class ReportConfig:
    """What the command line sets of a report (`gan_report`'s keyword arguments).

    Attributes:
      samples_per_category: Generated (and real) images per category.
      figure_samples: Generated images per category in fig4.png.
      classifier_epochs: Epochs of the category classifier.
      max_pairs_per_category: SSIM pairs per category (a random subset; 0: all).
      seed: Seeds the classifier, z and the real sample.
      imagenet: Also compute FID and precision/recall on ImageNet
        EfficientNet-Lite0 features (skipped, with a note, when its weights
        are not installed).
      draws: Independent draws of the generated and real images the field
        metrics are computed on; the first gives the headline figures, and
        with more the log and report.json add each figure's mean and
        standard deviation over the draws (one 300-image recall moves by
        about +-0.05 from draw to draw).
      invert: Also invert the real-vs-real row's training images into G
        and report the inversions' field metrics (item 12 above).
      invert_restarts: Random starts per inverted image (--invert).
      invert_steps: Adam steps per inversion (--invert; the design
        package's default).
    """

    samples_per_category: int = 100
    figure_samples: int = 8
    classifier_epochs: int = classifier_lib.REPORT_CLASSIFIER_EPOCHS
    max_pairs_per_category: int = 2000
    seed: int = 0
    imagenet: bool = True
    draws: int = 3
    invert: bool = False
    invert_restarts: int = 4
    invert_steps: int = 300


REPORT_FLAGS = config_flags.define_flags(
    ReportConfig, [f.name for f in dataclasses.fields(ReportConfig)], defaults=ReportConfig()
)
flags.mark_flags_as_required(["gan", "workdir"])

FLAGS = flags.FLAGS


def _share(value) -> str:
    return "-" if value is None else f"{value:.2f}"


def _reaches(quantiles: dict) -> str:
    return ", ".join("inf" if v is None else f"{v:.3f}" for v in quantiles.values())


def main(argv) -> None:
    del argv
    config = dataclasses.asdict(config_flags.resolve(ReportConfig(), REPORT_FLAGS.values()))
    os.makedirs(FLAGS.workdir, exist_ok=True)
    runtime.write_config(FLAGS.workdir, {"gan": FLAGS.gan, "dataset": FLAGS.dataset, **config})
    gan = load_gan(FLAGS.gan)
    ds = registry.load(FLAGS.dataset, data_flags.options_from_flags())
    report = gan_report(gan, ds, FLAGS.workdir, **config)
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
    for space in ("imagenet", "classifier"):
        if report.get(f"fid_{space}") is not None:
            logging.info(
                "%s features (N = %d): FID %.3f (real-vs-real %.3f), precision %.3f (%.3f), "
                "recall %.3f (%.3f)",
                space,
                report["field_metrics_n"],
                *(
                    report[f"{m}_{space}{s}"]
                    for m in ("fid", "precision", "recall")
                    for s in ("", "_real")
                ),
            )
            if report["field_metrics_draws"] > 1:
                logging.info(
                    "%s features over %d draws, mean +- sd: FID %.3f +- %.3f (real-vs-real "
                    "%.3f), precision %.3f +- %.3f (%.3f), recall %.3f +- %.3f (%.3f)",
                    space,
                    report["field_metrics_draws"],
                    *(
                        report[f"{m}_{space}{s}"]
                        for m in ("fid", "precision", "recall")
                        for s in ("_mean", "_sd", "_real_mean")
                    ),
                )
            per_category = report[f"precision_recall_per_category_{space}"]
            real_per_category = report[f"precision_recall_per_category_{space}_real"]
            logging.info(
                "%s features, recall by category (real-vs-real): %s",
                space,
                ", ".join(
                    f"{name} {_share(figures['recall'])} ({_share(real_per_category[name]['recall'])})"
                    for name, figures in per_category.items()
                ),
            )
    if report.get("imagenet_note"):
        logging.warning("%s", report["imagenet_note"])
    if report.get("checkerboard_ratio") is not None:
        logging.info(
            "checkerboard energy generated %.4f / real %.4f = %.2f, period 2 alone "
            "%.4f / %.4f = %.2f (goal: both <= %.1f)",
            report["checkerboard_energy_generated"],
            report["checkerboard_energy_real"],
            report["checkerboard_ratio"],
            report["checkerboard_period2_energy_generated"],
            report["checkerboard_period2_energy_real"],
            report["checkerboard_period2_ratio"] or float("nan"),
            CHECKERBOARD_RATIO_GOAL,
        )
    logging.info(
        "spectral power by radial band, generated / real (real-vs-real), low to high frequency: %s",
        ", ".join(
            f"{_share(g)} ({_share(r)})"
            for g, r in zip(
                report["spectrum_band_ratio"],
                report["spectrum_band_ratio_real"] or [None] * len(report["spectrum_band_ratio"]),
                strict=True,
            )
        ),
    )
    if report.get("recall_figure"):
        logging.info(
            "held-out real images' reach to the generated manifold (%s features; inside "
            "<= 1), quantiles %s: %s (real-vs-real %s); missed and covered images: %s",
            report["recall_figure_space"],
            ", ".join(report["recall_reach_quantiles"]),
            _reaches(report["recall_reach_quantiles"]),
            _reaches(report["recall_reach_quantiles_real"]),
            report["recall_figure"],
        )
    for space in ("imagenet", "classifier"):
        if report.get(f"inversion_fid_{space}") is not None:
            logging.info(
                "G's range, %s features: its l1-closest images to %d real ones (mean l1 %.4f) "
                "score FID %.3f, precision %.3f, recall %.3f against the held-out real images "
                "(samples %.3f / %.3f / %.3f, real-vs-real %.3f / %.3f / %.3f); %s",
                space,
                report["field_metrics_n"],
                report["inversion_l1_mean"],
                *(report[f"inversion_{m}_{space}"] for m in ("fid", "precision", "recall")),
                *(report[f"{m}_{space}"] for m in ("fid", "precision", "recall")),
                *(report[f"{m}_{space}_real"] for m in ("fid", "precision", "recall")),
                report["inversion_figure"],
            )
    runtime.emit_result(report)


if __name__ == "__main__":
    app.run(main)
