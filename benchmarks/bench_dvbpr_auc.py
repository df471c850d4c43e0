r"""AUC evaluation from cached embeddings vs the bare matmul of the same shapes.

    python benchmarks/bench_dvbpr_auc.py [--users=20000] [--items=100000] [--dim=50]

Times `eval.auc.evaluate_embeddings` (all-items AUC, cold AUC and sampled-
100 AUC of one split: scores per block of users on the device, masking of
observed items, sign sums) against computing the same user-by-item score
matrix block by block and nothing else. Goal: at most 3x the matmul time.
Ends with one JSON line.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from common import runtime
from dvbpr_tf import benchmark
from eval import auc as auc_lib

flags.DEFINE_integer("users", 20000, "Users.")
flags.DEFINE_integer("items", 100000, "Items.")
flags.DEFINE_integer("dim", 50, "Embedding size K.")
flags.DEFINE_integer("user_block", 1024, "Users scored at a time (both timings).")
FLAGS = flags.FLAGS

GOAL = 3.0


def main(argv):
    del argv
    rng = np.random.default_rng(0)
    ds = benchmark.random_dataset(FLAGS.users, FLAGS.items, 1, with_images=False)
    user_emb = rng.normal(size=(FLAGS.users, FLAGS.dim)).astype(np.float32)
    item_emb = rng.normal(size=(FLAGS.items, FLAGS.dim)).astype(np.float32)
    users_t = tf.constant(user_emb)
    items_t = tf.constant(item_emb)

    @tf.function
    def block(start):
        scores = tf.matmul(users_t[start : start + FLAGS.user_block], items_t, transpose_b=True)
        # A reduction the matmul cannot be pruned from, and cheap next to it.
        return scores[0, 0] + scores[-1, -1]

    def bare():
        out = [block(tf.constant(s)) for s in range(0, FLAGS.users, FLAGS.user_block)]
        return float(tf.add_n(out))

    bare()  # trace
    matmul_seconds = benchmark.timed(bare, 2, warmup=0)
    t0 = time.perf_counter()
    metrics = auc_lib.evaluate_embeddings(
        ds, "test", user_emb, item_emb, user_block=FLAGS.user_block
    )
    eval_seconds = time.perf_counter() - t0
    matmul_seconds = (matmul_seconds + benchmark.timed(bare, 1, warmup=0)) / 2
    ratio = eval_seconds / matmul_seconds
    sys.stderr.write(
        f"AUC eval {FLAGS.users} users x {FLAGS.items} items (K={FLAGS.dim}): "
        f"{eval_seconds:.2f}s vs bare matmul {matmul_seconds:.2f}s -> {ratio:.2f}x "
        f"(goal <= {GOAL}x); auc {metrics['auc']:.4f}\n"
    )
    runtime.emit_result(
        {
            "benchmark": "dvbpr_auc_eval",
            "users": FLAGS.users,
            "items": FLAGS.items,
            "dim": FLAGS.dim,
            "eval_seconds": eval_seconds,
            "matmul_seconds": matmul_seconds,
            "ratio": ratio,
            "goal": GOAL,
            "meets_goal": ratio <= GOAL,
            "auc": metrics["auc"],
        }
    )


if __name__ == "__main__":
    app.run(main)
