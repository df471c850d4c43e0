"""The paper-scale benchmark at a tiny scale: its file writer and every stage.

`data/authors_synthetic.py` builds authors'-format files of Table II's sizes
and `data/authors_writer.py` writes them; here at a few users and items, read back by the project's own loader.
`benchmarks/bench_paper_scale.py` then runs each stage (the project's
binaries as subprocesses) on one tiny file, so that CI exercises every
code path; two groups of independent stages run side by side to keep the
test short on 2 cores.
"""

from __future__ import annotations

import ast
import io
import json
import os
import pickletools
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from PIL import Image

from data import authors_synthetic, authors_writer
from data.authors_npy import read_authors_npy

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(REPO, "benchmarks", "bench_paper_scale.py")
# Amazon Fashion x 0.0003: 19 users, 70 items, 154 interactions, 6 categories.
TINY = ["--dataset_size=amazon_fashion", "--scale=0.0003", "--pool_images=12"]
BOUNDS = [
    "--dvbpr_preset=small",
    "--train_steps=1",
    "--train_batch_size=4",
    "--step_bench_steps=1",
    "--pipeline_batches=1",
    "--gan_steps=1",
    "--gan_batch_size=4",
    "--table4_trials=1",
    "--notable4_imagenet",
    "--design_restarts=3",
    "--design_steps=2",
]


def _rows(split: dict) -> np.ndarray:
    rows = sorted((u, i) for u, items in split.items() for i in items)
    return np.asarray(rows, np.int64).reshape(-1, 2)


def _sorted(rows: np.ndarray) -> np.ndarray:
    return rows[np.lexsort((rows[:, 1], rows[:, 0]))]


def test_writer_round_trip(tmp_path):
    spec = authors_synthetic.SyntheticSpec.table_ii("amazon_men", 0.0002, pool_images=9)
    assert (spec.num_users, spec.num_items, spec.num_interactions) == (7, 22, 51)
    objects, truth = authors_synthetic.synthetic_objects(spec)
    path = str(tmp_path / "men.npy")
    size = authors_writer.write_authors_npy(path, objects)
    assert size == os.path.getsize(path)

    data = read_authors_npy(path)
    assert (data.usernum, data.itemnum) == (7, 22)
    np.testing.assert_array_equal(_rows(data.user_train), _sorted(truth.train))
    np.testing.assert_array_equal(_rows(data.user_validation), _sorted(truth.validation))
    np.testing.assert_array_equal(_rows(data.user_test), _sorted(truth.test))
    total = len(truth.train) + len(truth.validation) + len(truth.test)
    assert total == spec.num_interactions
    every = np.concatenate([truth.train, truth.validation, truth.test])
    assert len(np.unique(every, axis=0)) == total  # no repeated (user, item)
    assert np.bincount(every[:, 0]).min() >= authors_synthetic.MIN_PER_USER
    assert len(data.user_validation) == len(data.user_test) == 7

    pool = authors_synthetic.jpeg_pool(spec)
    blobs = [data.items[i]["image"] for i in range(22)]
    assert len(set(blobs)) == 22  # every item's bytes differ ...
    for i, blob in enumerate(blobs):
        assert data.items[i]["category"] == truth.categories[i]
        assert data.items[i]["asin"] == f"B{i:09d}"
        with Image.open(io.BytesIO(blob)) as image, Image.open(io.BytesIO(pool[0])) as ref:
            assert image.format == "JPEG" and image.size == (224, 224)
            pixels = np.asarray(image.convert("RGB"))
        # ... yet decodes to its pool image's pixels.
        with Image.open(io.BytesIO(pool[truth.pool_index[i]])) as ref:
            np.testing.assert_array_equal(pixels, np.asarray(ref.convert("RGB")))
    assert 7 * 1024 < np.mean([len(b) for b in pool]) < 13 * 1024  # ~10 KB, as the authors'

    # The Python 2 dialect: 8-bit strings only, NumPy 1.x globals, .npy 1.0.
    with open(path, "rb") as f:
        assert f.read(8) == b"\x93NUMPY\x01\x00"
        f.seek(10 + int.from_bytes(open(path, "rb").read(10)[8:10], "little"))
        ops = {op.name for op, _, _ in pickletools.genops(f)}
    assert {"SHORT_BINSTRING", "BINSTRING", "GLOBAL"} <= ops
    assert not ops & {"BINUNICODE", "SHORT_BINUNICODE", "BINBYTES", "SHORT_BINBYTES"}


