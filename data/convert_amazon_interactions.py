r"""Converts the real Amazon Fashion interactions into a custom catalogue folder.

    python -m data.convert_amazon_interactions --out=/tmp/amazon_custom
    python -m dvbpr_tf.train --dataset=custom --custom_dir=/tmp/amazon_custom ...

Writes `interactions.csv` (`user_id,item_id,split` with reviewer ids and
ASINs, keeping the published train/test split) and `items.csv` (`item_id`;
the data has no categories), plus the resolved `config.json`. The folder
is built aside and swapped in whole, so a killed run leaves either the
previous complete folder or nothing; rerunning redoes the (sub-second)
conversion. Ends with one JSON line of counts.
"""

from __future__ import annotations

import os

from absl import app, flags, logging

from common import layout, runtime
from data import amazon_interactions, custom
from data.core import DataError

_OUT = flags.DEFINE_string("out", None, "Folder to write the custom catalogue into.")
_SOURCE = flags.DEFINE_string(
    "source",
    None,
    "Folder with train.txt, test.txt, users.csv, items.csv (default: the shared "
    "data/amazon_fashion_interactions found beside the checkout or via $DVBPR_SHARED_DIR).",
)

# What this binary writes; an --out holding anything else is not replaced.
_OUTPUTS = {custom.INTERACTIONS_FILE, custom.ITEMS_FILE, layout.CONFIG}


def main(argv):
    del argv
    runtime.exit_on_data_error(lambda: convert(_OUT.value, _SOURCE.value))


def convert(out_flag: str, source: str | None) -> None:
    """Loads the interactions from `source` and writes them to `out_flag` (see module doc)."""
    out = os.path.abspath(os.path.expanduser(out_flag))
    if os.path.isdir(out):
        foreign = sorted(set(os.listdir(out)) - _OUTPUTS)
        if foreign:
            raise DataError(
                f"--out={out_flag} already holds {', '.join(foreign[:5])}; the conversion "
                f"replaces the whole folder, so pass a new or empty folder."
            )
    ds = amazon_interactions.load(source)
    config = {"source": ds.info["source"], "out": out}
    counts = {}

    def write(folder: str) -> None:
        runtime.write_config(folder, config)
        counts.update(custom.write_csv_files(ds, folder))

    runtime.atomic_write_dir(out, write)
    logging.info("Wrote %s; load it with --dataset=custom --custom_dir=%s", out, out)
    runtime.emit_result({"out": out, **counts})


if __name__ == "__main__":
    flags.mark_flag_as_required("out")
    app.run(main)
