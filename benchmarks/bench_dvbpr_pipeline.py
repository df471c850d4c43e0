r"""End-to-end DVBPR training rate from JPEG bytes vs from tensors in memory.

    python benchmarks/bench_dvbpr_pipeline.py [--preset=paper] [--batch_size=16]

The catalogue is held as JPEG bytes (300x300, like product photos) in an
`ImageStore` over its memory budget, as for the paper's datasets (which do
not fit in memory decoded at 224x224), in two modes: "encoded" (every step
samples triplets and decodes and resizes 2B JPEGs in the tf.data pipeline
while the previous step trains) and "cached" (decoded once into a
memory-mapped file, what `Trainer(image_cache_dir=...)` uses). The
reference feeds the same train step one batch held in memory. Goal: the
JPEG rate is >= 0.9 of the in-memory rate. Ends with one JSON line.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile

import numpy as np
import tensorflow as tf
from absl import app, flags

from common import runtime
from data import image_store
from data.core import ItemImages
from dvbpr_tf import benchmark, train_lib
from dvbpr_tf import config as config_lib

flags.DEFINE_string("preset", "paper", "Preset to time.")
flags.DEFINE_integer("batch_size", 16, "Triplets per step.")
flags.DEFINE_integer("steps", 4, "Timed steps per mode.")
flags.DEFINE_integer("num_items", 256, "JPEG catalogue size.")
FLAGS = flags.FLAGS

GOAL = 0.9


def jpeg_catalogue(num_items: int, size: int = 300, seed: int = 0) -> np.ndarray:
    """[num_items] object array of JPEG bytes: smooth colour fields with some texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = []
    for _ in range(num_items):
        c = rng.uniform(0, 255, (3, 3))
        img = c[0] * xx[..., None] + c[1] * yy[..., None] + c[2] * (xx * yy)[..., None]
        img = img / 3 + rng.normal(0, 12, (size, size, 3))
        pixels = np.clip(img, 0, 255).astype(np.uint8)
        out.append(tf.io.encode_jpeg(pixels, quality=90).numpy())
    return np.array(out, dtype=object)


def main(argv):
    del argv
    config = dataclasses.replace(config_lib.get_preset(FLAGS.preset), batch_size=FLAGS.batch_size)
    base = benchmark.random_dataset(200, FLAGS.num_items, 8)
    ds = dataclasses.replace(base, images=ItemImages(encoded=jpeg_catalogue(FLAGS.num_items)))
    trainer = train_lib.Trainer(config, ds, "/tmp/bench_dvbpr_pipeline_unused")
    trainer.store = image_store.ImageStore(ds.images, config.image_size, decoded_budget_bytes=0)
    assert trainer.store.mode == "encoded"
    jpeg_iter = trainer.make_iterator(0)
    cache_dir = tempfile.TemporaryDirectory(prefix="bench_dvbpr_pipeline_")
    trainer.store = image_store.ImageStore(
        ds.images, config.image_size, decoded_budget_bytes=0, cache_dir=cache_dir.name
    )
    cached_iter = trainer.make_iterator(0)
    batch = next(iter(trainer._input_fn(0)(tf.distribute.InputContext())))
    memory_iter = iter(
        trainer.strategy.experimental_distribute_dataset(
            tf.data.Dataset.from_tensors(batch).repeat()
        )
    )

    def run(iterator):
        return lambda: float(trainer.train_step(iterator)["loss"])

    # Interleave the two modes so that load changes hit both alike.
    memory, jpeg, cached = [], [], []
    for _ in range(2):
        memory.append(benchmark.timed(run(memory_iter), FLAGS.steps // 2, warmup=1))
        jpeg.append(benchmark.timed(run(jpeg_iter), FLAGS.steps // 2, warmup=1))
        cached.append(benchmark.timed(run(cached_iter), FLAGS.steps // 2, warmup=1))
    cache_dir.cleanup()
    memory_rate = config.batch_size / np.mean(memory)
    jpeg_rate = config.batch_size / np.mean(jpeg)
    cached_rate = config.batch_size / np.mean(cached)
    ratio = jpeg_rate / memory_rate
    sys.stderr.write(
        f"{config.preset} batch {config.batch_size}: JPEG pipeline {jpeg_rate:.2f} triplets/s, "
        f"cached {cached_rate:.2f}, in memory {memory_rate:.2f} triplets/s -> {ratio:.2f} "
        f"(goal >= {GOAL})\n"
    )
    runtime.emit_result(
        {
            "benchmark": "dvbpr_pipeline",
            "preset": config.preset,
            "batch_size": config.batch_size,
            "store_mode": "encoded",
            "jpeg_triplets_per_sec": jpeg_rate,
            "cached_triplets_per_sec": cached_rate,
            "cached_ratio": cached_rate / memory_rate,
            "memory_triplets_per_sec": memory_rate,
            "ratio": ratio,
            "goal": GOAL,
            "meets_goal": ratio >= GOAL,
        }
    )


if __name__ == "__main__":
    app.run(main)
