"""metrics.auc against a plain NumPy reference on small random data."""

import numpy as np
import pytest

from data.core import RecDataset, as_str_ids, sort_rows
from metrics import auc


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


def _observed(ds):
    observed = {}
    for rows in (ds.train, ds.validation, ds.test):
        for u, i in rows:
            observed.setdefault(int(u), set()).add(int(i))
    return observed


def _per_user(values):
    """Mean over users of their rows' means (rows: {user: [values]})."""
    return np.mean([np.mean(v) for v in values.values()])


def _reference(ds, split, scores, cold_threshold=5, warm_only=False):
    """Brute force: (auc, cold auc, users, cold users); with `warm_only`, the warm AUC."""
    observed = _observed(ds)
    counts = np.bincount(ds.train[:, 1], minlength=ds.num_items)
    cold = counts < cold_threshold
    per_user, per_user_cold = {}, {}
    for u, i in ds.split(split):
        if warm_only and counts[i] == 0:
            continue
        negatives = [
            j
            for j in range(ds.num_items)
            if j not in observed[int(u)] and (counts[j] > 0 or not warm_only)
        ]
        s = scores[u]
        value = np.mean([1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0 for j in negatives])
        per_user.setdefault(int(u), []).append(value)
        if cold[i]:
            per_user_cold.setdefault(int(u), []).append(value)
    cold_mean = _per_user(per_user_cold) if per_user_cold else float("nan")
    return _per_user(per_user), cold_mean, len(per_user), len(per_user_cold)


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


def _leaky_dataset():
    """A random dataset plus items that exist only as held-out items (no training data)."""
    ds = _random_dataset(seed=7, num_users=41, num_items=60)
    test = ds.test.copy()
    # Every fourth user's test item becomes a fresh item nobody trained on.
    fresh = np.arange(ds.num_items, ds.num_items + len(test[::4]))
    test[::4, 1] = fresh
    num_items = ds.num_items + len(fresh)
    return RecDataset(
        name="leaky",
        num_users=ds.num_users,
        num_items=num_items,
        train=ds.train,
        validation=ds.validation,
        test=sort_rows(test),
        item_ids=as_str_ids(range(num_items)),
        user_ids=ds.user_ids,
    )


@pytest.mark.parametrize("user_block", [5, 1024])
def test_warm_auc_and_cold_threshold_match_brute_force(user_block):
    ds = _leaky_dataset()
    rng = np.random.default_rng(4)
    scores = np.round(rng.normal(size=(ds.num_users, ds.num_items)), 0).astype(np.float32)
    for threshold in (5, 6, 1):
        options = auc.AUCOptions(cold_threshold=threshold)
        got = auc.evaluate_scores(
            ds, "test", lambda u: scores[u.numpy()], user_block=user_block, options=options
        )
        ref, ref_cold, n_users, n_cold = _reference(ds, "test", scores, cold_threshold=threshold)
        assert got["auc"] == pytest.approx(ref, abs=1e-9)
        assert got["users"] == n_users and got["cold_users"] == n_cold
        if n_cold:
            assert got["auc_cold"] == pytest.approx(ref_cold, abs=1e-9)
        else:
            assert np.isnan(got["auc_cold"])
    warm, _, n_warm, _ = _reference(ds, "test", scores, warm_only=True)
    assert got["auc_warm"] == pytest.approx(warm, abs=1e-9)
    assert got["warm_users"] == n_warm < got["users"]
    # "<= 5" (threshold 6) is a superset of "< 5".
    assert auc.AUCOptions(cold_threshold=6).cold_threshold == 6
    assert ds.cold_items(6).sum() >= ds.cold_items(5).sum()


def test_leak_indicator_matches_brute_force_and_scorer():
    ds = _leaky_dataset()
    counts = np.bincount(ds.train[:, 1], minlength=ds.num_items)
    indicator = np.tile((counts == 0).astype(np.float32), (ds.num_users, 1))
    ref, _, _, _ = _reference(ds, "test", indicator)
    leak = auc.leak_diagnostic(ds, "test")
    assert leak["indicator_auc"] == pytest.approx(ref, abs=1e-12)
    scored = auc.evaluate_scores(ds, "test", lambda u: indicator[u.numpy()])
    assert leak["indicator_auc"] == pytest.approx(scored["auc"], abs=1e-9)
    held_out = set(ds.validation[:, 1]) | set(ds.test[:, 1])
    assert leak["heldout_only_items"] == sum(1 for i in held_out if counts[i] == 0)
    assert leak["no_train_items"] == int((counts == 0).sum())
    share = np.mean([counts[i] == 0 for i in ds.test[:, 1]])
    assert leak["heldout_only_row_share"] == pytest.approx(share)
    assert leak["heldout_only_items"] >= 10 and leak["indicator_auc"] != 0.5
    # The indicator knows nothing else: on the warm rows it is at chance.
    assert scored["auc_warm"] == 0.5


