"""data.describe end to end: the binary's JSON line, summary and contact sheet."""

import json
import os
import subprocess
import sys

from PIL import Image


def test_describe_synthetic_tiny(tmp_path):
    workdir = tmp_path / "describe"
    out = subprocess.run(
        [sys.executable, "-m", "data.describe", "--dataset=synthetic_fashion/tiny",
         f"--workdir={workdir}"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("users", "items", "train_interactions", "val_interactions",
                "test_interactions", "categories", "cold_items"):  # fmt: skip
        assert isinstance(result[key], int) and result[key] > 0, key
    assert result["val_interactions"] == result["test_interactions"] == result["users"]
    assert result["categories"] == 6
    assert 0.0 < result["cold_item_share"] <= 1.0
    assert result["oracle_auc"] >= 0.9
    assert result["popularity_auc"] < result["oracle_auc"] - 0.2
    sheet = Image.open(result["contact_sheet"])
    assert sheet.size[1] == 6 * 96  # one row per category
    assert json.loads((workdir / "config.json").read_text())["dataset"] == "synthetic_fashion/tiny"
    assert json.loads((workdir / "summary.json").read_text())["items"] == result["items"]
    assert "oracle_auc" in out.stderr  # the human summary goes to stderr


def test_describe_unknown_dataset_is_a_clear_error(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "data.describe", "--dataset=nope", f"--workdir={tmp_path}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 2
    assert "Unknown --dataset='nope'" in out.stderr and "synthetic_fashion" in out.stderr
    assert "Traceback" not in out.stderr
    assert not os.path.exists(tmp_path / "summary.json")
