"""The baselines against NumPy references, and tiny training runs that learn."""

import dataclasses
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from baselines import config as bc
from baselines import losses, models, optim, scorers, selection, train_lib
from baselines.trainer import Trainer
from data import bpr
from data.core import RecDataset, as_str_ids, sort_rows
from metrics import auc as auc_lib


def _dataset(train, num_users, num_items, validation=(), test=(), name="tiny"):
    def rows(r):
        return sort_rows(np.asarray(r, np.int64).reshape(-1, 2))

    return RecDataset(
        name=name,
        num_users=num_users,
        num_items=num_items,
        train=rows(train),
        validation=rows(validation),
        test=rows(test),
        item_ids=as_str_ids(range(num_items)),
        user_ids=as_str_ids(range(num_users)),
    )


def _planted(seed=0, num_users=200, num_items=240, rank=3, per_user=14, with_factors=False):
    """Users choose items by a planted rank-3 preference (flat popularity)."""
    rng = np.random.default_rng(seed)
    pu = rng.normal(size=(num_users, rank))
    qi = rng.normal(size=(num_items, rank))
    qi /= np.linalg.norm(qi, axis=1, keepdims=True)  # unit norm: no item is popular to all
    logits = 3.0 * pu @ qi.T
    train, val, test = [], [], []
    for u in range(num_users):
        p = np.exp(logits[u] - logits[u].max())
        items = rng.choice(num_items, size=per_user, replace=False, p=p / p.sum())
        val.append((u, items[0]))
        test.append((u, items[1]))
        train += [(u, i) for i in items[2:]]
    ds = _dataset(train, num_users, num_items, val, test, name="planted")
    return (ds, qi.astype(np.float32)) if with_factors else ds


def _random_features(num_items, d=5, seed=0):
    return np.random.default_rng(seed).normal(size=(num_items, d)).astype(np.float32)


# ---------------------------------------------------------------------------
# Losses.


def test_bpr_loss_matches_numpy():
    rng = np.random.default_rng(0)
    x_ui, x_uj = rng.normal(size=(2, 50)).astype(np.float32) * 3
    expected = np.log1p(np.exp(-(x_ui - x_uj)))
    np.testing.assert_allclose(bpr.bpr_loss(x_ui, x_uj).numpy(), expected, rtol=1e-5)


def test_warp_rank_weight_and_loss_match_numpy():
    rng = np.random.default_rng(1)
    violated = rng.random((64, 7)) < 0.2
    num_items = 1000
    first, found, weight = losses.warp_rank_weight(tf.constant(violated), num_items)
    for b in range(64):
        hits = np.flatnonzero(violated[b])
        assert bool(found[b]) == bool(len(hits))
        if len(hits):
            assert int(first[b]) == hits[0]
            rank = np.floor((num_items - 1) / (hits[0] + 1))
            assert weight[b].numpy() == pytest.approx(np.log(max(rank, 1.0)), rel=1e-6)
        else:
            assert weight[b].numpy() == 0.0
    x_ui, x_uj = rng.normal(size=(2, 64)).astype(np.float32)
    loss = losses.warp_loss(x_ui, x_uj, weight, margin=1.0).numpy()
    np.testing.assert_allclose(loss, weight.numpy() * np.maximum(0, 1 - x_ui + x_uj), rtol=1e-5)


# ---------------------------------------------------------------------------
# Models.


def _numpy_scores(model, users, items):
    """x_ui from the paper's equations, with the model's parameters as NumPy."""
    gu, gi, bi = model.user.numpy(), model.item.numpy(), model.bias.numpy()
    s = np.einsum("bk,bk->b", gu[users], gi[items]) + bi[items]
    if model.kind == "mf":
        return s
    f = model.features.numpy()[items]
    e, bv = model.proj.numpy(), model.visual_bias.numpy()
    if model.kind == "vbpr":
        # eq. 2: beta_i + gamma_u.gamma_i + theta_u.(E f_i) + beta'.f_i
        theta = model.user_visual.numpy()[users]
        return s + np.einsum("bk,bk->b", theta, f @ e) + f @ bv
    # FM: w_i + w'.f_i + e_u.(e_i + V^T f_i)
    return s + np.einsum("bk,bk->b", gu[users], f @ e) + f @ bv


