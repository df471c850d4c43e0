r"""Benchmark: BPR triplet pipeline rate from JPEG bytes vs the authors' loader.

Builds, in process, a catalogue of smooth random 256x256 JPEGs (no
dataset files needed) and random interactions, then times, on the same
bytes and in the same process, after a warm-up:

- `release_triplets_per_s`: the reference, our port of the authors'
  loader (`DVBPR/main.py` of the release): 4 Python threads, each samples
  a triplet, decodes both JPEGs with PIL, `.convert('RGB').resize((S, S))`
  with Pillow's 2017 default filter (NEAREST), and queues them; the
  consumer takes batches off the queue (`dequeue_many`);
- `triplets_per_s`: `data.pipeline.triplet_dataset` at --image_size (224)
  decoding both images of every triplet on the fly (store mode
  "encoded"), as on a catalogue too large to hold decoded with no cache;
- `cached_triplets_per_s`: the catalogue decoded once at --image_size into
  a memory-mapped file (store mode "cached", what a catalogue of the
  paper's size uses), and `cached_decode_once_s`, the one-off cost;
- `decoded_triplets_per_s`: the same held in memory (mode "decoded",
  what a catalogue within the memory budget uses);
- `sampling_triplets_per_s`: triplet indices only (`with_images=False`).

`*_first_epoch_triplets_per_s` charge the one-off decode to the first
epoch (one triplet per training interaction, as the authors' code counts
an epoch). `speedup_vs_release` is the cached store's steady rate over
the release's; the goal is >= 2. The measurements alternate over
--rounds so that load changes hit every path alike.

    python benchmarks/bench_triplet_pipeline.py [--steps=20] [--workdir=DIR]

Ends with one JSON line on stdout. Numbers depend on the CPU load of
whatever else runs on the machine.
"""

from __future__ import annotations

import dataclasses
import io
import os
import queue
import random
import tempfile
import threading
import time

import numpy as np
import tensorflow as tf
from absl import app, flags, logging
from PIL import Image

