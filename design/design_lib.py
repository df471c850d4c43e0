"""What `design.generate` and `design.tailor` do, with explicit arguments.

    designer = load_designer(rec_dir, gan_dir, config)
    ds = load_catalogue(designer.rec, dataset_name=None)
    result = generate_sheet(designer, ds, users=[7], categories=[1], out_dir=out)
    result = tailor_sheet(designer, ds, item=42, users=[1, 2, 3], out_dir=out)

Each writes a PNG sheet and a JSON file into `out_dir` and returns a small
dict of headline numbers.
"""

from __future__ import annotations

import io
import os
import time

import numpy as np
import tensorflow as tf
from absl import logging

from common import runtime
from data import image_store, registry
from data.core import DataError, RecDataset
from design import report
from design.config import DesignConfig
from design.optimize import Designer
from exports.gan import load_generator
from exports.recommender import load_recommender


def load_designer(recommender_dir: str, gan_dir: str, config: DesignConfig) -> Designer:
    """Loads both exports and checks that they fit each other."""
    return Designer(load_recommender(recommender_dir), load_generator(gan_dir), config)


def load_catalogue(
    rec, dataset_name: str | None = None, options: registry.DataOptions | None = None
) -> RecDataset:
    """The dataset whose images the recommender was trained on.

    Args:
      rec: a `LoadedRecommender`.
      dataset_name: registry name; the export's `dataset_name` when None.
      options: where dataset files live.

    Raises:
      DataError: no name known, the dataset has no images, or its catalogue
        is not the recommender's (`LoadedRecommender.check_catalogue`: item
        ids, or the item count for exports without a catalogue record).
    """
    name = dataset_name or rec.dataset_name
    if not name:
        raise DataError(
            f"The recommender at {rec.path} does not record its dataset; pass --dataset=NAME."
        )
    ds = registry.load(name, options)
    if ds.images is None:
        raise DataError(f"Dataset {ds.name} has no item images; design shows real items.")
    rec.check_catalogue(ds)
    return ds


def item_images(ds: RecDataset, items, image_size: int) -> np.ndarray:
    """uint8 [..., S, S, 3] images of `items` (any shape), decoded on demand."""
    items = np.asarray(items, np.int64)
    # A zero budget: decode only the asked items, not the whole catalogue.
    store = image_store.ImageStore(ds.images, image_size, 3, decoded_budget_bytes=0)
    flat = store.lookup_uint8(tf.constant(items.reshape(-1))).numpy()
    return flat.reshape(items.shape + flat.shape[1:])


def parse_categories(text: str, names) -> list[int]:
    """Comma-separated category ids or names -> ids (DataError for unknown names)."""
    out = []
    for part in str(text).split(","):
        part = part.strip()
        if not part:
            continue
        if part.lstrip("-").isdigit():
            out.append(int(part))
        elif part in names:
            out.append(list(names).index(part))
        else:
            raise DataError(
                f"Unknown category {part!r}: use an id or one of {', '.join(names) or '(none)'}."
            )
    if not out:
        raise DataError("No category given (--category=C, an id or a name).")
    return out


def parse_ints(text: str, what: str) -> list[int]:
    """Comma-separated integers (DataError naming `what` otherwise)."""
    try:
        values = [int(p) for p in str(text).split(",") if p.strip()]
    except ValueError:
        raise DataError(
            f"--{what} must be comma-separated integer indices, got {text!r}."
        ) from None
    if not values:
        raise DataError(f"--{what} is empty; pass at least one index.")
    return values


