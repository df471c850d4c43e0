"""G, D, the eq. 7 losses and the configs."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

from gan_tf import config as gan_config
from gan_tf import losses, networks


def test_losses_match_numpy():
    rng = np.random.default_rng(0)
    real = rng.normal(size=17).astype(np.float32)
    fake = rng.normal(size=9).astype(np.float32)
    d = losses.discriminator_loss(tf.constant(real), tf.constant(fake)).numpy()
    g = losses.generator_loss(tf.constant(fake)).numpy()
    # Eq. 7, not halved.
    np.testing.assert_allclose(d, np.mean((real - 1) ** 2) + np.mean(fake**2), rtol=1e-6)
    np.testing.assert_allclose(g, np.mean((fake - 1) ** 2), rtol=1e-6)


def test_losses_at_the_optimum():
    ones, zeros = tf.ones([4]), tf.zeros([4])
    assert float(losses.discriminator_loss(ones, zeros)) == 0.0  # D perfect
    assert float(losses.generator_loss(ones)) == 0.0  # G fools D
    assert float(losses.discriminator_loss(zeros, ones)) == 2.0  # D exactly wrong


@pytest.mark.parametrize(
    "preset,channels",
    [("small32", 1), ("small32", 3), ("small64", 3), ("release64", 1), ("paper128", 3)],
)
def test_network_shapes(preset, channels):
    config = dataclasses.replace(gan_config.preset(preset), channels=channels, num_categories=5)
    r = config.resolution
    g = networks.build_generator(config, seed=0)
    d = networks.build_discriminator(config, seed=1)
    z = tf.random.uniform([2, 100], -1, 1, seed=0)
    c = tf.constant([0, 4], tf.int32)
    images = g([z, c], training=False)
    assert images.shape == (2, r, r, channels)
    assert images.dtype == tf.float32
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    scores = d([images, c], training=False)
    assert scores.shape == (2,)


def test_release_architecture_layers():
    """The 64x64 preset is the release's G (8..64 with two stride-1 layers) and D (64..512)."""
    config = gan_config.release_preset()
    g = networks.build_generator(config, seed=0)
    convs = [lay for lay in g.layers if lay.__class__.__name__ == "Conv2DTranspose"]
    got = [(lay.output.shape[1], lay.filters, lay.strides[0]) for lay in convs]
    assert got == [
        (8, 256, 2),
        (8, 256, 1),
        (16, 256, 2),
        (16, 256, 1),
        (32, 128, 2),
        (64, 64, 2),
        (64, 3, 1),
    ]
    assert g.get_layer("dense").units == 4 * 4 * 256
    d = networks.build_discriminator(config, seed=0)
    d_convs = [lay for lay in d.layers if lay.__class__.__name__ == "Conv2D"]
    assert [(lay.filters, lay.kernel_size, lay.strides) for lay in d_convs] == [
        (w, (5, 5), (2, 2)) for w in (64, 128, 256, 512)
    ]
    # The one-hot is tiled onto the image (3 + 6 channels) and the first maps (64 + 6).
    assert d_convs[0].input.shape[-1] == 3 + 6
    assert d_convs[1].input.shape[-1] == 64 + 6
    bns = [lay.name for lay in d.layers if lay.__class__.__name__ == "BatchNormalization"]
    assert bns == ["conv1_bn", "conv2_bn", "conv3_bn"]


def test_category_changes_outputs():
    config = gan_config.small_preset(32)
    g = networks.build_generator(config, seed=0)
    d = networks.build_discriminator(config, seed=1)
    z = tf.tile(tf.random.uniform([1, 100], -1, 1, seed=1), [2, 1])
    c = tf.constant([0, 1], tf.int32)
    images = g([z, c], training=False)
    # At initialisation outputs are tiny (weights ~ N(0, 0.02)): compare relatively.
    diff = float(tf.reduce_max(tf.abs(images[0] - images[1])))
    assert diff > 0.05 * float(tf.reduce_max(tf.abs(images)))
    same = tf.tile(images[:1], [2, 1, 1, 1])
    scores = d([same, c], training=False).numpy()
    assert abs(scores[0] - scores[1]) > 1e-6


def test_seeded_build_is_deterministic():
    config = gan_config.small_preset(32)
    a = networks.build_generator(config, seed=3).get_weights()
    b = networks.build_generator(config, seed=3).get_weights()
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_config_validation():
    with pytest.raises(ValueError, match="power of two"):
        gan_config.GANConfig(resolution=48)
    with pytest.raises(ValueError, match="g_widths needs"):
        gan_config.GANConfig(resolution=64, g_widths=(8, 8, 8))
    with pytest.raises(ValueError, match="channels"):
        gan_config.GANConfig(channels=2)
    with pytest.raises(ValueError, match="category_names"):
        gan_config.GANConfig(num_categories=2, category_names=("a",))
    with pytest.raises(ValueError, match="Unknown GAN preset"):
        gan_config.preset("huge")
    with pytest.raises(ValueError, match="--resolution"):
        gan_config.preset_for_resolution(256)
    assert gan_config.preset_for_resolution(128).resolution == 128
    assert gan_config.preset_for_resolution(64, full_size=True) == gan_config.release_preset()
    # The paper's stated choices.
    for name in gan_config.PRESETS:
        c = gan_config.preset(name)
        assert (c.z_dim, c.batch_size, c.beta1, c.beta2) == (100, 64, 0.5, 0.99)


@pytest.mark.parametrize(
    "resolution,d_widths,channels",
    [(32, (16, 32, 64, 128), 3), (16, (8,), 1), (32, (8, 16), 3), (64, (4, 8, 8, 16, 16), 1)],
)
def test_inference_discriminator_matches_keras(resolution, d_widths, channels):
    """The export's rewritten D (category constants, small convs as matrices) is the same function."""
    config = dataclasses.replace(
        gan_config.small_preset(32),
        resolution=resolution,
        d_widths=d_widths,
        channels=channels,
        num_categories=4,
        g_widths=(8,) * int(np.log2(resolution // 4)),
        g_stride1_stages=0,
    )
    d = networks.build_discriminator(config, seed=2)
    rng = np.random.default_rng(0)
    # Non-trivial batch-norm statistics, as after training.
    for layer in d.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
    fast = networks.InferenceDiscriminator(d, config)
    if resolution == 32 and len(d_widths) == 4:
        # 4x4 -> 2x2 runs as a matrix, the larger convs stay convs.
        assert [s.is_matrix for s in fast.stages] == [False, False, False, True]
    images = tf.constant(rng.uniform(-1, 1, (6, resolution, resolution, channels)), tf.float32)
    category = tf.constant([0, 1, 2, 3, 1, 2], tf.int32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(images)
        want = d([images, category], training=False)
        got = fast(images, category)
    scale = float(tf.reduce_max(tf.abs(want)))
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4 * scale + 1e-7)
    want_grad = tape.gradient(want, images).numpy()
    got_grad = tape.gradient(got, images).numpy()
    np.testing.assert_allclose(got_grad, want_grad, atol=1e-4 * np.abs(want_grad).max())
    # Categories matter through the constants: a different id changes the score.
    other = fast(images, (category + 1) % 4).numpy()
    assert np.abs(other - got.numpy()).max() > 1e-3 * scale
