"""What a Table IV run is: its sources and `Table4Config`.

`eval.table4` builds the config from its flags; `eval.table4_lib` runs it,
`eval.table4_metrics` scores each source and `eval.table4_report` writes
the Markdown and Fig. 3.
"""

from __future__ import annotations

import dataclasses

from design.config import DesignConfig

# Table IV's item sources in row order, with their row labels.
SOURCE_LABELS = {
    "random_real": "X_c (random real)",
    "random_generated": "G(·, c) (random z)",
    "delta": "δ(u, c), eq. 8 (retrieval)",
    "delta_hat": "δ̂(u, c), eq. 9 (preference maximisation)",
}
SOURCES = tuple(SOURCE_LABELS)
SELECTIONS = ("sample", "top")
# The feature spaces the field metrics (FID, precision / recall) can be computed in.
FIELD_FEATURES = ("imagenet", "classifier")


@dataclasses.dataclass(frozen=True)
class Table4Config:
    """Everything that determines a Table IV run.

    Attributes:
      trials: queries (user, category of the user's test item).
      eta: the realism weight of delta-hat in the table.
      etas: the eta values of the Fig. 3 sweep.
      sweep_trials: trials (the first ones) the sweep runs on; 0 skips it.
      selection: how delta-hat's k images are chosen among the m: "sample"
        (eq. 11, the paper's way to return several images) or "top".
      query_batch: queries optimised together (x restarts rows per batch).
      classifier_epochs: epochs of the dataset category classifier.
      quality_splits: splits of a source's images for the classifier
        score's mean and std.
      imagenet: also score quality with the ImageNet EfficientNet-Lite0.
      field_features: the features of the field metrics (FID, precision /
        recall, and Fig. 3's precision): "imagenet" (EfficientNet-Lite0's,
        the field's choice; the dataset classifier's when `imagenet` is off
        or unavailable) or "classifier" (the dataset classifier's
        penultimate features, whatever `imagenet`). On a rendered
        catalogue ImageNet features place every generated image outside
        the real manifold (README, `eval.metric_sensitivity`), so precision
        there cannot tell one eta from another; the classifier's can.
      imagenet_max_images: the ImageNet score and the field metrics use a
        random subset of at most this many of a source's images (224 x 224
        passes are the slowest part of the run on a CPU); 0 uses all.
      examples: trials shown in table4_examples.png.
      seed: seeds the trials, the random sources and the starting points.
      design: the design hyper-parameters (restarts, steps, lr, k).
    """

    trials: int = 1000
    eta: float = 1.0
    etas: tuple[float, ...] = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
    sweep_trials: int = 100
    selection: str = "sample"
    query_batch: int = 16
    classifier_epochs: int = 5
    quality_splits: int = 10
    imagenet: bool = True
    field_features: str = "imagenet"
    imagenet_max_images: int = 1000
    examples: int = 4
    seed: int = 0
    design: DesignConfig = DesignConfig()

    def __post_init__(self):
        if self.trials < 1 or self.query_batch < 1 or self.quality_splits < 1:
            raise ValueError("trials, query_batch and quality_splits must be >= 1.")
        if self.selection not in SELECTIONS:
            raise ValueError(f"selection must be one of {SELECTIONS}, got {self.selection!r}.")
        if self.field_features not in FIELD_FEATURES:
            raise ValueError(
                f"field_features must be one of {FIELD_FEATURES}, got {self.field_features!r}."
            )
        if self.sweep_trials < 0 or any(e < 0 for e in self.etas) or self.eta < 0:
            raise ValueError("sweep_trials and every eta must be >= 0.")
