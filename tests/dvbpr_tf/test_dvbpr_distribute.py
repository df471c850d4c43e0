"""tf.distribute: two local workers (MultiWorkerMirroredStrategy) match one device.

The test starts three processes from this file: two workers with TF_CONFIG
on 127.0.0.1, and a reference that runs the same global batches on one
device and on a MirroredStrategy over two logical CPUs. All four runs must
produce the same per-step objective and the same final weights.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np

# The repository root: the workers run this file as a script, so they import
# the project and tests.testlib from there.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 3


def _run(mode: str, out_path: str, workdir: str) -> None:
    """Worker body: train STEPS steps and write per-step terms and a weight digest."""
    import dataclasses

    import tensorflow as tf

    if mode == "reference":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    sys.path.insert(0, ROOT)
    from dvbpr_tf import train_lib
    from tests.testlib.dvbpr import TINY, red_blue_dataset

    ds = red_blue_dataset()
    # Dropout on: its noise must not depend on how the batch is split.
    config = dataclasses.replace(TINY, batch_size=8, dropout=0.5)
    if mode == "reference":
        runs = {
            "default": tf.distribute.get_strategy(),
            "mirrored": tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]),
        }
    else:
        runs = {"multiworker": tf.distribute.MultiWorkerMirroredStrategy()}
    out = {}
    for name, strategy in runs.items():
        trainer = train_lib.Trainer(config, ds, os.path.join(workdir, name), strategy)
        assert trainer.num_replicas == (1 if name == "default" else 2)
        steps = trainer.run_steps(STEPS)
        weights = [np.asarray(v.numpy(), np.float64) for v in trainer.model.weights]
        out[name] = {
            "steps": steps,
            "weight_abs": [float(np.sum(np.abs(w))) for w in weights],
        }
    with open(out_path, "w") as f:
        json.dump(out, f)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_two_workers_match_one_device(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    procs = []
    for index in range(2):
        worker_env = dict(
            env,
            TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}),
        )
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "multiworker",
                    str(tmp_path / f"w{index}.json"),
                    str(tmp_path / f"w{index}"),
                ],
                env=worker_env,
            )
        )
    procs.append(
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "reference",
                str(tmp_path / "ref.json"),
                str(tmp_path / "ref"),
            ],
            env=env,
        )
    )
    try:
        codes = [p.wait(timeout=400) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    assert codes == [0, 0, 0]

    results = {}
    with open(tmp_path / "ref.json") as f:
        results.update(json.load(f))
    for index in range(2):
        with open(tmp_path / f"w{index}.json") as f:
            results[f"worker{index}"] = json.load(f)["multiworker"]
    ref = results["default"]
    assert all(np.isfinite(s["loss"]) for s in ref["steps"])
    for name in ("mirrored", "worker0", "worker1"):
        for a, b in zip(ref["steps"], results[name]["steps"], strict=True):
            for key in ("loss", "bpr", "reg_theta", "reg_cnn"):
                np.testing.assert_allclose(b[key], a[key], rtol=1e-5, err_msg=f"{name} {key}")
        # full8's bias cancels in x_ui - x_uj, so its gradient is rounding
        # noise that Adam turns into lr-sized steps: hence the atol.
        np.testing.assert_allclose(
            results[name]["weight_abs"], ref["weight_abs"], rtol=1e-4, atol=1e-4
        )
    # The weights moved: the steps were real updates.
    assert ref["steps"][0]["loss"] != ref["steps"][-1]["loss"]


if __name__ == "__main__":
    _run(*sys.argv[1:4])