@pytest.mark.parametrize("kind", ["mf", "vbpr", "fm"])
def test_model_scores_match_numpy(kind):
    feats = _random_features(11) if kind != "mf" else None
    model = models.FactorModel(kind, 7, 11, 4, features=feats, init_scale=0.5, seed=3)
    # Non-zero biases and visual weights so every term is exercised.
    rng = np.random.default_rng(0)
    model.bias.assign(rng.normal(size=11).astype(np.float32))
    if kind != "mf":
        model.visual_bias.assign(rng.normal(size=5).astype(np.float32))
        model.proj.assign(rng.normal(size=(5, 4)).astype(np.float32))
    users = rng.integers(0, 7, 30)
    items = rng.integers(0, 11, 30)
    got = model.score(tf.constant(users, tf.int32), tf.constant(items, tf.int32)).numpy()
    np.testing.assert_allclose(got, _numpy_scores(model, users, items), rtol=1e-4, atol=1e-5)
    # The exported embeddings give the same scores for every pair.
    user_emb, item_emb, item_bias = model.embeddings()
    all_u, all_i = np.meshgrid(np.arange(7), np.arange(11), indexing="ij")
    full = user_emb @ item_emb.T + item_bias
    np.testing.assert_allclose(
        full, _numpy_scores(model, all_u.ravel(), all_i.ravel()).reshape(7, 11), atol=1e-4
    )


def test_items_without_training_data_start_at_zero():
    model = models.FactorModel(
        "mf", 3, 4, 2, init_scale=1.0, user_counts=[1, 0, 2], item_counts=[0, 3, 0, 1]
    )
    assert not model.user.numpy()[1].any() and model.user.numpy()[0].any()
    assert not model.item.numpy()[[0, 2]].any() and model.item.numpy()[[1, 3]].all()


def _sampler(ds, seed=0, sampling="pairs", negatives="uniform", rng_stream="baselines"):
    config = bpr.SamplerConfig(seed, sampling, negatives, rng_stream)
    return bpr.TripletSampler(ds, config)


def _trainer(model, ds, **kw):
    return Trainer(model, _sampler(ds), **kw)


@pytest.mark.parametrize("loss,jit", [("bpr", True), ("warp", False)])
def test_objective_and_sgd_step_match_numpy(loss, jit):
    ds = _dataset([(0, 0), (1, 1), (2, 2)], 3, 6)
    model = models.FactorModel("mf", 3, 6, 3, init_scale=0.3, seed=1)
    model.bias.assign(np.linspace(-0.5, 0.5, 6).astype(np.float32))
    reg, lr = 0.1, 0.05
    trainer = _trainer(
        model, ds, loss=loss, reg=reg, optimizer="sgd", learning_rate=lr, jit_compile=jit
    )
    users, pos, neg = np.array([0, 1, 2, 0]), np.array([0, 1, 2, 0]), np.array([3, 4, 5, 5])
    mask = np.array([1, 1, 1, 0], bool)  # the last sample is masked out
    weight = np.array([0.7, 1.3, 2.0, 5.0], np.float32)
    gu, gi, b = model.user.numpy(), model.item.numpy(), model.bias.numpy()

    x = np.einsum("bk,bk->b", gu[users], gi[pos] - gi[neg]) + b[pos] - b[neg]
    if loss == "bpr":
        data = np.log1p(np.exp(-x))
        dx = -1.0 / (1.0 + np.exp(x))  # d data / d x
        w = np.ones(4, np.float32)
    else:
        data = weight * np.maximum(0, 1 - x)
        dx = -weight * (1 - x > 0)
        w = weight
    sq = (gu[users] ** 2).sum(1) + (gi[pos] ** 2).sum(1) + (gi[neg] ** 2).sum(1)
    sq += b[pos] ** 2 + b[neg] ** 2
    total = (mask * data).sum() + 0.5 * reg * (mask * sq).sum()
    got_total, got_mean = trainer._objective(
        tf.constant(users, tf.int32),
        tf.constant(pos, tf.int32),
        tf.constant(neg, tf.int32),
        tf.constant(mask),
        tf.constant(w),
    )
    assert got_total.numpy() == pytest.approx(total, rel=1e-5)
    assert got_mean.numpy() == pytest.approx((mask * data).sum() / mask.sum(), rel=1e-5)

    # One SGD step: every touched row moves by -lr * (its summed gradient).
    m = mask.astype(np.float32)
    exp_u, exp_i, exp_b = gu.copy(), gi.copy(), b.copy()
    for r in range(4):
        g = m[r] * dx[r]
        exp_u[users[r]] -= lr * (g * (gi[pos[r]] - gi[neg[r]]) + m[r] * reg * gu[users[r]])
        exp_i[pos[r]] -= lr * (g * gu[users[r]] + m[r] * reg * gi[pos[r]])
        exp_i[neg[r]] -= lr * (-g * gu[users[r]] + m[r] * reg * gi[neg[r]])
        exp_b[pos[r]] -= lr * (g + m[r] * reg * b[pos[r]])
        exp_b[neg[r]] -= lr * (-g + m[r] * reg * b[neg[r]])
    trainer._update(
        tf.constant(users, tf.int32),
        tf.constant(pos, tf.int32),
        tf.constant(neg, tf.int32),
        tf.constant(mask),
        tf.constant(w),
    )
    np.testing.assert_allclose(model.user.numpy(), exp_u, atol=1e-6)
    np.testing.assert_allclose(model.item.numpy(), exp_i, atol=1e-6)
    np.testing.assert_allclose(model.bias.numpy(), exp_b, atol=1e-6)


