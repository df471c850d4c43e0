"""Table IV and Fig. 3 as Markdown and pixels (`table4.md`, `fig3_eta.png`).

`eval.table4_lib.run_table4` calls `table4_markdown` on its metrics and
headline, and `sweep_figure` on the eta sweep.
"""

from __future__ import annotations

import os

import numpy as np

from design import report
from eval.table4_config import SOURCE_LABELS, SOURCES, Table4Config

# The sweep's example sheet, written beside fig3_eta.png and linked from table4.md.
SWEEP_EXAMPLES = "fig3_examples.png"
# How the field metrics' feature spaces (`eval.table4_metrics.field_space`) are named
# in Fig. 3's precision panel and column, so that each says what it was measured on.
FEATURE_NAMES = {"imagenet": "ImageNet", "classifier": "classifier"}


def sweep_figure(sweep: list[dict], field_space: str) -> np.ndarray:
    """Fig. 3 as pixels: preference, quality, diversity (and precision) against eta.

    delta is drawn as a reference line; the precision panel (when the sweep
    has the field metrics) also draws G's random samples, which is where
    delta-hat's random starting points stand, and its band is the standard
    error rather than a standard deviation. `field_space` ("imagenet" or
    "classifier", `eval.table4_metrics.field_space`) names the precision's
    features in the panel's title.
    """
    etas = [s["eta"] for s in sweep]
    keys = [
        ("preference", "preference score"),
        ("quality_dataset", "quality (classifier score)"),
        ("diversity", "diversity (1 - mean SSIM)"),
    ]
    if "field_precision" in sweep[0]:
        keys.append(("field_precision", f"precision, {_features(field_space)} (+- s.e.)"))
    panels = []
    for key, title in keys:
        ref = sweep[0]["delta_reference"][key]
        series = [
            ("delta-hat", [s[key]["mean"] for s in sweep], [s[key]["std"] for s in sweep]),
            ("delta (retrieval)", [ref["mean"]] * len(sweep), None),
        ]
        if key == "field_precision":
            gen = sweep[0]["generated_reference"][key]["mean"]
            series.append(("G random z", [gen] * len(sweep), None))
        panels.append((title, series))
    return report.line_panels(etas, panels, "eta", log_x=True)


def sweep_examples_sheet(firsts: dict, row_labels, tile: int = 64) -> np.ndarray:
    """What eta does to the designs: per trial, delta's first item and delta-hat's at each eta.

    Args:
      firsts: {"delta": (images, scores), eta: (images, scores), ...} as
        `eval.table4_lib.run_sweep` returns them: each trial's first image
        (float [n, R, R, C] in [-1, 1]) and its preference score ([n]);
        every eta's designs start from the same points.
      row_labels: one per trial shown (the first len(row_labels) trials).
      tile: pixel side of each image.

    Returns:
      uint8 [height, width, 3]: one row per trial, columns delta then the
      etas in the dict's order, each captioned with its preference score.
    """
    keys = list(firsts)
    rows = [
        [(firsts[key][0][t], f"{firsts[key][1][t]:.2f}") for key in keys]
        for t in range(len(row_labels))
    ]
    headers = ["delta" if key == "delta" else f"eta {key:g}" for key in keys]
    return report.tile_grid(rows, row_labels, headers, tile, label_width=96, gaps_after=(0,))


def _imagenet_note(scored: bool, config: Table4Config) -> str:
    """Why the ImageNet quality column is missing, if it is."""
    if scored:
        return ""
    if not config.imagenet:
        return " The ImageNet column is disabled (--imagenet=false)."
    return " The ImageNet column is missing: EfficientNet-Lite0 was not available."


def field_markdown(metrics: dict, field: dict) -> list[str]:
    """The lines of the field-metrics table under Table IV (FID, precision, recall per source)."""
    space = {
        "imagenet": "ImageNet EfficientNet-Lite0 pooled features (1280-d)",
        "classifier": "the dataset classifier's penultimate features",
    }[field["features"]]
    rows = [
        [SOURCE_LABELS[name], *_field_cells(metrics[name]["field"])]
        for name in SOURCES
        if "field" in metrics[name]
    ]
    rows.append(["Real vs real (training vs held-out real)", *_field_cells(field["real_vs_real"])])
    return [
        "## Field metrics: each source against held-out real images of the same categories",
        "",
        report.markdown_table(["Item source", "FID ↓", "Precision ↑", "Recall ↑"], rows),
        f"- On {space}; {field['n_source']} images per source against {field['n_reference']} "
        f"held-out real images of the dataset classifier's split, one per source image's "
        f"category; precision and recall are Kynkäänniemi et al.'s with k = {field['k']}. The "
        f"last row compares as many of the classifier's training images with the held-out "
        f"ones: FID's floor and precision's and recall's ceiling at this N (FID grows as N "
        f"shrinks; compare rows of one table only).",
        "",
    ]


def _field_cells(figures: dict) -> list[str]:
    return [f"{figures['fid']:.4g}", f"{figures['precision']:.3f}", f"{figures['recall']:.3f}"]


