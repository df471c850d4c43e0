"""Table III runner (eval/table3_lib.py): rows, improvements, files, resume, DVBPR reuse."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest

from baselines import train_lib as baseline_lib
from data import registry
from data.core import DataError
from eval import table3_lib
from metrics import auc as auc_lib

DATASET = "synthetic_fashion/tiny"
MODELS = ["rand", "poprank", "bprmf", "dvbpr"]


@pytest.fixture(scope="module")
def tiny():
    return registry.load(DATASET)


def _fake_dvbpr_run(path, dataset_name, auc, auc_cold, cold_threshold=5):
    """A finished `dvbpr_tf.train` workdir: only its result.json matters here."""
    path.mkdir(parents=True, exist_ok=True)
    result = dict(
        dataset=dataset_name,
        preset="small",
        epochs=3,
        test=dict(auc=auc, auc_cold=auc_cold, auc_warm=auc + 0.01),
        validation=dict(auc=auc - 0.01, auc_cold=auc_cold - 0.01, auc_warm=auc),
        protocol=dict(
            sampling="users",
            negatives="uniform",
            cold_threshold=cold_threshold,
            sampled_auc="uniform",
        ),
    )
    (path / "result.json").write_text(json.dumps(result))
    return str(path)


def test_run_table_rows_files_and_resume(tmp_path, tiny, monkeypatch):
    dvbpr_dir = _fake_dvbpr_run(tmp_path / "dvbpr_run", tiny.name, 0.9, 0.8)
    workdir = str(tmp_path / "t3")
    out = table3_lib.run_table(
        [DATASET], MODELS, workdir, grid="none", epochs=5, dvbpr_from=dvbpr_dir
    )
    all_row, cold_row, warm_row = out["rows"]
    assert [r["setting"] for r in out["rows"]] == ["All Items", "Cold Items", "Warm Items"]

    # PopRank's entry is exactly the popularity AUC of metrics.auc on test.
    pop = auc_lib.evaluate_popularity(tiny, "test")
    assert all_row["poprank"] == pytest.approx(pop["auc"], abs=1e-9)
    assert cold_row["poprank"] == pytest.approx(pop["auc_cold"], abs=1e-9)
    assert warm_row["poprank"] == pytest.approx(pop["auc_warm"], abs=1e-9)
    assert abs(all_row["rand"] - 0.5) < 0.1
    assert 0.0 < all_row["bprmf"] < 1.0
    # The leak check: the 'no training data' indicator, exact, and at chance on warm items.
    leak = auc_lib.leak_diagnostic(tiny, "test")
    assert all_row["leak_indicator"] == pytest.approx(leak["indicator_auc"], abs=1e-9)
    assert warm_row["leak_indicator"] == 0.5
    assert out["protocol"] == dict(
        sampling="users",
        negatives="uniform",
        select_on="auc_warm",
        cold_threshold=5,
        sampled_auc="uniform",
    )
    bprmf = json.load(open(f"{workdir}/{DATASET}/bprmf/result.json"))
    assert bprmf["protocol"] == out["protocol"]

    # DVBPR's entries come from the reused run; the improvements are the paper's.
    assert (all_row["dvbpr"], cold_row["dvbpr"], warm_row["dvbpr"]) == (0.9, 0.8, 0.91)
    for row in (all_row, cold_row, warm_row):
        best_other = max(row[m] for m in ("rand", "poprank", "bprmf"))
        assert row["h_vs_d"] == pytest.approx((row["dvbpr"] - row["bprmf"]) / row["bprmf"])
        assert row["h_vs_best"] == pytest.approx((row["dvbpr"] - best_other) / best_other)

    markdown = open(out["markdown"]).read()
    assert "| **0.9000** |" in markdown  # the row's best is bold
    assert "*paper: Amazon Fashion*" in markdown and "0.7964" in markdown
    assert "Protocol: sampling=users, negatives=uniform" in markdown
    with open(out["csv"]) as f:
        records = list(csv.DictReader(f))
    assert [r["setting"] for r in records] == ["All Items", "Cold Items", "Warm Items"]
    assert float(records[0]["bprmf"]) == pytest.approx(all_row["bprmf"], abs=1e-6)
    assert float(records[1]["h_vs_best"]) == pytest.approx(cold_row["h_vs_best"], abs=1e-6)
    assert records[2]["negatives"] == "uniform" and records[2]["sampling"] == "users"

    # A rerun reuses every finished method and trains nothing.
    def refuse(*args, **kwargs):
        raise AssertionError("a finished method was trained again")

    monkeypatch.setattr(baseline_lib, "train_baseline", refuse)
    again = table3_lib.run_table(
        [DATASET], MODELS, workdir, grid="none", epochs=5, dvbpr_from=dvbpr_dir
    )
    assert again["rows"] == out["rows"]
    # So does a workdir of an older version, whose cells wrote results.json.
    cell = f"{workdir}/{DATASET}/bprmf"
    os.rename(f"{cell}/result.json", f"{cell}/results.json")
    again = table3_lib.run_table(
        [DATASET], MODELS, workdir, grid="none", epochs=5, dvbpr_from=dvbpr_dir
    )
    assert again["rows"] == out["rows"]
    # ... but not under another protocol: it says so instead of mixing protocols.
    with pytest.raises(DataError, match="protocol"):
        table3_lib.run_table(
            [DATASET],
            MODELS,
            workdir,
            grid="none",
            epochs=5,
            dvbpr_from=dvbpr_dir,
            protocol_overrides=dict(negatives="observed"),
        )


def test_run_table_rejects_bad_input(tmp_path, tiny):
    with pytest.raises(DataError, match="Unknown --models"):
        table3_lib.run_table([DATASET], ["svd"], str(tmp_path / "a"))
    with pytest.raises(DataError, match="no result.json"):
        table3_lib.run_table(
            [DATASET], ["dvbpr"], str(tmp_path / "b"), dvbpr_from=str(tmp_path / "missing")
        )
    other = _fake_dvbpr_run(tmp_path / "other", "fashion_mnist_users", 0.8, 0.7)
    with pytest.raises(DataError, match="trained on 'fashion_mnist_users'"):
        table3_lib.run_table([DATASET], ["dvbpr"], str(tmp_path / "c"), dvbpr_from=other)
    baseline = _fake_dvbpr_run(tmp_path / "baseline", DATASET, 0.8, 0.7)
    result = json.loads(open(f"{baseline}/result.json").read())
    open(f"{baseline}/result.json", "w").write(json.dumps({**result, "model": "bprmf"}))
    with pytest.raises(DataError, match="is a 'bprmf' run, not a DVBPR one"):
        table3_lib.run_table([DATASET], ["dvbpr"], str(tmp_path / "f"), dvbpr_from=baseline)
    stale = _fake_dvbpr_run(tmp_path / "stale", DATASET, 0.8, 0.7, cold_threshold=6)
    with pytest.raises(DataError, match="rerun its `dvbpr_tf.train`"):
        table3_lib.run_table([DATASET], ["dvbpr"], str(tmp_path / "e"), dvbpr_from=stale)
    with pytest.raises(DataError, match="exactly one dataset"):
        table3_lib.run_table([DATASET, DATASET], ["dvbpr"], str(tmp_path / "d"), dvbpr_from=other)


def test_improvement_handles_missing_values():
    assert table3_lib.improvement(0.8, 0.5) == pytest.approx(0.6)
    assert table3_lib.improvement(None, 0.5) is None
    assert table3_lib.improvement(0.8, float("nan")) is None
    assert table3_lib.improvement(0.8, 0.0) is None
    assert np.isfinite(table3_lib.improvement(0.5, 0.8))
