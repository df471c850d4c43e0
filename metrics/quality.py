"""Quality evidence for generated images (paper Section IV-A, Fig. 4).

Reusable by any generator (the GAN, the design binaries):

- `classifier_score`: the Inception Score formula, exp(E_x KL(p(y|x) || p(y))),
  on the softmax of any classifier.
- `build_category_classifier` / `predict_probs`: a small Keras CNN that
  predicts an item's category from its image (`eval.classifier` trains it
  on a dataset's real images); used to check that a conditional generator
  makes what it is asked for, and as the classifier of `classifier_score`.
- `ssim_pairs` / `opposite_mean_ssim`: 1 - mean SSIM over pairs of images,
  the paper's diversity measure; a vectorised SSIM equal to
  `skimage.metrics.structural_similarity` with its defaults (7x7 uniform
  window, K1 0.01, K2 0.03, sample covariance, per-channel mean).
- `colour_spread`: how much images' mean colours vary, which SSIM misses.
- `nearest_neighbours_l1` and `write_neighbours_figure`: the paper's Fig. 4,
  generated samples next to their l1-nearest training images.

Images are float arrays in [-1, 1] (the models' range) unless said otherwise.
"""

from __future__ import annotations

import dataclasses
import io
import math

import keras
import numpy as np
import tensorflow as tf

from common import runtime
from common.images import grey_to_rgb, to_uint8

# skimage's structural_similarity defaults.
_SSIM_WIN = 7
_SSIM_K1 = 0.01
_SSIM_K2 = 0.03


# ---------------------------------------------------------------------------
# Classifier score (the Inception Score formula).