def test_rowwise_adagrad_matches_numpy():
    var = tf.Variable(np.ones((4, 2), np.float32))
    bias = tf.Variable(np.zeros(4, np.float32))
    opt = optim.SparseOptimizer([var, bias], "adagrad", 0.5, 0.1, sparse=[True, True])
    g = np.array([[1.0, 3.0], [2.0, 0.0]], np.float32)
    opt.apply(
        [
            tf.IndexedSlices(tf.constant(g), tf.constant([2, 0])),
            tf.IndexedSlices(tf.constant([4.0]), tf.constant([1])),
        ],
        [var, bias],
    )
    acc = 0.1 + np.array([(g[1] ** 2).mean(), (g[0] ** 2).mean()])  # rows 0 and 2
    expected = np.ones((4, 2), np.float32)
    expected[2] -= 0.5 * g[0] / np.sqrt(acc[1])
    expected[0] -= 0.5 * g[1] / np.sqrt(acc[0])
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-5)
    assert bias.numpy()[1] == pytest.approx(-0.5 * 4.0 / np.sqrt(0.1 + 16.0), rel=1e-5)


def test_vbpr_objective_includes_dense_penalty():
    ds = _dataset([(0, 0), (1, 1)], 2, 4)
    feats = _random_features(4, d=3)
    model = models.FactorModel("vbpr", 2, 4, 2, features=feats, init_scale=0.3)
    model.proj.assign(np.full((3, 2), 0.5, np.float32))
    trainer = _trainer(model, ds, reg=0.0, reg_dense=0.2)
    users, pos, neg = np.array([0, 1]), np.array([0, 1]), np.array([2, 3])
    x = _numpy_scores(model, users, pos) - _numpy_scores(model, users, neg)
    total, _ = trainer._objective(
        tf.constant(users, tf.int32),
        tf.constant(pos, tf.int32),
        tf.constant(neg, tf.int32),
        tf.constant([True, True]),
        tf.ones([2]),
    )
    expected = np.log1p(np.exp(-x)).sum() + 0.5 * 0.2 * (6 * 0.25)
    assert total.numpy() == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------------------
# Sampling.


