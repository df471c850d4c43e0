"""The degradations and the table of `eval.metric_sensitivity` (see that binary's docstring)."""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from absl import logging
from skimage.restoration import denoise_tv_chambolle

from common import runtime
from data.core import DataError
from exports.gan import check_trained_on
from gan_tf.train_lib import grey_images
from metrics import gan_metrics


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of float [N, H, W, C] images, edges reflected.

    The kernel reaches 3 sigma each side and sums to 1, so flat regions
    keep their value.
    """
    radius = max(1, int(np.ceil(3 * sigma)))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    out = np.asarray(images, np.float64)
    for axis in (1, 2):
        pad = [(0, 0)] * 4
        pad[axis] = (radius, radius)
        padded = np.pad(out, pad, mode="reflect")
        size = out.shape[axis]
        out = sum(
            w * np.take(padded, np.arange(i, i + size), axis=axis) for i, w in enumerate(taps)
        )
    return out.astype(np.float32)


def add_noise(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Adds N(0, sigma^2) to every value of [-1, 1] images and clips to [-1, 1]."""
    noisy = images + rng.normal(0.0, sigma, images.shape)
    return np.clip(noisy, -1.0, 1.0).astype(np.float32)


def down_up(images: np.ndarray, factor: int) -> np.ndarray:
    """Area-downsamples by `factor`, then bilinear-upsamples back: a softer image."""
    size = images.shape[1]
    small = tf.image.resize(images, [size // factor] * 2, method="area")
    return tf.image.resize(small, [size, size], method="bilinear").numpy()


def mix_channels(images: np.ndarray, amount: float) -> np.ndarray:
    """Moves each RGB channel `amount` of the way to the next one (a hue shift); grey unchanged."""
    if images.shape[-1] != 3:
        return images
    return np.clip(images + amount * (images[..., [1, 2, 0]] - images), -1.0, 1.0)


def denoise_tv(images: np.ndarray, weight: float) -> np.ndarray:
    """Total-variation denoising (Chambolle 2004) of each image, each channel alone.

    scikit-image's `denoise_tv_chambolle(image, weight, channel_axis=-1)`
    image by image: it stops each channel when its energy settles, which
    takes a few iterations on a flat render and many on grain, so one call
    per image (~2 ms at 64x64x3: 1.3 s for 600 noise images) is about ten
    times faster than the same iteration batched over the images, which
    runs every channel as long as the slowest (24 s; measured 2026-12-06).
    It flattens grain and keeps edges.

    Args:
      images: float [N, H, W, C] images in [-1, 1].
      weight: the TV weight in those units (larger flattens more).

    Returns:
      float32 [N, H, W, C] in [-1, 1].
    """
    out = [
        denoise_tv_chambolle(np.asarray(i, np.float32), weight=weight, channel_axis=-1)
        for i in images
    ]
    return np.clip(np.stack(out), -1.0, 1.0).astype(np.float32)


def degradations(seed: int) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """The degradations, by name, in the order of the table (each maps [-1, 1] images to such)."""
    rng = np.random.default_rng([seed, 7])
    return {
        "none": lambda x: x,
        "blur sigma 0.5 px": functools.partial(gaussian_blur, sigma=0.5),
        "blur sigma 1 px": functools.partial(gaussian_blur, sigma=1.0),
        "blur sigma 2 px": functools.partial(gaussian_blur, sigma=2.0),
        "noise sigma 0.01": functools.partial(add_noise, sigma=0.01, rng=rng),
        "noise sigma 0.02": functools.partial(add_noise, sigma=0.02, rng=rng),
        "noise sigma 0.05": functools.partial(add_noise, sigma=0.05, rng=rng),
        "resize down-up 2x": functools.partial(down_up, factor=2),
        "resize down-up 4x": functools.partial(down_up, factor=4),
        "channel mix 0.3": functools.partial(mix_channels, amount=0.3),
        # Not degradations but the opposite: what flattening grain buys (see
        # --gan in eval.metric_sensitivity); on real renders they change little.
        "TV denoise 0.05": functools.partial(denoise_tv, weight=0.05),
        "TV denoise 0.1": functools.partial(denoise_tv, weight=0.1),
    }


def image_shape(resolution: int, channels: int, ds, gan) -> tuple[int, int]:
    """The (resolution, channels) to compare at: the flags', the GAN's or the dataset's.

    Args:
      resolution: --resolution; 0: the GAN's, or 64 without one.
      channels: --channels; 0: the GAN's, or 1 when the dataset's pixels are
        grey (a GAN trains 1-channel on them), else 3.
      ds: the dataset.
      gan: a loaded GAN export, or None.

    Raises:
      DataError: a flag asks for another shape than the GAN makes, or the
        GAN's categories are not the dataset's.
    """
    if gan is None:
        return resolution or 64, channels or (1 if grey_images(ds) else 3)
    for flag, asked, has in (
        ("--resolution", resolution, gan.resolution),
        ("--channels", channels, gan.channels),
    ):
        if asked and asked != has:
            raise DataError(f"{flag}={asked}, but the GAN at {gan.path} makes {has}; drop {flag}.")
    check_trained_on(gan, ds)
    return gan.resolution, gan.channels


def two_real_samples(ds, per_category: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint item samples with per_category items of each category (fewer if it is short)."""
    categories = np.asarray(ds.categories)
    rng = np.random.default_rng([seed, 3])
    first, second = [], []
    for c in range(ds.num_categories):
        items = rng.permutation(np.flatnonzero(categories == c))
        half = min(per_category, len(items) // 2)
        first.append(items[:half])
        second.append(items[half : 2 * half])
    first, second = np.concatenate(first), np.concatenate(second)
    if len(first) <= gan_metrics.PRECISION_RECALL_K:
        raise DataError(
            f"Dataset {ds.name}: {len(first)} labelled images per sample; precision and recall "
            f"need more than k = {gan_metrics.PRECISION_RECALL_K}."
        )
    return first, second


def sensitivity(reference: np.ndarray, other: np.ndarray, features, seed: int = 0) -> list[dict]:
    """FID, precision and recall of `other` under each degradation, against `reference`.

    Args:
      reference: float [N, S, S, C] real images in [-1, 1].
      other: float [N, S, S, C] other real images of the same categories.
      features: images -> float [N, D] features.
      seed: seeds the noise.

    Returns:
      One {"degradation", "fid", "precision", "recall"} per degradation.
    """
    reference_feats = features(reference)
    rows = []
    for name, degrade in degradations(seed).items():
        degraded = np.asarray(degrade(other), np.float32)
        row = {"degradation": name, **gan_metrics.compare(reference_feats, features(degraded))}
        logging.info("%s", runtime.to_json(row))
        rows.append(row)
    return rows