def test_release_sampled_auc_rule():
    ds = _random_dataset(seed=11, num_users=50, num_items=700)
    rng = np.random.default_rng(5)
    scores = np.round(rng.normal(size=(ds.num_users, ds.num_items)), 0).astype(np.float32)
    options = auc.AUCOptions(sampled_auc="release")
    got = auc.evaluate_scores(ds, "test", lambda u: scores[u.numpy()], options=options, seed=3)
    q = auc._Queries(ds, "test", options, seed=3)
    train = {}
    for u, i in ds.train:
        train.setdefault(int(u), set()).add(int(i))
    per_user, drew_validation = {}, 0
    validation = {int(u): int(i) for u, i in ds.validation}
    for (u, i), draws in zip(q.rows, q.sampled, strict=True):
        assert len(set(draws.tolist())) == 100  # 100 distinct items, as random.sample
        kept = [j for j in draws if j not in train.get(int(u), set()) and j != i]
        drew_validation += validation[int(u)] in kept
        # Ties count as losses: strictly greater only.
        per_user.setdefault(int(u), []).append(np.mean([scores[u, i] > scores[u, j] for j in kept]))
    assert got["auc_sampled100"] == pytest.approx(_per_user(per_user), abs=1e-9)
    assert drew_validation > 0  # the release may draw the user's validation item
    ours = auc.evaluate_scores(ds, "test", lambda u: scores[u.numpy()], seed=3)
    assert ours["auc_sampled100"] > got["auc_sampled100"]  # ties now count 1/2
    assert ours["auc"] == got["auc"]


def test_distinct_items_are_uniform_subsets():
    for num_items in (150, 5000):
        draws = auc._distinct_items(4000, num_items, 100, seed=1)
        assert draws.shape == (4000, 100)
        assert all(len(set(r)) == 100 for r in draws[:200].tolist())
        # Every item equally likely: the counts' chi-square (with the variance of
        # draws without replacement, rows * p * (1 - p)) is about its df.
        counts = np.bincount(draws.reshape(-1), minlength=num_items)
        p = 100 / num_items
        chi2 = np.sum((counts - 4000 * p) ** 2) / (4000 * p * (1 - p))
        assert abs(chi2 / (num_items - 1) - 1) < 5 * np.sqrt(2 / num_items)
    assert auc._distinct_items(3, 40, 100, seed=0).shape == (3, 40)
    with pytest.raises(ValueError, match="sampled_auc"):
        auc.AUCOptions(sampled_auc="nope")
    with pytest.raises(ValueError, match="cold_threshold"):
        auc.AUCOptions(cold_threshold=0)


def _brute_force_sums(ds, split, scores, warm):
    """Per-row sign sums over the unobserved items (all, warm), in NumPy, row by row."""
    observed = _observed(ds)
    out = []
    for u, i in ds.split(split):
        negatives = np.array([j for j in range(ds.num_items) if j not in observed[int(u)]])
        signs = np.sign(scores[u, i] - scores[u, negatives])
        out.append((signs.sum(), signs[warm[negatives]].sum()))
    return np.array(out)


@pytest.mark.parametrize("split", ["validation", "train"])
def test_item_only_scorer_closed_form_equals_block_path(split):
    # validation: one row per user (the aligned, gather-free path); train: many.
    ds = _leaky_dataset()
    rng = np.random.default_rng(8)
    item_scores = np.round(rng.normal(size=ds.num_items), 0).astype(np.float32)
    closed = auc.evaluate_item_scores(ds, split, item_scores, seed=2)
    tiled = np.tile(item_scores, (ds.num_users, 1))
    blocks = auc.evaluate_scores(ds, split, lambda u: tiled[u.numpy()], user_block=6, seed=2)
    assert closed == blocks  # the same figures, bit for bit (ties included)
    # inf - inf is undefined: such scorers take the per-block path, and agree with it.
    item_scores[3] = np.inf
    tiled[:, 3] = np.inf
    inf_closed = auc.evaluate_item_scores(ds, split, item_scores, seed=2)
    inf_blocks = auc.evaluate_scores(ds, split, lambda u: tiled[u.numpy()], seed=2)
    np.testing.assert_equal(inf_closed, inf_blocks)


def test_row_sums_match_brute_force_with_bias_and_ties():
    # The fused per-block sums (bias added inside, rows padded, one or many
    # rows per user) against plain NumPy, row by row.
    ds = _leaky_dataset()
    rng = np.random.default_rng(9)
    user_emb = np.round(rng.normal(size=(ds.num_users, 3)), 0).astype(np.float32)
    item_emb = np.round(rng.normal(size=(ds.num_items, 3)), 0).astype(np.float32)
    bias = np.round(rng.normal(size=ds.num_items), 0).astype(np.float32)
    scores = user_emb @ item_emb.T + bias  # small integers: exact, many ties
    warm = ds.item_train_counts() > 0
    for split in ("validation", "test", "train"):
        ref = _brute_force_sums(ds, split, scores, warm)
        got = auc.evaluate_embeddings(ds, split, user_emb, item_emb, bias, user_block=4)
        by_scores = auc.evaluate_scores(ds, split, lambda u: scores[u.numpy()], user_block=4)
        assert got == by_scores
        q = auc._Queries(ds, split, auc.AUCOptions(), seed=0)
        num_neg = ds.num_items - np.array([len(_observed(ds)[int(u)]) for u in q.rows[:, 0]])
        row_auc = 0.5 + ref[:, 0] / (2.0 * num_neg)
        want, _ = auc._per_user_mean(row_auc, q.rows[:, 0], num_neg > 0)
        assert got["auc"] == pytest.approx(want, abs=1e-12)
