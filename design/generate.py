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
from data import flags as data_flags
from design import design_lib
from design import flags as design_flags

flags.DEFINE_string("user", None, "User index (or comma-separated indices).")

FLAGS = flags.FLAGS


def main(argv) -> None:
    del argv
    design_flags.exit_on_data_error(_run)


def _run() -> None:
    design_flags.require(("recommender", "gan", "out", "user", "category"))
    config = design_flags.config_from_flags()
    runtime.write_config(
        FLAGS.out,
        {
            "design": config,
            "recommender": FLAGS.recommender,
            "gan": FLAGS.gan,
            "user": FLAGS.user,
            "category": FLAGS.category,
            "dataset": design_flags.dataset_from_flags(),
        },
    )
    designer = design_lib.load_designer(FLAGS.recommender, FLAGS.gan, config)
    ds = design_lib.load_catalogue(
        designer.rec, design_flags.dataset_from_flags(), data_flags.options_from_flags()
    )
    users = design_lib.parse_ints(FLAGS.user, "user")
    categories = design_lib.parse_categories(FLAGS.category, designer.rec.category_names)
    summary = design_lib.generate_sheet(designer, ds, users, categories, FLAGS.out)
    runtime.emit_result(summary)


if __name__ == "__main__":
    app.run(main)
