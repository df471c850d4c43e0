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


def test_nonsaturating_losses_match_numpy():
    rng = np.random.default_rng(1)
    real = rng.normal(scale=3.0, size=17).astype(np.float32)
    fake = rng.normal(scale=3.0, size=9).astype(np.float32)

    def sigmoid(x):
        return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))

    d = losses.discriminator_loss(tf.constant(real), tf.constant(fake), "nonsaturating")
    per_image = losses.generator_loss_per_image(tf.constant(fake), "nonsaturating").numpy()
    g = losses.generator_loss(tf.constant(fake), "nonsaturating").numpy()
    # Binary cross entropy of sigmoid(D): real against 1, fake against 0; G: fake against 1.
    want_d = -np.mean(np.log(sigmoid(real))) - np.mean(np.log(1.0 - sigmoid(fake)))
    np.testing.assert_allclose(float(d), want_d, rtol=1e-5)
    np.testing.assert_allclose(per_image, -np.log(sigmoid(fake)), rtol=1e-5)
    np.testing.assert_allclose(g, per_image.mean(), rtol=1e-6)
    # The LSGAN per-image term is what its G loss averages.
    np.testing.assert_allclose(
        losses.generator_loss_per_image(tf.constant(fake)).numpy(), (fake - 1.0) ** 2, rtol=1e-6
    )
    # Finite far into the tails, where a naive log(sigmoid) would overflow.
    far = tf.constant([-200.0, 200.0])
    assert np.all(np.isfinite(losses.generator_loss_per_image(far, "nonsaturating").numpy()))
    with pytest.raises(ValueError, match="loss must be one of"):
        losses.generator_loss(far, "hinge")


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
    # As the release: the one-hot (6 categories) is tiled onto every conv's
    # input, the image and h0..h2, but not onto h3, the score layer's input.
    assert [lay.input.shape[-1] for lay in d_convs] == [3 + 6, 64 + 6, 128 + 6, 256 + 6]
    assert d.get_layer("score").kernel.shape == (4 * 4 * 512, 1)
    bns = [lay.name for lay in d.layers if lay.__class__.__name__ == "BatchNormalization"]
    assert bns == ["conv1_bn", "conv2_bn", "conv3_bn"]
    # The release's training: alternating steps, real and fake as separate batches, no averaging.
    for release_form in (config, gan_config.paper_preset()):
        assert (release_form.update, release_form.d_batch_norm) == ("alternating", "separate")
        assert (release_form.g_upsample, release_form.g_ema_decay) == ("transpose", 0.0)


@pytest.mark.parametrize("mode, interpolation", [("resize", "nearest"), ("bilinear", "bilinear")])
def test_resize_generator_doubles_without_transposed_strides(mode, interpolation):
    base = gan_config.small_preset(32)
    transpose = networks.build_generator(base, seed=0)
    resize = networks.build_generator(dataclasses.replace(base, g_upsample=mode), seed=0)
    # Same kernels (a 3x3 conv per doubling), so the same parameter count.
    assert resize.count_params() == transpose.count_params()
    strided = [
        layer.name
        for layer in resize.layers
        if isinstance(layer, tf.keras.layers.Conv2DTranspose) and layer.strides == (2, 2)
    ]
    assert strided == []
    assert [layer.name for layer in resize.layers if "_resize" in layer.name] == [
        f"up{i}_resize" for i in range(len(base.g_widths))
    ]
    z = tf.random.stateless_uniform([4, base.z_dim], (3, 4), -1.0, 1.0)
    images = resize([z, tf.constant([0, 1, 2, 3])], training=False)
    assert images.shape == (4, 32, 32, 3)
    assert float(tf.reduce_max(tf.abs(images))) <= 1.0
    doubling = resize.get_layer("up0_resize")
    assert doubling.interpolation == interpolation
    # Nearest copies each value into a 2x2 block; bilinear interpolates between them.
    ramp = tf.reshape(tf.range(4.0), [1, 2, 2, 1])
    doubled = doubling(ramp).numpy()[0, :, :, 0]
    block_copies = np.repeat(np.repeat(ramp.numpy()[0, :, :, 0], 2, 0), 2, 1)
    assert np.array_equal(doubled, block_copies) == (mode == "resize")
    with pytest.raises(ValueError, match="g_upsample"):
        dataclasses.replace(base, g_upsample="cubic")


