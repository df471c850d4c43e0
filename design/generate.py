"""Personalized design for users: the paper's Fig. 5.

    python -m design.generate --recommender=REC/export --gan=GAN/export \
        --user=7 --category=women_tops --out=/tmp/design

For each (user, category): delta(u, c), the top-3 real items (eq. 8), next
to delta-hat(u, c), the top-3 of 64 restarts of preference maximisation
(eqs. 9-10), each labelled with its preference score. --user and
--category take comma-separated lists (one category for all users, or one
per user). Writes fig5.png, design.json, design_z.npz and config.json into
--out and prints one JSON line.
"""

from __future__ import annotations

from absl import app, flags

from common import runtime
from design import design_lib
from design import flags as design_flags

flags.DEFINE_string("user", None, "User index (or comma-separated indices).")

FLAGS = flags.FLAGS


def _run() -> None:
    designer, catalogue = design_flags.load_from_flags(("user", "category"))
    users = design_lib.parse_ints(FLAGS.user, "user")
    categories = design_lib.parse_categories(FLAGS.category, designer.rec.category_names)
    summary = design_lib.generate_sheet(designer, catalogue, users, categories, FLAGS.out)
    runtime.emit_result(summary)


main = runtime.absl_main(_run)

if __name__ == "__main__":
    app.run(main)