def generate_sheet(designer: Designer, ds: RecDataset, users, categories, out_dir: str) -> dict:
    """Fig. 5 for each (user, category): top-k real items vs top-k generated images.

    Writes `fig5.png`, `design.json` (per query: the real items and the
    generated images' scores) and `design_z.npz` (the generated images'
    codes z, to regenerate them) into `out_dir`.

    Args:
      designer: the loaded exports.
      ds: the recommender's dataset (for the real items' images).
      users: int [Q] user indices.
      categories: int [Q] (or one) category ids.
      out_dir: output folder.

    Returns:
      Headline numbers: mean preference of the best real item and of the
      best generated image, and the paths written.
    """
    rec, k, c = designer.rec, designer.config.top_k, designer.config
    # Each long stage says what it does before and how long it took after;
    # in between, one that outlasts a few seconds reports progress with an ETA.
    start = time.perf_counter()
    queries_n = len(np.atleast_1d(users))
    logging.info("Retrieval delta(u, c) (eq. 8): %d queries over the catalogue...", queries_n)
    items, real_scores = designer.retrieve(users, categories, k)
    logging.info("Retrieval done in %.1f s.", time.perf_counter() - start)
    start = time.perf_counter()
    logging.info(
        "Preference maximisation (eqs. 9-11): %d queries x %d restarts x %d steps, one batch...",
        queries_n,
        c.restarts,
        c.steps,
    )
    result = designer.maximize(users, categories)
    logging.info("Preference maximisation done in %.1f s.", time.perf_counter() - start)
    gen_scores = result.pick("preference", result.top)
    real = item_images(ds, items, rec.image_size)
    names = [rec.category_name(int(c)) for c in result.categories]
    labels = [f"user {u}\n{n}" for u, n in zip(result.users, names, strict=True)]
    sheet = report.fig5_sheet(real, real_scores, result.top_images, gen_scores, labels)
    fig = report.write_png(os.path.join(out_dir, "fig5.png"), sheet)
    queries = []
    for q in range(len(result.users)):
        queries.append(
            {
                "user": int(result.users[q]),
                "category": int(result.categories[q]),
                "category_name": names[q],
                "eta": float(result.eta[q]),
                "real": [
                    {
                        "item": int(i),
                        "item_id": str(ds.item_ids[i]),
                        "preference": float(s),
                    }
                    for i, s in zip(items[q], real_scores[q], strict=True)
                ],
                "generated": [
                    {
                        "restart": int(t),
                        "preference": float(result.preference[q, t]),
                        "objective": float(result.objective[q, t]),
                        "realism_loss": float(result.realism[q, t]),
                    }
                    for t in result.top[q]
                ],
                "best_initial_objective": float(result.initial_objective[q].max()),
                "best_objective": float(result.objective[q].max()),
            }
        )
    payload = {"config": designer.config, "queries": queries}
    runtime.atomic_write_text(
        os.path.join(out_dir, "design.json"), runtime.to_json(payload, indent=2) + "\n"
    )
    buffer = io.BytesIO()
    np.savez(
        buffer,
        z=result.z[np.arange(len(result.users))[:, None], result.top],
        categories=result.categories,
        users=result.users,
    )
    runtime.atomic_write_bytes(os.path.join(out_dir, "design_z.npz"), buffer.getvalue())
    summary = {
        "queries": len(queries),
        "real_top1_preference": float(real_scores[:, 0].mean()),
        "generated_top1_preference": float(gen_scores[:, 0].mean()),
        "generated_beats_real": float(np.mean(gen_scores[:, 0] > real_scores[:, 0])),
        "figure": fig,
    }
    logging.info("Fig. 5 sheet: %s", summary)
    return summary


def tailor_sheet(
    designer: Designer,
    ds: RecDataset,
    item: int,
    users,
    out_dir: str,
    category: int | None = None,
) -> dict:
    """Fig. 6: tailor one item to several users; writes `fig6.png` and `tailor.json`.

    Args:
      designer: the loaded exports.
      ds: the recommender's dataset (for the item's image).
      item: the prototype's item index.
      users: int [U] user indices.
      out_dir: output folder.
      category: the category to tailor in; the item's own when None.

    Returns:
      Headline numbers: inversion error, mean preference of the prototype,
      of its l1 approximation and of the final tailored images.

    Raises:
      DataError: unknown item or user, or an item without a category and
        no `category` given.
    """
    rec = designer.rec
    (item,) = rec.check_items([item])
    if category is None:
        category = int(rec.item_categories[item])
        if category < 0:
            raise DataError(f"Item {item} has no known category; pass --category=C.")
    users = rec.check_users(users)
    query = item_images(ds, [item], rec.image_size)[0]
    result = designer.tailor(query, category, users)
    prototype_scores = designer.score_items(users, np.full(len(users), item))
    labels = [f"user {u}" for u in result.users]
    sheet = report.fig6_sheet(
        query, prototype_scores, result.images, result.preference, result.steps, labels
    )
    fig = report.write_png(os.path.join(out_dir, "fig6.png"), sheet)
    payload = {
        "config": designer.config,
        "item": int(item),
        "item_id": str(ds.item_ids[item]),
        "category": result.category,
        "category_name": rec.category_name(result.category),
        "inversion_l1": float(result.inversion.l1[0]),
        "steps": result.steps.tolist(),
        "users": [
            {
                "user": int(u),
                "prototype_preference": float(prototype_scores[i]),
                "preference": result.preference[i].tolist(),
                "objective": result.objective[i].tolist(),
            }
            for i, u in enumerate(result.users)
        ],
    }
    runtime.atomic_write_text(
        os.path.join(out_dir, "tailor.json"), runtime.to_json(payload, indent=2) + "\n"
    )
    summary = {
        "item": int(item),
        "users": len(users),
        "inversion_l1": float(result.inversion.l1[0]),
        "prototype_preference": float(prototype_scores.mean()),
        "approximation_preference": float(result.preference[:, 0].mean()),
        "tailored_preference": float(result.preference[:, -1].mean()),
        "figure": fig,
    }
    logging.info("Fig. 6 sheet: %s", summary)
    return summary
