"""absl flags that several binaries share, defined once.

Binaries (and tests that import them) may live in one process; absl
refuses a flag defined twice, so the common ones are defined here.
"""

from absl import flags

flags.DEFINE_string(
    "workdir", None, "Where the run writes its config, results, checkpoints and pictures."
)
flags.DEFINE_string(
    "recommender",
    None,
    "Recommender SavedModel: dvbpr_tf.train's WORKDIR/export (or that WORKDIR).",
)
flags.DEFINE_string("gan", None, "GAN SavedModel: gan_tf.train's WORKDIR/export (or that WORKDIR).")
