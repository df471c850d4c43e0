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
