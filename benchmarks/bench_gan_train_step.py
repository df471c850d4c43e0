r"""GAN training steps per second, presets side by side in alternating rounds.

    python benchmarks/bench_gan_train_step.py \
        [--presets=tuned32_stddev_fastd_s1all,tuned32_stddev_fastd_s1all_stem] \
        [--channels=1] [--num_categories=3] [--rounds=5] [--steps=50]

Times `gan_tf.train_lib.Trainer.train_step` (one D and one G update, the
weight average of G included) on one batch of random images held in
memory, so the input pipeline is not timed. The presets take turns within
each round, so that a machine whose speed drifts (other jobs, clocks)
affects them alike, and a dense 2048^2 float32 matmul is timed each round
as the machine's own reference rate. Also printed: each preset's
multiply-adds per image in G and in D (forward pass, convolutions and
dense layers), counted from the built Keras models, and the minutes a run
of --run_steps would take at the median rate (steps only: no input
pipeline, checkpoints or export). Medians over rounds. Ends with one JSON
line.

The defaults compare the Fashion-MNIST default before and after D's
full-size stem (1 channel, 3 categories, 32 px, batch 64).
"""

from __future__ import annotations

import dataclasses
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from common import runtime
from dvbpr_tf import benchmark
from gan_tf import config as gan_config
from gan_tf import train_lib

flags.DEFINE_list(
    "presets",
    ["tuned32_stddev_fastd_s1all", "tuned32_stddev_fastd_s1all_stem"],
    "GAN presets to time (gan_tf.config.PRESETS).",
)
flags.DEFINE_integer("channels", 1, "Image channels (1: Fashion-MNIST, 3: colour catalogues).")
flags.DEFINE_integer("num_categories", 3, "Categories G and D are conditioned on.")
flags.DEFINE_integer("rounds", 5, "Alternating rounds.")
flags.DEFINE_integer("steps", 50, "Timed train steps of each preset per round.")
flags.DEFINE_integer(
    "run_steps", 11_160, "A run's length for `run_minutes` (11,160: Fashion-MNIST's 90 epochs)."
)
FLAGS = flags.FLAGS

MATMUL_N = 2048


def multiply_adds(model: keras.Model) -> int:
    """Forward multiply-adds per image of a model's convolutions and dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose):
            # Each output position reads the whole kernel once.
            _, height, width, _ = layer.output.shape
            total += int(np.prod(layer.kernel.shape)) * height * width
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def main(argv):
    del argv
    trainers, batches = {}, {}
    for name in FLAGS.presets:
        config = dataclasses.replace(
            gan_config.preset(name),
            channels=FLAGS.channels,
            num_categories=FLAGS.num_categories,
            category_names=tuple(f"c{k}" for k in range(FLAGS.num_categories)),
        )
        trainers[name] = train_lib.Trainer(config)
        shape = [config.batch_size, config.resolution, config.resolution, config.channels]
        batches[name] = (
            tf.random.stateless_uniform(shape, [0, 0], -1.0, 1.0),
            tf.random.stateless_uniform(
                [config.batch_size], [0, 1], 0, FLAGS.num_categories, tf.int32
            ),
        )
        # Trace, then warm up: the first few steps after tracing run several times slower
        # (seen at 64 px: 2.4 steps/s over a round's first 3 steps, 12 over 40).
        for _ in range(5):
            float(trainers[name].train_step(*batches[name])["d_loss"])

    rates = {name: [] for name in FLAGS.presets}
    matmul_rates = []
    progress = runtime.Progress(FLAGS.rounds, "rounds", interval=0.0, prefix="gan train step")
    for r in range(FLAGS.rounds):
        matmul_rates.append(benchmark.matmul_flop_rate(MATMUL_N, repeats=5))
        for name, trainer in trainers.items():
            start = time.perf_counter()
            for _ in range(FLAGS.steps):
                out = trainer.train_step(*batches[name])
            float(out["d_loss"])  # Wait for the last step.
            rates[name].append(FLAGS.steps / (time.perf_counter() - start))
        progress.update(
            r + 1,
            " ".join(f"{n} {v[-1]:.2f} steps/s" for n, v in rates.items())
            + f" matmul {matmul_rates[-1] / 1e9:.0f} GFLOP/s",
        )

    presets = {}
    for name, trainer in trainers.items():
        steps_per_second = float(np.median(rates[name]))
        presets[name] = {
            "steps_per_second": steps_per_second,
            "steps_per_second_rounds": [round(v, 3) for v in rates[name]],
            "batch_size": trainer.config.batch_size,
            "resolution": trainer.config.resolution,
            "g_multiply_adds_per_image": multiply_adds(trainer.generator),
            "d_multiply_adds_per_image": multiply_adds(trainer.discriminator),
            "run_minutes": FLAGS.run_steps / steps_per_second / 60,
        }
        sys.stderr.write(
            f"{name}: {steps_per_second:.2f} steps/s (median of {FLAGS.rounds} rounds); "
            f"G {presets[name]['g_multiply_adds_per_image'] / 1e6:.1f} M, "
            f"D {presets[name]['d_multiply_adds_per_image'] / 1e6:.1f} M multiply-adds per image\n"
        )
    runtime.emit_result(
        {
            "benchmark": "gan_train_step",
            "channels": FLAGS.channels,
            "num_categories": FLAGS.num_categories,
            "rounds": FLAGS.rounds,
            "steps_per_round": FLAGS.steps,
            "matmul_gflops": float(np.median(matmul_rates)) / 1e9,
            "presets": presets,
        }
    )


if __name__ == "__main__":
    app.run(main)
