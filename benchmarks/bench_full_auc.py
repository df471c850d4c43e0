r"""Full-catalogue AUC vs the bare matmul of the same shapes, at Amazon Fashion's size.

    python benchmarks/bench_full_auc.py [--scale=1.0] [--items=234892] [--dims=10,100]

For each K of --dims, times `metrics.auc.evaluate_embeddings` on the test
split (all / cold / warm / sampled-100 AUC: scores per block of users,
observed items excluded, sign sums over the whole catalogue) against the
bare `tf.matmul` of [users, K] x [K, items] in the same user blocks, timed
in the same process just before and just after (the machine is shared:
only the ratio is meaningful). Also times PopRank (`evaluate_popularity`,
counted in closed form). Goal: AUC time <= 3x the bare matmul.

The dataset is `dvbpr_tf.benchmark.random_dataset`: 5 train, 1 validation
and 1 test item per user. --scale multiplies the users (64,583 at 1.0, the
paper's Table II Amazon Fashion); the items stay the catalogue's 234,892
unless --items says otherwise, so every row costs what it costs at full
size. Progress goes to stderr; one JSON line to stdout.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from common import runtime
from dvbpr_tf import benchmark
from metrics import auc as auc_lib

AMAZON_FASHION_USERS = 64583
AMAZON_FASHION_ITEMS = 234892

flags.DEFINE_float("scale", 1.0, "Fraction of Amazon Fashion's 64,583 users.")
flags.DEFINE_integer("items", AMAZON_FASHION_ITEMS, "Items in the catalogue.")
flags.DEFINE_list("dims", ["10", "100"], "Embedding sizes K to time.")
flags.DEFINE_integer(
    "user_block", 1024, "Most users scored at a time (both timings; see users_per_block)."
)
FLAGS = flags.FLAGS

GOAL = 3.0


def _bare_matmul_seconds(user_emb: tf.Tensor, item_emb: tf.Tensor, block: int) -> float:
    """Seconds of [users, K] x [K, items] in blocks of `block` users, nothing else."""

    @tf.function
    def one(start):
        scores = tf.matmul(user_emb[start : start + block], item_emb, transpose_b=True)
        # A use the matmul cannot be pruned from, and cheap next to it.
        return scores[0, 0] + scores[-1, -1]

    one(tf.constant(0))  # trace outside the timing
    t0 = time.perf_counter()
    total = tf.add_n([one(tf.constant(s)) for s in range(0, user_emb.shape[0], block)])
    float(total)
    return time.perf_counter() - t0


def main(argv):
    del argv
    num_users = max(int(round(AMAZON_FASHION_USERS * FLAGS.scale)), 8)
    ds = benchmark.random_dataset(num_users, FLAGS.items, 1, with_images=False)
    rng = np.random.default_rng(0)
    results = {}
    for dim in (int(d) for d in FLAGS.dims):
        user_emb = tf.constant(rng.normal(size=(num_users, dim)).astype(np.float32))
        item_emb = tf.constant(rng.normal(size=(FLAGS.items, dim)).astype(np.float32))
        block = auc_lib.users_per_block(FLAGS.items, FLAGS.user_block)
        before = _bare_matmul_seconds(user_emb, item_emb, block)
        t0 = time.perf_counter()
        metrics = auc_lib.evaluate_embeddings(
            ds, "test", user_emb, item_emb, user_block=FLAGS.user_block
        )
        auc_seconds = time.perf_counter() - t0
        after = _bare_matmul_seconds(user_emb, item_emb, block)
        matmul_seconds = (before + after) / 2
        ratio = auc_seconds / matmul_seconds
        sys.stderr.write(
            f"K={dim}: AUC over {num_users} users x {FLAGS.items} items {auc_seconds:.1f}s, "
            f"bare matmul {before:.1f}s / {after:.1f}s -> {ratio:.2f}x (goal <= {GOAL}x)\n"
        )
        results[f"k{dim}"] = dict(
            auc_seconds=auc_seconds,
            matmul_seconds=matmul_seconds,
            matmul_seconds_before_after=[before, after],
            ratio=ratio,
            auc=metrics["auc"],
        )
    t0 = time.perf_counter()
    auc_lib.evaluate_popularity(ds, "test")
    popularity_seconds = time.perf_counter() - t0
    sys.stderr.write(f"PopRank AUC (closed form): {popularity_seconds:.1f}s\n")
    runtime.emit_result(
        {
            "benchmark": "full_auc",
            "users": num_users,
            "items": FLAGS.items,
            "user_block": auc_lib.users_per_block(FLAGS.items, FLAGS.user_block),
            **results,
            "popularity_seconds": popularity_seconds,
            "goal": GOAL,
            "meets_goal": all(r["ratio"] <= GOAL for r in results.values()),
        }
    )


if __name__ == "__main__":
    app.run(main)
