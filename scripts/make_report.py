"""Gathers a `make demo` run into WORKDIR/report/: index.md, its figures, and TensorBoard.

    python scripts/make_report.py WORKDIR

Reads what the demo's binaries wrote (each step's JSON line in WORKDIR/<step>.json,
table3/table3.md, table4/table4.md, the PNG figures, timings.tsv) and writes

- WORKDIR/report/index.md: headline numbers, Table III, Table IV, the
  figures (copied into report/<step>/), and the wall time of every step;
- WORKDIR/report/tensorboard/: the same sections as TensorBoard text and
  the figures as images, next to the training runs' own logs
  (`tensorboard --logdir WORKDIR`).

Missing pieces (a step that did not run) are reported as missing, never
invented. Prints one JSON line.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sys

# Sections in order: (step name, title, workdir subfolder holding its figures).
STEPS = (
    ("data", "Data", "data"),
    ("dvbpr", "DVBPR", "dvbpr"),
    ("table3", "Table III: AUC of every method", "table3"),
    ("gan", "GAN", "gan"),
    ("gan_report", "GAN quality (Fig. 4)", "gan_report"),
    ("design", "Personalized design (Fig. 5)", "design"),
    ("table4", "Table IV and Fig. 3", "table4"),
)


def _last_json(path: str) -> dict | None:
    """The last JSON line a binary printed, or None when the step did not run."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def _fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _field_metrics(result: dict, features: str, label: str, fid_digits: int) -> str | None:
    """gan_report's FID and precision / recall on one feature set, beside real vs real.

    None when the report did not measure that set (its `fid_<features>` is absent).
    """
    if result.get(f"fid_{features}") is None:
        return None

    def pair(metric: str, digits: int) -> tuple[str, str]:
        generated = _fmt(result.get(f"{metric}_{features}"), digits)
        return generated, _fmt(result.get(f"{metric}_{features}_real"), digits)

    fid, fid_real = pair("fid", fid_digits)
    precision, precision_real = pair("precision", 3)
    recall, recall_real = pair("recall", 3)
    line = (
        f"{label} features: FID {fid} (real vs real {fid_real}), precision / recall "
        f"{precision} / {recall} (real {precision_real} / {recall_real})."
    )
    draws = result.get("field_metrics_draws") or 1
    if draws > 1 and result.get(f"recall_{features}_sd") is not None:
        # One draw's recall moves by ~0.05; the spread says how far to trust it.
        spread = ", ".join(
            f"{name} {_fmt(result[f'{metric}_{features}_mean'], digits)} +- "
            f"{_fmt(result[f'{metric}_{features}_sd'], digits)}"
            for metric, name, digits in (
                ("fid", "FID", fid_digits),
                ("precision", "precision", 3),
                ("recall", "recall", 3),
            )
        )
        line += f" Over {draws} draws of the images, mean +- sd: {spread}."
    return line


def _headline(step: str, result: dict) -> list[str]:
    """A few lines of the step's most telling numbers."""
    if step == "data":
        return [
            f"{result['users']:,} users, {result['items']:,} items, "
            f"{result['train_interactions']:,} training interactions, "
            f"{result['categories']} categories; popularity AUC "
            f"{_fmt(result.get('popularity_auc'))}, oracle AUC {_fmt(result.get('oracle_auc'))} "
            "(the planted preferences scored directly: the ceiling). Leak check: "
            f"{result.get('leak_heldout_only_items')} items exist only as held-out items "
            f"({_fmt(100 * result.get('leak_heldout_only_row_share', float('nan')), 1)}% of test "
            f"rows); the 'no training data' indicator scores AUC "
            f"{_fmt(result.get('leak_indicator_auc'))}."
        ]
    if step == "dvbpr":
        test = result["test"]
        return [
            f"Test AUC {_fmt(test['auc'])} (cold items {_fmt(test['auc_cold'])}, warm items "
            f"{_fmt(test.get('auc_warm'))}) after "
            f"{result['epochs']} epoch(s) of the `{result['preset']}` preset, best epoch "
            f"{result['best_epoch']}; popularity {_fmt(result['popularity']['auc'])}, oracle "
            f"{_fmt(result['oracle']['auc'])}. Export: `{result['export']}`."
        ]
    if step == "gan":
        lines = [
            f"{result['steps']} steps ({result['epochs']:.1f} epochs) of the "
            f"`{result.get('preset', '?')}` preset at "
            f"{result['resolution']}x{result['resolution']}; final D(real) "
            f"{_fmt(result.get('d_real'), 3)}, D(fake) {_fmt(result.get('d_fake'), 3)}."
        ]
        default = result.get("dataset_default_preset")
        if default and default != result.get("preset"):
            lines.append(
                f"Not the GAN `python -m gan_tf.train --dataset={result['dataset']}` trains "
                f"(the `{default}` preset, the README's Fig. 4 and Table IV runs): the "
                "README's GAN table gives that run's figures; compare the quality below and "
                "Table IV's quality column with them for what this run costs."
            )
        return lines
    if step == "gan_report":
        lines = [
            f"Conditioning accuracy {_fmt(result['conditioning_accuracy'], 3)} (goal "
            f"{result.get('conditioning_goal', 0.8)}); diversity (1 - mean SSIM) generated / real "
            f"{_fmt(result['opposite_mean_ssim_generated'], 3)} / "
            f"{_fmt(result['opposite_mean_ssim_real'], 3)}; colour-spread ratio "
            f"{_fmt(result.get('colour_spread_ratio'), 2)}; checkerboard energy "
            f"{_fmt(result.get('checkerboard_ratio'), 2)} of real."
        ]
        lines.append(_field_metrics(result, "imagenet", "ImageNet EfficientNet-Lite0", 1))
        lines.append(_field_metrics(result, "classifier", "Dataset classifier", 3))
        return [line for line in lines if line]
    if step == "design":
        return [
            f"{result['queries']} queries: mean top-1 preference real "
            f"{_fmt(result['real_top1_preference'])} vs generated "
            f"{_fmt(result['generated_top1_preference'])}."
        ]
    return []


