"""DVBPR hyper-parameters: one frozen dataclass and its named presets.

    config = dvbpr_tf.config.get_preset("paper")
    config = dataclasses.replace(config, epochs=5)
    preset, reason = dvbpr_tf.config.preset_for("custom", dataset)
    config, reason = dvbpr_tf.config.resolve("custom", dataset, overrides={"epochs": 5})

Without --preset, `default_preset` picks one from the dataset, the visible
accelerators and the images' size: the datasets the registry marks
CPU-sized (`data.registry.cpu_sized`: the embedded ones) keep "small";
other catalogues get "paper" on a GPU/TPU with images over 64 px, "small"
otherwise. `resolve` is the one path from a dataset, an optional preset
name and overrides to the config a run trains with (`dvbpr_tf.train` and
eval.table3's DVBPR column).

Presets:
  paper: Section III-A/B and IV-B of the paper: CNN-F at 224x224, K = 50,
    batch 128, lambda_theta = 1, weight decay 1e-3, dropout 0.5, Adam. The
    paper gives no learning rate or epoch count; we take the release's
    (1e-4, 20 epochs).
  authors: exactly what the authors' release (kang205/DVBPR, DVBPR/main.py)
    runs: the paper's layers with TensorFlow SAME padding on every conv and
    2x2 pool (conv1 224 -> 56, pools -> 28, 14, 7; full6 reads 7x7x256 =
    12,544 features, where the paper's table gives 6x6x256 = 9,216), K =
    100, Adam lr 1e-4, batch 128, 20 epochs, dropout 0.5, weight decay 1e-3,
    lambda_theta 1, theta_u ~ U[0, 1] / 100, Xavier kernels, zero biases.
  small: the same eight-layer structure (conv1..conv5, full6..full8) made
    narrow for 64x64 images, so that the embedded synthetic dataset trains
    in minutes on a 2-core CPU.

Regularisation follows the release, which uses `tf.nn.l2_loss`
(||x||^2 / 2) for both terms: the objective of one batch of B triplets is

    sum_b softplus(-(x_ub,ib - x_ub,jb))
      + lambda_theta * sum_b ||theta_ub||^2 / 2
      + weight_decay * sum_W ||W||^2 / 2        (conv and dense kernels)

and we minimise it divided by B, so the reported BPR loss is a per-triplet
mean. Adam is invariant to that constant factor (up to its epsilon).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from common import config_flags
from data import registry

# The preset of the datasets the registry marks CPU-sized (the embedded
# ones: the demo's seeded figures depend on it). Every other dataset (the
# paper's, a custom catalogue) gets its preset from the machine and its
# images (`default_preset`).
CPU_SIZED_PRESET = "small"

# Images at most this side get the small preset: the paper's 224 px CNN-F
# would upsample them 4x or more and learn nothing a 64 px network cannot.
SMALL_IMAGE_SIDE = 64


@dataclasses.dataclass(frozen=True)
class DVBPRConfig:
    """Everything that determines a DVBPR training run.

    The CNN is described layer by layer so that the paper's CNN-F and the
    narrow variant share one implementation. Index k of the `conv_*` tuples
    is layer conv{k+1}; `fc_units` are full6 and full7; full8 has
    `embedding_dim` units.

    Attributes:
      preset: name of the preset this config started from.
      image_size: side S of the square network input; images are resized
        to SxS and scaled to [-1, 1] by `data.preprocess.preprocess_images`.
      conv_filters: output channels of conv1..conv5.
      conv_kernels: square kernel sizes of conv1..conv5.
      conv_strides: strides of conv1..conv5.
      conv_padding: padding of conv1..conv5: zero padding in pixels, 0
        ("valid") or (kernel - 1) / 2 (the only two kinds the paper's table
        uses), or the string "same" for TensorFlow's SAME padding (output
        ceil(size / stride), extra padding at the bottom/right when odd), as
        the release pads every conv.
      conv_pool: whether a 2x2, stride-2 max pool follows conv1..conv5.
      pool_padding: "valid" (floor(size / 2)) or "same" (ceil(size / 2), the
        release's) padding of those pools.
      fc_units: units of full6 and full7 (ReLU, then dropout).
      embedding_dim: K, the size of Phi(X_i) and of theta_u (full8).
      dropout: dropout rate after full6 and full7 during training.
      theta_init_range: theta_u starts uniform in [low, high] (the release
        draws uniform[0, 1] / 100).
      lambda_theta: weight of sum_b ||theta_ub||^2 / 2 over the batch's users.
      weight_decay: weight of sum ||W||^2 / 2 over the CNN's kernels.
      learning_rate: Adam step size.
      adam_beta1: Adam first-moment decay.
      adam_beta2: Adam second-moment decay.
      adam_epsilon: Adam epsilon (TF1's default, as the release used).
      batch_size: global number of triplets per step.
      epochs: training length; one epoch is ceil(#train interactions /
        batch_size) steps, as in the release.
      steps_per_epoch: overrides the epoch length when set (tests, demos).
      seed: seeds the initialisation, triplet sampling and dropout.
      summary_every_steps: how often training scalars go to TensorBoard.
      checkpoint_every_steps: how often the latest checkpoint is written
        (also at every epoch end); bounds the work lost to a kill.
      eval_batch_size: images per step when embedding the catalogue.
      eval_every_epochs: validation AUC after every this many epochs, and
        always after the last; the best checkpoint is chosen among the
        evaluated epochs. 0 (default) picks the interval from
        `eval_budget` (`dvbpr_tf.train_eval.eval_interval`).
      eval_budget: with `eval_every_epochs=0`, the largest share of the
        training work that validation may take: the interval is the
        smallest number of epochs whose training costs at least
        1 / eval_budget times one validation pass (catalogue embedding +
        full AUC), counted in FLOPs (deterministic, unlike timings). The
        embedded datasets evaluate every epoch; a short epoch over a
        234,892-item catalogue does not.
      eval_user_block: users scored at a time by the AUC evaluation.
      summary_users: number of fixed users whose top-5 recommendations are
        written as TensorBoard images at every evaluation.
      strategy: "default" (one device), "mirrored", "multiworker" or "tpu".
      mixed_precision: compute in float16 (GPU) / bfloat16 (TPU), keep
        variables and the loss in float32.
      jit_compile: compile the train step with XLA.
    """

    preset: str = "paper"
    image_size: int = 224
    conv_filters: tuple[int, ...] = (64, 256, 256, 256, 256)
    conv_kernels: tuple[int, ...] = (11, 5, 3, 3, 3)
    conv_strides: tuple[int, ...] = (4, 1, 1, 1, 1)
    conv_padding: tuple[int | str, ...] = (0, 2, 1, 1, 1)
    conv_pool: tuple[bool, ...] = (True, True, False, False, True)
    pool_padding: str = "valid"
    fc_units: tuple[int, ...] = (4096, 4096)
    embedding_dim: int = 50
    dropout: float = 0.5
    theta_init_range: tuple[float, float] = (0.0, 0.01)
    lambda_theta: float = 1.0
    weight_decay: float = 1e-3
    learning_rate: float = 1e-4
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    batch_size: int = 128
    epochs: int = 20
    steps_per_epoch: int | None = None
    seed: int = 0
    summary_every_steps: int = 50
    checkpoint_every_steps: int = 500
    eval_batch_size: int = 256
    eval_every_epochs: int = 0
    eval_budget: float = 0.25
    eval_user_block: int = 1024
    summary_users: int = 4
    strategy: str = "default"
    mixed_precision: bool = False
    jit_compile: bool = False

    def __post_init__(self):
        n = len(self.conv_filters)
        for name in ("conv_kernels", "conv_strides", "conv_padding", "conv_pool"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"DVBPRConfig.{name} needs {n} entries, one per conv layer.")
        for k, p in zip(self.conv_kernels, self.conv_padding, strict=True):
            if p != "same" and (p not in (0, (k - 1) // 2) or (p and k % 2 == 0)):
                raise ValueError(
                    f"DVBPRConfig.conv_padding {p!r} for a {k}x{k} kernel: use 0 (valid), "
                    f"{(k - 1) // 2} (pixels each side) or 'same' (TensorFlow's SAME)."
                )
        if self.pool_padding not in ("valid", "same"):
            raise ValueError(
                f"DVBPRConfig.pool_padding {self.pool_padding!r}: use 'valid' or 'same'."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"DVBPRConfig.dropout must be in [0, 1), got {self.dropout}.")
        if self.batch_size < 1 or self.epochs < 0 or self.embedding_dim < 1:
            raise ValueError("DVBPRConfig: batch_size and embedding_dim must be >= 1, epochs >= 0.")
        if self.eval_every_epochs < 0 or not 0.0 < self.eval_budget:
            raise ValueError(
                f"DVBPRConfig: eval_every_epochs must be >= 0 (0: from eval_budget), got "
                f"{self.eval_every_epochs}; eval_budget must be > 0, got {self.eval_budget}."
            )
        if self.strategy not in STRATEGIES:
            raise ValueError(
                f"DVBPRConfig.strategy {self.strategy!r}: use one of {', '.join(STRATEGIES)}."
            )


STRATEGIES = ("default", "mirrored", "multiworker", "tpu")

PRESETS: dict[str, DVBPRConfig] = {
    "paper": DVBPRConfig(preset="paper"),
    "authors": DVBPRConfig(
        preset="authors",
        conv_padding=("same",) * 5,
        pool_padding="same",
        embedding_dim=100,
        epochs=20,
        learning_rate=1e-4,
        batch_size=128,
    ),
    # 64x64 input: conv1 5x5/2 valid -> 30x30 -> pool 15 -> conv2 5x5 same
    # -> pool 7 -> conv3..5 3x3 same -> pool 3 -> 3*3*32 features; about 11
    # MFLOP per image forward, for a few hundred triplets/s on a 2-core CPU.
    # Measured on synthetic_fashion/tiny (600 steps of 64 triplets): dropout
    # 0.5 on these 128-unit layers drowns the small differences between
    # item embeddings early on (validation AUC 0.59 vs 0.70 without), and
    # weight decay 1e-3 collapses the narrow tower before the BPR signal
    # takes over, so the narrow preset trains without either; theta keeps
    # the paper's lambda_theta = 1. It trains for the release's 20 epochs:
    # at 10, FM and VBPR on ImageNet features beat it on synthetic_fashion's
    # items under the paper's protocol (0.776 vs FM 0.781); at 20 it is
    # best on all, cold and warm items of both embedded datasets (README,
    # Table III), for ~6 minutes of training on this 2-core CPU instead of 3.
    "small": DVBPRConfig(
        preset="small",
        image_size=64,
        conv_filters=(16, 32, 32, 32, 32),
        conv_kernels=(5, 5, 3, 3, 3),
        conv_strides=(2, 1, 1, 1, 1),
        conv_padding=(0, 2, 1, 1, 1),
        fc_units=(128, 128),
        embedding_dim=10,
        dropout=0.0,
        weight_decay=0.0,
        learning_rate=1e-3,
        batch_size=128,
        epochs=20,
        checkpoint_every_steps=200,
    ),
}


def get_preset(name: str) -> DVBPRConfig:
    """Returns the named preset ("paper", "authors" or "small")."""
    if name not in PRESETS:
        raise ValueError(f"Unknown --preset={name!r}; use one of {', '.join(sorted(PRESETS))}.")
    return PRESETS[name]


def default_preset(dataset_name: str, image_side: int | None, accelerators: int) -> tuple[str, str]:
    """The preset a dataset trains with when --preset is not given, and why.

    The CPU-sized datasets (`data.registry.cpu_sized`: the embedded ones)
    get `CPU_SIZED_PRESET`. Otherwise the paper's CNN-F
    at 224 px ("paper") needs an accelerator: on this 2-core CPU it trains
    ~7 triplets/s (a 1,500-user catalogue showed a 12 h ETA where "small"
    took 6 minutes), so without one, or for images of at most
    `SMALL_IMAGE_SIDE` px, the default is "small". `--preset=paper` always
    overrides it.

    Args:
      dataset_name: a registry name, optionally with "/config".
      image_side: the catalogue's typical image side in pixels (None when
        unknown or the dataset has no images).
      accelerators: GPUs / TPUs visible to TensorFlow.

    Returns:
      (preset name, one-line reason for the user and config.json).
    """
    if registry.cpu_sized(dataset_name):
        base = dataset_name.partition("/")[0]
        return CPU_SIZED_PRESET, f"the preset of the embedded dataset {base}"
    if image_side is not None and image_side <= SMALL_IMAGE_SIDE:
        return "small", (
            f"the catalogue's images are {image_side} px (<= {SMALL_IMAGE_SIDE}): the paper's "
            "224 px CNN-F would only upsample them"
        )
    if not accelerators:
        return "small", (
            "no GPU or TPU is visible: the paper's 224 px CNN-F trains at a few triplets/s on "
            "a CPU; pass --preset=paper to train it anyway"
        )
    return "paper", f"{accelerators} accelerator(s) and {image_side or 'large'} px images"


def visible_accelerators() -> int:
    """Number of GPUs and TPUs TensorFlow sees (imports TensorFlow)."""
    import tensorflow as tf

    return len(tf.config.list_physical_devices("GPU")) + len(tf.config.list_physical_devices("TPU"))


def catalogue_image_side(images, sample: int = 8) -> int | None:
    """The median longer side of a few catalogue images, in pixels.

    Args:
      images: a `data.core.ItemImages` (decoded pixels or encoded bytes), or
        None.
      sample: encoded images decoded, evenly spaced over the catalogue.

    Returns:
      int, or None without images.
    """
    if images is None or not len(images):
        return None
    if images.pixels is not None:
        return int(max(images.pixels.shape[1:3]))
    import tensorflow as tf

    picks = np.unique(np.linspace(0, len(images) - 1, sample).astype(int))
    sides = [
        max(tf.image.decode_image(blob, expand_animations=False).shape[:2])
        for blob in images.encoded_items(picks)
    ]
    return int(np.median(sides))


def preset_for(dataset_name: str, dataset) -> tuple[str, str]:
    """`default_preset` for a loaded dataset on this machine: (preset, reason)."""
    return default_preset(
        dataset_name, catalogue_image_side(dataset.images), visible_accelerators()
    )


def resolve(
    dataset_name: str,
    dataset,
    preset: str | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> tuple[DVBPRConfig, str]:
    """The config a DVBPR run of `dataset` trains with, and why that preset.

    Args:
      dataset_name: the registry name the dataset was loaded by.
      dataset: the loaded `data.core.RecDataset`.
      preset: a preset name (--preset), or None for `preset_for`'s choice.
      overrides: {DVBPRConfig field: value} applied to the preset (the
        flags the user set, `common.config_flags.resolve`).

    Returns:
      (config, one-line reason for the preset, for stderr and config.json).

    Raises:
      ValueError: unknown preset or field, or a value the config rejects.
    """
    if preset:
        reason = "--preset"
    else:
        preset, reason = preset_for(dataset_name, dataset)
    return config_flags.resolve(get_preset(preset), overrides or {}), reason