@pytest.mark.parametrize("rng_stream", bpr.RNG_STREAMS)
@pytest.mark.parametrize("negatives", ["uniform", "observed", "popularity"])
@pytest.mark.parametrize("sampling", ["pairs", "users"])
def test_sampler_draws_valid_triplets(sampling, negatives, rng_stream):
    ds = _planted(num_users=40, num_items=60, per_user=12)
    sampler = _sampler(ds, 4, sampling, negatives, rng_stream)
    step = tf.constant(2, tf.int64)
    batch = sampler.sample(step, 2000)
    train = {tuple(r) for r in ds.train}
    u, p = batch["user"].numpy(), batch["pos_item"].numpy()
    n, v = batch["neg_item"].numpy(), batch["valid"].numpy()
    assert all((a, b) in train for a, b in zip(u, p, strict=True))
    assert not any((a, b) in train for a, b, ok in zip(u, n, v, strict=True) if ok)
    assert v.mean() > 0.98
    if rng_stream == "dvbpr":
        assert v.all()  # redrawn until valid
    if negatives != "uniform":
        assert set(n) <= set(ds.train[:, 1])
    # Batches are pure functions of (seed, step).
    again = sampler.sample(step, 2000)
    np.testing.assert_array_equal(u, again["user"].numpy())
    np.testing.assert_array_equal(p, again["pos_item"].numpy())
    np.testing.assert_array_equal(n, again["neg_item"].numpy())
    # WARP's [B, T] candidates.
    warp = sampler.sample(step, 50, trials=5)
    cand, cvalid, cu = warp["neg_item"].numpy(), warp["valid"].numpy(), warp["user"].numpy()
    assert cand.shape == cvalid.shape == (50, 5)
    assert not any(
        (cu[b], int(cand[b, t])) in train for b in range(50) for t in range(5) if cvalid[b, t]
    )


def test_sampler_statistics_of_the_paper_protocol_and_the_leaky_one():
    """users: every user equally often; uniform: held-out-only items drawn; observed: never."""
    rng = np.random.default_rng(3)
    num_users, num_items, held_out_only = 30, 80, np.arange(70, 80)
    # User u has 1 + u % 6 training items among 0..69; items 70..79 exist only as test items.
    train = [(u, i) for u in range(num_users) for i in rng.choice(70, 1 + u % 6, replace=False)]
    test = [(u, 70 + u % 10) for u in range(num_users)]
    ds = _dataset(train, num_users, num_items, test=test)
    step = tf.constant(1, tf.int64)
    config = bc.get_config("bprmf")
    assert (config.sampling, config.negatives) == ("users", "uniform")  # the paper's protocol
    train_set = {tuple(r) for r in ds.train}
    draws = {}
    for negatives in ("uniform", "observed"):
        batch = _sampler(ds, 9, "users", negatives).sample(step, 30000)
        u, n, v = batch["user"].numpy(), batch["neg_item"].numpy(), batch["valid"].numpy()
        assert not any((a, b) in train_set for a, b in zip(u[v], n[v], strict=True))
        draws[negatives] = n[v]
        # User uniform: each user's share within 5 standard errors of 1/30.
        share = np.bincount(u, minlength=num_users) / len(u)
        assert np.abs(share - 1 / 30).max() < 5 * np.sqrt((1 / 30) * (29 / 30) / len(u))
    uniform_share = np.isin(draws["uniform"], held_out_only).mean()
    # Uniform over the 80 - (the user's train items) candidates: about 10/77.
    assert 0.11 < uniform_share < 0.15
    assert not np.isin(draws["observed"], held_out_only).any()
    # "pairs" draws users in proportion to their training items instead.
    users = _sampler(ds, 9, "pairs", "uniform").sample(step, 30000)["user"]
    share = np.bincount(users.numpy(), minlength=num_users) / 30000
    counts = np.bincount(ds.train[:, 0], minlength=num_users)
    np.testing.assert_allclose(share, counts / counts.sum(), atol=0.006)


# ---------------------------------------------------------------------------
# VisRank, PopRank, RAND.


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_visrank_matches_brute_force(metric):
    rng = np.random.default_rng(2)
    num_users, num_items = 9, 13
    train = [(u, i) for u in range(num_users - 1) for i in rng.choice(num_items, 3, replace=False)]
    ds = _dataset(train, num_users, num_items)  # the last user has no training items
    f = rng.normal(size=(num_items, 4)).astype(np.float32) + 0.5
    scores = scorers.visrank_scorer(ds, f, metric)(tf.constant(np.arange(num_users), tf.int32))
    expected = np.zeros((num_users, num_items))
    for u in range(num_users - 1):
        mine = [i for uu, i in train if uu == u]
        for j in range(num_items):
            if metric == "sqeuclidean":
                expected[u, j] = -np.mean([np.sum((f[j] - f[i]) ** 2) for i in mine])
            else:
                cos = [f[j] @ f[i] / np.linalg.norm(f[j]) / np.linalg.norm(f[i]) for i in mine]
                expected[u, j] = np.mean(cos)
    expected[-1] = -np.sum(f**2, axis=1) if metric == "sqeuclidean" else 0.0
    np.testing.assert_allclose(np.asarray(scores), expected, rtol=1e-4, atol=1e-4)


