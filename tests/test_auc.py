"""eval.auc against a plain NumPy reference on small random data."""

import numpy as np
import pytest

from data.core import RecDataset, as_str_ids, sort_rows
from eval import auc


def _random_dataset(seed=0, num_users=37, num_items=53, multi_test=True):
    rng = np.random.default_rng(seed)
    rows = {"train": [], "validation": [], "test": []}
    for u in range(num_users):
        items = rng.choice(num_items, size=rng.integers(3, 12), replace=False)
        rows["validation"].append((u, items[0]))
        rows["test"].append((u, items[1]))
        if multi_test and u % 3 == 0:
            rows["test"].append((u, items[2]))
        for i in items[3:]:
            rows["train"].append((u, i))
    # Make a few items popular so that some held-out items are warm.
    for u in range(num_users):
        for i in (0, 1, 2):
            if (u, i) not in rows["test"] and (u, i) not in rows["validation"]:
                rows["train"].append((u, i))
    return RecDataset(
        name="random",
        num_users=num_users,
        num_items=num_items,
        train=sort_rows(np.unique(np.array(rows["train"]), axis=0)),
        validation=sort_rows(np.array(rows["validation"])),
        test=sort_rows(np.array(rows["test"])),
        item_ids=as_str_ids(range(num_items)),
        user_ids=as_str_ids(range(num_users)),
    )


def _reference(ds, split, scores, sampled=None):
    observed = {}
    for rows in (ds.train, ds.validation, ds.test):
        for u, i in rows:
            observed.setdefault(int(u), set()).add(int(i))
    cold = np.bincount(ds.train[:, 1], minlength=ds.num_items) < 5
    per_user, per_user_cold = {}, {}
    for u, i in ds.split(split):
        negatives = [j for j in range(ds.num_items) if j not in observed[int(u)]]
        s = scores[u]
        value = np.mean([1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0 for j in negatives])
        per_user.setdefault(int(u), []).append(value)
        if cold[i]:
            per_user_cold.setdefault(int(u), []).append(value)
    mean = lambda d: np.mean([np.mean(v) for v in d.values()])  # noqa: E731
    return mean(per_user), mean(per_user_cold), len(per_user), len(per_user_cold)


@pytest.mark.parametrize("split", ["validation", "test"])
@pytest.mark.parametrize("user_block", [1, 7, 1024])
def test_matches_numpy_reference(split, user_block):
    ds = _random_dataset()
    rng = np.random.default_rng(1)
    user_emb = rng.normal(size=(ds.num_users, 4)).astype(np.float32)
    item_emb = rng.normal(size=(ds.num_items, 4)).astype(np.float32)
    # Round so that ties occur and must count one half.
    scores = np.round(user_emb @ item_emb.T, 0).astype(np.float32)
    got = auc.evaluate_scores(ds, split, lambda u: scores[u.numpy()], user_block=user_block)
    ref_auc, ref_cold, n_users, n_cold = _reference(ds, split, scores)
    assert got["auc"] == pytest.approx(ref_auc, abs=1e-9)
    assert got["auc_cold"] == pytest.approx(ref_cold, abs=1e-9)
    assert got["users"] == n_users and got["cold_users"] == n_cold
    assert 0 < n_cold < n_users  # the data has both cold and warm held-out items


def test_embeddings_equal_scores_and_sampled_auc_close():
    ds = _random_dataset(seed=3, num_users=60, num_items=400)
    rng = np.random.default_rng(2)
    user_emb = rng.normal(size=(ds.num_users, 8)).astype(np.float32)
    item_emb = rng.normal(size=(ds.num_items, 8)).astype(np.float32)
    bias = rng.normal(size=ds.num_items).astype(np.float32)
    by_emb = auc.evaluate_embeddings(ds, "test", user_emb, item_emb, bias, user_block=16)
    scores = user_emb @ item_emb.T + bias
    ref_auc, _, _, _ = _reference(ds, "test", scores)
    assert by_emb["auc"] == pytest.approx(ref_auc, abs=1e-6)
    # Sampled-100 estimates the same quantity: close, not equal.
    assert abs(by_emb["auc_sampled100"] - ref_auc) < 0.05
    assert by_emb["auc_sampled100"] != by_emb["auc"]


def test_perfect_constant_and_popularity_scorers():
    ds = _random_dataset(seed=5)
    perfect = np.zeros((ds.num_users, ds.num_items), np.float32)
    perfect[ds.test[:, 0], ds.test[:, 1]] = 1.0
    assert auc.evaluate_scores(ds, "test", lambda u: perfect[u.numpy()])["auc"] == 1.0
    const = np.zeros_like(perfect)
    res = auc.evaluate_scores(ds, "test", lambda u: const[u.numpy()])
    assert res["auc"] == 0.5 and res["auc_sampled100"] == 0.5
    pop = auc.evaluate_popularity(ds, "test")
    counts = np.bincount(ds.train[:, 1], minlength=ds.num_items).astype(np.float32)
    ref, ref_cold, _, _ = _reference(ds, "test", np.tile(counts, (ds.num_users, 1)))
    assert pop["auc"] == pytest.approx(ref, abs=1e-9)
    assert pop["auc_cold"] == pytest.approx(ref_cold, abs=1e-9)
