"""DVBPR's config, CNN-F tower, Siamese scoring and BPR objective."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from data.bpr import bpr_loss
from dvbpr_tf import config as config_lib
from dvbpr_tf import losses, models
from tests.testlib.dvbpr import TINY  # the narrow 32x32 model (with dropout) all DVBPR tests use


def test_presets_follow_the_paper_and_the_release():
    paper = config_lib.get_preset("paper")
    assert (paper.image_size, paper.embedding_dim, paper.batch_size) == (224, 50, 128)
    assert (paper.lambda_theta, paper.weight_decay, paper.dropout) == (1.0, 1e-3, 0.5)
    assert paper.conv_filters == (64, 256, 256, 256, 256)
    assert paper.conv_kernels == (11, 5, 3, 3, 3)
    assert paper.conv_strides == (4, 1, 1, 1, 1)
    assert paper.conv_padding == (0, 2, 1, 1, 1)
    assert paper.conv_pool == (True, True, False, False, True)
    assert paper.fc_units == (4096, 4096)
    authors = config_lib.get_preset("authors")
    assert (authors.embedding_dim, authors.learning_rate, authors.epochs) == (100, 1e-4, 20)
    assert (authors.batch_size, authors.dropout, authors.weight_decay) == (128, 0.5, 1e-3)
    assert authors.theta_init_range == (0.0, 0.01) and authors.lambda_theta == 1.0
    assert authors.conv_padding == ("same",) * 5 and authors.pool_padding == "same"
    small = config_lib.get_preset("small")
    assert small.image_size == 64 and len(small.conv_filters) == 5 and len(small.fc_units) == 2
    # The embedded datasets keep "small" whatever the machine (the demo's
    # figures depend on it); the others get "paper" only on an accelerator
    # with images larger than 64 px.
    default = config_lib.default_preset
    assert default("synthetic_fashion/tiny", 64, 1)[0] == "small"
    assert default("fashion_mnist_users", 224, 8)[0] == "small"
    assert default("amazon_women", 224, 1)[0] == "paper"
    assert default("tradesy", None, 2)[0] == "paper"
    preset, reason = default("amazon_fashion", 224, 0)
    assert preset == "small" and "--preset=paper" in reason
    preset, reason = default("custom", 28, 4)
    assert preset == "small" and "28 px" in reason
    with pytest.raises(ValueError, match="preset"):
        config_lib.get_preset("nope")
    with pytest.raises(ValueError, match="conv_padding"):
        dataclasses.replace(paper, conv_padding=(3, 2, 1, 1, 1))
    with pytest.raises(ValueError, match="strategy"):
        dataclasses.replace(paper, strategy="gpu")


def test_cnn_f_layer_shapes_and_parameters_match_the_paper_table():
    phi = models.CNNF(config_lib.get_preset("paper"))
    shapes = phi.layer_shapes()
    assert shapes["conv1"] == (54, 54, 64)  # (224 - 11) // 4 + 1
    assert shapes["pool1"] == (27, 27, 64)
    assert shapes["conv2"] == (27, 27, 256)  # pad 2 keeps the size
    assert shapes["pool2"] == (13, 13, 256)
    assert shapes["conv3"] == shapes["conv4"] == shapes["conv5"] == (13, 13, 256)
    assert shapes["pool5"] == (6, 6, 256)
    assert shapes["full6"] == shapes["full7"] == (4096,)
    assert shapes["full8"] == (50,)
    phi.build_for_input()
    expected = (
        (11 * 11 * 3 * 64 + 64)
        + (5 * 5 * 64 * 256 + 256)
        + 3 * (3 * 3 * 256 * 256 + 256)
        + (6 * 6 * 256 * 4096 + 4096)
        + (4096 * 4096 + 4096)
        + (4096 * 50 + 50)
    )
    assert phi.count_params() == expected
    # Weight decay covers the 8 kernels, not the biases.
    assert len(phi.kernels()) == 8


# DVBPR/main.py of the release: `weights` and `biases` (K = 100), verbatim shapes.
_RELEASE_WEIGHTS = {
    "wc1": [11, 11, 3, 64],
    "wc2": [5, 5, 64, 256],
    "wc3": [3, 3, 256, 256],
    "wc4": [3, 3, 256, 256],
    "wc5": [3, 3, 256, 256],
    "wd1": [7 * 7 * 256, 4096],
    "wd2": [4096, 4096],
    "wd3": [4096, 100],
}
_RELEASE_BIASES = [64, 256, 256, 256, 256, 4096, 4096, 100]


def test_authors_preset_is_the_release_network():
    phi = models.CNNF(config_lib.get_preset("authors"))
    shapes = phi.layer_shapes()
    assert shapes["conv1"] == (56, 56, 64)  # SAME: ceil(224 / 4)
    assert shapes["pool1"] == (28, 28, 64)
    assert shapes["pool2"] == (14, 14, 256)
    assert shapes["pool5"] == (7, 7, 256)
    assert shapes["flatten"] == (7 * 7 * 256,)
    phi.build_for_input()
    kernels = [tuple(k.shape) for k in phi.kernels()]
    assert kernels == [tuple(w) for w in _RELEASE_WEIGHTS.values()]
    release_params = sum(int(np.prod(w)) for w in _RELEASE_WEIGHTS.values()) + sum(_RELEASE_BIASES)
    assert phi.count_params() == release_params == 70_778_724
    # TF SAME pads conv1 by 3 left/top and 4 right/bottom (total 7): compare with tf.nn.conv2d.
    image = tf.random.stateless_uniform([1, 224, 224, 3], (1, 2), -1.0, 1.0)
    conv1 = phi.get_layer("conv1")
    reference = tf.nn.relu(
        tf.nn.conv2d(image, conv1.kernel, strides=4, padding="SAME") + conv1.bias
    )
    np.testing.assert_allclose(conv1(image), reference, atol=1e-5)
    flops = models.forward_flops(config_lib.get_preset("authors"))
    assert flops["full6"] == 2 * 7 * 7 * 256 * 4096
    assert flops["conv1"] == 2 * 56 * 56 * 64 * 11 * 11 * 3


def test_small_preset_keeps_the_structure_at_64x64():
    shapes = models.CNNF(config_lib.get_preset("small")).layer_shapes()
    assert [k for k in shapes if k.startswith(("conv", "full"))] == [
        "conv1",
        "conv2",
        "conv3",
        "conv4",
        "conv5",
        "full6",
        "full7",
        "full8",
    ]
    assert shapes["pool5"][:2] == (3, 3)


def test_siamese_scores_are_theta_dot_phi_with_shared_weights():
    model = models.DVBPR(TINY, num_users=7)
    rng = np.random.default_rng(0)
    pos = rng.uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
    neg = rng.uniform(-1, 1, (5, 32, 32, 3)).astype(np.float32)
    users = np.array([0, 3, 6, 3, 1], np.int32)
    x_ui, x_uj, theta_u = model({"user": users, "pos_image": pos, "neg_image": neg})
    theta = model.theta.numpy()
    phi_pos = model.item_embedding(pos).numpy()
    phi_neg = model.item_embedding(neg).numpy()
    assert phi_pos.shape == (5, 6) and phi_pos.dtype == np.float32
    np.testing.assert_allclose(x_ui.numpy(), np.sum(theta[users] * phi_pos, 1), rtol=1e-5)
    np.testing.assert_allclose(x_uj.numpy(), np.sum(theta[users] * phi_neg, 1), rtol=1e-5)
    np.testing.assert_array_equal(theta_u.numpy(), theta[users])
    # One tower: 5 conv + 3 dense layers of (kernel, bias), plus theta.
    assert len(model.trainable_variables) == 2 * 8 + 1
    low, high = TINY.theta_init_range
    assert theta.min() >= low and theta.max() <= high and theta.std() > (high - low) / 5


def test_dropout_noise_is_layout_independent_and_drops_at_the_rate():
    seed = tf.constant([3, 11], tf.int64)
    full = models.dropout_noise(TINY, seed, 8, tf.range(8))
    part = models.dropout_noise(TINY, seed, 8, tf.constant([2, 3, 6, 7]))
    for f, p in zip(full, part, strict=True):
        np.testing.assert_array_equal(tf.gather(f, [2, 3, 6, 7]).numpy(), p.numpy())
    big = models.dropout_noise(TINY, seed, 4000, tf.range(4000))[0].numpy()
    assert abs(np.mean(big >= TINY.dropout) - (1 - TINY.dropout)) < 0.01
    assert (
        models.dropout_noise(dataclasses.replace(TINY, dropout=0.0), seed, 8, tf.range(8)) is None
    )
    # With dropout the embedding changes; without noise it is deterministic.
    model = models.DVBPR(TINY, num_users=2)
    x = tf.random.stateless_uniform([8, 32, 32, 3], [1, 2], -1, 1)
    plain = model.item_embedding(x).numpy()
    np.testing.assert_array_equal(plain, model.item_embedding(x).numpy())
    assert not np.allclose(plain, model.item_embedding(x, dropout_noise=full).numpy())


def _numpy_objective(x_ui, x_uj, theta_u, kernels, lam, wd, batch):
    # -log sigmoid(d), computed in float64 the direct way.
    d = (x_ui - x_uj).astype(np.float64)
    bpr = np.mean(-np.log(1.0 / (1.0 + np.exp(-d))))
    reg_theta = lam * 0.5 * np.sum(theta_u.astype(np.float64) ** 2) / batch
    reg_cnn = wd * 0.5 * sum(np.sum(k.astype(np.float64) ** 2) for k in kernels) / batch
    return bpr, reg_theta, reg_cnn


def test_objective_matches_numpy_and_sums_over_replicas():
    rng = np.random.default_rng(1)
    b, k = 12, 4
    x_ui = rng.normal(size=b).astype(np.float32) * 3
    x_uj = rng.normal(size=b).astype(np.float32) * 3
    theta_u = rng.normal(size=(b, k)).astype(np.float32)
    kernels = [rng.normal(size=(3, 3, 2, 4)).astype(np.float32), rng.normal(size=(5, 2))]
    kernels = [w.astype(np.float32) for w in kernels]
    out = losses.dvbpr_objective(
        x_ui, x_uj, theta_u, kernels, lambda_theta=0.7, weight_decay=1e-2, global_batch_size=b
    )
    bpr, reg_theta, reg_cnn = _numpy_objective(x_ui, x_uj, theta_u, kernels, 0.7, 1e-2, b)
    np.testing.assert_allclose(float(out["bpr"]), bpr, rtol=1e-5)
    np.testing.assert_allclose(float(out["reg_theta"]), reg_theta, rtol=1e-5)
    np.testing.assert_allclose(float(out["reg_cnn"]), reg_cnn, rtol=1e-5)
    np.testing.assert_allclose(float(out["loss"]), bpr + reg_theta + reg_cnn, rtol=1e-5)
    # Two replicas holding half the batch each add up to the global value.
    halves = [
        losses.dvbpr_objective(
            x_ui[s],
            x_uj[s],
            theta_u[s],
            kernels,
            lambda_theta=0.7,
            weight_decay=1e-2,
            global_batch_size=b,
            num_replicas=2,
        )
        for s in (slice(0, 6), slice(6, 12))
    ]
    for key in out:
        np.testing.assert_allclose(
            float(halves[0][key] + halves[1][key]), float(out[key]), rtol=1e-5
        )


def test_bpr_is_stable_for_large_score_gaps():
    per = bpr_loss(tf.constant([200.0, -200.0, 0.0]), tf.constant([0.0, 0.0, 0.0]))
    np.testing.assert_allclose(per.numpy(), [0.0, 200.0, np.log(2.0)], rtol=1e-6, atol=1e-30)
    assert np.all(np.isfinite(per.numpy()))


def test_catalogue_image_side_reads_pixels_and_encoded_images():

    from data.core import ItemImages

    pixels = np.zeros((5, 28, 28, 3), np.uint8)
    assert config_lib.catalogue_image_side(ItemImages(pixels=pixels)) == 28
    jpegs = [
        tf.io.encode_jpeg(tf.zeros([h, w, 3], tf.uint8)).numpy()
        for h, w in ((224, 200), (100, 224), (300, 224))
    ]
    encoded = np.empty(3, object)
    encoded[:] = jpegs
    assert config_lib.catalogue_image_side(ItemImages(encoded=encoded)) == 224
    assert config_lib.catalogue_image_side(None) is None