def _copy_figures(workdir: str, sub: str, report: str) -> list[str]:
    """Copies WORKDIR/sub/*.png into report/sub/; returns their report-relative paths."""
    out = []
    for png in sorted(glob.glob(os.path.join(workdir, sub, "*.png"))):
        os.makedirs(os.path.join(report, sub), exist_ok=True)
        shutil.copy(png, os.path.join(report, sub, os.path.basename(png)))
        out.append(f"{sub}/{os.path.basename(png)}")
    return out


def _embedded_markdown(path: str, sub: str) -> str | None:
    """A table's Markdown, headings demoted and image links pointed at report/sub/."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    text = re.sub(r"^(#+) ", r"##\1 ", text, flags=re.M)
    return re.sub(r"\]\((?!https?:|/)([^)]+)\)", rf"]({sub}/\1)", text)


def _timings(workdir: str) -> list[tuple[str, float]]:
    path = os.path.join(workdir, "timings.tsv")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    return [(name, float(seconds)) for name, seconds in rows]


def build_sections(workdir: str, report: str) -> list[tuple[str, str, list[str]]]:
    """(title, Markdown body, figure paths) per step, in demo order."""
    sections = []
    for step, title, sub in STEPS:
        result = _last_json(os.path.join(workdir, f"{step}.json"))
        body = []
        if result is None:
            body.append(f"*Missing: `{step}.json` was not written (the step did not finish).*")
        else:
            body += _headline(step, result)
        table = _embedded_markdown(os.path.join(workdir, sub, f"{step}.md"), sub)
        figures = _copy_figures(workdir, sub, report)
        if table:
            body.append(table)
            figures = [f for f in figures if f"]({f})" not in table]
        body += [f"![{os.path.basename(f)}]({f})" for f in figures]
        sections.append((title, "\n\n".join(body), figures))
    timings = _timings(workdir)
    if timings:
        total = sum(s for _, s in timings)
        rows = "\n".join(f"| {name} | {seconds:.0f} |" for name, seconds in timings)
        body = (
            "| Step | Seconds |\n| --- | --- |\n"
            + rows
            + f"\n| **total** | **{total:.0f}** ({total / 60:.1f} min) |"
        )
        sections.append(("Wall time", body, []))
    return sections


def write_tensorboard(sections, report: str) -> str:
    """The report's sections as TensorBoard text and its figures as images."""
    import numpy as np
    import tensorflow as tf
    from PIL import Image

    logdir = os.path.join(report, "tensorboard")
    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
        for n, (title, body, figures) in enumerate(sections):
            tf.summary.text(f"{n:02d} {title}", body, step=0)
            for figure in figures:
                with Image.open(os.path.join(report, figure)) as image:
                    pixels = np.asarray(image.convert("RGB"))
                tf.summary.image(figure, pixels[None], step=0)
    writer.close()
    return logdir


def main(workdir: str) -> None:
    report = os.path.join(workdir, "report")
    os.makedirs(report, exist_ok=True)
    sections = build_sections(workdir, report)
    parts = [
        "# DVBPR demo report\n",
        f"Everything below was produced by `make demo` in `{os.path.abspath(workdir)}`. "
        "Open the same report in TensorBoard with "
        f"`tensorboard --logdir {os.path.abspath(workdir)}` (the TEXT and IMAGES tabs; the "
        "SCALARS tab has the training curves).\n",
    ]
    parts += [f"## {title}\n\n{body}\n" for title, body, _ in sections]
    index = os.path.join(report, "index.md")
    tmp = index + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(parts))
    os.replace(tmp, index)
    logdir = write_tensorboard(sections, report)
    missing = [title for title, body, _ in sections if body.startswith("*Missing")]
    print(json.dumps({"report": index, "tensorboard": logdir, "missing": missing}))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python scripts/make_report.py WORKDIR")
    main(sys.argv[1])
