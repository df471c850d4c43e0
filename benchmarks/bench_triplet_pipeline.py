r"""Benchmark: BPR triplet pipeline rate from JPEG bytes, in triplets/s.

Builds, in process, a catalogue of smooth random 256x256 JPEGs (no
dataset files needed) and random interactions, then times
`data.pipeline.triplet_dataset` after a warm-up:

- `triplets_per_s`: at --image_size (224) decoding both images of every
  triplet on the fly (the store's decoded budget forced to 0), as on a
  catalogue too large to hold decoded (the paper's 234K images);
- `decoded_triplets_per_s`: the catalogue held decoded in memory at
  --decoded_image_size (64), for reference;
- `sampling_triplets_per_s`: triplet indices only (`with_images=False`).

    python benchmarks/bench_triplet_pipeline.py [--steps=20] [--workdir=DIR]

Ends with one JSON line on stdout. Numbers depend on the CPU load of
whatever else runs on the machine.
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf
from absl import app, flags, logging

from common.runtime import Progress, emit_result, write_config
from data import pipeline
from data.core import ItemImages, RecDataset, as_str_ids, sort_rows

flags.DEFINE_integer("num_items", 2000, "Catalogue size (JPEG images).")
flags.DEFINE_integer("num_users", 5000, "Users, each with 5-15 training items.")
flags.DEFINE_integer("source_size", 256, "Height and width of the encoded JPEGs.")
flags.DEFINE_integer("image_size", 224, "Model input size for the on-the-fly path.")
flags.DEFINE_integer("decoded_image_size", 64, "Input size for the decoded-in-memory path.")
flags.DEFINE_integer("batch_size", 128, "Triplets per batch.")
flags.DEFINE_integer("steps", 20, "Timed batches per measurement.")
flags.DEFINE_integer("warmup", 3, "Untimed batches before each measurement.")
flags.DEFINE_integer("seed", 0, "Seed of the catalogue, the interactions and the sampler.")
flags.DEFINE_string("workdir", None, "If set, the resolved config is written here.")

FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What was measured; see the flags for each field."""

    num_items: int = 2000
    num_users: int = 5000
    source_size: int = 256
    image_size: int = 224
    decoded_image_size: int = 64
    batch_size: int = 128
    steps: int = 20
    warmup: int = 3
    seed: int = 0


def make_catalogue(config: BenchConfig) -> RecDataset:
    """Smooth random JPEGs (product-photo-like sizes) and random interactions."""
    rng = np.random.default_rng(config.seed)
    size = config.source_size
    encoded = []
    progress = Progress(config.num_items, "JPEGs", prefix="encoding")
    for start in range(0, config.num_items, 100):
        n = min(100, config.num_items - start)
        # Coarse colour blobs plus finer texture: JPEGs of a realistic size.
        coarse = tf.image.resize(rng.uniform(0, 255, (n, 4, 4, 3)), [size, size], "bicubic")
        fine = tf.image.resize(rng.uniform(-40, 40, (n, 32, 32, 3)), [size, size], "bilinear")
        images = tf.cast(tf.clip_by_value(coarse + fine, 0, 255), tf.uint8)
        encoded += [tf.io.encode_jpeg(image, quality=90).numpy() for image in images]
        progress.update(len(encoded))
    counts = rng.integers(5, 16, config.num_users)
    users = np.repeat(np.arange(config.num_users), counts)
    items = rng.integers(0, config.num_items, len(users))
    train = sort_rows(np.unique(np.stack([users, items], 1), axis=0))
    empty = np.zeros((0, 2), np.int64)
    return RecDataset(
        name="bench_jpeg",
        num_users=config.num_users,
        num_items=config.num_items,
        train=train,
        validation=empty,
        test=empty,
        item_ids=as_str_ids(range(config.num_items)),
        user_ids=as_str_ids(range(config.num_users)),
        images=ItemImages(encoded=np.asarray(encoded, dtype=object)),
    )


def measure(dataset: tf.data.Dataset, config: BenchConfig, label: str) -> tuple[float, float]:
    """Triplets per wall-clock second and per CPU-second of this process.

    The machine may be shared: the CPU-second rate is what the pipeline costs,
    the wall-clock rate what it delivered under the load at the time.
    """
    iterator = iter(dataset)
    for _ in range(config.warmup):
        next(iterator)
    progress = Progress(config.steps, "batches", prefix=label)
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(config.steps):
        next(iterator)
        progress.update(step + 1)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    triplets = config.steps * config.batch_size
    logging.info(
        "%s: %.1f triplets/s, %.1f triplets per CPU-second",
        label,
        triplets / elapsed,
        triplets / cpu,
    )
    return triplets / elapsed, triplets / cpu


def main(argv):
    del argv
    config = BenchConfig(
        **{f.name: getattr(FLAGS, f.name) for f in dataclasses.fields(BenchConfig)}
    )
    if FLAGS.workdir:
        write_config(FLAGS.workdir, config)
    ds = make_catalogue(config)
    jpeg_kb = ds.images.nbytes / len(ds.images) / 1024

    on_the_fly = pipeline.ImageStore(ds.images, config.image_size, decoded_budget_bytes=0)
    rate, rate_cpu = measure(
        pipeline.triplet_dataset(
            ds, config.image_size, config.batch_size, config.seed, store=on_the_fly
        ),
        config,
        f"jpeg->{config.image_size}",
    )

    start = time.perf_counter()
    decoded = pipeline.ImageStore(ds.images, config.decoded_image_size)
    decode_once_s = time.perf_counter() - start
    decoded_rate, _ = measure(
        pipeline.triplet_dataset(
            ds, config.decoded_image_size, config.batch_size, config.seed, store=decoded
        ),
        config,
        f"decoded@{config.decoded_image_size}",
    )
    sampling_rate, _ = measure(
        pipeline.triplet_dataset(
            ds, config.image_size, config.batch_size, config.seed, with_images=False
        ),
        config,
        "sampling only",
    )
    emit_result(
        {
            "benchmark": "triplet_pipeline",
            "image_size": config.image_size,
            "source": f"{config.num_items} JPEGs {config.source_size}x{config.source_size}",
            "mean_jpeg_kb": round(jpeg_kb, 1),
            "batch_size": config.batch_size,
            "triplets_per_s": round(rate, 1),
            "triplets_per_cpu_s": round(rate_cpu, 1),
            "decoded_image_size": config.decoded_image_size,
            "decoded_triplets_per_s": round(decoded_rate, 1),
            "decode_once_s": round(decode_once_s, 2),
            "sampling_triplets_per_s": round(sampling_rate, 1),
            "cpu_count": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
    )


if __name__ == "__main__":
    app.run(main)
