"""The held-out split: per user, a few interactions withheld from training.

Every dataset whose split is not published makes it here, as the paper
does (Section IV-A): per user one interaction for validation and one for
test, the rest for training. `synthetic_fashion`, `fashion_mnist_users` and
`custom` (random or by time) hold out two rows per user; the baselines'
`carve_validation` holds out one row per user from a published train split.

Two ways of drawing the held-out rows exist because each keeps the numbers
its seeds have always given (results, tests and the README quote them):

- `draw="shuffle"` (the loaders): one uniform key per row, in the order
  the rows are given; each user's rows are ranked by key (after
  `timestamps`, newest first, when given) and the first ones held out.
  Ranking makes the draw independent of how many rows are held out.
- `draw="pick"` (`carve_validation`): the rows sorted by (user, item), then
  one uniform per eligible user, in user order, picks its held-out row;
  one held-out row only.
"""

from __future__ import annotations

import numpy as np

from data.core import sort_rows

DRAWS = ("shuffle", "pick")


def hold_out_per_user(
    rows: np.ndarray,
    rng: np.random.Generator,
    num_held_out: int = 2,
    *,
    timestamps: np.ndarray | None = None,
    draw: str = "shuffle",
) -> tuple[np.ndarray, ...]:
    """Withholds `num_held_out` rows per user from training.

    Users with `num_held_out` rows or fewer keep them all in training (a
    user needs a training row); the loaders drop such users beforehand.

    Args:
      rows: [n, 2] int64 (user, item) rows, each pair once, in any order
        (with `draw="shuffle"` the order decides which key each row gets).
      rng: the random generator; `draw="shuffle"` draws `rng.random(n)`,
        `draw="pick"` draws `rng.random(number of users with >= 2 rows)`.
      num_held_out: rows withheld per user (1 with `draw="pick"`).
      timestamps: [n] float64, one per row; when given, each user's newest
        rows are held out (the random keys break ties). Only with
        `draw="shuffle"`.
      draw: "shuffle" or "pick" (see the module docstring).

    Returns:
      (train, held_out_0, ..., held_out_{num_held_out - 1}), each [m, 2]
      int64 sorted by user then item; held_out_k holds each user's k-th
      held-out row (with timestamps: its k-th newest).

    Raises:
      ValueError: an unknown `draw`, or `draw="pick"` with timestamps or
        more than one held-out row.
    """
    rows = np.asarray(rows, np.int64).reshape(-1, 2)
    if draw == "shuffle":
        key = rng.random(len(rows))
        if timestamps is None:
            order = np.lexsort((key, rows[:, 0]))
        else:
            order = np.lexsort((key, -np.asarray(timestamps), rows[:, 0]))
        users = rows[order, 0]
        start = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
        size = np.diff(np.r_[start, len(order)])
        rank = np.arange(len(order)) - np.repeat(start, size)
        # Rank num_held_out (or more) and users too small to give any: train.
        rank[(rank >= num_held_out) | (np.repeat(size, size) <= num_held_out)] = num_held_out
        ranked = rows[order]
        held = [ranked[rank == k] for k in range(num_held_out)]
        return (sort_rows(ranked[rank == num_held_out]), *(sort_rows(h) for h in held))
    if draw == "pick":
        if num_held_out != 1 or timestamps is not None:
            raise ValueError('draw="pick" holds out one random row per user, without timestamps.')
        rows = sort_rows(rows)
        counts = np.bincount(rows[:, 0]) if len(rows) else np.zeros(0, np.int64)
        indptr = np.concatenate([[0], np.cumsum(counts)])
        users = np.flatnonzero(counts >= 2)
        picked = indptr[users] + (rng.random(len(users)) * counts[users]).astype(np.int64)
        keep = np.ones(len(rows), bool)
        keep[picked] = False
        return rows[keep], sort_rows(rows[picked])
    raise ValueError(f"draw must be one of {', '.join(DRAWS)}, got {draw!r}.")
