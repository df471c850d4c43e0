r"""Describes a dataset: counts, sparsity, cold items, categories, oracle AUC.

    python -m data.describe --dataset=synthetic_fashion --workdir=/tmp/describe

Writes `contact_sheet.png` (sample images per category), `summary.json`
and `config.json` into the workdir, prints a short table on stderr and ends
with one JSON line of headline figures on stdout.
"""

from __future__ import annotations

import io
import os
import sys
import time

import numpy as np
from absl import app, flags, logging
from PIL import Image, ImageDraw

from common import flags as common_flags  # noqa: F401  (--workdir, --gan, --recommender)
from common import runtime
from data import flags as data_flags
from data import registry
from data.core import RecDataset
from metrics import auc as auc_lib

flags.DEFINE_integer("images_per_category", 8, "Images per category in the contact sheet.")
flags.DEFINE_integer("sheet_cell", 96, "Pixel size of one contact-sheet cell.")
flags.DEFINE_integer("seed", 0, "Seed of the contact-sheet sample.")
flags.DEFINE_bool("auc", True, "Compute the oracle and popularity AUC (test split).")

FLAGS = flags.FLAGS


def summarize(ds: RecDataset, with_auc: bool = True) -> dict:
    """Headline figures of a dataset (JSON-ready)."""
    train_counts = ds.item_train_counts()
    cold = ds.cold_items()
    test_cold = cold[ds.test[:, 1]] if len(ds.test) else np.zeros(0, bool)
    users_with_train = int(np.count_nonzero(np.bincount(ds.train[:, 0], minlength=ds.num_users)))
    summary = {
        "dataset": ds.name,
        "users": ds.num_users,
        "items": ds.num_items,
        "train_interactions": len(ds.train),
        "val_interactions": len(ds.validation),
        "test_interactions": len(ds.test),
        "users_with_train": users_with_train,
        "sparsity": 1.0 - len(ds.train) / max(ds.num_users * ds.num_items, 1),
        "train_per_user_mean": len(ds.train) / max(users_with_train, 1),
        "train_per_item_median": float(np.median(train_counts)),
        "cold_items": int(cold.sum()),
        "cold_item_share": float(cold.mean()) if ds.num_items else 0.0,
        "cold_test_share": float(test_cold.mean()) if len(test_cold) else 0.0,
        "categories": ds.num_categories,
        "category_names": list(ds.category_names),
        "has_images": ds.has_images,
    }
    if ds.categories is not None and ds.num_categories:
        per_cat = np.bincount(ds.categories[ds.categories >= 0], minlength=ds.num_categories)
        summary["items_per_category"] = dict(zip(ds.category_names, per_cat.tolist(), strict=True))
    if len(ds.test):
        # The split's leak check (closed form, cheap at any size).
        summary["leak"] = auc_lib.leak_diagnostic(ds, "test")
    if with_auc and len(ds.test):
        pop = auc_lib.evaluate_popularity(ds, "test")
        summary["popularity_auc"] = pop["auc"]
        summary["popularity_auc_warm"] = pop["auc_warm"]
        oracle = auc_lib.evaluate_true_scores(ds, "test")
        if oracle is not None:
            summary["oracle_auc"] = oracle["auc"]
            summary["oracle_auc_cold"] = oracle["auc_cold"]
    return summary


def _item_images(ds: RecDataset, items: np.ndarray, cell: int) -> list[Image.Image]:
    """The items' images as cell x cell PIL images (encoded ones read in one pass)."""
    if ds.images.pixels is not None:
        images = [Image.fromarray(ds.images.pixels[item]) for item in items]
    else:
        blobs = ds.images.encoded_items(items)
        images = [Image.open(io.BytesIO(blob)).convert("RGB") for blob in blobs]
    out = []
    for image in images:
        upscale = image.width < cell
        resample = Image.Resampling.NEAREST if upscale else Image.Resampling.LANCZOS
        out.append(image.resize((cell, cell), resample))
    return out


def contact_sheet(ds: RecDataset, per_category: int, cell: int, seed: int) -> Image.Image | None:
    """A grid with one row of sample images per category (or random rows)."""
    if not ds.has_images:
        return None
    rng = np.random.default_rng(seed)
    if ds.categories is not None and ds.num_categories:
        rows = [
            (name, np.flatnonzero(ds.categories == c)) for c, name in enumerate(ds.category_names)
        ]
    else:
        rows = [("items", np.arange(ds.num_items))] * 4
    label_w = 130
    sheet = Image.new("RGB", (label_w + per_category * cell, len(rows) * cell), "white")
    draw = ImageDraw.Draw(sheet)
    picks = [
        rng.choice(items, size=min(per_category, len(items)), replace=False) for _, items in rows
    ]
    flat = np.concatenate(picks).astype(np.int64)
    images = iter(_item_images(ds, flat, cell))
    for r, ((name, _), row) in enumerate(zip(rows, picks, strict=True)):
        draw.text((6, r * cell + cell // 2 - 6), name, fill="black")
        for c in range(len(row)):
            sheet.paste(next(images), (label_w + c * cell, r * cell))
    return sheet


def main(argv):
    del argv
    start = time.perf_counter()
    workdir = FLAGS.workdir or os.path.join("/tmp", "describe", FLAGS.dataset.replace("/", "_"))
    options = data_flags.options_from_flags()
    runtime.write_config(
        workdir, {"dataset": FLAGS.dataset, "options": options, "seed": FLAGS.seed}
    )
    ds = runtime.exit_on_data_error(lambda: registry.load(FLAGS.dataset, options))
    logging.info("Loaded %s in %.1fs", ds.name, time.perf_counter() - start)
    summary = summarize(ds, FLAGS.auc)
    sheet = contact_sheet(ds, FLAGS.images_per_category, FLAGS.sheet_cell, FLAGS.seed)
    if sheet is not None:
        buffer = io.BytesIO()
        sheet.save(buffer, format="PNG")
        path = os.path.join(workdir, "contact_sheet.png")
        runtime.atomic_write_bytes(path, buffer.getvalue())
        summary["contact_sheet"] = path
    summary["info"] = {k: v for k, v in ds.info.items() if isinstance(v, (str, int, float, bool))}
    summary["seconds"] = time.perf_counter() - start
    runtime.atomic_write_text(os.path.join(workdir, "summary.json"), runtime.to_json(summary, 2))
    if "leak" in summary:
        summary.update({f"leak_{k}": v for k, v in summary["leak"].items()})
    for key in (
        "users", "items", "train_interactions", "val_interactions", "test_interactions",
        "sparsity", "cold_items", "cold_item_share", "categories", "oracle_auc", "popularity_auc",
        "popularity_auc_warm", "leak_heldout_only_items", "leak_heldout_only_row_share",
        "leak_indicator_auc",
    ):  # fmt: skip
        if key in summary:
            value = summary[key]
            sys.stderr.write(f"{key:>20}: {value:.4f}\n" if isinstance(value, float) else
                             f"{key:>20}: {value}\n")  # fmt: skip
    runtime.emit_result(summary)


if __name__ == "__main__":
    app.run(main)