def classifier_score(probs: np.ndarray) -> float:
    """exp(E_x KL(p(y|x) || p(y))), with p(y) the mean of p(y|x) over the sample.

    The Inception Score of Salimans et al. when `probs` come from Inception;
    here from any classifier. 1 when every row is the same distribution; the
    number of classes when rows are one-hot and the classes equally frequent.

    Args:
      probs: [N, C] class probabilities, rows summing to 1 (N >= 1).

    Returns:
      The score, in [1, C].

    Raises:
      ValueError: not a [N, C] array of probabilities.
    """
    probs = np.asarray(probs, np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        raise ValueError(f"probs must be [N, C] with N >= 1, got shape {probs.shape}.")
    if np.any(probs < 0) or not np.allclose(probs.sum(1), 1.0, atol=1e-3):
        raise ValueError("probs rows must be probability distributions (>= 0, summing to 1).")
    marginal = probs.mean(0, keepdims=True)
    # 0 * log(0 / q) = 0: only positive entries contribute.
    ratio = np.where(probs > 0, probs / np.where(marginal > 0, marginal, 1.0), 1.0)
    kl = np.sum(probs * np.log(ratio), axis=1)
    return float(np.exp(kl.mean()))


# ---------------------------------------------------------------------------
# Category classifier.


@dataclasses.dataclass
class CategoryClassifier:
    """A category classifier trained on real images.

    Attributes:
      model: Keras model, float32 [B, S, S, C] in [-1, 1] -> float32 [B, K]
        logits.
      image_size: S.
      channels: C.
      heldout_accuracy: top-1 accuracy on the held-out real images.
      train_items: int64 item indices it was trained on.
      heldout_items: int64 item indices held out (the accuracy's sample).
    """

    model: keras.Model
    image_size: int
    channels: int
    heldout_accuracy: float
    train_items: np.ndarray
    heldout_items: np.ndarray


def build_category_classifier(
    image_size: int, channels: int, num_categories: int, width: int = 32
) -> keras.Model:
    """A small CNN: 3x3 stride-2 convs width, 2w, 4w with ReLU, global average pool, dense.

    No batch norm: its moving statistics lag behind the few hundred steps
    this classifier trains for, and inference-mode predictions then collapse
    to one class.

    Returns:
      float32 [B, S, S, C] in [-1, 1] -> float32 [B, num_categories] logits.
    """
    x = inputs = keras.Input((image_size, image_size, channels), name="images")
    for i, w in enumerate((width, 2 * width, 4 * width)):
        x = keras.layers.Conv2D(
            w, 3, strides=2, padding="same", activation="relu", name=f"conv{i}"
        )(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(0.2)(x)
    logits = keras.layers.Dense(num_categories, name="logits")(x)
    return keras.Model(inputs, logits, name="category_classifier")


def predict_probs(model: keras.Model, images: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Softmax of a logits classifier: float [N, S, S, C] in [-1, 1] -> float32 [N, K]."""
    images = np.asarray(images, np.float32)
    logits = model.predict(images, batch_size=batch_size, verbose=0)
    return tf.nn.softmax(logits).numpy()


# ---------------------------------------------------------------------------
# SSIM diversity.


def _box_mean_valid(a: np.ndarray, win: int) -> np.ndarray:
    """Mean over win x win windows fully inside the image: [P, H, W, C] -> [P, H-win+1, W-win+1, C]."""
    c = np.cumsum(np.cumsum(a, axis=1), axis=2)
    c = np.pad(c, ((0, 0), (1, 0), (1, 0), (0, 0)))
    s = c[:, win:, win:] - c[:, :-win, win:] - c[:, win:, :-win] + c[:, :-win, :-win]
    return s / (win * win)


def ssim_pairs(
    x: np.ndarray, y: np.ndarray, data_range: float, win_size: int = _SSIM_WIN
) -> np.ndarray:
    """SSIM of image pairs, vectorised; equals skimage's `structural_similarity`.

    Matches `structural_similarity(x[k], y[k], data_range=data_range,
    channel_axis=-1)` (for C > 1; the grey image for C = 1) with its defaults:
    uniform win_size x win_size window, K1 = 0.01, K2 = 0.03, sample
    covariance, mean over the pixels at least (win_size - 1) / 2 from the
    border and over channels. Computed in float64.

    Args:
      x: [P, H, W, C] images (H, W >= win_size).
      y: [P, H, W, C] images.
      data_range: max - min of the images' scale (2 for [-1, 1], 255 for uint8).
      win_size: odd window side.

    Returns:
      float64 [P] SSIM in [-1, 1].
    """
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"x and y must both be [P, H, W, C], got {x.shape} and {y.shape}.")
    if min(x.shape[1:3]) < win_size or win_size % 2 == 0:
        raise ValueError(f"SSIM needs images of at least {win_size}x{win_size} and an odd window.")
    cov_norm = win_size**2 / (win_size**2 - 1)
    ux, uy = _box_mean_valid(x, win_size), _box_mean_valid(y, win_size)
    vx = cov_norm * (_box_mean_valid(x * x, win_size) - ux * ux)
    vy = cov_norm * (_box_mean_valid(y * y, win_size) - uy * uy)
    vxy = cov_norm * (_box_mean_valid(x * y, win_size) - ux * uy)
    c1 = (_SSIM_K1 * data_range) ** 2
    c2 = (_SSIM_K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    return s.mean(axis=(1, 2, 3))


def _pairs(n: int, max_pairs: int | None, rng: np.random.Generator) -> np.ndarray:
    """[P, 2] index pairs i < j among n, all or a random subset of max_pairs."""
    i, j = np.triu_indices(n, k=1)
    pairs = np.stack([i, j], 1)
    if max_pairs is not None and len(pairs) > max_pairs:
        pairs = pairs[np.sort(rng.choice(len(pairs), max_pairs, replace=False))]
    return pairs


def opposite_mean_ssim(
    images: np.ndarray,
    *,
    data_range: float = 2.0,
    groups: np.ndarray | None = None,
    max_pairs_per_group: int | None = None,
    seed: int = 0,
    chunk: int = 256,
) -> float:
    """1 - mean SSIM over pairs of images (the paper's diversity measure).

    As the paper: pairs are formed within each query (here, each group,
    e.g. the images generated for one category), averaged per group, then
    over groups. Higher means more diverse; mode collapse gives about 0.

    Args:
      images: [N, H, W, C] images, on a scale of width `data_range`.
      data_range: 2.0 for [-1, 1] (the default), 255 for uint8, 1 for [0, 1].
      groups: [N] group ids; None puts all images in one group.
      max_pairs_per_group: a random subset of at most this many pairs per
        group (None: all n(n-1)/2).
      seed: seeds the pair subset.
      chunk: pairs per vectorised SSIM call (bounds memory).

    Returns:
      The opposite mean SSIM, in [0, 2].

    Raises:
      ValueError: no group has two images.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got {images.shape}.")
    groups = np.zeros(len(images), np.int64) if groups is None else np.asarray(groups)
    rng = np.random.default_rng(seed)
    means = []
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        pairs = members[_pairs(len(members), max_pairs_per_group, rng)]
        if len(pairs) == 0:
            continue
        values = np.concatenate(
            [
                ssim_pairs(images[p[:, 0]], images[p[:, 1]], data_range)
                for p in np.array_split(pairs, math.ceil(len(pairs) / chunk))
            ]
        )
        means.append(values.mean())
    if not means:
        raise ValueError("opposite_mean_ssim needs a group with at least two images.")
    return float(1.0 - np.mean(means))


def colour_spread(images: np.ndarray, groups: np.ndarray | None = None) -> float:
    """How much the images' overall colours vary: a check SSIM does not make.

    SSIM compares local structure per channel, so a generator that draws
    varied shapes all in one hue still scores as diverse. This is the
    standard deviation over images of each image's mean value per channel,
    averaged over channels, computed within each group and averaged over
    groups.

    Args:
      images: [N, H, W, C] images (any one scale for everything compared).
      groups: [N] group ids; None: one group.

    Returns:
      The spread, in the images' units (0 when every image has the same
      mean colour).
    """
    images = np.asarray(images, np.float64)
    if images.ndim != 4:
        raise ValueError(f"images must be [N, H, W, C], got {images.shape}.")
    groups = np.zeros(len(images), np.int64) if groups is None else np.asarray(groups)
    means = images.mean(axis=(1, 2))  # [N, C]
    spreads = [means[groups == g].std(axis=0).mean() for g in np.unique(groups)]
    return float(np.mean(spreads))


# ---------------------------------------------------------------------------
# Nearest neighbours and the Fig. 4 picture.


def nearest_neighbours_l1(
    generated: np.ndarray, real: np.ndarray, max_block_bytes: int = 1 << 27
) -> tuple[np.ndarray, np.ndarray]:
    """For each generated image, the real image at the smallest l1 distance.

    Args:
      generated: [N, H, W, C] images.
      real: [M, H, W, C] images on the same scale (e.g. both uint8).
      max_block_bytes: memory of one [N, b, H*W*C] difference block.

    Returns:
      (indices int64 [N] into `real`, distances float32 [N]: mean absolute
      pixel difference, i.e. the l1 distance / (H*W*C)).
    """
    g = np.asarray(generated, np.float32).reshape(len(generated), -1)
    # Real images stay in their dtype (uint8 catalogues are 4x smaller) and
    # are converted block by block.
    r = np.asarray(real).reshape(len(real), -1)
    if g.shape[1] != r.shape[1]:
        raise ValueError(f"generated {generated.shape[1:]} and real {real.shape[1:]} differ.")
    if len(r) == 0:
        raise ValueError("nearest_neighbours_l1 needs at least one real image.")
    block = max(1, max_block_bytes // max(1, 4 * len(g) * g.shape[1]))
    best = np.full(len(g), np.inf, np.float32)
    arg = np.zeros(len(g), np.int64)
    for start in range(0, len(r), block):
        rb = r[start : start + block].astype(np.float32)
        d = np.abs(g[:, None, :] - rb[None, :, :]).mean(-1)
        j = d.argmin(1)
        dj = d[np.arange(len(g)), j]
        better = dj < best
        best[better] = dj[better]
        arg[better] = start + j[better]
    return arg, best


def neighbours_figure(
    generated: np.ndarray,
    neighbours: np.ndarray,
    groups: np.ndarray,
    group_names=None,
    scale: int = 2,
    label_width: int = 110,
    lower_label: str = "nearest (l1)",
) -> np.ndarray:
    """The paper's Fig. 4 as pixels: per group, a row of samples over a row of their neighbours.

    Args:
      generated: [N, H, W, C] float in [-1, 1] or uint8.
      neighbours: [N, H, W, C], neighbours[k] shown under generated[k].
      groups: [N] group id of each sample (rows follow the sorted ids).
      group_names: optional names indexed by group id.
      scale: nearest-neighbour upscaling of every image.
      label_width: pixels for the row labels on the left.
      lower_label: the label of each group's lower row.

    Returns:
      uint8 [height, width, 3] RGB picture.
    """
    from PIL import Image, ImageDraw

    gen = grey_to_rgb(to_uint8(generated))
    near = grey_to_rgb(to_uint8(neighbours))
    if gen.shape != near.shape:
        raise ValueError(f"generated {gen.shape} and neighbours {near.shape} differ.")
    groups = np.asarray(groups)
    ids = np.unique(groups)
    cols = max(int(np.sum(groups == g)) for g in ids)
    h, w = gen.shape[1] * scale, gen.shape[2] * scale
    gap = 4
    height = len(ids) * (2 * h + 3 * gap)
    canvas = Image.new("RGB", (label_width + cols * (w + gap), height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for row, g in enumerate(ids):
        top = row * (2 * h + 3 * gap)
        name = str(group_names[g]) if group_names is not None else str(g)
        draw.text((4, top + h // 2 - 6), name, fill=(0, 0, 0))
        draw.text((4, top + h + gap + h // 2 - 6), lower_label, fill=(110, 110, 110))
        for col, k in enumerate(np.flatnonzero(groups == g)):
            left = label_width + col * (w + gap)
            for img, y in ((gen[k], top), (near[k], top + h + gap)):
                tile = Image.fromarray(img).resize((w, h), Image.NEAREST)
                canvas.paste(tile, (left, y))
    return np.asarray(canvas)


def write_neighbours_figure(path: str, *args, **kwargs) -> str:
    """Writes `neighbours_figure(*args, **kwargs)` as a PNG at `path` (atomically)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(neighbours_figure(*args, **kwargs)).save(buffer, format="PNG")
    runtime.atomic_write_bytes(path, buffer.getvalue())
    return path