from common import config_flags
from common.runtime import Progress, emit_result, write_config
from data import image_store, pipeline
from data.core import ItemImages, RecDataset, as_str_ids, sort_rows


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What was measured (each field is the flag of its name).

    Attributes:
      num_items: Catalogue size (JPEG images).
      num_users: Users, each with 5-15 training items.
      source_size: Height and width of the encoded JPEGs.
      image_size: Model input size for the on-the-fly path.
      batch_size: Triplets per batch.
      steps: Timed batches per measurement.
      warmup: Untimed batches before each measurement.
      rounds: Alternating rounds over all the paths.
      release_threads: Loader threads of the release (its numldprocess).
      seed: Seed of the catalogue, the interactions and the sampler.
    """

    num_items: int = 2000
    num_users: int = 5000
    source_size: int = 256
    image_size: int = 224
    batch_size: int = 128
    steps: int = 20
    warmup: int = 3
    rounds: int = 2
    release_threads: int = 4
    seed: int = 0


BENCH_FLAGS = config_flags.define_flags(
    BenchConfig, [f.name for f in dataclasses.fields(BenchConfig)], defaults=BenchConfig()
)
flags.DEFINE_string("workdir", None, "If set, the resolved config is written here.")

FLAGS = flags.FLAGS


GOAL = 2.0


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


class ReleaseLoader:
    """Our port of the authors' training loader (the reference to beat).

    As in the release: `threads` Python threads, each in a loop samples a
    triplet (user uniform, positive uniform among the user's items,
    negative redrawn while the user owns it), decodes both images with PIL
    (`Image.open(...).convert('RGB').resize((S, S))`, NEAREST being
    Pillow's default in 2017) and puts them in a bounded queue (5 batches,
    the release's FIFOQueue); `next` takes one batch off it and stacks it.

    Args:
      ds: the catalogue (encoded images).
      image_size: S.
      batch_size: triplets per batch.
      threads: loader threads.
      seed: seeds each thread's `random.Random`.
    """

    def __init__(self, ds: RecDataset, image_size: int, batch_size: int, threads: int, seed: int):
        indptr, indices = ds.train_csr()
        self._owned = [
            set(indices[indptr[u] : indptr[u + 1]].tolist()) for u in range(ds.num_users)
        ]
        self._items_of = [indices[indptr[u] : indptr[u + 1]].tolist() for u in range(ds.num_users)]
        self._users = [u for u in range(ds.num_users) if self._items_of[u]]
        self._blobs = ds.images.encoded
        self._num_items = ds.num_items
        self._size = (image_size, image_size)
        self.batch_size = batch_size
        self._queue = queue.Queue(maxsize=5 * batch_size)
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._load, args=(seed * 1000 + k,), daemon=True)
            for k in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def _image(self, item: int) -> np.ndarray:
        picture = Image.open(io.BytesIO(self._blobs[item])).convert("RGB")
        return np.asarray(picture.resize(self._size, Image.NEAREST), np.uint8)

    def _load(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop.is_set():
            user = self._users[rng.randrange(len(self._users))]
            pos = self._items_of[user][rng.randrange(len(self._items_of[user]))]
            neg = rng.randrange(self._num_items)
            while neg in self._owned[user]:
                neg = rng.randrange(self._num_items)
            triplet = (user, pos, neg, self._image(pos), self._image(neg))
            while not self._stop.is_set():
                try:
                    self._queue.put(triplet, timeout=0.1)
                    break
                except queue.Full:
                    continue

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        rows = [self._queue.get() for _ in range(self.batch_size)]
        user, pos, neg, pos_image, neg_image = zip(*rows, strict=True)
        return {
            "user": np.asarray(user, np.int32),
            "pos_item": np.asarray(pos, np.int32),
            "neg_item": np.asarray(neg, np.int32),
            "pos_image": np.stack(pos_image),
            "neg_image": np.stack(neg_image),
        }

    def close(self) -> None:
        """Stops and joins the loader threads."""
        self._stop.set()
        for thread in self._threads:
            thread.join()


def measure(iterator, config: BenchConfig, label: str) -> tuple[float, float]:
    """Triplets per wall-clock second and per CPU-second of this process.

    Args:
      iterator: yields batches of `config.batch_size` triplets.

    The machine may be shared: the CPU-second rate is what the pipeline costs,
    the wall-clock rate what it delivered under the load at the time.
    """
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


def first_epoch_rate(rate: float, decode_once_s: float, epoch_triplets: int) -> float:
    """Triplets/s over the first epoch when the catalogue is decoded once before it."""
    return epoch_triplets / (decode_once_s + epoch_triplets / rate)


def main(argv):
    del argv
    config = config_flags.resolve(BenchConfig(), BENCH_FLAGS.values())
    if FLAGS.workdir:
        write_config(FLAGS.workdir, config)
    ds = make_catalogue(config)
    jpeg_kb = ds.images.nbytes / len(ds.images) / 1024
    size, batch = config.image_size, config.batch_size

    def triplets(store):
        # uint8, as the trainer consumes them and the release's loader queues them.
        return iter(
            pipeline.triplet_dataset(ds, size, batch, config.seed, store=store, uint8_images=True)
        )

    with tempfile.TemporaryDirectory(prefix="bench_triplet_cache_") as cache_dir:
        start = time.perf_counter()
        cached = image_store.ImageStore(
            ds.images, size, decoded_budget_bytes=0, cache_dir=cache_dir
        )
        cached_once_s = time.perf_counter() - start
        start = time.perf_counter()
        decoded = image_store.ImageStore(ds.images, size, decoded_budget_bytes=1 << 40)
        decoded_once_s = time.perf_counter() - start
        on_the_fly = image_store.ImageStore(ds.images, size, decoded_budget_bytes=0)
        assert (cached.mode, decoded.mode, on_the_fly.mode) == ("cached", "decoded", "encoded")
        paths = {
            "release": None,
            "encoded": triplets(on_the_fly),
            "cached": triplets(cached),
            "decoded": triplets(decoded),
            "sampling": iter(
                pipeline.triplet_dataset(ds, size, batch, config.seed, with_images=False)
            ),
        }
        rates = {name: [] for name in paths}
        cpu_rates = {name: [] for name in paths}
        for _ in range(config.rounds):
            for name, iterator in paths.items():
                release = None
                if name == "release":
                    # Started per round, so its threads do not compete with the others.
                    release = ReleaseLoader(ds, size, batch, config.release_threads, config.seed)
                    iterator = release
                rate, rate_cpu = measure(iterator, config, f"{name}@{size}")
                if release is not None:
                    release.close()
                rates[name].append(rate)
                cpu_rates[name].append(rate_cpu)
    rate = {name: float(np.mean(r)) for name, r in rates.items()}
    epoch = len(ds.train)
    speedup = rate["cached"] / rate["release"]
    logging.info(
        "release %.0f, encoded %.0f, cached %.0f, decoded %.0f triplets/s: cached/release %.2f",
        rate["release"],
        rate["encoded"],
        rate["cached"],
        rate["decoded"],
        speedup,
    )
    emit_result(
        {
            "benchmark": "triplet_pipeline",
            "image_size": size,
            "source": f"{config.num_items} JPEGs {config.source_size}x{config.source_size}",
            "mean_jpeg_kb": round(jpeg_kb, 1),
            "batch_size": batch,
            "release_triplets_per_s": round(rate["release"], 1),
            "release_triplets_per_cpu_s": round(float(np.mean(cpu_rates["release"])), 1),
            "triplets_per_s": round(rate["encoded"], 1),
            "triplets_per_cpu_s": round(float(np.mean(cpu_rates["encoded"])), 1),
            "cached_triplets_per_s": round(rate["cached"], 1),
            "cached_decode_once_s": round(cached_once_s, 2),
            "cached_first_epoch_triplets_per_s": round(
                first_epoch_rate(rate["cached"], cached_once_s, epoch), 1
            ),
            "decoded_triplets_per_s": round(rate["decoded"], 1),
            "decoded_decode_once_s": round(decoded_once_s, 2),
            "decoded_first_epoch_triplets_per_s": round(
                first_epoch_rate(rate["decoded"], decoded_once_s, epoch), 1
            ),
            "sampling_triplets_per_s": round(rate["sampling"], 1),
            "epoch_triplets": epoch,
            "rounds": {name: [round(r, 1) for r in r_] for name, r_ in rates.items()},
            "speedup_vs_release": round(speedup, 2),
            "encoded_speedup_vs_release": round(rate["encoded"] / rate["release"], 2),
            "goal": GOAL,
            "meets_goal": speedup >= GOAL,
            "cpu_count": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
    )


if __name__ == "__main__":
    app.run(main)
