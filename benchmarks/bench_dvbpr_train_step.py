r"""DVBPR training step at the paper's configuration, as a fraction of matmul FLOP/s.

    python benchmarks/bench_dvbpr_train_step.py [--batch_size=32] [--steps=3]

Runs the real train step (`dvbpr_tf.train_lib.Trainer.train_step`: Siamese
CNN-F at 224x224, K = 50, BPR + regularisers, Adam) on batches held in
memory, counts its FLOPs analytically (`dvbpr_tf.models.
train_flops_per_triplet`), and divides the achieved FLOP/s by the dense
float32 matmul FLOP/s measured in the same process (before and after).
Goal on the 2-core CPU: >= 0.6. Ends with one JSON line.
"""

from __future__ import annotations

import dataclasses
import sys

import tensorflow as tf
from absl import app, flags

from common import runtime
from dvbpr_tf import benchmark, models, train_lib
from dvbpr_tf import config as config_lib

flags.DEFINE_integer("batch_size", 32, "Triplets per step (the paper trains with 128).")
flags.DEFINE_integer("steps", 3, "Timed steps.")
flags.DEFINE_string("preset", "paper", "Preset to time.")
FLAGS = flags.FLAGS

GOAL = 0.6


def main(argv):
    del argv
    config = dataclasses.replace(config_lib.get_preset(FLAGS.preset), batch_size=FLAGS.batch_size)
    ds = benchmark.random_dataset(200, 64, config.image_size)
    trainer = train_lib.Trainer(config, ds, "/tmp/bench_dvbpr_train_step_unused")
    # One real batch from the pipeline, then served from memory: this
    # benchmark times the step, not the input pipeline.
    batch = next(iter(trainer._input_fn(0)(tf.distribute.InputContext())))
    iterator = iter(
        trainer.strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensors(batch).repeat()
        )
    )

    def step():
        float(trainer.train_step(iterator)["loss"])

    flops = models.train_flops_per_triplet(config) * config.batch_size
    m = benchmark.fraction_of_matmul(step, flops, FLAGS.steps, warmup=1)
    sys.stderr.write(
        f"train step {config.preset} {config.image_size}px K={config.embedding_dim} "
        f"batch {config.batch_size}: {m['seconds']:.2f} s/step, "
        f"{config.batch_size / m['seconds']:.1f} triplets/s, {m['achieved_gflops']:.1f} GFLOP/s "
        f"vs matmul {m['matmul_gflops']:.1f} GFLOP/s -> {m['ratio']:.2f} (goal >= {GOAL})\n"
    )
    runtime.emit_result(
        {
            "benchmark": "dvbpr_train_step",
            "preset": config.preset,
            "image_size": config.image_size,
            "embedding_dim": config.embedding_dim,
            "batch_size": config.batch_size,
            "seconds_per_step": m["seconds"],
            "triplets_per_sec": config.batch_size / m["seconds"],
            "gflop_per_triplet": models.train_flops_per_triplet(config) / 1e9,
            **m,
            "goal": GOAL,
            "meets_goal": m["ratio"] >= GOAL,
        }
    )


if __name__ == "__main__":
    app.run(main)
