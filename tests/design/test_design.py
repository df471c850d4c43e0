"""Tests of design/ on fixed tiny stand-in exports (design/standins.py).

The stand-ins have the export interfaces (item_embedding_float, theta, ...;
generate / discriminate / metadata) and seeded random weights, so these
tests do not depend on any training run.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from data.core import DataError, ItemImages, RecDataset, as_str_ids
from design import design_lib, report, standins
from design.config import DesignConfig
from design.ops import nearest_upscale, sample_without_replacement
from design.optimize import Designer
from exports.gan import load_generator
from exports.recommender import load_recommender

CONFIG = DesignConfig(restarts=8, steps=40, top_k=3, inversion_restarts=4, inversion_steps=300)


def _tiny_dataset(num_items=24, num_users=6, size=16, seed=0) -> RecDataset:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (num_items, size, size, 3), dtype=np.uint8)
    rows = np.stack([np.arange(num_items) % num_users, np.arange(num_items)], 1).astype(np.int64)
    return RecDataset(
        name="tiny_design",
        num_users=num_users,
        num_items=num_items,
        train=rows,
        validation=np.zeros((0, 2), np.int64),
        test=np.zeros((0, 2), np.int64),
        item_ids=as_str_ids(f"i{i}" for i in range(num_items)),
        user_ids=as_str_ids(range(num_users)),
        categories=(np.arange(num_items) % 2).astype(np.int64),
        category_names=("cat0", "cat1"),
        images=ItemImages(pixels=pixels),
    )


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    root = tmp_path_factory.mktemp("design_exports")
    ds = _tiny_dataset()
    rec = standins.recommender_module(
        standins.RecommenderSpec(), seed=0, item_images=ds.images.pixels
    )
    paths = {
        "rec": standins.save(rec, str(root / "rec")),
        "gan": standins.save(standins.gan_module(standins.GANSpec(), seed=1), str(root / "gan")),
        "root": str(root),
    }
    return paths, ds


@pytest.fixture(scope="module")
def designer(exports):
    paths, _ = exports
    return Designer(load_recommender(paths["rec"]), load_generator(paths["gan"]), CONFIG)


def test_nearest_upscale_matches_tf_resize_and_repeat():
    x = tf.random.uniform([2, 8, 8, 3], seed=0)
    # An integer factor repeats every pixel.
    np.testing.assert_array_equal(
        nearest_upscale(x, 16).numpy(), np.repeat(np.repeat(x.numpy(), 2, 1), 2, 2)
    )
    # A fractional one (the paper's 128 -> 224) samples pixel centres, as tf.image.resize.
    want = tf.image.resize(x, [20, 20], method="nearest").numpy()
    np.testing.assert_array_equal(nearest_upscale(x, 20).numpy(), want)


def test_objective_matches_the_exports_called_directly(designer):
    rec, gan = designer.rec, designer.gan
    z0 = designer.initial_z(2, 3, seed=5)
    users, cats = np.array([1, 4]), np.array([0, 1])
    zero_steps = Designer(rec, gan, dataclasses.replace(CONFIG, steps=0))
    result = zero_steps.maximize(users, cats, z0=z0, eta=0.5)
    z = np.tanh(np.arctanh(z0)).reshape(6, -1)
    c = np.repeat(cats, 3).astype(np.int32)
    images = gan.module.generate(z, c)["images"].numpy()
    up = np.repeat(np.repeat(images, 2, 1), 2, 2)  # 8 -> 16
    emb = rec.module.item_embedding_float(up).numpy()
    pref = np.sum(rec.theta[np.repeat(users, 3)] * emb, -1).reshape(2, 3)
    d = gan.module.discriminate(images, c)["score"].numpy().reshape(2, 3)
    np.testing.assert_allclose(result.preference, pref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.objective, pref - 0.5 * (d - 1) ** 2, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.initial_objective, result.objective, rtol=1e-5, atol=1e-6)


def test_chunked_ascent_is_one_ascent_and_reports_progress(designer, monkeypatch):
    """Adam's moments and step count carry across chunks: 1 chunk == 7 chunks, bit for bit."""
    from design import inversion

    reports = []

    class Recorder:
        def __init__(self, total, what, prefix, quiet_start):
            reports.append((prefix, total, []))

        def update(self, done, force=False):
            reports[-1][2].append(done)

    monkeypatch.setattr(inversion, "Progress", Recorder)
    users, cats = np.array([0, 3]), np.array([1, 0])
    runs = {}
    for chunks in (1, 7):
        monkeypatch.setattr(inversion, "_PROGRESS_CHUNKS", chunks)
        runs[chunks] = designer.maximize(users, cats, seed=2)
    for field in ("z", "objective", "history", "best_image"):
        np.testing.assert_array_equal(getattr(runs[1], field), getattr(runs[7], field))
    prefix, total, done = reports[-1]
    assert prefix.startswith("delta-hat (2 queries x 8 restarts)") and total == CONFIG.steps
    # 40 steps in chunks of 6: a report after each, then the closing one.
    assert done == [6, 12, 18, 24, 30, 36, 40, 40]
    # Tailoring keeps every step's code through the chunks as well.
    monkeypatch.setattr(inversion, "_PROGRESS_CHUNKS", 20)
    many = designer.tailor(np.zeros((16, 16, 3), np.uint8), 1, [0, 2], seed=1)
    monkeypatch.setattr(inversion, "_PROGRESS_CHUNKS", 1)
    one = designer.tailor(np.zeros((16, 16, 3), np.uint8), 1, [0, 2], seed=1)
    np.testing.assert_array_equal(many.images, one.images)
    assert [r[0].split(" ")[0] for r in reports[-4:]] == ["inversion", "tailoring"] * 2