def _write_peak(path: str, num_items: int) -> tuple[int, int, list]:
    """(file bytes, peak traced bytes while writing, objects) of a file of num_items."""
    spec = authors_synthetic.SyntheticSpec(40, num_items, 300, num_categories=6, pool_images=6)
    objects, _ = authors_synthetic.synthetic_objects(spec)
    tracemalloc.start()
    size = authors_writer.write_authors_npy(path, objects)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return size, peak, objects


def test_streamed_write_equals_in_memory_and_stays_small(tmp_path):
    small_size, small_peak, _ = _write_peak(str(tmp_path / "small.npy"), 300)
    size, peak, objects = _write_peak(str(tmp_path / "s.npy"), 1800)
    # 15 MB more of ~10 KB images went through; the memory held did not grow with them.
    assert size - small_size > 14e6
    assert peak - small_peak < 1e6, (peak, small_peak)
    # The same objects held whole in memory pickle to the same bytes.
    whole = [
        dict(obj.items()) if isinstance(obj, authors_writer.Streamed) else obj for obj in objects
    ]
    with open(tmp_path / "s.npy", "rb") as f:
        assert f.read() == authors_writer.authors_npy_bytes(whole)


def _bench(workdir: str, stages: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(
        [sys.executable, SCRIPT, f"--workdir={workdir}", f"--stages={stages}", *TINY, *BOUNDS],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _lines(proc: subprocess.Popen) -> list[dict]:
    out, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _script_stages() -> tuple[str, ...]:
    with open(SCRIPT) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "STAGES":
            return ast.literal_eval(node.value)
    raise AssertionError("no STAGES in " + SCRIPT)


@pytest.fixture(scope="module")
def stages(tmp_path_factory):
    """Every stage once, on one tiny file: {stage: JSON line}."""
    workdir = str(tmp_path_factory.mktemp("paper_scale"))
    # eval_paper before any export exists: it must fail, and the run go on.
    # pipeline and train_step first: train_paper (in another process) compares with them.
    first = {
        line["stage"]: line
        for line in _lines(_bench(workdir, "write,convert,pipeline,train_step,eval_paper,features"))
    }
    lines = {**first, "failed_eval_paper": first.pop("eval_paper")}
    groups = [
        "train_paper,gan64,design,table3,table4,eval_paper",
        "load,describe,train_small,eval_small,bprmf,visrank,vbpr,gan128",
    ]
    assert sorted(
        ",".join(["write,convert,pipeline,train_step,features", *groups]).split(",")
    ) == sorted(_script_stages())
    procs = [_bench(workdir, group) for group in groups]
    for proc in procs:
        lines.update({line["stage"]: line for line in _lines(proc)})
    return lines


def test_a_failing_stage_reports_and_the_run_goes_on(stages):
    failed = stages["failed_eval_paper"]
    assert failed["exit_code"] != 0 and failed["error"]
    assert "rate" not in failed
    # The stage after it ran: McAuley records of 10 + 4 x 4096 bytes, one per item.
    assert stages["features"]["file_bytes"] == 70 * (10 + 4 * 4096)


@pytest.mark.parametrize("stage", _script_stages())
def test_every_stage_runs(stages, stage):
    line = stages[stage]
    assert "error" not in line, line["error"]
    assert line["exit_code"] == 0
    assert line["wall_s"] > 0 and line["peak_rss_mb"] > 0
    # Sampled anonymous memory: some, and never more than the whole resident set
    # (None only when the process ended before the first sample).
    anon = line["peak_anon_mb"]
    assert anon is None or 0 < anon <= line["peak_rss_mb"]
    assert line["rate"] > 0 and line["rate_unit"]


def test_stage_figures(stages):
    for name in ("convert", "load", "describe"):
        assert (stages[name]["users"], stages[name]["items"]) == (19, 70)
        # Stages that load TensorFlow run for seconds: they were sampled.
        assert stages[name]["peak_anon_mb"] > 0
    assert stages["write"]["interactions"] == 154
    assert stages["convert"]["train_interactions"] == 154 - 2 * 19
    assert 0 < stages["describe"]["popularity_auc"] < 1
    assert stages["pipeline"]["roofline_triplets_per_s"] > 0
    assert stages["train_paper"]["slower"] in ("input pipeline", "training step")
    assert stages["train_paper"]["steps"] == 1
    for name in ("eval_small", "eval_paper", "bprmf", "visrank", "vbpr"):
        assert 0 <= stages[name]["test_auc"] <= 1
    assert stages["gan64"]["steps"] == stages["gan128"]["steps"] == 1
    assert stages["design"]["category_items"] == stages["write"]["largest_category_items"]
    assert set(stages["table3"]["auc"]["amazon_fashion/all"]) >= {"bprmf", "vbpr", "dvbpr"}
