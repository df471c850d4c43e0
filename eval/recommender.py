r"""Evaluates an exported recommender: `python -m eval.recommender --export=DIR`.

    python -m eval.recommender --export=/tmp/dvbpr/export \
        --dataset=synthetic_fashion --workdir=/tmp/dvbpr_eval

Works for any SavedModel with the recommender signatures
`item_embedding(images uint8 [N, H, W, 3]) -> [N, K]` and
`user_embedding(user_ids int32 [N]) -> [N, K]`, where the score is their dot
product (`dvbpr_tf.export_lib` writes such exports; `exports.recommender`
loads them: --export is the export folder or the training workdir holding
it). The dataset must be the export's: its users and, by the item-id
fingerprint of the export's catalogue.json, its catalogue (older exports:
the item count). The catalogue is embedded
once through the export's own `item_embedding` (images resized to the
export's `image_size` by the project's one resize, so the export sees what
training saw), the users through `user_embedding`; then `metrics.auc` computes
the paper's AUC, the cold- and warm-item AUCs and the sampled-100 AUC on
validation and test (--cold_threshold, --sampled_auc), and the split's leak
diagnostic. Ends with one JSON line:
{"validation": {"auc", "auc_cold", "auc_warm", "auc_sampled100"}, "test": {...},
 "leak": {...}, ...}.
"""

from __future__ import annotations

import time

from absl import app, flags, logging

from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from common import runtime
from data import flags as data_flags
from data import registry
from eval.recommender_lib import evaluate_export
from metrics import auc as auc_lib
from metrics import flags as protocol_flags

flags.DEFINE_string(
    "export",
    None,
    "Recommender SavedModel: dvbpr_tf.train's WORKDIR/export (or that WORKDIR).",
)
flags.DEFINE_integer("batch_size", 256, "Images per call of item_embedding.")
flags.DEFINE_integer("sampled_seed", 0, "Seed of the sampled-100 negatives.")
data_flags.define_image_cache_dir()  # the same cache files dvbpr_tf.train writes

FLAGS = flags.FLAGS


def main(argv):
    del argv
    if not FLAGS.export:
        raise app.UsageError("--export=DIR is required (a recommender SavedModel).")
    t0 = time.perf_counter()
    try:
        auc_options = protocol_flags.auc_options_from_flags()
    except ValueError as err:
        raise app.UsageError(str(err)) from err
    if FLAGS.workdir:
        runtime.write_config(
            FLAGS.workdir,
            {
                "export": FLAGS.export,
                "dataset": FLAGS.dataset,
                "batch_size": FLAGS.batch_size,
                "sampled_seed": FLAGS.sampled_seed,
                "image_cache_dir": FLAGS.image_cache_dir,
                "data_options": data_flags.options_from_flags(),
                "auc": auc_options,
            },
        )
    ds = registry.load(FLAGS.dataset, data_flags.options_from_flags())
    result = evaluate_export(
        FLAGS.export,
        ds,
        batch_size=FLAGS.batch_size,
        seed=FLAGS.sampled_seed,
        options=auc_options,
        image_cache_dir=FLAGS.image_cache_dir,
    )
    result.update(
        dataset=ds.name,
        export=FLAGS.export,
        leak=auc_lib.leak_diagnostic(ds, "test"),
        auc=auc_options,
        wall_seconds=time.perf_counter() - t0,
    )
    logging.info("validation %s test %s", result["validation"], result["test"])
    logging.info("Split: %s.", auc_lib.format_leak(result["leak"]))
    if FLAGS.workdir:
        runtime.write_result(FLAGS.workdir, result)
    runtime.emit_result(result)


if __name__ == "__main__":
    app.run(main)