def test_maximize_raises_the_objective_and_beats_its_starting_points(designer):
    users, cats = np.array([0, 1, 2, 3]), np.array([0, 1, 1, 0])
    result = designer.maximize(users, cats, seed=3)
    q, m = 4, CONFIG.restarts
    assert result.objective.shape == (q, m) and result.z.shape == (q, m, designer.gan.z_dim)
    assert result.history.shape == (CONFIG.steps + 1, q, m)
    # Every restart climbs, and each query's best beats the best of its starts.
    assert np.all(result.objective > result.initial_objective)
    gain = result.objective.max(1) - result.initial_objective.max(1)
    assert np.all(gain > 0.05), gain
    assert np.all(np.abs(result.z) <= 1.0)
    np.testing.assert_array_equal(result.best, result.objective.argmax(1))
    np.testing.assert_array_equal(result.top[:, 0], result.best)
    assert np.all(np.diff(result.pick("objective", result.top), axis=1) <= 0)
    # The returned images are G at the returned codes.
    best_z = result.z[np.arange(q), result.best]
    np.testing.assert_allclose(
        result.best_image, designer.generate(best_z, cats), rtol=1e-5, atol=1e-5
    )
    assert result.sampled_images.shape == (q, 3, 8, 8, 3)
    assert result.best_image.min() >= -1 and result.best_image.max() <= 1
    # Scoring the returned images separately gives the reported preference.
    np.testing.assert_allclose(
        designer.score_generated(users, result.best_image),
        result.pick("preference", result.best),
        rtol=1e-4,
        atol=1e-4,
    )


def test_batched_restarts_equal_one_by_one(designer):
    z0 = designer.initial_z(2, 4, seed=9)
    users, cats = np.array([2, 5]), np.array([1, 0])
    batched = designer.maximize(users, cats, z0=z0)
    for q, t in itertools.product(range(2), range(4)):
        alone = designer.maximize(
            users[q : q + 1], cats[q : q + 1], z0=z0[q : q + 1, t : t + 1], k=1
        )
        np.testing.assert_allclose(alone.objective[0, 0], batched.objective[q, t], atol=1e-4)
        np.testing.assert_allclose(alone.z[0, 0], batched.z[q, t], atol=1e-4)


def test_eta_weighs_the_realism_term(designer):
    users, cats = np.array([0, 0]), np.array([1, 1])
    z0 = np.repeat(designer.initial_z(1, 8, seed=2), 2, axis=0)
    result = designer.maximize(users, cats, z0=z0, eta=[0.0, 20.0])
    # A large eta buys realism (smaller (D - 1)^2) with preference.
    assert result.realism[1].mean() < result.realism[0].mean()
    assert result.preference[1].mean() < result.preference[0].mean()


def _ordered_pair_probabilities(values):
    p = np.exp(values - values.max())
    p /= p.sum()
    out = {}
    for i, j in itertools.permutations(range(len(values)), 2):
        out[(i, j)] = p[i] * p[j] / (1.0 - p[i])
    return out


def test_eq11_sampler_draws_softmax_without_replacement():
    values = np.array([0.0, 1.0, 2.0, -1.0])
    n = 200_000
    draws = sample_without_replacement(np.tile(values, (n, 1)), 2, np.random.default_rng(0))
    assert draws.shape == (n, 2) and np.all(draws[:, 0] != draws[:, 1])
    codes = draws[:, 0] * 4 + draws[:, 1]
    freq = np.bincount(codes, minlength=16) / n
    for (i, j), p in _ordered_pair_probabilities(values).items():
        assert abs(freq[i * 4 + j] - p) < 0.004, (i, j, freq[i * 4 + j], p)
    # k = m returns a permutation; bad k is refused.
    full = sample_without_replacement(values[None], 4, np.random.default_rng(1))
    assert sorted(full[0]) == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        sample_without_replacement(values[None], 5, np.random.default_rng(1))


