"""scripts/make_report.py: the demo's report from a workdir, with missing steps said as such."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
from PIL import Image

_SPEC = importlib.util.spec_from_file_location(
    "make_report", os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "make_report.py")
)
make_report = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(make_report)


def _png(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(path)


def test_report_embeds_tables_figures_timings_and_names_missing_steps(tmp_path, capsys):
    work = tmp_path
    (work / "dvbpr.json").write_text(
        "log line\n"
        + json.dumps(
            dict(
                test=dict(auc=0.71234, auc_cold=0.7),
                epochs=2,
                preset="small",
                best_epoch=2,
                popularity=dict(auc=0.54),
                oracle=dict(auc=0.93),
                export="/x/export",
            )
        )
        + "\n"
    )
    os.makedirs(work / "table4")
    (work / "table4" / "table4.md").write_text("# Table IV\n\n![effect](fig3_eta.png)\n")
    _png(str(work / "table4" / "fig3_eta.png"))
    _png(str(work / "design" / "fig5.png"))
    (work / "timings.tsv").write_text("dvbpr\t100\ntable4\t50\n")

    make_report.main(str(work))
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    index = (work / "report" / "index.md").read_text()
    assert "Test AUC 0.7123" in index
    assert "### Table IV" in index  # the table's heading sits below its section
    assert "![effect](table4/fig3_eta.png)" in index
    assert (work / "report" / "table4" / "fig3_eta.png").exists()
    assert "![fig5.png](design/fig5.png)" in index
    assert "| **total** | **150** (2.5 min) |" in index
    assert "*Missing: `data.json`" in index
    assert "Data" in out["missing"] and "DVBPR" not in out["missing"]
    assert os.listdir(out["tensorboard"])


def test_gan_headlines_name_the_preset_the_departure_and_the_field_metrics():
    gan = dict(
        dataset="synthetic_fashion/default",
        steps=725,
        epochs=5.0,
        resolution=32,
        preset="tuned32",
        dataset_default_preset="regularised64_b16_slowd_ema99",
        d_real=0.6,
        d_fake=0.3,
    )
    lines = make_report._headline("gan", gan)
    assert "of the `tuned32` preset at 32x32" in lines[0]
    assert len(lines) == 2 and "`regularised64_b16_slowd_ema99` preset" in lines[1]
    # A run of the dataset's own default says nothing about departing from it.
    assert len(make_report._headline("gan", {**gan, "preset": gan["dataset_default_preset"]})) == 1

    report = dict(
        conditioning_accuracy=0.9571,
        opposite_mean_ssim_generated=0.5,
        opposite_mean_ssim_real=0.43,
        colour_spread_ratio=0.8812,
        checkerboard_ratio=1.0312,
        fid_imagenet=164.25,
        fid_imagenet_real=19.04,
        precision_imagenet=0.0,
        recall_imagenet=0.0017,
        precision_imagenet_real=0.948,
        recall_imagenet_real=0.94,
    )
    text = " ".join(make_report._headline("gan_report", report))
    assert "colour-spread ratio 0.88; checkerboard energy 1.03 of real" in text
    assert "FID 164.2 (real vs real 19.0), precision / recall 0.000 / 0.002" in text
    assert "Dataset classifier" not in text  # not in this report: not invented
    assert "draws" not in text  # one draw: no spread to report

    spread = {
        f"{metric}_imagenet_{stat}": value
        for metric, mean, sd in (
            ("fid", 160.04, 3.26),
            ("precision", 0.01, 0.004),
            ("recall", 0.0031, 0.0012),
        )
        for stat, value in (("mean", mean), ("sd", sd))
    }
    text = " ".join(
        make_report._headline("gan_report", {**report, **spread, "field_metrics_draws": 3})
    )
    assert (
        "Over 3 draws of the images, mean +- sd: FID 160.0 +- 3.3, precision 0.010 +- 0.004, "
        "recall 0.003 +- 0.001." in text
    )
