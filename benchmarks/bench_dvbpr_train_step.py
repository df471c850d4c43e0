r"""DVBPR training step at the paper's configuration, as a fraction of matmul FLOP/s.

    python benchmarks/bench_dvbpr_train_step.py [--batch_size=32] [--rounds=3]

Times, side by side in one process, in alternating rounds:

- ours: the real train step (`dvbpr_tf.train_lib.Trainer.train_step`:
  Siamese CNN-F at 224x224, K = 50, BPR + regularisers, Adam) on a batch
  held in memory;
- plain: the same network and objective written as plain Keras (a
  `keras.Sequential` with `Dropout` layers, `tf.nn.l2_loss` penalties,
  `optimizer.apply`), the reference the issue compares against;
- a dense 2048^2 float32 matmul, before and after each round.

FLOPs are counted analytically (`dvbpr_tf.models.train_flops_per_triplet`).
Each step's FLOP rate is divided by the matmul's of the same round, both
per wall-clock second (`ratio`, the goal's measure, meaningful on an idle
machine) and per CPU-second of this process (`cpu_ratio`, steadier when
other jobs share the CPU). Medians over rounds. Goal: ratio >= 0.8. Ends
with one JSON line.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from common import runtime
from data import preprocess
from dvbpr_tf import benchmark, models, train_lib
from dvbpr_tf import config as config_lib

flags.DEFINE_integer("batch_size", 32, "Triplets per step (the paper trains with 128).")
flags.DEFINE_integer("rounds", 3, "Alternating rounds.")
flags.DEFINE_integer("steps", 1, "Timed steps of each of ours and plain per round.")
flags.DEFINE_string("preset", "paper", "Preset to time.")
FLAGS = flags.FLAGS

GOAL = 0.8
IMAGES = ("pos_image", "neg_image")
MATMUL_N = 2048


def plain_keras_step(config, batch, num_users: int):
    """A plain Keras CNN-F BPR step on `batch` (the reference); returns a blocking callable."""
    layers = [keras.Input((config.image_size, config.image_size, 3))]
    for filters, kernel, stride, pad, pool in models.conv_layer_specs(config):
        same = pad == "same" or (pad and stride == 1)
        if pad and not same:
            layers.append(keras.layers.ZeroPadding2D(pad))
        padding = "same" if same else "valid"
        layers.append(keras.layers.Conv2D(filters, kernel, stride, padding, activation="relu"))
        if pool:
            layers.append(keras.layers.MaxPooling2D(2, 2, padding=config.pool_padding))
    layers.append(keras.layers.Flatten())
    for units in config.fc_units:
        layers += [keras.layers.Dense(units, "relu"), keras.layers.Dropout(config.dropout)]
    net = keras.Sequential([*layers, keras.layers.Dense(config.embedding_dim)])
    theta = keras.Variable(tf.random.uniform([num_users, config.embedding_dim]) / 100)
    variables = [*net.trainable_variables, theta]
    kernels = [v for v in net.trainable_variables if "kernel" in v.path]
    optimizer = keras.optimizers.Adam(config.learning_rate)
    optimizer.build(variables)
    inputs = {k: batch[k] for k in ("user", *IMAGES)}
    scale = 1.0 / config.batch_size

    @tf.function
    def step(b):
        with tf.GradientTape() as tape:
            images = tf.concat([b[k] for k in IMAGES], 0)  # uint8, as ours gets them.
            images = preprocess.preprocess_images(images, config.image_size)
            pos, neg = tf.split(net(images, training=True), 2)
            theta_u = tf.gather(theta, b["user"])
            loss = tf.reduce_mean(tf.nn.softplus(-tf.reduce_sum(theta_u * (pos - neg), -1)))
            loss += config.lambda_theta * tf.nn.l2_loss(theta_u) * scale
            loss += config.weight_decay * tf.add_n([tf.nn.l2_loss(k) for k in kernels]) * scale
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    return lambda: float(step(inputs))


def timed(fn, repeats: int) -> tuple[float, float]:
    """(wall seconds, process CPU seconds) per call of the blocking `fn`."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - wall) / repeats, (time.process_time() - cpu) / repeats


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
    steps = {
        "ours": lambda: float(trainer.train_step(iterator)["loss"]),
        "plain": plain_keras_step(config, batch, ds.num_users),
    }
    a = tf.random.stateless_normal([MATMUL_N, MATMUL_N], [0, 0])
    b = tf.random.stateless_normal([MATMUL_N, MATMUL_N], [0, 1])
    matmul_fn = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)[:1, :1]))
    matmul_flops = 2.0 * MATMUL_N**3
    for fn in [*steps.values(), lambda: matmul_fn(a, b).numpy()]:
        fn()  # Trace and warm up.

    flops = models.train_flops_per_triplet(config) * config.batch_size
    rows = {name: [] for name in steps}
    matmul_rates = []
    progress = runtime.Progress(FLAGS.rounds, "rounds", interval=0.0, prefix="train step")
    for r in range(FLAGS.rounds):
        before = timed(lambda: matmul_fn(a, b).numpy(), 10)
        measured = {name: timed(fn, FLAGS.steps) for name, fn in steps.items()}
        after = timed(lambda: matmul_fn(a, b).numpy(), 10)
        matmul_wall = matmul_flops / ((before[0] + after[0]) / 2)
        matmul_cpu = matmul_flops / ((before[1] + after[1]) / 2)
        matmul_rates.append(matmul_wall)
        for name, (wall, cpu) in measured.items():
            rows[name].append((wall, flops / wall / matmul_wall, flops / cpu / matmul_cpu))
        progress.update(
            r + 1,
            " ".join(f"{n} {rows[n][-1][1]:.2f} (cpu {rows[n][-1][2]:.2f})" for n in rows)
            + f" matmul {matmul_wall / 1e9:.0f} GFLOP/s",
        )
    med = {name: np.median(np.asarray(v), axis=0) for name, v in rows.items()}
    ours = med["ours"]
    sys.stderr.write(
        f"train step {config.preset} {config.image_size}px K={config.embedding_dim} "
        f"batch {config.batch_size}: {ours[0]:.2f} s/step, {config.batch_size / ours[0]:.1f} "
        f"triplets/s -> {ours[1]:.2f} of matmul (cpu {ours[2]:.2f}); plain Keras "
        f"{med['plain'][1]:.2f} (cpu {med['plain'][2]:.2f}) (goal >= {GOAL})\n"
    )
    runtime.emit_result(
        {
            "benchmark": "dvbpr_train_step",
            "preset": config.preset,
            "image_size": config.image_size,
            "embedding_dim": config.embedding_dim,
            "batch_size": config.batch_size,
            "seconds_per_step": float(ours[0]),
            "triplets_per_sec": config.batch_size / float(ours[0]),
            "gflop_per_triplet": models.train_flops_per_triplet(config) / 1e9,
            "ratio": float(ours[1]),
            "matmul_gflops": float(np.median(matmul_rates)) / 1e9,
            "cpu_ratio": float(ours[2]),
            "plain_keras_ratio": float(med["plain"][1]),
            "plain_keras_cpu_ratio": float(med["plain"][2]),
            "ours_over_plain": float(med["plain"][0] / ours[0]),
            "rounds": {
                n: [[round(float(x), 3) for x in row] for row in v] for n, v in rows.items()
            },
            "goal": GOAL,
            "meets_goal": bool(ours[1] >= GOAL),
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
    )


if __name__ == "__main__":
    app.run(main)
