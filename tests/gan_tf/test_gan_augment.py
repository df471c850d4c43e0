"""D's differentiable augmentations (d_augment): each transformation against a NumPy
reference, determinism in the seed, gradients, config validation, and the trainer's use."""

import numpy as np
import pytest
import tensorflow as tf

from data import pipeline
from gan_tf import augment, train_lib
from tests.testlib.gan import tiny_config, two_category_dataset

SEED = tf.constant([11, 5], tf.int64)


def _images(batch=8, side=16, channels=1, low=0.1):
    """float32 [batch, side, side, channels] with no zero pixel (zero is the fill value)."""
    rng = np.random.default_rng(0)
    values = rng.uniform(low, 1.0, (batch, side, side, channels)) * rng.choice([-1, 1], 1)
    return tf.constant(values, tf.float32)


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """NumPy reference: the content moved by (dy, dx), the uncovered border 0."""
    side = image.shape[0]
    out = np.zeros_like(image)
    rows = slice(max(dy, 0), side + min(dy, 0))
    cols = slice(max(dx, 0), side + min(dx, 0))
    src_rows = slice(max(-dy, 0), side + min(-dy, 0))
    src_cols = slice(max(-dx, 0), side + min(-dx, 0))
    out[rows, cols] = image[src_rows, src_cols]
    return out


def test_translation_is_a_zero_filled_shift_of_at_most_an_eighth_of_the_side():
    images = _images(batch=16, side=16)
    out = augment.diff_augment(images, ("translation",), SEED).numpy()
    shift = int(16 * augment.TRANSLATION_RATIO + 0.5)
    found = []
    for image, got in zip(images.numpy(), out, strict=True):
        matches = [
            (dy, dx)
            for dy in range(-shift, shift + 1)
            for dx in range(-shift, shift + 1)
            if np.array_equal(_shifted(image, dy, dx), got)
        ]
        assert len(matches) == 1, matches
        found.append(matches[0])
    # Each image draws its own shift, and the draws cover both directions.
    assert len(set(found)) > 4
    assert min(dy for dy, _ in found) < 0 < max(dy for dy, _ in found)


def test_cutout_zeroes_one_square_of_half_the_side_and_keeps_the_rest():
    images = _images(batch=16, side=16, channels=3)
    out = augment.diff_augment(images, ("cutout",), SEED).numpy()
    size = int(16 * augment.CUTOUT_RATIO + 0.5)
    for image, got in zip(images.numpy(), out, strict=True):
        zero = (got == 0).all(-1)
        rows, cols = np.flatnonzero(zero.any(1)), np.flatnonzero(zero.any(0))
        # One axis-aligned rectangle: the full square, or the part of it inside the image.
        assert zero.sum() == len(rows) * len(cols) > 0
        assert np.array_equal(rows, np.arange(rows[0], rows[-1] + 1))
        assert len(rows) == size or rows[0] == 0 or rows[-1] == 15
        assert len(cols) == size or cols[0] == 0 or cols[-1] == 15
        assert len(rows) >= size // 2 and len(cols) >= size // 2  # the centre is inside
        np.testing.assert_array_equal(got[~zero], image[~zero])


def test_color_on_grey_is_a_brightness_shift_and_a_contrast_scale_per_image():
    """out = c (x - mean x) + mean x + s, with s ~ U(-0.5, 0.5), c ~ U(0.5, 1.5)."""
    images = _images(batch=32, side=8)
    out = augment.diff_augment(images, ("color",), SEED).numpy()
    x = images.numpy().reshape(32, -1).astype(np.float64)
    y = out.reshape(32, -1).astype(np.float64)
    centred_x = x - x.mean(1, keepdims=True)
    centred_y = y - y.mean(1, keepdims=True)
    contrast = (centred_x * centred_y).sum(1) / (centred_x**2).sum(1)
    np.testing.assert_allclose(centred_y, contrast[:, None] * centred_x, atol=1e-5)
    brightness = y.mean(1) - x.mean(1)
    assert ((contrast >= 0.5) & (contrast <= 1.5)).all() and np.ptp(contrast) > 0.3
    assert ((brightness >= -0.5) & (brightness <= 0.5)).all() and np.ptp(brightness) > 0.3


def test_color_on_rgb_leaves_grey_pixels_grey_and_changes_saturation():
    grey = tf.tile(_images(batch=8, side=8, channels=1), [1, 1, 1, 3])
    out = augment.diff_augment(grey, ("color",), SEED).numpy()
    np.testing.assert_allclose(out[..., 0], out[..., 1], atol=1e-6)
    np.testing.assert_allclose(out[..., 0], out[..., 2], atol=1e-6)
    colour = _images(batch=8, side=8, channels=3)
    out = augment.diff_augment(colour, ("color",), SEED).numpy()
    spread_in = np.ptp(colour.numpy(), axis=-1).mean((1, 2))
    spread_out = np.ptp(out, axis=-1).mean((1, 2))
    ratio = spread_out / spread_in  # the saturation factor times the contrast factor
    assert ((ratio >= 0) & (ratio <= 3)).all() and np.ptp(ratio) > 0.3


def test_draws_are_a_pure_function_of_the_seed():
    images = _images(batch=8, side=16, channels=3)
    policies = ("color", "translation", "cutout")
    first = augment.diff_augment(images, policies, SEED).numpy()
    np.testing.assert_array_equal(first, augment.diff_augment(images, policies, SEED).numpy())
    other = augment.diff_augment(images, policies, SEED + [0, 1]).numpy()
    assert not np.allclose(first, other)


def test_gradient_passes_each_kept_pixel_once_and_drops_the_rest():
    images = _images(batch=8, side=16, channels=1)
    with tf.GradientTape() as tape:
        tape.watch(images)
        out = augment.diff_augment(images, ("translation", "cutout"), SEED)
        total = tf.reduce_sum(out)
    grad = tape.gradient(total, images).numpy()
    assert set(np.unique(grad)) <= {0.0, 1.0}
    # Every nonzero output pixel is one input pixel, each input pixel used at most once.
    assert grad.sum() == np.count_nonzero(out.numpy())


def test_config_lists_policies_in_application_order_and_rejects_unknown_names():
    config = tiny_config(d_augment="cutout, color")
    assert config.d_augment_policies == ("color", "cutout")
    assert tiny_config().d_augment_policies == ()
    with pytest.raises(ValueError, match="unknown policy flip"):
        tiny_config(d_augment="translation,flip")
    with pytest.raises(ValueError, match="repeated"):
        tiny_config(d_augment="cutout,cutout")


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_trainer_with_augmentation_trains_deterministically_and_differently(update):
    """Two trainers from the same config take the same step (stateless draws, so a resumed
    run repeats an uninterrupted one); without the augmentation D's update differs."""
    ds = two_category_dataset()
    batch = next(iter(pipeline.gan_dataset(ds, 16, 16, seed=0)))

    def d_weights_after_step(**overrides):
        config = train_lib.config_for_dataset(tiny_config(update=update, **overrides), ds)
        trainer = train_lib.Trainer(config)
        out = trainer.train_step(batch["image"], batch["category"])
        assert all(np.isfinite(float(v)) for v in out.values())
        return [w.numpy() for w in trainer.discriminator.trainable_variables]

    augmented = d_weights_after_step(d_augment="color,translation,cutout")
    again = d_weights_after_step(d_augment="color,translation,cutout")
    plain = d_weights_after_step()
    for a, b in zip(augmented, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.allclose(a, b) for a, b in zip(augmented, plain, strict=True))
