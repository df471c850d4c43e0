"""The paper's AUC, its cold- and warm-item variants, the sampled-100 AUC and the leak check.

For each held-out (user u, item i) row of a split, the paper (Section IV-A)
counts the fraction of items j the user never observed (in train,
validation or test) that are scored below i. We count ties as 1/2 — the
standard AUC, and the only choice under which a constant scorer gets 0.5.
Row AUCs are averaged per user, then over users. Beside it:

- cold AUC: the rows whose held-out item has fewer than
  `AUCOptions.cold_threshold` training observations (the paper: "fewer than
  5"; the reference code of the paper's baselines counts "<= 5", which is
  `cold_threshold=6`);
- warm AUC: the rows whose held-out item has training data, against only
  the items that have training data. It is immune to the split leak below;
- sampled AUC: the held-out item against 100 sampled items. "uniform"
  (default) draws them uniformly, with replacement, among the items the
  user never observed and counts ties as 1/2; "release" reproduces the
  authors' `DVBPR/main.py`: 100 distinct items of the whole catalogue,
  those in the user's training set or equal to i skipped (so the user's
  *other* held-out item may be drawn), ties counted as losses;
- `leak_diagnostic`: items that exist in the catalogue only because they
  are held-out items have no training data. A model that leaves such items
  at their prior score while pushing the sampled negatives down ranks them
  above every item it learned, and so "finds" held-out items without
  knowing anything about users. The diagnostic counts them, their share of
  the split's rows, and the AUC of the scorer that knows nothing but
  "this item has no training data".

Scores are computed for a block of users at a time on the device, and the
counting uses sum(sign(s_i - s_j)) over all items minus the same sum over
the user's observed items, so no per-user Python loop and no dense mask.
The catalogue-wide sums are one fused XLA pass over the block's scores
(`_catalogue_sums`): the full AUC of 64,583 users x 234,892 items costs
1.3-2.4x the bare matmul of the scores (benchmarks/bench_full_auc.py).
Scorers that give every user the same scores (PopRank) are counted in
closed form by binary search (`_shared_sums`). All sums are integers, so
every path gives the same figures, bit for bit.

One module on purpose (~600 lines): it is one counting algorithm, and
every entry point (`evaluate_scores`, `evaluate_embeddings`, the
popularity, true-score and leak-indicator scorers) feeds the same
queries and sums, whose equality bit for bit across paths is the
module's contract; splitting it would put that contract in two places.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Protocol

import numpy as np
import tensorflow as tf

from common import runtime
from metrics.protocol import COLD_ITEM_THRESHOLD, SAMPLED_AUC_MODES, interactions_csr


class RecDataset(Protocol):
    """What the AUCs read of a dataset (`data.core.RecDataset` is one).

    Declared here, not imported: metrics sit below data/, which imports them.
    """

    name: str
    num_users: int
    num_items: int
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    true_scores: object | None

    def item_train_counts(self) -> np.ndarray: ...

    def cold_items(self, threshold: int = COLD_ITEM_THRESHOLD) -> np.ndarray: ...

    def split(self, name: str) -> np.ndarray: ...


ScoreBlockFn = Callable[[tf.Tensor], tf.Tensor]

# The figures every evaluation reports, in display order.
METRICS = ("auc", "auc_cold", "auc_warm", "auc_sampled100")


@dataclasses.dataclass(frozen=True)
class AUCOptions:
    """How the AUC variants are defined (see the module docstring).

    Attributes:
      cold_threshold: an item is cold with fewer than this many training
        observations (the paper: 5; the baselines' reference code: 6,
        i.e. "<= 5").
      sampled_auc: "uniform" or "release" (the authors' sampling and tie
        rule).
      sampled_negatives: items per row of the sampled AUC (100 in the
        release).
    """

    cold_threshold: int = COLD_ITEM_THRESHOLD
    sampled_auc: str = "uniform"
    sampled_negatives: int = 100

    def __post_init__(self):
        if self.cold_threshold < 1:
            raise ValueError(
                f"--cold_threshold={self.cold_threshold}: an item is cold with fewer than this "
                "many training observations; use >= 1 (the paper: 5)."
            )
        if self.sampled_auc not in SAMPLED_AUC_MODES:
            raise ValueError(
                f"--sampled_auc={self.sampled_auc!r}: use one of {', '.join(SAMPLED_AUC_MODES)}."
            )
        if self.sampled_negatives < 1:
            raise ValueError(f"sampled_negatives must be >= 1, got {self.sampled_negatives}.")


class _Queries:
    """Numpy bookkeeping for one split: rows, exclusions, warm counts, sampled negatives."""

    def __init__(self, ds: RecDataset, split: str, options: AUCOptions, seed: int):
        rows = ds.split(split)
        order = np.lexsort((rows[:, 1], rows[:, 0]))
        self.rows = rows[order].astype(np.int64)
        self.num_items = ds.num_items
        observed = np.unique(
            np.concatenate([ds.train, ds.validation, ds.test]).astype(np.int64), axis=0
        )
        obs_indptr, obs_items = interactions_csr(observed, ds.num_users)
        users = self.rows[:, 0]
        counts = obs_indptr[users + 1] - obs_indptr[users]
        # Exclusion pairs: for row r, every item its user observed.
        self.excl_row = np.repeat(np.arange(len(users)), counts)
        starts = np.repeat(obs_indptr[users], counts)
        offsets = np.arange(len(self.excl_row)) - np.repeat(np.cumsum(counts) - counts, counts)
        self.excl_item = obs_items[starts + offsets]
        self.num_negatives = (ds.num_items - counts).astype(np.float64)
        train_counts = ds.item_train_counts()
        self.warm = train_counts > 0  # [num_items]: the item has training data
        self.cold = ds.cold_items(options.cold_threshold)[self.rows[:, 1]]
        self.row_warm = self.warm[self.rows[:, 1]]
        observed_warm = np.bincount(
            self.excl_row, weights=self.warm[self.excl_item], minlength=len(users)
        )
        self.num_warm_negatives = float(self.warm.sum()) - observed_warm
        if options.sampled_auc == "release":
            self.sampled = _distinct_items(
                len(users), self.num_items, options.sampled_negatives, seed
            )
            in_train = _member(
                ds.train, users[:, None] * self.num_items + self.sampled, self.num_items
            )
            self.sampled_weight = (~in_train & (self.sampled != self.rows[:, 1:2])).astype(
                np.float32
            )
            self.tie = 0.0
        else:
            self.sampled = self._sample(observed, options.sampled_negatives, seed)
            self.sampled_weight = np.ones(self.sampled.shape, np.float32)
            self.tie = 0.5

    def _sample(self, observed: np.ndarray, n: int, seed: int) -> np.ndarray:
        """[rows, n] items drawn uniformly among those the row's user never observed."""
        rng = np.random.default_rng(seed)
        users = self.rows[:, 0]
        sampled = rng.integers(0, self.num_items, size=(len(users), n))
        for _ in range(1000):
            bad = _member(observed, users[:, None] * self.num_items + sampled, self.num_items)
            # Users who observed every item have nothing to sample; leave them.
            bad &= (self.num_negatives > 0)[:, None]
            if not bad.any():
                break
            sampled[bad] = rng.integers(0, self.num_items, size=int(bad.sum()))
        return sampled