def test_retrieve_is_the_top_k_of_the_category(designer):
    users, cats = np.array([0, 3, 5]), np.array([1, 0, 1])
    items, scores = designer.retrieve(users, cats, k=3)
    rec = designer.rec
    for q in range(3):
        members = np.flatnonzero(rec.item_categories == cats[q])
        s = rec.item_embeddings[members] @ rec.theta[users[q]]
        order = np.argsort(-s)[:3]
        np.testing.assert_array_equal(items[q], members[order])
        np.testing.assert_allclose(scores[q], s[order], rtol=1e-5)
    np.testing.assert_allclose(designer.score_items(users, items), scores, rtol=1e-5)


def test_inversion_recovers_a_generated_image(designer):
    z_true = designer.initial_z(3, 1, seed=21)[:, 0]
    cats = np.array([0, 1, 1])
    targets = designer.generate(z_true, cats)
    inv = designer.invert(targets, cats, seed=4)
    assert inv.images.shape == targets.shape
    # Mean absolute pixel error on the [-1, 1] scale, against ~0.1 for a random code.
    random_l1 = np.abs(designer.generate(designer.initial_z(3, 1, 99)[:, 0], cats) - targets)
    assert np.all(inv.l1 < 0.005), inv.l1
    assert random_l1.mean() > 20 * inv.l1.max()
    np.testing.assert_allclose(np.abs(inv.images - targets).mean((1, 2, 3)), inv.l1, atol=1e-6)
    assert np.abs(np.tanh(inv.z_prime) - z_true).mean() < 0.05


def test_tailor_keeps_snapshots_and_climbs(designer, exports):
    _, ds = exports
    query = ds.images.pixels[5]
    result = designer.tailor(query, 1, [0, 2, 4])
    np.testing.assert_array_equal(result.steps, [0, 10, 20, 30, 40, 50])
    assert result.images.shape == (3, 6, 8, 8, 3)
    assert result.preference.shape == (3, 6)
    # Snapshot 0 is the inversion for every user; the ascent then raises each objective.
    for u in range(3):
        np.testing.assert_allclose(result.images[u, 0], result.inversion.images[0], atol=1e-5)
    assert np.all(result.objective[:, -1] > result.objective[:, 0])
    np.testing.assert_allclose(
        result.inversion.targets[0], designer.downscale(query[None])[0], atol=1e-6
    )


def test_grey_gan_is_tiled_to_rgb(exports, tmp_path):
    paths, _ = exports
    grey = standins.gan_module(dataclasses.replace(standins.GANSpec(), channels=1), seed=3)
    gan = load_generator(standins.save(grey, str(tmp_path / "grey")))
    d = Designer(load_recommender(paths["rec"]), gan, dataclasses.replace(CONFIG, steps=10))
    result = d.maximize([1], [0])
    assert result.best_image.shape == (1, 8, 8, 1)
    assert result.objective.max() > result.initial_objective.max()
    target = d.downscale(np.full((1, 16, 16, 3), 200, np.uint8))
    assert target.shape == (1, 8, 8, 1)


def test_bad_input_errors(designer, exports, tmp_path):
    paths, _ = exports
    with pytest.raises(DataError, match="Unknown user"):
        designer.maximize([6], [0])
    with pytest.raises(DataError, match="Unknown category"):
        designer.maximize([0], [2])
    with pytest.raises(DataError, match="Unknown category"):
        designer.retrieve([0], [-1])
    with pytest.raises(DataError, match="Unknown item"):
        designer.rec.check_items([24])
    with pytest.raises(DataError, match="fewer than k"):
        designer.retrieve([0], [0], k=13)
    with pytest.raises(DataError, match="No SavedModel"):
        load_recommender(str(tmp_path / "nothing"))
    # A GAN bigger than the recommender's input cannot be upscaled into it.
    big = standins.gan_module(
        dataclasses.replace(standins.GANSpec(), resolution=32, g_widths=(8, 8, 8))
    )
    big_gan = load_generator(standins.save(big, str(tmp_path / "big")))
    with pytest.raises(DataError, match="larger than the recommender"):
        Designer(designer.rec, big_gan, CONFIG)
    three = standins.gan_module(dataclasses.replace(standins.GANSpec(), num_categories=3))
    three_gan = load_generator(standins.save(three, str(tmp_path / "three")))
    with pytest.raises(DataError, match="categories"):
        Designer(designer.rec, three_gan, CONFIG)
    # A recommender export without the differentiable tower, and a GAN path given as recommender.
    with pytest.raises(DataError, match="item_embedding_float"):
        load_recommender(paths["gan"])
    with pytest.raises(DataError, match="not a GAN export"):
        load_generator(paths["rec"])


