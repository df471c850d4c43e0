"""Tests of the one held-out splitter (data/splits.py)."""

from __future__ import annotations

import numpy as np
import pytest

from data.core import sort_rows
from data.splits import hold_out_per_user


def _rows(seed: int = 0, users: int = 30, items: int = 50) -> np.ndarray:
    """(user, item) pairs in a scrambled order; users have 1..9 rows."""
    rng = np.random.default_rng(seed)
    rows = [
        (u, i)
        for u in range(users)
        for i in rng.choice(items, size=1 + u % 9, replace=False).tolist()
    ]
    rows = np.asarray(rows, np.int64)
    return rows[rng.permutation(len(rows))]


def test_shuffle_holds_out_per_user_and_partitions_the_rows():
    rows = _rows()
    train, first, second = hold_out_per_user(rows, np.random.default_rng(1))
    np.testing.assert_array_equal(
        sort_rows(np.concatenate([train, first, second])), sort_rows(rows)
    )
    counts = np.bincount(rows[:, 0])
    big = np.flatnonzero(counts > 2)
    # Users with more rows than held out give one row to each held-out split.
    for held in (first, second):
        np.testing.assert_array_equal(held[:, 0], big)
    # Users with 2 rows or fewer keep them all for training.
    small = np.flatnonzero(counts <= 2)
    assert np.isin(small, train[:, 0]).all()
    for split in (train, first, second):
        np.testing.assert_array_equal(split, sort_rows(split))


def test_shuffle_is_the_same_draw_as_ranking_uniform_keys():
    # The draw every loader's seeds were made with: one key per row in the
    # given order, rank within user, rank 0 first.
    rows = _rows(3)
    key = np.random.default_rng(7).random(len(rows))
    order = np.lexsort((key, rows[:, 0]))
    ranked = rows[order]
    start = np.searchsorted(ranked[:, 0], ranked[:, 0])
    rank = np.arange(len(ranked)) - start
    big = np.bincount(rows[:, 0])[ranked[:, 0]] > 2
    _, first, second = hold_out_per_user(rows, np.random.default_rng(7))
    np.testing.assert_array_equal(first, sort_rows(ranked[(rank == 0) & big]))
    np.testing.assert_array_equal(second, sort_rows(ranked[(rank == 1) & big]))


def test_timestamps_hold_out_the_newest_rows():
    rows = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 5], [1, 6], [1, 7]], np.int64)
    stamps = np.array([5.0, 9.0, 1.0, 7.0, 3.0, 3.0, 2.0])
    train, newest, second = hold_out_per_user(rows, np.random.default_rng(0), timestamps=stamps)
    assert newest[0].tolist() == [0, 2]
    assert second[0].tolist() == [0, 4]
    # User 1's two newest rows tie; the random key orders them.
    assert {newest[1, 1], second[1, 1]} == {5, 6}
    np.testing.assert_array_equal(train, [[0, 1], [0, 3], [1, 7]])


def test_pick_moves_one_row_per_user_with_two_or_more():
    rows = _rows(5)
    train, validation = hold_out_per_user(rows, np.random.default_rng(2), 1, draw="pick")
    counts = np.bincount(rows[:, 0])
    np.testing.assert_array_equal(validation[:, 0], np.flatnonzero(counts >= 2))
    np.testing.assert_array_equal(sort_rows(np.concatenate([train, validation])), sort_rows(rows))
    # One uniform per eligible user picks its row among its rows sorted by item.
    ordered = sort_rows(rows)
    indptr = np.r_[0, np.cumsum(counts)]
    users = np.flatnonzero(counts >= 2)
    u = np.random.default_rng(2).random(len(users))
    np.testing.assert_array_equal(
        validation, ordered[indptr[users] + (u * counts[users]).astype(np.int64)]
    )


def test_bad_arguments():
    rows = _rows()
    with pytest.raises(ValueError, match="one random row"):
        hold_out_per_user(rows, np.random.default_rng(0), 2, draw="pick")
    with pytest.raises(ValueError, match="draw must be"):
        hold_out_per_user(rows, np.random.default_rng(0), draw="random")