def test_untrained_baselines(tmp_path):
    ds = _planted(seed=5)
    pop = train_lib.train_baseline(bc.get_config("poprank"), ds, str(tmp_path / "pop"))
    assert pop["test"]["auc"] == pytest.approx(auc_lib.evaluate_popularity(ds, "test")["auc"])
    rand = train_lib.train_baseline(bc.get_config("rand"), ds, str(tmp_path / "rand"))
    assert abs(rand["test"]["auc"] - 0.5) < 0.06
    assert json.load(open(tmp_path / "rand" / "result.json"))["model"] == "rand"
    with pytest.raises(ValueError, match="needs visual features"):
        train_lib.train_baseline(bc.get_config("visrank"), ds, str(tmp_path / "vis"))


# ---------------------------------------------------------------------------
# Training that learns; selection; resume.


def test_bprmf_beats_popularity_on_planted_low_rank():
    ds = _planted()
    config = bc.get_config(
        "bprmf",
        grid="none",
        dim=5,
        reg=0.001,
        learning_rate=0.5,
        epochs=30,
        batch_size=256,
        eval_every=10,
        negatives="uniform",
        jit_compile=False,
    )
    out = selection.fit(config, ds, config.reg, config.dim)
    test = auc_lib.evaluate_embeddings(ds, "test", *out["embeddings"])
    pop = auc_lib.evaluate_popularity(ds, "test")
    assert test["auc"] > 0.75 > pop["auc"] + 0.2, (test, pop)
    assert out["best_epoch"] in (10, 20, 30)
    assert out["history"][-1][2] < 0.5  # the training loss went down from ln 2


def test_visual_models_learn_from_features():
    # The planted item factors (plus noise dimensions) are the visual features.
    ds, qi = _planted(seed=3, with_factors=True)
    noise = np.random.default_rng(3).normal(size=(ds.num_items, 5)).astype(np.float32)
    raw = np.concatenate([qi, noise], axis=1)
    feats = raw / models.feature_scale(raw)
    pop = auc_lib.evaluate_popularity(ds, "test")["auc"]
    for model in ("fm", "vbpr"):
        config = bc.get_config(
            model, grid="none", epochs=20, batch_size=256, eval_every=10, jit_compile=False
        )
        out = selection.fit(config, ds, 0.01, 4, features=feats)
        test = auc_lib.evaluate_embeddings(ds, "test", *out["embeddings"])["auc"]
        assert test > 0.75 > pop + 0.1, (model, test, pop)


def test_train_baseline_selects_resumes_and_carves(tmp_path, monkeypatch):
    ds = _planted(seed=1)
    config = bc.get_config(
        "warp",
        regs=(0.0, 0.1),
        dims=(4,),
        epochs=6,
        eval_every=3,
        batch_size=512,
        learning_rate=0.5,
        jit_compile=False,
    )
    workdir = str(tmp_path / "warp")
    first = train_lib.train_baseline(config, ds, workdir)
    assert first["selection"] == "validation"
    assert [p["key"] for p in first["grid"]] == ["K4_reg0", "K4_reg0.1"]
    best = max(first["grid"], key=lambda p: p["auc"])
    assert first["hparams"] == dict(reg=best["reg"], dim=4, epochs=best["best_epoch"])
    assert first["test"]["auc"] > 0.6
    assert os.path.exists(os.path.join(workdir, "tensorboard", "K4_reg0"))
    # A rerun reuses the finished grid points and gives the same answer.
    monkeypatch.setattr(selection, "fit", lambda *a, **k: pytest.fail("retrained a done point"))
    again = train_lib.train_baseline(config, ds, workdir)
    assert again["test"] == first["test"]
    monkeypatch.undo()

    # Without a validation split, one is carved from train for selection.
    no_val = dataclasses.replace(ds, validation=np.zeros((0, 2), np.int64))
    carved = selection.carve_validation(no_val, seed=0)
    assert len(carved.validation) == ds.num_users  # every user has >= 2 train items
    both = np.concatenate([carved.train, carved.validation])
    np.testing.assert_array_equal(sort_rows(both), sort_rows(no_val.train))
    config = dataclasses.replace(config, model="bprmf", regs=(0.01,))
    out = train_lib.train_baseline(config, no_val, str(tmp_path / "carved"))
    assert out["selection"] == "carved_from_train"
    assert out["test"]["auc"] > 0.6


