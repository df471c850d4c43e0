"""Table III of the paper as a library: train, evaluate and tabulate every method.

    out = table3_lib.run_table(["synthetic_fashion"], ["rand", "bprmf", "dvbpr"], workdir)
    out["rows"]   # per (dataset, setting): each method's AUC and the improvements

The binary `eval.table3` is flags around `run_table`; see its docstring for
what is written where.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np
from absl import logging

from baselines import config as bc
from baselines import train_lib as baseline_lib
from common import layout, runtime
from data import features as features_lib
from data import registry
from data.core import DataError, RecDataset
from metrics import auc as auc_lib

METHODS = (*bc.MODELS, "dvbpr")
# Rows per dataset: (setting shown, key of the metrics.auc dict).
SETTINGS = (("All Items", "auc"), ("Cold Items", "auc_cold"), ("Warm Items", "auc_warm"))
# The column of the 'no training data' indicator scorer (metrics.auc.leak_diagnostic).
LEAK_COLUMN = "leak_indicator"

# The paper's Amazon Fashion row (Table III), for comparison in the report:
# method -> (AUC on all items, AUC on cold items).
_PAPER_AMAZON_FASHION_AUC = dict(
    rand=(0.5, 0.5),
    poprank=(0.5849, 0.3905),
    warp=(0.6065, 0.5030),
    bprmf=(0.6278, 0.5514),
    visrank=(0.6839, 0.6807),
    fm=(0.7093, 0.7088),
    vbpr=(0.7479, 0.7319),
    dvbpr=(0.7964, 0.7718),
)
PAPER_AMAZON_FASHION = {
    setting: {m: auc[n] for m, auc in _PAPER_AMAZON_FASHION_AUC.items()}
    for n, setting in enumerate(("all", "cold"))
}

# Peer reference numbers on the real Amazon interactions (full AUC on its
# test split; ../shared/data/amazon_fashion_interactions/README.md).
AMAZON_INTERACTIONS_REFERENCE = {
    "poprank": ("PopRank", 0.517),
    "bprmf": ("implicit BPR", 0.601),
    "warp": ("LightFM WARP", 0.567),
}


def improvement(h: float | None, other: float | None) -> float | None:
    """(h - other) / other, or None when either is missing."""
    if h is None or other is None or not np.isfinite(h) or not np.isfinite(other) or other == 0:
        return None
    return (h - other) / other


def table_rows(results: dict, models: list[str], leak: dict | None = None) -> list[dict]:
    """One row per (dataset, setting) with each method's AUC and the improvements.

    Args:
      results: {dataset: {method: result dict with test.auc / auc_cold / auc_warm}}.
      models: methods in column order.
      leak: optional {dataset: metrics.auc dict of the 'no training data'
        indicator scorer on test}, shown as its own column (not a method:
        it never counts as "best").

    Returns:
      Rows {dataset, setting, <method>: AUC or None, leak_indicator, h_vs_d,
      h_vs_best}.
    """
    rows = []
    for dataset, by_model in results.items():
        for setting, key in SETTINGS:
            row = dict(dataset=dataset, setting=setting)
            for m in models:
                r = by_model.get(m)
                value = r["test"].get(key) if r else None
                row[m] = None if value is None or not np.isfinite(value) else float(value)
            indicator = (leak or {}).get(dataset, {}).get(key)
            row[LEAK_COLUMN] = (
                None if indicator is None or not np.isfinite(indicator) else float(indicator)
            )
            h = row.get("dvbpr")
            others = [row[m] for m in models if m != "dvbpr" and row.get(m) is not None]
            row["h_vs_d"] = improvement(h, row.get("bprmf"))
            row["h_vs_best"] = improvement(h, max(others) if others else None)
            rows.append(row)
    return rows


def _fmt(value, pct=False) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.1f}%" if pct else f"{value:.4f}"


def to_markdown(rows: list[dict], models: list[str], notes: list[str]) -> str:
    """Table III as Markdown, best method per row in bold, the paper's row below.

    The last method-like column is the 'no training data' indicator (the
    split's leak check): a method at or below it on all items has learned
    less than which items are new.
    """
    names = [bc.DISPLAY_NAMES[m] for m in models]
    head = ["Dataset", "Setting", *names, "leak ind.", "h vs. d", "h vs. best"]
    out = io.StringIO()
    out.write("| " + " | ".join(head) + " |\n")
    out.write("|" + "---|" * len(head) + "\n")
    for row in rows:
        values = [row[m] for m in models]
        best = max((v for v in values if v is not None), default=None)
        cells = [f"**{_fmt(v)}**" if v is not None and v == best else _fmt(v) for v in values]
        out.write(
            f"| {row['dataset']} | {row['setting']} | "
            + " | ".join(cells)
            + f" | {_fmt(row.get(LEAK_COLUMN))}"
            + f" | {_fmt(row['h_vs_d'], True)} | {_fmt(row['h_vs_best'], True)} |\n"
        )
    for setting, key in (("All Items", "all"), ("Cold Items", "cold")):
        paper = PAPER_AMAZON_FASHION[key]
        h, d = paper["dvbpr"], paper["bprmf"]
        best = max(v for m, v in paper.items() if m != "dvbpr")
        cells = [_fmt(paper.get(m)) for m in models]
        out.write(
            f"| *paper: Amazon Fashion* | {setting} | "
            + " | ".join(cells)
            + f" | n/a | {_fmt(improvement(h, d), True)} | {_fmt(improvement(h, best), True)} |\n"
        )
    if notes:
        out.write("\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    return out.getvalue()


def to_csv(rows: list[dict], models: list[str], protocol: dict) -> str:
    """Table III as CSV: one line per row, the protocol's fields repeated on each."""
    out = io.StringIO()
    writer = csv.writer(out)
    numbers = [*models, LEAK_COLUMN, "h_vs_d", "h_vs_best"]
    writer.writerow(["dataset", "setting", *numbers, *protocol])
    for row in rows:
        writer.writerow(
            [row["dataset"], row["setting"]]
            + ["" if row.get(k) is None else f"{row[k]:.6f}" for k in numbers]
            + list(protocol.values())
        )
    return out.getvalue()


def write_hparams_config(logdir: str) -> None:
    """The HParams dashboard's experiment description (hparams and metric)."""
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    writer = tf.summary.create_file_writer(logdir)
    with writer.as_default():
        hp.hparams_config(
            hparams=[
                hp.HParam("model", hp.Discrete(list(bc.TRAINED_MODELS))),
                hp.HParam("dataset"),
                hp.HParam("reg", hp.RealInterval(0.0, 100.0)),
                hp.HParam("dim", hp.IntInterval(1, 1024)),
            ],
            metrics=[hp.Metric("hparams/validation_auc", display_name="validation AUC")],
        )
    writer.close()


def run_dvbpr(
    ds, dataset_name: str, workdir: str, epochs: int | None, auc_options: auc_lib.AUCOptions
) -> dict:
    """DVBPR's row: `dvbpr_tf.train_lib.train_and_evaluate` with the dataset's preset.

    The config comes the way `python -m dvbpr_tf.train` makes it without
    --preset (`dvbpr_tf.config.resolve`: the preset from the dataset, the
    machine's accelerators and the images' size; --dvbpr_epochs as its
    --epochs), so the row matches a DVBPR run of the same dataset.
    """
    from dvbpr_tf import config as dvbpr_config
    from dvbpr_tf import train_lib

    overrides = {} if epochs is None else {"epochs": epochs}
    config, reason = dvbpr_config.resolve(dataset_name, ds, overrides=overrides)
    runtime.write_config(workdir, dict(dvbpr=config, preset_reason=reason, auc=auc_options))
    out = train_lib.train_and_evaluate(
        config, ds, workdir, export=False, baselines=False, auc_options=auc_options
    )
    result = {k: out[k] for k in ("test", "validation", "leak", "protocol")}
    result.update(model="dvbpr", dataset=ds.name)
    result["hparams"] = dict(preset=config.preset, preset_reason=reason, epochs=config.epochs)
    runtime.write_result(workdir, result)
    return result


def dvbpr_from_workdir(
    train_workdir: str, dataset: RecDataset, auc_options: auc_lib.AUCOptions
) -> dict:
    """DVBPR's row from a finished `dvbpr_tf.train` run, checked against `dataset`.

    Raises:
      DataError: no result.json there, one of a baseline or of another
        dataset, or one whose AUCs were defined otherwise (older runs without
        warm AUC included).
    """
    trained = layout.read_result(train_workdir)
    if trained is None:
        raise DataError(
            f"--dvbpr_from={train_workdir}: no {layout.RESULT} (the last line `dvbpr_tf.train` "
            "writes when it finishes); finish that run or drop the flag to train DVBPR here."
        )
    if trained.get("model", "dvbpr") != "dvbpr":
        # Baseline runs of `dvbpr_tf.train --model=...` write the same file name.
        raise DataError(
            f"--dvbpr_from={train_workdir} is a {trained['model']!r} run, not a DVBPR one: "
            "pass the workdir of a `dvbpr_tf.train` run without --model."
        )
    if trained.get("dataset") != dataset.name:
        raise DataError(
            f"--dvbpr_from={train_workdir} was trained on {trained.get('dataset')!r}, "
            f"not {dataset.name!r}: pass the run of this dataset."
        )
    metric_fields = dict(
        cold_threshold=auc_options.cold_threshold, sampled_auc=auc_options.sampled_auc
    )
    used = {k: trained.get("protocol", {}).get(k) for k in metric_fields}
    if used != metric_fields or "auc_warm" not in trained["test"]:
        raise DataError(
            f"--dvbpr_from={train_workdir} was evaluated with {used} (and no warm AUC when "
            f"None), not {metric_fields}: rerun its `dvbpr_tf.train` command with these flags "
            "and the same --workdir (it resumes the finished training and evaluates again)."
        )
    return dict(
        model="dvbpr",
        dataset=dataset.name,
        test=trained["test"],
        validation=trained["validation"],
        leak=trained.get("leak"),
        protocol=trained["protocol"],
        hparams=dict(preset=trained.get("preset"), epochs=trained.get("epochs")),
        source=os.path.abspath(train_workdir),
    )


def _check_protocol(path: str, result: dict, expected: dict) -> None:
    """A finished result may be reused only under the protocol it was run with."""
    used = {k: result.get("protocol", {}).get(k) for k in expected}
    if used != expected:
        raise DataError(
            f"{path} was run with protocol {used}, not {expected}: use another --workdir, "
            "or delete that folder to rerun it under these flags."
        )


def run_table(
    datasets: list[str],
    models: list[str],
    workdir: str,
    *,
    grid: str = "small",
    epochs: int | None = None,
    seed: int = 0,
    features: str = "efficientnet_lite0",
    feature_cache: str | None = None,
    mcauley_features: str | None = None,
    dvbpr_epochs: int | None = None,
    dvbpr_from: str | None = None,
    data_options=None,
    protocol_overrides: dict | None = None,
    auc_options: auc_lib.AUCOptions | None = None,
) -> dict:
    """Trains and evaluates every (dataset, method); writes table3.md / .csv.

    `dvbpr_from` (one dataset only) takes DVBPR's row from a finished
    `dvbpr_tf.train` workdir instead of training DVBPR again.
    `protocol_overrides` ({negatives, sampling, select_on}; the paper's
    protocol when None) and `auc_options` (`metrics.auc.AUCOptions()` when
    None) apply to every method and are written into both table files.

    Returns:
      dict with `results` {dataset: {method: result}}, `rows` (see
      `table_rows`), `notes`, `protocol`, and the paths of the Markdown and
      CSV files.
    """
    protocol_overrides = dict(protocol_overrides or {})
    auc_options = auc_options or auc_lib.AUCOptions()
    protocol = baseline_lib.protocol(bc.get_config("bprmf", **protocol_overrides), auc_options)
    unknown = [m for m in models if m not in METHODS]
    if unknown:
        raise DataError(f"Unknown --models {unknown}; use any of {', '.join(METHODS)}.")
    if dvbpr_from and len(datasets) != 1:
        raise DataError("--dvbpr_from names one DVBPR run, so it needs exactly one dataset.")
    os.makedirs(workdir, exist_ok=True)
    write_hparams_config(workdir)
    results, notes, leak = {}, [], {}
    for name in datasets:
        ds = registry.load(name, data_options)
        results[name] = {}
        feats = None
        leak[name] = auc_lib.evaluate_leak_indicator(ds, "test", options=auc_options, seed=seed)
        notes.append(f"{name}: {auc_lib.format_leak(auc_lib.leak_diagnostic(ds, 'test'))}.")
        for model in models:
            sub = os.path.join(workdir, *name.split("/"), model)
            # A finished cell of an older workdir has the old name (layout.OLD_RESULT).
            done = layout.result_path(sub)
            if os.path.exists(done):
                results[name][model] = layout.read_result(sub)
                expected = (
                    {k: protocol[k] for k in ("cold_threshold", "sampled_auc")}
                    if model == "dvbpr"
                    else protocol
                )
                _check_protocol(done, results[name][model], expected)
                logging.info("%s / %s already done; reusing %s.", name, model, done)
                continue
            if model == "dvbpr" and dvbpr_from:
                results[name][model] = dvbpr_from_workdir(dvbpr_from, ds, auc_options)
                continue
            if model == "dvbpr":
                if not ds.has_images:
                    notes.append(f"{name}: DVBPR needs images; left out.")
                    continue
                results[name][model] = run_dvbpr(ds, name, sub, dvbpr_epochs, auc_options)
                continue
            if model in bc.VISUAL_MODELS:
                if not ds.has_images and features != "mcauley":
                    notes.append(
                        f"{name}: {bc.DISPLAY_NAMES[model]} needs visual features; left out."
                    )
                    continue
                if feats is None:
                    feats = features_lib.load_features(
                        ds, features, feature_cache, mcauley_features
                    )
            overrides = dict(seed=seed, validation_seed=seed, **protocol_overrides)
            if epochs is not None and model in bc.TRAINED_MODELS:
                overrides["epochs"] = epochs
            config = bc.get_config(model, grid=grid, **overrides)
            results[name][model] = baseline_lib.train_baseline(
                config, ds, sub, features=feats, auc_options=auc_options
            )
        if name.partition("/")[0] == "amazon_fashion_interactions":
            for m, (who, value) in AMAZON_INTERACTIONS_REFERENCE.items():
                if m in results[name]:
                    ours = results[name][m]["test"]["auc"]
                    notes.append(
                        f"{name}: {bc.DISPLAY_NAMES[m]} {ours:.4f} here vs {who} {value:.3f} "
                        "(peer reference on the same split)."
                    )
        if any(r.get("selection") == "carved_from_train" for r in results[name].values()):
            notes.append(
                f"{name}: no validation split; hyper-parameters were selected on a validation "
                "carved from train (one item per user), then retrained on all of train."
            )
    if any(m in bc.VISUAL_MODELS for m in models):
        notes.append(f"Visual features: {features}.")
    notes.append(
        "Protocol: "
        + ", ".join(f"{k}={v}" for k, v in protocol.items())
        + " (baselines; DVBPR samples as the release, user uniform and negatives uniform, "
        "and selects its epoch on all-items validation AUC). Cold: fewer than "
        f"{auc_options.cold_threshold} training observations. Warm: items with training data, "
        "against such items. 'leak ind.': the scorer that knows only which items have no "
        "training data."
    )
    rows = table_rows(results, models, leak)
    md_path = os.path.join(workdir, "table3.md")
    csv_path = os.path.join(workdir, "table3.csv")
    runtime.atomic_write_text(md_path, to_markdown(rows, models, notes))
    runtime.atomic_write_text(csv_path, to_csv(rows, models, protocol))
    return dict(
        results=results, rows=rows, notes=notes, protocol=protocol, markdown=md_path, csv=csv_path
    )