def test_design_lib_writes_fig5_and_fig6(designer, exports, tmp_path):
    _, ds = exports
    out = str(tmp_path / "out")
    summary = design_lib.generate_sheet(designer, ds, [1, 2], [0, 1], out)
    assert os.path.exists(summary["figure"])
    with open(os.path.join(out, "design.json")) as f:
        payload = json.load(f)
    q0 = payload["queries"][0]
    assert [r["item"] for r in q0["real"]] == designer.retrieve([1], [0])[0][0].tolist()
    assert q0["best_objective"] > q0["best_initial_objective"]
    assert len(q0["generated"]) == 3
    z = np.load(os.path.join(out, "design_z.npz"))["z"]
    assert z.shape == (2, 3, designer.gan.z_dim)
    summary = design_lib.tailor_sheet(designer, ds, 7, [0, 1], out)
    assert summary["tailored_preference"] > -1e9 and os.path.exists(summary["figure"])
    with open(os.path.join(out, "tailor.json")) as f:
        assert json.load(f)["steps"] == [0, 10, 20, 30, 40, 50]
    with pytest.raises(DataError, match="Unknown item"):
        design_lib.tailor_sheet(designer, ds, 99, [0], out)
    with pytest.raises(DataError, match="Unknown category"):
        design_lib.parse_categories("cat7", ("cat0", "cat1"))
    assert design_lib.parse_categories("cat1,0", ("cat0", "cat1")) == [1, 0]


def test_report_pictures_have_the_expected_layout():
    real = np.zeros((2, 3, 16, 16, 3), np.uint8)
    gen = np.zeros((2, 3, 8, 8, 1), np.float32)
    sheet = report.fig5_sheet(real, np.ones((2, 3)), gen, np.ones((2, 3)), ["a", "b"], tile=32)
    assert sheet.dtype == np.uint8 and sheet.ndim == 3 and sheet.shape[2] == 3
    assert sheet.shape[0] >= 2 * 32 and sheet.shape[1] >= 6 * 32
    plot = report.line_panels(
        [0.0, 0.1, 1.0, 10.0],
        [("pref", [("x", [1, 2, 3, 4], [0.1, 0.1, 0.1, 0.1])]), ("q", [("y", [4, 3, 2, 1], None)])],
        "eta",
        log_x=True,
    )
    assert plot.shape == (220, 600, 3)
    # A tick just below zero reads "0.00", not "-0.00"; real negatives keep their sign.
    assert report._nice(-0.004, 0.8) == "0.00" and report._nice(-0.04, 0.8) == "-0.04"
    # With a legend, the highest line stays below its lines (22 px margin, 12 px per name).
    two = report.line_panels(
        [1.0, 2.0, 3.0], [("p", [("hi", [5, 5, 5], None), ("lo", [0, 0, 0], None)])], "x"
    )
    colour = np.array(report._COLOURS[0])
    right = two[:, 300 - 16 - 4 : 300 - 16 + 4]  # around the last point, clear of the legend
    rows = np.nonzero(np.all(right == colour, axis=-1).any(axis=1))[0]
    assert len(rows) and rows.min() > 22 + 2 * 12 + 6
    # Three series at one value (a design curve on two references): all three colours show.
    same = report.line_panels(
        [1.0, 2.0, 3.0], [("p", [(n, [0.5, 0.5, 0.5], None) for n in "abc"])], "x"
    )
    line_rows = same[100:200, 80:260]  # the plot area below the legend, clear of the points
    for c in report._COLOURS[:3]:
        assert np.all(line_rows == np.array(c), axis=-1).sum() > 100, c
    table = report.markdown_table(["a", "b"], [["1", report.fmt_mean_std(1.23456, 0.5)]])
    assert "| 1 | 1.2346 ± 0.50 |" in table


def _run_binary(module, argv):
    """Runs a design binary's body in process with these flags (what app.run would do)."""
    from absl import flags

    flags.FLAGS.unparse_flags()
    flags.FLAGS(["prog", *argv])
    try:
        module._run()
    finally:
        flags.FLAGS.unparse_flags()