def test_config_validation():
    assert bc.get_config("bprmf", grid="paper").grid_points()[0] == (0.0, 10)
    assert len(bc.get_config("vbpr", grid="paper").grid_points()) == 21
    assert bc.get_config("poprank", grid="paper").grid_points() == [(0.01, 10)]
    with pytest.raises(ValueError, match="Unknown baseline"):
        bc.get_config("svd")
    with pytest.raises(ValueError, match="negatives"):
        bc.get_config("bprmf", negatives="hard")
    with pytest.raises(ValueError, match="grid"):
        bc.get_config("bprmf", grid="huge")


@pytest.mark.parametrize("kind,loss", [("mf", "bpr"), ("mf", "warp"), ("vbpr", "bpr")])
def test_sliced_gradients_give_the_same_training(kind, loss):
    """Gradients of a batch computed in 3 slices side by side: same parameters as in one piece."""
    rng = np.random.default_rng(3)
    pairs = sorted(
        {
            (int(u), int(i))
            for u, i in zip(rng.integers(0, 9, 60), rng.integers(0, 20, 60), strict=True)
        }
    )
    ds = _dataset(pairs, 9, 20)
    feats = _random_features(20, d=3) if kind == "vbpr" else None
    params = []
    for shards in (1, 3):
        model = models.FactorModel(kind, 9, 20, 4, features=feats, init_scale=0.3, seed=1)
        trainer = _trainer(
            model, ds, loss=loss, reg=0.01, reg_dense=0.1, batch_size=31, gradient_shards=shards
        )
        assert len(trainer._shards) == shards
        loss_value = float(trainer.train_steps(tf.constant(5)))
        params.append([v.numpy() for v in trainer.variables_] + [loss_value])
    for one, sliced in zip(*params, strict=True):
        np.testing.assert_allclose(sliced, one, rtol=1e-5, atol=1e-6)
    # Training moved the parameters (the comparison is not of two untouched inits).
    fresh = models.FactorModel(kind, 9, 20, 4, features=feats, init_scale=0.3, seed=1)
    assert np.abs(params[0][0] - fresh.user.numpy()).max() > 1e-3


@pytest.mark.parametrize("kind", ["vbpr", "fm"])
def test_feature_scale_in_the_model_is_dividing_the_matrix_bit_for_bit(kind, monkeypatch):
    # The models divide gathered rows by the scale (one copy of the features
    # in memory); the numbers must be those of dividing the whole matrix.
    monkeypatch.setattr(models, "_EMBED_BLOCK_BYTES", 4 * 5 * 3)  # 3 items per block
    feats = _random_features(11) * 9.0
    scale = models.feature_scale(feats)
    assert scale == pytest.approx(float(np.mean(np.linalg.norm(feats, axis=1))))
    scaled = models.FactorModel(kind, 7, 11, 4, features=feats, feature_scale=scale, seed=3)
    divided = models.FactorModel(kind, 7, 11, 4, features=feats / scale, seed=3)
    users, items = tf.constant([0, 3, 6, 2], tf.int32), tf.constant([10, 0, 5, 7], tf.int32)
    np.testing.assert_array_equal(
        scaled.score(users, items).numpy(), divided.score(users, items).numpy()
    )
    for got, want in zip(scaled.embeddings(), divided.embeddings(), strict=True):
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)
    assert models.feature_scale(np.zeros((3, 5), np.float32)) == 1.0
    with pytest.raises(ValueError, match="feature_scale"):
        models.FactorModel(kind, 7, 11, 4, features=feats, feature_scale=0.0)