def _member(pairs: np.ndarray, keys: np.ndarray, num_items: int) -> np.ndarray:
    """bool, shape of `keys`: whether user * num_items + item keys are among the (user, item) pairs."""
    sorted_keys = np.sort(pairs[:, 0].astype(np.int64) * num_items + pairs[:, 1])
    if not len(sorted_keys):
        return np.zeros(keys.shape, bool)
    pos = np.searchsorted(sorted_keys, keys).clip(max=len(sorted_keys) - 1)
    return sorted_keys[pos] == keys


def _distinct_items(rows: int, num_items: int, n: int, seed: int) -> np.ndarray:
    """[rows, min(n, num_items)] int64: per row a uniform random set of distinct items.

    What Python's `random.sample(range(num_items), n)` draws, for all rows at
    once: draws with replacement, then every repeat within a row (all but
    its first occurrence) is drawn again until none is left. The process
    treats item labels symmetrically, so each row's set is uniform over the
    n-subsets.
    """
    rng = np.random.default_rng(seed)
    n = min(n, num_items)
    if num_items <= 4 * n:
        return np.argsort(rng.random((rows, num_items)), axis=1)[:, :n]
    sampled = rng.integers(0, num_items, size=(rows, n))
    while True:
        order = np.argsort(sampled, axis=1, kind="stable")
        ordered = np.take_along_axis(sampled, order, axis=1)
        repeat_sorted = np.zeros(ordered.shape, bool)
        repeat_sorted[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
        if not repeat_sorted.any():
            return sampled
        repeat = np.zeros_like(repeat_sorted)
        np.put_along_axis(repeat, order, repeat_sorted, axis=1)
        sampled[repeat] = rng.integers(0, num_items, size=int(repeat.sum()))


# A block of scores holds at most this many bytes: 285 users of a
# 234,892-item catalogue, whose per-user throughput is that of 1024-user
# blocks (benchmarks/bench_full_auc.py), for a quarter of the memory.
SCORES_BLOCK_BYTES = 256 << 20

# Rows of a block are padded to a multiple of this, so that XLA compiles
# `_catalogue_sums` for a handful of shapes instead of once per block.
_ROW_PAD = 64


@tf.function(jit_compile=True)
def _catalogue_sums(scores, bias, local_user, pos, warm, aligned):
    """sum_j sign(pos_r - s_rj) over all items j and over the warm items j.

    One XLA cluster: the row gather, the bias and the sign are fused into
    the operand of a [rows, num_items] x [num_items, 2] matmul against
    (1, warm), so no [rows, num_items] temporary is written (the unfused
    TensorFlow ops wrote three, and cost 2-5x the scores' own matmul at
    the paper's catalogue size; an XLA reduce_sum instead of the matmul runs
    on one thread). Every sum is of integers below 2^24 in float32, hence
    exact in any order: the figures are those of summing row by row.

    Args:
      scores: [b, num_items] float32 scores of the block's users, without
        the item bias.
      bias: [num_items] float32 item bias (zeros when there is none).
      local_user: [r] int32 row -> index of its user within the block.
      pos: [r] float32 score of each row's held-out item (bias included).
      warm: [num_items] float32, 1 where the item has training data.
      aligned: Python bool, True when row r is user r of the block (r = b,
        the paper's one held-out item per user): the gather is skipped,
        which halves the time of this pass.

    Returns:
      all_sum, warm_sum: [r] float32.
    """
    rows = scores if aligned else tf.gather(scores, local_user)
    signs = tf.sign(pos[:, None] - (rows + bias[None, :]))
    sums = tf.matmul(signs, tf.stack([tf.ones_like(warm), warm], axis=1))
    return sums[:, 0], sums[:, 1]


@tf.function(reduce_retracing=True)
def _block_sums(
    scores, bias, local_user, items, excl_local_row, excl_item, warm, sampled, weight, tie, aligned
):
    """Sign sums for the rows of one user block.

    Args:
      scores: [b, num_items] float32 scores of the block's users, without
        the item bias.
      bias: [num_items] float32 item bias added to every row of `scores`.
      local_user: [r] int32 row -> index of its user within the block;
        r is a multiple of `_ROW_PAD` (padding rows point at user 0).
      items: [r] int32 held-out item of each row.
      excl_local_row: [e] int32 exclusion pair -> row within the block.
      excl_item: [e] int32 excluded (observed) item.
      warm: [num_items] float32, 1 where the item has training data.
      sampled: [r, n] int32 sampled negatives per row.
      weight: [r, n] float32 weight of each sampled negative (0 skips it).
      tie: float32 scalar, what a sampled tie counts (1/2, or 0 as the release).
      aligned: Python bool, row r is user r of the block (no padding then).

    Returns:
      all_sum, warm_sum: [r] float32 sum_j sign(s_i - s_j) over all items j,
        and over the warm items j.
      excl_sum, excl_warm_sum: [r] float32 the same sums over the user's
        observed items.
      sampled_sum: [r] float32 sum of weight * (1 if s_i > s_j, tie if equal).
    """

    def score_at(rows, cols):
        """scores[local_user[rows], cols] + bias[cols], cols [len(rows), m]."""
        users = tf.broadcast_to(tf.gather(local_user, rows)[:, None], tf.shape(cols))
        return tf.gather_nd(scores, tf.stack([users, cols], axis=-1)) + tf.gather(bias, cols)

    all_rows = tf.range(tf.shape(items)[0])
    pos = score_at(all_rows, items[:, None])[:, 0]
    all_sum, warm_sum = _catalogue_sums(scores, bias, local_user, pos, warm, aligned)
    excl_scores = score_at(excl_local_row, excl_item[:, None])[:, 0]
    excl_signs = tf.sign(tf.gather(pos, excl_local_row) - excl_scores)
    excl = tf.math.unsorted_segment_sum(
        tf.stack([excl_signs, excl_signs * tf.gather(warm, excl_item)], axis=1),
        excl_local_row,
        tf.shape(items)[0],
    )
    sampled_diff = pos[:, None] - score_at(all_rows, sampled)
    wins = tf.where(sampled_diff > 0, 1.0, tf.where(sampled_diff == 0, tie, 0.0))
    sampled_sum = tf.reduce_sum(weight * wins, axis=1)
    return all_sum, warm_sum, excl[:, 0], excl[:, 1], sampled_sum


def _per_user_mean(values: np.ndarray, users: np.ndarray, mask: np.ndarray) -> tuple[float, int]:
    """Mean over users of the mean of their masked row values."""
    if not mask.any():
        return float("nan"), 0
    u, inverse = np.unique(users[mask], return_inverse=True)
    sums = np.bincount(inverse, weights=values[mask])
    counts = np.bincount(inverse)
    return float(np.mean(sums / counts)), int(len(u))


def _empty_metrics() -> dict:
    nan = float("nan")
    return dict(**{k: nan for k in METRICS}, users=0, cold_users=0, warm_users=0, rows=0)


def evaluate_scores(
    ds: RecDataset,
    split: str,
    score_block_fn: ScoreBlockFn,
    *,
    user_block: int = 1024,
    options: AUCOptions | None = None,
    seed: int = 0,
    item_bias=None,
) -> dict:
    """AUC (all / cold / warm items, sampled) of a scorer on a split.

    Args:
      ds: the dataset.
      split: "validation" or "test" (or "train").
      score_block_fn: maps user indices int32 [b] to float32 [b, num_items]
        scores. Called once per block of `user_block` users.
      user_block: most users scored at a time; bounds memory at
        user_block x num_items floats (and at `SCORES_BLOCK_BYTES`, see
        `users_per_block`).
      options: the metric definitions (`AUCOptions()` if None).
      seed: seed of the sampled negatives.
      item_bias: optional [num_items] float32 added to every user's scores
        (so that `score_block_fn` can return a bare matmul).

    Returns:
      dict with `auc`, `auc_cold`, `auc_warm`, `auc_sampled100` (floats in
      [0, 1], NaN when undefined), `users`, `cold_users`, `warm_users` (users
      averaged over) and `rows` (held-out interactions evaluated).
    """
    options = options or AUCOptions()
    q = _Queries(ds, split, options, seed)
    if not len(q.rows):
        return _empty_metrics()
    n = len(q.rows)
    sums = tuple(np.zeros(n) for _ in range(5))
    users = q.rows[:, 0]
    block_users = np.unique(users)
    user_block = users_per_block(ds.num_items, user_block)
    bias = tf.zeros([ds.num_items]) if item_bias is None else item_bias
    bias = tf.convert_to_tensor(bias, tf.float32)
    warm = tf.constant(q.warm, tf.float32)
    tie = tf.constant(q.tie, tf.float32)
    progress = runtime.Progress(
        len(block_users), "users", interval=10.0, prefix=f"AUC {split}", quiet_start=True
    )
    for start in range(0, len(block_users), user_block):
        chunk = block_users[start : start + user_block]
        r0, r1 = np.searchsorted(users, [chunk[0], chunk[-1] + 1])
        e0, e1 = np.searchsorted(q.excl_row, [r0, r1])
        scores = score_block_fn(tf.constant(chunk, tf.int32))
        local_user = np.searchsorted(chunk, users[r0:r1])
        # One row per user (the paper's protocol): no gather, no padding.
        aligned = bool(r1 - r0 == len(chunk))
        padded = functools.partial(_padded, pad=0 if aligned else -(r1 - r0) % _ROW_PAD)
        block = _block_sums(
            tf.convert_to_tensor(scores, tf.float32),
            bias,
            padded(local_user, tf.int32),
            padded(q.rows[r0:r1, 1], tf.int32),
            tf.constant(q.excl_row[e0:e1] - r0, tf.int32),
            tf.constant(q.excl_item[e0:e1], tf.int32),
            warm,
            padded(q.sampled[r0:r1], tf.int32),
            padded(q.sampled_weight[r0:r1], tf.float32),
            tie,
            aligned,
        )
        for out, value in zip(sums, block, strict=True):
            out[r0:r1] = value.numpy()[: r1 - r0]
        progress.update(start + len(chunk))
    progress.update(len(block_users), force=True)
    return _metrics(q, *sums)


def users_per_block(num_items: int, user_block: int = 1024) -> int:
    """Users scored at a time: `user_block`, fewer when their scores exceed `SCORES_BLOCK_BYTES`."""
    return max(1, min(user_block, SCORES_BLOCK_BYTES // (4 * max(num_items, 1))))


def _padded(x: np.ndarray, dtype: tf.DType, pad: int) -> tf.Tensor:
    """`x` with `pad` zero rows appended, as a constant of `dtype`."""
    return tf.constant(np.pad(x, [(0, pad)] + [(0, 0)] * (x.ndim - 1)), dtype)


def _metrics(q: _Queries, all_sum, warm_sum, excl_sum, excl_warm_sum, sampled_sum) -> dict:
    """The figures of `evaluate_scores` from per-row sums ([rows] float64 each).

    See `_block_sums` for what each sum is.
    """
    users = q.rows[:, 0]
    valid = q.num_negatives > 0
    row_auc = 0.5 + (all_sum - excl_sum) / (2.0 * np.maximum(q.num_negatives, 1.0))
    warm_valid = valid & q.row_warm & (q.num_warm_negatives > 0)
    row_warm_auc = 0.5 + (warm_sum - excl_warm_sum) / (2.0 * np.maximum(q.num_warm_negatives, 1.0))
    sampled_count = q.sampled_weight.sum(axis=1)
    row_sampled = sampled_sum / np.maximum(sampled_count, 1.0)
    auc, n_users = _per_user_mean(row_auc, users, valid)
    auc_cold, n_cold = _per_user_mean(row_auc, users, valid & q.cold)
    auc_warm, n_warm = _per_user_mean(row_warm_auc, users, warm_valid)
    auc_sampled, _ = _per_user_mean(row_sampled, users, valid & (sampled_count > 0))
    return dict(
        auc=auc,
        auc_cold=auc_cold,
        auc_warm=auc_warm,
        auc_sampled100=auc_sampled,
        users=n_users,
        cold_users=n_cold,
        warm_users=n_warm,
        rows=int(valid.sum()),
    )


def _shared_sums(q: _Queries, scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """The sums of `_block_sums` when every user has the same finite [num_items] scores.

    sum_j sign(s_i - s_j) is #{j: s_j < s_i} - #{j: s_j > s_i}: two binary
    searches in the sorted scores per row instead of a pass over the
    catalogue, so PopRank over 64,583 x 234,892 takes a second. The counts
    are the integers the sign sums add up to, so the figures are the same.
    """
    pos = scores[q.rows[:, 1]]

    def signed_count(pool: np.ndarray) -> np.ndarray:
        below = np.searchsorted(pool, pos, side="left")
        above = len(pool) - np.searchsorted(pool, pos, side="right")
        return (below - above).astype(np.float64)

    excl_signs = np.sign(pos[q.excl_row] - scores[q.excl_item]).astype(np.float64)
    n = len(q.rows)
    diff = pos[:, None] - scores[q.sampled]
    wins = np.where(diff > 0, 1.0, np.where(diff == 0, q.tie, 0.0))
    return (
        signed_count(np.sort(scores)),
        signed_count(np.sort(scores[q.warm])),
        np.bincount(q.excl_row, weights=excl_signs, minlength=n),
        np.bincount(q.excl_row, weights=excl_signs * q.warm[q.excl_item], minlength=n),
        (q.sampled_weight * wins).sum(axis=1),
    )


def leak_diagnostic(ds: RecDataset, split: str = "test") -> dict:
    """How much a split rewards knowing only which items have no training data.

    Computed in closed form from counts: for the indicator scorer
    s_j = 1[item j has no training data], a row whose held-out item has
    none wins against every warm negative and ties the rest, and a row
    whose item has training data ties the warm negatives and loses the
    rest.

    Args:
      ds: the dataset.
      split: the split whose rows are scored.

    Returns:
      dict with `heldout_only_items` (items without training data that are
      held out in validation or test), `no_train_items` (all items without
      training data), `heldout_only_row_share` (share of the split's rows
      whose item has no training data) and `indicator_auc` (the AUC of the
      indicator scorer on the split, ties 1/2, averaged as `evaluate_scores`).
    """
    no_train = ds.item_train_counts() == 0
    held_out = np.unique(np.concatenate([ds.validation[:, 1], ds.test[:, 1]]).astype(np.int64))
    out = dict(
        heldout_only_items=int(no_train[held_out].sum()),
        no_train_items=int(no_train.sum()),
        heldout_only_row_share=float("nan"),
        indicator_auc=float("nan"),
    )
    q = _Queries(ds, split, AUCOptions(), seed=0)
    if not len(q.rows):
        return out
    negatives = q.num_negatives
    warm_negatives = q.num_warm_negatives
    cold_negatives = negatives - warm_negatives
    row_no_train = ~q.row_warm
    row_auc = np.where(
        row_no_train, warm_negatives + 0.5 * cold_negatives, 0.5 * warm_negatives
    ) / np.maximum(negatives, 1.0)
    valid = negatives > 0
    out["heldout_only_row_share"] = float(row_no_train[valid].mean()) if valid.any() else 0.0
    out["indicator_auc"] = _per_user_mean(row_auc, q.rows[:, 0], valid)[0]
    return out


def format_leak(leak: dict) -> str:
    """One line for logs: the leak diagnostic of `leak_diagnostic`."""
    return (
        f"{leak['heldout_only_items']} held-out-only items ({leak['no_train_items']} without "
        f"training data), {100 * leak['heldout_only_row_share']:.1f}% of rows; "
        f"'no training data' indicator AUC {leak['indicator_auc']:.4f}"
    )


@tf.function(reduce_retracing=True)
def _embedding_scores(user_emb, item_emb, users):
    """[b, num_items] float32 scores user_emb[users] . item_emb^T (the bias is added later).

    Module-level so that evaluating once per epoch reuses one trace.
    """
    return tf.matmul(tf.gather(user_emb, users), item_emb, transpose_b=True)


def evaluate_embeddings(
    ds: RecDataset,
    split: str,
    user_emb,
    item_emb,
    item_bias=None,
    **kwargs,
) -> dict:
    """`evaluate_scores` for x_ui = user_emb[u] . item_emb[i] (+ item_bias[i]).

    Args:
      ds: the dataset.
      split: split to evaluate.
      user_emb: [num_users, K] float32.
      item_emb: [num_items, K] float32.
      item_bias: optional [num_items] float32.
      **kwargs: passed to `evaluate_scores`.
    """
    user_emb = tf.convert_to_tensor(user_emb, tf.float32)
    item_emb = tf.convert_to_tensor(item_emb, tf.float32)

    def block(users):
        return _embedding_scores(user_emb, item_emb, users)

    return evaluate_scores(ds, split, block, item_bias=item_bias, **kwargs)


def evaluate_true_scores(ds: RecDataset, split: str, **kwargs) -> dict | None:
    """The oracle AUC: the simulator's true utilities, where the dataset has them."""
    if ds.true_scores is None:
        return None
    return evaluate_scores(
        ds, split, lambda users: np.asarray(ds.true_scores(users.numpy()), np.float32), **kwargs
    )


def evaluate_item_scores(
    ds: RecDataset,
    split: str,
    item_scores,
    *,
    options: AUCOptions | None = None,
    seed: int = 0,
    **kwargs,
) -> dict:
    """`evaluate_scores` for a scorer that gives every user the same [num_items] scores.

    Finite scores are counted in closed form (`_shared_sums`); others
    (NaN, inf, where inf - inf makes a row undefined) go through the
    per-block path, so both give what `evaluate_scores` gives.

    Args:
      ds: the dataset.
      split: split to evaluate.
      item_scores: [num_items] scores, cast to float32.
      options: the metric definitions (`AUCOptions()` if None).
      seed: seed of the sampled negatives.
      **kwargs: passed to `evaluate_scores` on the per-block path.
    """
    scores = np.asarray(item_scores, np.float32)
    if not np.isfinite(scores).all():
        return evaluate_embeddings(
            ds,
            split,
            np.zeros((ds.num_users, 1), np.float32),
            np.zeros((ds.num_items, 1), np.float32),
            scores,
            options=options,
            seed=seed,
            **kwargs,
        )
    q = _Queries(ds, split, options or AUCOptions(), seed)
    if not len(q.rows):
        return _empty_metrics()
    return _metrics(q, *_shared_sums(q, scores))


def evaluate_leak_indicator(ds: RecDataset, split: str, **kwargs) -> dict:
    """The scorer that knows only which items have no training data (1) and which have (0)."""
    return evaluate_item_scores(ds, split, ds.item_train_counts() == 0, **kwargs)


def evaluate_popularity(ds: RecDataset, split: str, **kwargs) -> dict:
    """PopRank: every user ranks items by their number of training observations."""
    return evaluate_item_scores(ds, split, ds.item_train_counts(), **kwargs)