def test_generator_stride1_depth_stacks_convs_after_the_first_stages():
    """Depth d puts d stride-1 convs of the stage's width after each of the first stages."""
    base = dataclasses.replace(gan_config.small_preset(32), g_stride1_stages=2)
    deep = networks.build_generator(dataclasses.replace(base, g_stride1_depth=3), seed=0)
    convs = [lay for lay in deep.layers if isinstance(lay, tf.keras.layers.Conv2DTranspose)]
    got = [(lay.name, lay.output.shape[1], lay.filters, lay.strides[0]) for lay in convs]
    w0, w1, w2 = base.g_widths
    assert got == [
        ("up0", 8, w0, 2),
        ("up0_s1", 8, w0, 1),
        ("up0_s1_2", 8, w0, 1),
        ("up0_s1_3", 8, w0, 1),
        ("up1", 16, w1, 2),
        ("up1_s1", 16, w1, 1),
        ("up1_s1_2", 16, w1, 1),
        ("up1_s1_3", 16, w1, 1),
        ("up2", 32, w2, 2),
        ("to_image", 32, base.channels, 1),
    ]
    # Depth 1 (every preset) keeps its layer names, so its checkpoints load.
    shallow = networks.build_generator(base, seed=0)
    shallow_convs = [lay.name for lay in shallow.layers if isinstance(lay, type(convs[0]))]
    assert shallow_convs == ["up0", "up0_s1", "up1", "up1_s1", "up2", "to_image"]
    extra = 2 * (9 * w0 * w0 + 2 * w0) + 2 * (9 * w1 * w1 + 2 * w1)  # kernels + BN gamma, beta
    trainable = lambda m: sum(int(np.prod(v.shape)) for v in m.trainable_weights)  # noqa: E731
    assert trainable(deep) - trainable(shallow) == extra
    z = tf.random.stateless_uniform([2, base.z_dim], (1, 2), -1.0, 1.0)
    assert deep([z, tf.constant([0, 1])], training=False).shape == (2, 32, 32, base.channels)
    with pytest.raises(ValueError, match="g_stride1_depth must be >= 1"):
        dataclasses.replace(base, g_stride1_depth=0)


