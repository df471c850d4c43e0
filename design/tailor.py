"""Prototype-based tailoring: the paper's Fig. 6.

    python -m design.tailor --recommender=REC/export --gan=GAN/export \
        --item=42 --users=1,2,3 --out=/tmp/tailor

Inverts the item's image into the GAN's latent space (eq. 12, l1 error),
then ascends each user's objective (eq. 10) from there, keeping the images
at iterations 0, 10, ..., 50 with their preference scores. Writes fig6.png,
tailor.json and config.json into --out and prints one JSON line.
"""

from __future__ import annotations

from absl import app, flags

from common import runtime
from design import design_lib
from design import flags as design_flags

flags.DEFINE_integer("item", None, "Item index of the prototype.")
flags.DEFINE_string("users", None, "Comma-separated user indices.")

FLAGS = flags.FLAGS


def _run() -> None:
    designer, catalogue = design_flags.load_from_flags(("item", "users"))
    category = None
    if FLAGS.category is not None:
        (category,) = design_lib.parse_categories(FLAGS.category, designer.rec.category_names)[:1]
    users = design_lib.parse_ints(FLAGS.users, "users")
    summary = design_lib.tailor_sheet(designer, catalogue, FLAGS.item, users, FLAGS.out, category)
    runtime.emit_result(summary)


main = runtime.absl_main(_run)

if __name__ == "__main__":
    app.run(main)
