r"""The paper's Table IV and Fig. 3: real versus generated top-3 images for users.

    python -m eval.table4 --recommender=REC/export --gan=GAN/export \
        --workdir=/tmp/table4 [--trials=1000] [--eta=1]

Each trial samples a user u (with a test item of known category) and sets c
to the category of u's test item, as the paper's Section IV-A. Four sources
return k = 3 images per trial:

- X_c: 3 random real items of category c;
- G(., c): 3 generated images, z ~ U(-1, 1);
- delta(u, c): the top-3 real items of c for u (eq. 8);
- delta-hat(u, c): 3 of m = 64 optimised images (eqs. 9-10), drawn by
  eq. 11 (--selection=sample, default) or the 3 best (--selection=top).

Metrics, each reported as mean +- std:

- preference score: x_u = theta_u . Phi(image) (eq. 6), the mean over the
  trial's 3 images; mean and std over trials. Real items use the export's
  stored item embeddings; generated images are upscaled to Phi's input by
  nearest neighbour, as in the optimisation;
- quality: the classifier score (the Inception Score formula,
  `metrics.quality.classifier_score`) of all of a source's images, over
  --quality_splits splits; with a category classifier trained on the
  dataset's real images (at the GAN's resolution), and with the ImageNet
  EfficientNet-Lite0 of `metrics/efficientnet_lite.py` when that is available;
- diversity: 1 - mean SSIM over the pairs of a trial's 3 images (at the
  GAN's resolution); mean and std over trials;
- field metrics (a second table): FID and precision/recall (k = 3, see
  `metrics/gan_metrics.py`) of a source's images (the --imagenet_max_images
  subset) against as many held-out real images of the same categories, on
  EfficientNet-Lite0 features (the dataset classifier's without it), with
  the classifier's training images against the same held-out ones as the
  real-vs-real reference row; --field_features=classifier puts them on the
  dataset classifier's features while keeping the ImageNet quality column.

All images are compared at the GAN's resolution and channels (real items are
resized as the GAN's training data was). Fig. 3 repeats delta-hat on the
first --sweep_trials trials for each eta in --etas; beside the paper's three
metrics it gives each eta's precision (the share of its images inside the
field metrics' held-out real manifold, with delta's and G's random samples'
on the same trials), since the classifier score can hold level while the
designs leave the manifold, and fig3_examples.png shows the first image of
each trial at each eta.

Writes WORKDIR/config.json, table4.md, table4.json, fig3_eta.png,
fig3_examples.png and table4_examples.png; delta-hat batches are cached in WORKDIR/cache, so a
killed run resumes where it stopped. Ends with one JSON line, after a line
on stderr saying whether delta-hat beats delta in mean preference score.
"""

from __future__ import annotations

import os
import sys

from absl import app, flags

from common import config_flags, runtime
from design import flags as design_flags
from eval.table4_config import FIELD_FEATURES, SELECTIONS, Table4Config
from eval.table4_lib import run_table4

# --recommender, --gan, --workdir (alias of --out), --preset, --restarts, --steps,
# --learning_rate, --eta, --top_k, --seed and the data flags are design's; these
# are `Table4Config`'s fields (its docstring), with its defaults.
TABLE4_FLAGS = config_flags.define_flags(
    Table4Config,
    (
        "trials",
        "etas",
        "sweep_trials",
        "selection",
        "query_batch",
        "classifier_epochs",
        "quality_splits",
        "imagenet",
        "field_features",
        "imagenet_max_images",
    ),
    defaults=Table4Config(),
    enums={"selection": SELECTIONS, "field_features": FIELD_FEATURES},
)

FLAGS = flags.FLAGS


def main(argv) -> None:
    del argv
    runtime.exit_on_data_error(lambda: design_flags.require(("recommender", "gan", "out")))
    design = design_flags.config_from_flags()
    config = config_flags.resolve(
        Table4Config(eta=design.eta, seed=design.seed, design=design), TABLE4_FLAGS.values()
    )
    workdir = FLAGS.out
    dataset = design_flags.dataset_from_flags()
    runtime.write_config(
        workdir,
        {"table4": config, "recommender": FLAGS.recommender, "gan": FLAGS.gan, "dataset": dataset},
    )

    def run():
        designer, ds = design_flags.load_exports(config.design)
        headline = run_table4(designer, ds, config, workdir)
        verdict = "YES" if headline["delta_hat_beats_delta"] else "NO"
        sys.stderr.write(
            f"delta-hat beats delta in mean preference score: {verdict} "
            f"({headline['preference_delta_hat']:.4f} vs {headline['preference_delta']:.4f}); "
            f"Table IV in {os.path.join(workdir, 'table4.md')}\n"
        )
        runtime.emit_result({**headline, "workdir": workdir})

    runtime.exit_on_data_error(run)


if __name__ == "__main__":
    app.run(main)
