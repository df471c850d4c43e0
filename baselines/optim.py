"""Adagrad and SGD on sparse rows: the baselines' optimiser."""

from __future__ import annotations

import tensorflow as tf


class SparseOptimizer(tf.Module):
    """Adagrad or SGD that updates only the rows a gradient touches.

    Adagrad keeps one accumulator per *row* for the sparse [N, K] tables
    (row-wise Adagrad, the usual choice for embedding tables: the mean of
    the squared row gradient is accumulated) and one per coordinate for
    dense and 1-D parameters. A row's accumulator is a K-th of the memory
    traffic of per-coordinate Adagrad, which is what bounds a step on CPU.

    Args:
      variables: the variables it will update (accumulators are made for
        each under Adagrad).
      kind: "adagrad" or "sgd".
      learning_rate: step size.
      initial_accumulator: Adagrad's starting accumulator.
      sparse: per variable, whether it is a row table updated through
        `tf.IndexedSlices` (row-wise accumulators when 2-D).
    """

    def __init__(
        self,
        variables,
        kind: str,
        learning_rate: float,
        initial_accumulator: float,
        sparse: list[bool] | None = None,
    ):
        super().__init__()
        sparse = sparse or [False] * len(variables)
        # Row-wise accumulators for sparse 2-D tables only.
        self.rowwise = [
            bool(s) and v.shape.rank == 2 for s, v in zip(sparse, variables, strict=True)
        ]
        self.kind = kind
        self.lr = float(learning_rate)
        self.acc = []
        init = float(initial_accumulator)
        if kind == "adagrad":
            self.acc = [
                tf.Variable(tf.fill(tf.shape(v)[:1] if rowwise else tf.shape(v), init))
                for v, rowwise in zip(variables, self.rowwise, strict=True)
            ]

    def apply(self, grads, variables) -> None:
        """Applies `grads` (dense or `tf.IndexedSlices`) to `variables` (same order as built)."""
        for n, (g, v) in enumerate(zip(grads, variables, strict=True)):
            if g is not None:
                self.apply_one(n, g, v)

    def apply_one(self, n: int, g, v) -> None:
        """Applies gradient `g` to `v`, the `n`-th variable this optimiser was built for."""
        if isinstance(g, tf.IndexedSlices):
            if self.kind == "sgd":
                v.scatter_sub(tf.IndexedSlices(self.lr * g.values, g.indices))
                return
            acc = self.acc[n]
            sq = tf.square(g.values)
            if self.rowwise[n]:
                sq = tf.reduce_mean(sq, axis=1)
            acc.scatter_add(tf.IndexedSlices(sq, g.indices))
            scale = tf.math.rsqrt(tf.gather(acc, g.indices))
            if self.rowwise[n]:
                scale = scale[:, None]
            v.scatter_sub(tf.IndexedSlices(self.lr * g.values * scale, g.indices))
        elif self.kind == "sgd":
            v.assign_sub(self.lr * g)
        else:
            acc = self.acc[n]
            acc.assign_add(tf.square(g))
            v.assign_sub(self.lr * g * tf.math.rsqrt(acc))