def test_generate_and_tailor_binaries_end_to_end(tmp_path, capsys):
    """`design.generate` and `design.tailor` on stand-ins over synthetic_fashion/tiny."""
    from data import registry
    from design import generate, tailor

    ds = registry.load("synthetic_fashion/tiny")
    rec = standins.recommender_module(
        dataclasses.replace(standins.RecommenderSpec(), num_users=ds.num_users),
        seed=0,
        item_images=ds.images.pixels,
        item_categories=ds.categories,
        category_names=ds.category_names,
        dataset_name="synthetic_fashion/tiny",
    )
    gan = standins.gan_module(dataclasses.replace(standins.GANSpec(), num_categories=6))
    rec_dir = standins.save(rec, str(tmp_path / "rec"))
    gan_dir = standins.save(gan, str(tmp_path / "gan"))
    common = [f"--recommender={rec_dir}", f"--gan={gan_dir}", "--restarts=4", "--steps=5"]
    out = str(tmp_path / "gen")
    _run_binary(generate, common + ["--user=3,4", "--category=women_tops", f"--workdir={out}"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["queries"] == 2 and os.path.exists(result["figure"])
    with open(os.path.join(out, "config.json")) as f:
        assert json.load(f)["design"]["restarts"] == 4
    with open(os.path.join(out, "design.json")) as f:
        assert {q["category_name"] for q in json.load(f)["queries"]} == {"women_tops"}
    out = str(tmp_path / "tailor")
    item = int(np.flatnonzero(ds.categories == 2)[0])
    argv = common + [f"--item={item}", "--users=1,2", "--inversion_steps=20", "--tailor_steps=4"]
    _run_binary(tailor, argv + ["--snapshot_every=2", f"--out={out}"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["users"] == 2 and os.path.exists(result["figure"])
    with open(os.path.join(out, "tailor.json")) as f:
        payload = json.load(f)
    assert payload["steps"] == [0, 2, 4] and payload["category_name"] == "men_bottoms"


def test_binaries_end_bad_input_with_a_message_and_status_2(capsys, designer):
    from common import runtime

    def run():
        designer.maximize([300], [0])

    with pytest.raises(SystemExit) as exit_info:
        runtime.exit_on_data_error(run)
    assert exit_info.value.code == 2
    assert "error: Unknown user(s) [300]" in capsys.readouterr().err


def test_the_projects_real_exports_fit_design(tmp_path):
    """Untrained DVBPR and GAN written by dvbpr_tf/gan_tf's exporters load and ascend.

    Guards the interface design relies on (design/ itself never imports
    those packages); the stand-ins above only imitate it.
    """
    from dvbpr_tf import config as dvbpr_config
    from dvbpr_tf import export_lib as dvbpr_export
    from dvbpr_tf import models
    from gan_tf import export_lib as gan_export
    from gan_tf import networks
    from tests.testlib.gan import tiny_config, two_category_dataset

    ds = two_category_dataset(num_items=16, size=16)
    rec_config = dataclasses.replace(
        dvbpr_config.get_preset("small"),
        image_size=16,
        conv_filters=(4, 4, 4, 4, 4),
        conv_kernels=(3, 3, 3, 3, 3),
        conv_padding=(1, 1, 1, 1, 1),
        conv_pool=(True, False, False, False, True),
        fc_units=(8, 8),
        embedding_dim=4,
        eval_batch_size=16,
    )
    model = models.DVBPR(rec_config, num_users=ds.num_users)
    dvbpr_export.export_recommender(model, ds, rec_config, str(tmp_path / "rec"))
    gan_config = tiny_config(resolution=8, g_widths=(8,), d_widths=(8,))
    gan_export.export_gan(
        networks.build_generator(gan_config, seed=0),
        networks.build_discriminator(gan_config, seed=1),
        gan_config,
        str(tmp_path / "gan"),
    )
    designer = Designer(
        load_recommender(str(tmp_path / "rec")),
        load_generator(str(tmp_path / "gan")),
        dataclasses.replace(CONFIG, restarts=4, steps=10),
    )
    assert designer.rec.category_names == ("dark", "bright")
    result = designer.maximize([0, 1], [0, 1])
    assert np.all(result.objective.max(1) >= result.initial_objective.max(1))
    # Stored catalogue embeddings equal the float tower on the preprocessed images.
    x = (ds.images.pixels[:3].astype(np.float32) - 127.5) / 127.5
    np.testing.assert_allclose(
        designer.rec.embed(tf.constant(x)).numpy(),
        designer.rec.item_embeddings[:3],
        rtol=1e-4,
        atol=1e-5,
    )