def table4_markdown(metrics, sweep, headline, config, designer, ds, figure, field=None) -> str:
    """The Markdown of Table IV, its field metrics (when `field`) and the Fig. 3 sweep."""
    imagenet = "quality_imagenet" in metrics["delta"]
    headers = ["Item source", "Preference score", "Quality (dataset classifier)"]
    headers += ["Quality (ImageNet EfficientNet-Lite0)"] if imagenet else []
    headers += ["Diversity (1 - mean SSIM)"]
    rows = []
    for group, names in (
        ("*Random methods*", ("random_real", "random_generated")),
        ("*Personalized methods*", ("delta", "delta_hat")),
    ):
        rows.append([group] + [""] * (len(headers) - 1))
        for name in names:
            m = metrics[name]
            row = [SOURCE_LABELS[name], report.fmt_mean_std(**m["preference"])]
            row.append(report.fmt_mean_std(**m["quality_dataset"]))
            if imagenet:
                row.append(report.fmt_mean_std(**m["quality_imagenet"]))
            row.append(report.fmt_mean_std(**m["diversity"]))
            rows.append(row)
    dc = designer.config
    d = metrics["delta"]["preference"]["mean"]
    dh = metrics["delta_hat"]["preference"]["mean"]
    verdict = "**yes**" if headline["delta_hat_beats_delta"] else "**no**"
    lines = [
        f"# Table IV: top-{dc.top_k} images for a user and category ({headline['trials']} trials)",
        "",
        report.markdown_table(headers, rows),
        f"δ̂ beats δ in mean preference score: {verdict} ({dh:.4f} vs {d:.4f}, "
        f"{100 * headline['delta_hat_gain_over_delta']:+.1f}%; the paper: 7.6760 vs 7.1876, "
        f"+6.8%).",
        "",
        f"- Paired over the same trials, δ̂ - δ = {headline['paired_difference_mean']:+.4f} "
        f"± {headline['paired_difference_standard_error']:.4f} (standard error; "
        f"z = {headline['paired_difference_z']:.1f}); δ̂ is higher in "
        f"{100 * headline['delta_hat_win_share']:.0f}% of the trials.",
        f"- Dataset {ds.name}; recommender `{designer.rec.path}`; GAN `{designer.gan.path}` "
        f"({designer.gan.resolution}x{designer.gan.resolution}x{designer.gan.channels}).",
        f"- δ̂: m = {dc.restarts} restarts, {dc.steps} Adam steps (lr {dc.learning_rate}), "
        f"η = {config.eta}; its {dc.top_k} images are "
        + ("drawn by eq. 11." if config.selection == "sample" else "the best by objective.")
        + f" Mean gain of the best objective over the best start: "
        f"{metrics['delta_hat']['best_objective_gain']:.4f}.",
        f"- Best single image per trial (top-1 preference): δ "
        f"{report.fmt_mean_std(**metrics['delta']['preference_top1'])}, δ̂ "
        f"{report.fmt_mean_std(**metrics['delta_hat']['preference_top1'])}.",
        f"- Preference: mean over the trial's images, then mean ± std over trials. Quality: "
        f"classifier score over {config.quality_splits} splits (mean ± std); the dataset "
        f"classifier's held-out accuracy is {headline['classifier_heldout_accuracy']:.3f}."
        + _imagenet_note(imagenet, config)
        + " Diversity: per trial, then mean ± std over trials. Images compared at the GAN's "
        "resolution.",
        "",
    ]
    if field:
        lines += field_markdown(metrics, field)
    if sweep:
        lines += sweep_markdown(sweep, figure, field["features"] if field else None)
    lines += ["![examples](table4_examples.png)", ""]
    return "\n".join(lines)


def _features(field_space: str) -> str:
    """The features' name in Fig. 3: "ImageNet features" or "classifier features"."""
    return f"{FEATURE_NAMES[field_space]} features"


def sweep_markdown(sweep: list[dict], figure: str | None, field_space: str | None) -> list[str]:
    """The lines of the Fig. 3 section: one row per eta, then the references.

    `field_space` names the precision column's features; None only when the
    sweep has no field metrics (no such column).
    """
    precision = "field_precision" in sweep[0]
    header = [
        "η",
        "Preference score",
        "δ̂ − δ, paired (z)",
        "Quality (dataset classifier)",
        "Diversity",
    ]
    keys = ["preference", "paired_vs_delta", "quality_dataset", "diversity"]
    if precision:
        header.append(f"Precision ({_features(field_space)}; ± standard error)")
        keys.append("field_precision")

    def cell(figures: dict, key: str) -> str:
        if key not in figures:
            return ""
        if key == "field_precision":  # a share and its standard error: three decimals
            return f"{figures[key]['mean']:.3f} ± {figures[key]['std']:.3f}"
        if key == "paired_vs_delta":  # the mean difference and its z, as Table IV's line
            return f"{figures[key]['mean']:+.3f} (z = {figures[key]['z']:.1f})"
        return report.fmt_mean_std(figures[key]["mean"], figures[key]["std"])

    def cells(figures: dict) -> list[str]:
        return [cell(figures, key) for key in keys]

    rows = [[f"{s['eta']:g}", *cells(s)] for s in sweep]
    rows.append(["δ (reference)", *cells(sweep[0]["delta_reference"])])
    lines = [
        f"## Fig. 3: effect of η ({sweep[0]['trials']} trials)",
        "",
        f"![effect of eta]({os.path.basename(figure)})" if figure else "",
        "",
    ]
    if precision:
        rows.append(["G(·, c) (reference)", *cells(sweep[0]["generated_reference"])])
        n = sweep[0]["field_precision"]["n"]
        lines_after = [
            f"- Precision: the share of the {n} images (the trials' k images each) inside the "
            f"held-out real manifold of the field metrics above (each image is scored on its "
            f"own, so this N compares with the table's); the G(·, c) row is G's random samples on "
            f"the same trials, where δ̂'s random starting points stand.",
            "",
        ]
    else:
        lines_after = [""]
    lines_after += [
        "Each trial's first image (an eq. 11 draw) at each η, from the same starting points, "
        "beside δ's first item; captions are preference scores:",
        "",
        f"![what η does to the designs]({SWEEP_EXAMPLES})",
        "",
    ]
    return lines + [report.markdown_table(header, rows)] + lines_after
