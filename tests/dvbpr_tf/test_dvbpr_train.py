"""DVBPR training: it learns, it resumes exactly, it stops cleanly on NaN."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from data import registry
from dvbpr_tf import train_eval, train_lib
from tests.testlib.dvbpr import SMALL_32, TINY, red_blue_dataset


def _weights(trainer):
    return [v.numpy() for v in trainer.model.weights]


def test_narrow_model_learns_synthetic_fashion_tiny(tmp_path):
    ds = registry.load("synthetic_fashion/tiny")
    # The small preset's network, fed the 64x64 photos at 32x32 to keep
    # the test short (colour, pattern and the men's / women's cuts stay visible).
    config = dataclasses.replace(
        SMALL_32, batch_size=64, learning_rate=2e-3, epochs=4, steps_per_epoch=125
    )
    result = train_lib.train_and_evaluate(config, ds, str(tmp_path), export=False)
    test, pop = result["test"], result["popularity"]
    print(json.dumps({k: result[k] for k in ("validation", "test", "popularity", "oracle")}))
    assert result["oracle"]["auc"] > 0.85
    # Well above the popularity ranking, and on the cold items too.
    assert test["auc"] > pop["auc"] + 0.08, result
    assert test["auc_cold"] > pop["auc_cold"] + 0.1, result
    assert len(result["history"]) == 4
    assert 0 < result["setup_seconds"] < result["train_seconds"]
    assert result["validation"]["auc"] == max(h["auc"] for h in result["history"])
    # TensorBoard event files for train scalars and validation AUC/images.
    for sub in ("train", "validation"):
        assert any(f.startswith("events") for f in os.listdir(tmp_path / sub))


def test_resume_after_a_kill_ends_like_an_uninterrupted_run(tmp_path, monkeypatch):
    ds = red_blue_dataset()
    config = dataclasses.replace(
        TINY, epochs=2, steps_per_epoch=3, checkpoint_every_steps=2, eval_every_epochs=1
    )
    straight = train_lib.Trainer(config, ds, str(tmp_path / "straight"))
    history = straight.fit()
    assert [h["step"] for h in history] == [3, 6]

    # Die after step 5: the latest checkpoint is step 4, so step 5 is lost.
    killed = train_lib.Trainer(config, ds, str(tmp_path / "killed"))
    original = train_lib.Trainer.train_step

    def dying_step(self, iterator):
        if int(self.step) == 5:
            raise KeyboardInterrupt("simulated kill -9")
        return original(self, iterator)

    monkeypatch.setattr(train_lib.Trainer, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    monkeypatch.setattr(train_lib.Trainer, "train_step", original)
    del killed

    resumed = train_lib.Trainer(config, ds, str(tmp_path / "killed"))
    assert resumed.restore_latest() == 4
    resumed_history = resumed.fit()
    assert int(resumed.step) == 6
    for a, b in zip(_weights(straight), _weights(resumed), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for a, b in zip(history, resumed_history, strict=True):
        assert a["step"] == b["step"]
        np.testing.assert_allclose(a["auc"], b["auc"], atol=1e-6)
    assert straight.best.latest_checkpoint.endswith(
        os.path.basename(resumed.best.latest_checkpoint)
    )
    with open(tmp_path / "killed" / "history.json") as f:
        assert [h["step"] for h in json.load(f)] == [3, 6]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    ds = red_blue_dataset()
    config = dataclasses.replace(TINY, epochs=1, steps_per_epoch=3, checkpoint_every_steps=100)
    good = train_lib.Trainer(config, ds, str(tmp_path))
    good.fit()
    good_weights = _weights(good)
    # An absurd step size blows the weights up within two steps.
    diverging = dataclasses.replace(config, epochs=3, learning_rate=1e38)
    trainer = train_lib.Trainer(diverging, ds, str(tmp_path))
    with pytest.raises(train_lib.TrainingDivergedError, match=r"(?s)(nan|inf).*ckpt-3"):
        trainer.fit()
    assert int(trainer.step) > 3
    assert trainer.latest.latest_checkpoint.endswith("ckpt-3")
    fresh = train_lib.Trainer(config, ds, str(tmp_path))
    assert fresh.restore_latest() == 3
    for a, b in zip(good_weights, _weights(fresh), strict=True):
        np.testing.assert_array_equal(a, b)


def test_validation_schedule_and_one_embedding_pass_per_weights(tmp_path, monkeypatch):
    ds = red_blue_dataset()
    # Every 2 epochs and after the last: epochs 2 and 3.
    config = dataclasses.replace(TINY, epochs=3, steps_per_epoch=2, eval_every_epochs=2)
    passes = []
    item_dataset = train_lib.pipeline.item_dataset
    monkeypatch.setattr(
        train_lib.pipeline,
        "item_dataset",
        lambda *a, **k: passes.append(1) or item_dataset(*a, **k),
    )
    result = train_lib.train_and_evaluate(config, ds, str(tmp_path), export=False)
    assert [h["epoch"] for h in result["history"]] == [2, 3]
    assert result["eval_every_epochs"] == 2
    best = max(result["history"], key=lambda h: h["auc"])
    # The final validation figures are the best epoch's, and the catalogue
    # was embedded once per evaluated epoch, plus once more only if the best
    # checkpoint is not the last one evaluated.
    assert result["validation"]["auc"] == best["auc"]
    assert len(passes) == 2 + (best["epoch"] != 3)

    # The automatic interval: every epoch when a validation pass is cheap
    # next to an epoch's training, every few when the catalogue is large.
    auto = dataclasses.replace(config, eval_every_epochs=0, eval_budget=0.25)
    assert train_eval.eval_interval(auto, ds, steps_per_epoch=1000) == 1
    big = dataclasses.replace(
        ds, num_items=234892, item_ids=np.arange(234892).astype(str), categories=None, images=None
    )
    interval = train_eval.eval_interval(auto, big, steps_per_epoch=20)
    assert interval > 1
    assert train_eval.eval_interval(auto, big, steps_per_epoch=20 * interval) == 1


def test_red_blue_is_learnt_in_a_few_steps(tmp_path):
    ds = red_blue_dataset()
    config = dataclasses.replace(TINY, epochs=3, steps_per_epoch=20, batch_size=16)
    result = train_lib.train_and_evaluate(config, ds, str(tmp_path), export=False)
    # Same-colour items tie under the true scores: the oracle is (30 + 24 / 2) / 54.
    np.testing.assert_allclose(result["oracle"]["auc"], 42 / 54, atol=1e-9)
    assert abs(result["popularity"]["auc"] - 0.5) < 0.1
    assert result["test"]["auc"] > 0.7, result


def test_jit_and_mixed_precision_steps_match_the_plain_step(tmp_path):
    ds = red_blue_dataset()
    plain = train_lib.Trainer(TINY, ds, str(tmp_path / "plain")).run_steps(2)
    jitted = train_lib.Trainer(
        dataclasses.replace(TINY, jit_compile=True), ds, str(tmp_path / "jit")
    ).run_steps(2)
    mixed_trainer = train_lib.Trainer(
        dataclasses.replace(TINY, mixed_precision=True), ds, str(tmp_path / "mixed")
    )
    assert mixed_trainer.model.phi.conv_blocks[0][0].compute_dtype == "float16"
    assert mixed_trainer.model.theta.dtype == "float32"
    mixed = mixed_trainer.run_steps(2)
    for a, b, c in zip(plain, jitted, mixed, strict=True):
        np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-4)
        np.testing.assert_allclose(c["loss"], a["loss"], rtol=1e-2)


def test_binary_writes_config_and_ends_with_one_json_line(tmp_path):
    workdir = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "dvbpr_tf.train",
            "--dataset=synthetic_fashion/tiny",
            f"--workdir={workdir}",
            "--epochs=1",
            "--steps_per_epoch=2",
            "--batch_size=16",
            "--embedding_dim=4",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["dataset"] == "synthetic_fashion/tiny" and result["preset"] == "small"
    for key in ("auc", "auc_cold", "auc_sampled100"):
        assert 0.0 <= result["test"][key] <= 1.0
    assert result["oracle"]["auc"] > result["popularity"]["auc"]
    assert result["epochs"] == 1 and result["wall_seconds"] > 0
    with open(workdir / "config.json") as f:
        config = json.load(f)
    assert config["dvbpr"]["embedding_dim"] == 4 and config["dvbpr"]["batch_size"] == 16
    assert "embedded dataset" in config["preset_reason"]
    assert "DVBPR preset 'small'" in proc.stderr
    assert (workdir / "export" / "saved_model.pb").exists()
    # The export names the catalogue it was trained on, with the data options of the run.
    with open(workdir / "export" / "catalogue.json") as f:
        catalogue = json.load(f)
    assert catalogue["data_options"] == config["data_options"]
    assert catalogue["dataset"] == "synthetic_fashion/tiny"
    assert "ETA" in proc.stderr
