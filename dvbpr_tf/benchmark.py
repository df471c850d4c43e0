"""Timing helpers shared by the DVBPR benchmarks (benchmarks/bench_dvbpr_*.py).

Rates on a shared CPU drift with the load of other processes, so every
benchmark measures its reference (a dense float32 matmul) in the same
process, just before and just after its own measurement, and reports the
ratio.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import tensorflow as tf

from data.core import ItemImages, RecDataset, as_str_ids, sort_rows


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> float:
    """Seconds per call of `fn` (mean over `repeats` after `warmup` calls).

    `fn` must block until its work is done (e.g. end in `.numpy()`).
    """
    for _ in range(warmup):
        fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def matmul_flop_rate(n: int = 2048, repeats: int = 10) -> float:
    """FLOP/s of an n x n x n float32 matmul in a tf.function (2 n^3 FLOPs)."""
    a = tf.random.stateless_normal([n, n], [0, 0])
    b = tf.random.stateless_normal([n, n], [0, 1])
    matmul = tf.function(lambda a, b: tf.reduce_sum(tf.matmul(a, b)[:1, :1]))
    return 2.0 * n**3 / timed(lambda: matmul(a, b).numpy(), repeats, warmup=2)


def fraction_of_matmul(
    fn: Callable[[], object], flops: float, repeats: int, warmup: int = 0
) -> dict:
    """Times `fn` between two matmul references and compares FLOP rates.

    Args:
      fn: blocking call doing `flops` floating-point operations.
      flops: FLOPs of one call (counted analytically).
      repeats: timed calls.
      warmup: untimed calls first.

    Returns:
      dict with seconds (per call), achieved_gflops, matmul_gflops (mean of
      the references just before and just after), matmul_gflops_before_after
      and ratio (achieved / matmul).
    """
    before = matmul_flop_rate()
    seconds = timed(fn, repeats, warmup=warmup)
    after = matmul_flop_rate()
    matmul = (before + after) / 2
    achieved = flops / seconds
    return dict(
        seconds=seconds,
        achieved_gflops=achieved / 1e9,
        matmul_gflops=matmul / 1e9,
        matmul_gflops_before_after=[before / 1e9, after / 1e9],
        ratio=achieved / matmul,
    )


def cpu_share(fn: Callable[[], object]) -> tuple[float, float]:
    """Runs `fn` once; returns (wall seconds, process CPU seconds / wall seconds)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu / max(wall, 1e-9)


def random_dataset(
    num_users: int, num_items: int, image_size: int, seed: int = 0, with_images: bool = True
) -> RecDataset:
    """Users with 5 random train items, 1 validation and 1 test item; noise images.

    Args:
      num_users: users.
      num_items: items (at least 7).
      image_size: side of the [num_items, S, S, 3] uint8 noise images.
      seed: NumPy seed.
      with_images: False gives an interaction-only dataset.
    """
    rng = np.random.default_rng(seed)
    items = _distinct_items(rng, num_users, num_items)
    users = np.repeat(np.arange(num_users), 7).reshape(num_users, 7)
    rows = np.stack([users, items], -1)
    images = None
    if with_images:
        pixels = rng.integers(0, 256, (num_items, image_size, image_size, 3), dtype=np.uint8)
        images = ItemImages(pixels=pixels)
    return RecDataset(
        name="bench_random",
        num_users=num_users,
        num_items=num_items,
        train=sort_rows(rows[:, :5].reshape(-1, 2)),
        validation=sort_rows(rows[:, 5]),
        test=sort_rows(rows[:, 6]),
        item_ids=as_str_ids(range(num_items)),
        user_ids=as_str_ids(range(num_users)),
        images=images,
    )


def _distinct_items(rng, num_users: int, num_items: int) -> np.ndarray:
    """[num_users, 7] items, distinct within each row (redraws the few collisions)."""
    items = rng.integers(0, num_items, (num_users, 7))
    while True:
        s = np.sort(items, axis=1)
        dup = np.any(s[:, 1:] == s[:, :-1], axis=1)
        if not dup.any():
            return items
        items[dup] = rng.integers(0, num_items, (int(dup.sum()), 7))