def test_discriminator_stem_reads_the_image_at_full_resolution():
    """d_stem_width adds one 3x3 stride-1 conv before conv0; the category stays on conv0."""
    base = gan_config.small_preset(32)
    plain = networks.build_discriminator(base, seed=0)
    stem = networks.build_discriminator(dataclasses.replace(base, d_stem_width=8), seed=0)
    layer = stem.get_layer("stem")
    assert (layer.kernel_size, layer.strides, layer.filters) == ((3, 3), (1, 1), 8)
    assert layer.output.shape[1:] == (32, 32, 8)
    assert layer.input.shape[-1] == base.channels  # the image alone, no one-hot
    k = base.num_categories
    assert stem.get_layer("conv0").input.shape[-1] == 8 + k
    assert plain.get_layer("conv0").input.shape[-1] == base.channels + k
    w0 = base.d_widths[0]
    extra = 9 * base.channels * 8 + 8 + 25 * (8 - base.channels) * w0  # stem; wider conv0
    assert stem.count_params() - plain.count_params() == extra
    images = tf.random.stateless_uniform([3, 32, 32, base.channels], (5, 6), -1.0, 1.0)
    scores = stem([images, tf.constant([0, 1, 2])], training=False)
    assert scores.shape == (3,) and np.all(np.isfinite(scores.numpy()))
    # The export's rewritten D runs the stem too: the same scores and input gradients.
    with_bias = dataclasses.replace(base, d_stem_width=8, d_condition_layers=2)
    d = networks.build_discriminator(with_bias, seed=1)
    d.get_layer("stem").bias.assign(np.linspace(-0.2, 0.2, 8).astype(np.float32))
    fast = networks.InferenceDiscriminator(d, with_bias)
    category = tf.constant([0, 1, 2])
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(images)
        want = d([images, category], training=False)
        got = fast(images, category)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4 * np.abs(want).max())
    want_grad, got_grad = tape.gradient(want, images).numpy(), tape.gradient(got, images).numpy()
    np.testing.assert_allclose(got_grad, want_grad, atol=1e-4 * np.abs(want_grad).max())
    # Without a stem the seeds of D's layers are as before, so old runs rebuild the same D.
    again = networks.build_discriminator(dataclasses.replace(base, d_stem_width=0), seed=0)
    for a, b in zip(plain.weights, again.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(ValueError, match="d_stem_width must be >= 0"):
        dataclasses.replace(base, d_stem_width=-1)


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
    with pytest.raises(
        ValueError, match=r"d_condition_layers must be in \[0, len\(d_widths\) \+ 1\] = \[0, 5\]"
    ):
        gan_config.GANConfig(d_condition_layers=6)
    with pytest.raises(ValueError, match="d_condition_layers"):
        gan_config.GANConfig(d_widths=(8,), d_condition_layers=-1)
    assert gan_config.GANConfig(d_widths=(8,), d_condition_layers=2).d_condition_layers == 2
    with pytest.raises(ValueError, match="d_batch_norm must be one of separate, joint, none"):
        gan_config.GANConfig(d_batch_norm="shared")
    with pytest.raises(ValueError, match="Unknown GAN preset"):
        gan_config.preset("huge")
    with pytest.raises(ValueError, match="--resolution"):
        gan_config.preset_for_resolution(256)
    assert gan_config.preset_for_resolution(128).resolution == 128
    tuned = gan_config.preset("tuned64")  # small64 + departures
    assert (tuned.update, tuned.g_upsample, tuned.g_ema_decay) == ("alternating", "resize", 0.995)
    assert tuned.g_widths == gan_config.small_preset(64).g_widths
    # tuned32_stddev: tuned32 with the standard-deviation plane, 90 epochs, nothing else;
    # tuned32_stddev_fastd is that with D's learning rate twice G's, nothing else;
    # s1all is that with a stride-1 conv after every G stage, nothing else;
    # the default at 32 is s1all with D's full-size stem, nothing else.
    stddev = gan_config.preset("tuned32_stddev")
    assert stddev == dataclasses.replace(gan_config.preset("tuned32"), d_stddev_group=4, epochs=90)
    fastd = gan_config.preset("tuned32_stddev_fastd")
    assert fastd == dataclasses.replace(stddev, d_learning_rate=2 * stddev.learning_rate)
    assert fastd.d_learning_rate == 4e-4
    s1all = gan_config.preset("tuned32_stddev_fastd_s1all")
    assert s1all == dataclasses.replace(fastd, g_stride1_stages=len(fastd.g_widths))
    assert s1all.d_stem_width == 0
    assert gan_config.preset_for_resolution(32) == gan_config.preset(
        "tuned32_stddev_fastd_s1all_stem"
    )
    assert gan_config.preset_for_resolution(32) == dataclasses.replace(s1all, d_stem_width=16)
    assert stddev.g_stride1_stages == 1  # the departure is the s1all preset's alone
    # regularised64: tuned64 with D regularised, nothing else changed;
    # regularised64_b16 is that at batch 16, nothing else changed.
    regularised = gan_config.preset("regularised64")
    assert regularised == dataclasses.replace(
        tuned, d_r1_gamma=1.0, d_stddev_group=4, d_batch_norm="separate"
    )
    b16 = gan_config.preset("regularised64_b16")
    assert b16 == dataclasses.replace(regularised, batch_size=16)
    # regularised64_b16_slowd: that with D's learning rate halved, nothing else changed;
    # the default at 64 is that with a shorter weight average of G, nothing else changed.
    slowd = gan_config.preset("regularised64_b16_slowd")
    assert slowd == dataclasses.replace(b16, d_learning_rate=1e-4)
    assert gan_config.preset_for_resolution(64) == gan_config.preset(
        "regularised64_b16_slowd_ema99"
    )
    assert gan_config.preset_for_resolution(64) == dataclasses.replace(slowd, g_ema_decay=0.99)
    assert b16.learning_rate == 2e-4 and b16.d_learning_rate is None
    assert gan_config.preset_for_resolution(64, full_size=True) == gan_config.release_preset()
    for resolution, full_size in ((32, False), (64, False), (64, True), (128, False)):
        name = gan_config.default_preset_name(resolution, full_size)
        assert gan_config.preset_for_resolution(resolution, full_size) == gan_config.preset(name)
    # The paper's stated choices (batch 64), but for the presets that take the release's 16.
    for name in gan_config.PRESETS:
        c = gan_config.preset(name)
        batch = 16 if name.startswith("regularised64_b16") else 64
        assert (c.z_dim, c.batch_size, c.beta1, c.beta2) == (100, batch, 0.5, 0.99)


def _d_config(resolution, d_widths, channels=3, num_categories=4, **overrides):
    """A small GANConfig around a D of the given shape (G is irrelevant here)."""
    return dataclasses.replace(
        gan_config.small_preset(32),
        resolution=resolution,
        d_widths=d_widths,
        channels=channels,
        num_categories=num_categories,
        g_widths=(8,) * int(np.log2(resolution // 4)),
        g_stride1_stages=0,
        **overrides,
    )


@pytest.mark.parametrize("name", sorted(gan_config.PRESETS))
def test_discriminator_inputs_carry_the_category_where_configured(name):
    """Layer i's kernel reads (previous width + K) channels iff i < d_condition_layers."""
    config = dataclasses.replace(gan_config.preset(name), num_categories=5)
    k, n = 5, len(config.d_widths)
    # The release's form on the release presets, today's form kept on the small ones.
    release_form = name in ("paper128", "release64")
    want_layers = n if release_form else 2
    assert config.d_condition_layers == want_layers
    # regularised64 also takes the release's separate batches (its docstring says why).
    separate = release_form or name.startswith("regularised64")
    assert config.d_batch_norm == ("separate" if separate else "joint")
    d = networks.build_discriminator(config, seed=0)
    # With a stem, conv0 reads the stem's maps instead of the image.
    previous = config.d_stem_width or config.channels
    for i, width in enumerate(config.d_widths):
        kernel = d.get_layer(f"conv{i}").kernel
        assert kernel.shape == (5, 5, previous + (k if i < want_layers else 0), width), i
        previous = width
    size = config.resolution // 2**n
    stddev_plane = 1 if config.d_stddev_group else 0
    assert d.get_layer("score").kernel.shape == (size * size * (previous + stddev_plane), 1)


@pytest.mark.parametrize("n_conditioned", [0, 1, 2, 3, 4, 5])
def test_category_reaches_the_score_through_each_conditioned_layer(n_conditioned):
    """With the one-hot weights of all conditioned layers but one zeroed, the category still
    changes D's score: it enters through that layer alone. With all zeroed, it cannot."""
    k = 3
    config = _d_config(32, (8, 8, 8, 8), num_categories=k, d_condition_layers=n_conditioned)
    d = networks.build_discriminator(config, seed=4)
    kernels = [d.get_layer(f"conv{i}").kernel for i in range(4)] + [d.get_layer("score").kernel]
    initial = [kern.numpy() for kern in kernels]
    own = [3, 8, 8, 8, 8]  # each layer's input channels before the one-hot planes

    def keep_category_weights_of(keep):
        for i, (kern, value) in enumerate(zip(kernels, initial, strict=True)):
            # [5, 5, in, out] for a conv; [2, 2, in, 1] for the score layer,
            # whose kernel reads the flattened 2x2 maps.
            value = value.reshape(5, 5, -1, 8) if i < 4 else value.reshape(2, 2, -1, 1)
            assert value.shape[2] == own[i] + (k if i < n_conditioned else 0)
            if i != keep:
                value = value.copy()
                value[:, :, own[i] :, :] = 0.0  # the weights of the one-hot planes
            kern.assign(value.reshape(kern.shape))

    rng = np.random.default_rng(1)
    images = tf.constant(rng.uniform(-1, 1, (4, 32, 32, 3)), tf.float32)

    def score_change():
        a = d([images, tf.zeros([4], tf.int32)], training=False).numpy()
        b = d([images, tf.fill([4], 2)], training=False).numpy()
        return np.abs(a - b).max() / np.abs(a).max()

    for layer in range(n_conditioned):
        keep_category_weights_of(layer)
        assert score_change() > 1e-3, layer
    keep_category_weights_of(None)
    assert score_change() < 1e-6


@pytest.mark.parametrize(
    "resolution,d_widths,channels,n_conditioned",
    [
        (32, (16, 32, 64, 128), 3, 2),
        (32, (8, 8, 16, 16), 3, 0),
        (32, (8, 8, 16, 16), 3, 1),
        (32, (8, 8, 16, 16), 3, 4),
        (32, (8, 8, 16, 16), 3, 5),
        (16, (8,), 1, 0),
        (16, (8,), 1, 1),
        (16, (8,), 1, 2),
        (32, (8, 16), 3, 2),
        (32, (8, 16), 3, 3),
        (64, (4, 8, 8, 16, 16), 1, 2),
        (64, (4, 8, 8, 16, 16), 1, 5),
        (64, (4, 8, 8, 16, 16), 1, 6),
    ],
)
@pytest.mark.parametrize("stddev_group", [0, 4])
def test_inference_discriminator_matches_keras(
    resolution, d_widths, channels, n_conditioned, stddev_group
):
    """The export's rewritten D (category constants, small convs as matrices) is the same function."""
    # Momentum 0.5: a few training-mode calls move the moving statistics far from 0 and 1.
    config = _d_config(
        resolution,
        d_widths,
        channels,
        d_condition_layers=n_conditioned,
        bn_momentum=0.5,
        d_stddev_group=stddev_group,
    )
    d = networks.build_discriminator(config, seed=2)
    rng = np.random.default_rng(0)
    # Non-trivial batch-norm statistics, as after training.
    for _ in range(3):
        x = rng.uniform(-1, 1, (8, resolution, resolution, channels)) * rng.uniform(0.2, 1)
        d([tf.constant(x, tf.float32), tf.constant(rng.integers(0, 4, 8), tf.int32)], training=True)
    for layer in d.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            assert np.abs(layer.moving_mean.numpy()).max() > 1e-3
            assert np.abs(layer.moving_variance.numpy() - 1).max() > 0.05
    if stddev_group:
        assert d.get_layer("stddev").moving_stddev.numpy() > 1e-3
    fast = networks.InferenceDiscriminator(d, config)
    constants = [s.category_constant is not None for s in fast.stages]
    assert constants == [i < n_conditioned for i in range(len(d_widths))]
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
    # Categories matter through the constants: a different id changes the
    # score, unless D is unconditioned.
    other = fast(images, (category + 1) % 4).numpy()
    if n_conditioned:
        assert np.abs(other - got.numpy()).max() > 1e-3 * scale
    else:
        np.testing.assert_array_equal(other, got.numpy())


@pytest.mark.parametrize("n_conditioned", [0, 2, 5])
def test_discriminator_without_batch_norm(n_conditioned):
    """d_batch_norm="none": no batch-norm layer, a bias on every conv, scores independent of
    the batch, and the export's rewritten D (biases through every stage) the same function."""
    config = _d_config(32, (8, 8, 16, 16), d_condition_layers=n_conditioned, d_batch_norm="none")
    d = networks.build_discriminator(config, seed=3)
    assert not [x for x in d.layers if x.__class__.__name__ == "BatchNormalization"]
    rng = np.random.default_rng(1)
    for i in range(4):
        conv = d.get_layer(f"conv{i}")
        assert conv.use_bias
        conv.bias.assign(rng.normal(0, 0.1, conv.bias.shape).astype(np.float32))
    images = tf.constant(rng.uniform(-1, 1, (6, 32, 32, 3)), tf.float32)
    category = tf.constant([0, 1, 2, 3, 1, 2], tf.int32)
    alone = d([images[:1], category[:1]], training=True).numpy()
    batch = d([images, category], training=True).numpy()
    np.testing.assert_allclose(batch[:1], alone, rtol=1e-5, atol=1e-6)
    fast = networks.InferenceDiscriminator(d, config)
    assert all(stage.bias is not None for stage in fast.stages)
    want = d([images, category], training=False).numpy()
    np.testing.assert_allclose(batch, want, rtol=1e-5, atol=1e-6)
    got = fast(images, category).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max() + 1e-7)


def test_minibatch_stddev_matches_numpy():
    """Training: per group of 4, the features' standard deviation averaged; inference: the
    moving average of it."""
    layer = networks.MinibatchStddev(group=4, momentum=0.75)
    rng = np.random.default_rng(0)
    h = rng.normal(size=(8, 3, 3, 5)).astype(np.float32)
    h[4:] = h[4]  # the second group: four copies of one image, as under mode collapse
    out = layer(tf.constant(h), training=True).numpy()
    np.testing.assert_array_equal(out[..., :5], h)
    spread = np.sqrt(h.reshape(2, 4, 3, 3, 5).var(axis=1) + 1e-8).mean(axis=(1, 2, 3))
    assert spread[0] > 0.5 and spread[1] < 1e-3
    np.testing.assert_allclose(
        out[..., 5], np.repeat(spread, 4)[:, None, None] + 0 * h[..., 0], rtol=1e-5
    )
    moving = 0.25 * spread.mean()
    np.testing.assert_allclose(layer.moving_stddev.numpy(), moving, rtol=1e-5)
    alone = layer(tf.constant(h[:1]), training=False).numpy()
    np.testing.assert_allclose(alone[..., 5], np.full((1, 3, 3), moving), rtol=1e-6)
    with pytest.raises(ValueError, match="d_stddev_group must be 0 or divide batch_size"):
        gan_config.GANConfig(batch_size=64, d_stddev_group=5)
