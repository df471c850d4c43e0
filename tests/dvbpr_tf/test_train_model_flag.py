"""dvbpr_tf.train --model=<baseline>: same binary, same data, same evaluation."""

import json
import subprocess
import sys


def _run(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "dvbpr_tf.train", "--dataset=synthetic_fashion/tiny",
         f"--workdir={tmp_path}", *args],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_poprank_through_the_training_binary(tmp_path):
    out = _run(tmp_path, "--model=poprank")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["model"] == "poprank"
    # PopRank's test AUC on synthetic_fashion/tiny (describe reports 0.530).
    assert 0.52 < result["test"]["auc"] < 0.56
    assert (tmp_path / "config.json").exists()


def test_unknown_model_is_a_usage_error(tmp_path):
    out = _run(tmp_path, "--model=nope")
    assert out.returncode != 0
    assert "--model='nope' is unknown" in out.stderr
