"""Hyper-parameters of the paper's baselines (Table III): frozen configs and grids.

    config = baselines_config.get_config("bprmf")                 # default grid
    config = baselines_config.get_config("vbpr", grid="paper")   # the paper's grid
    config = dataclasses.replace(config, epochs=50)

Models (Section IV-B of the paper):
  rand: items in random order (AUC 0.5 by definition).
  poprank: items by their number of training observations.
  warp: matrix factorisation trained with the WARP loss (Weston et al. 2011).
  bprmf: matrix factorisation (eq. 1) trained with BPR (Rendle et al. 2009).
  visrank: items by their mean visual-feature distance to the user's items.
  fm: a factorisation machine with user x item and user x visual-feature
    interactions, trained with BPR (what LightFM runs with item features =
    identity + visual features).
  vbpr: eq. 2 (He & McAuley 2016), trained with BPR.

Grids: the paper tunes WARP, BPR-MF, FM and VBPR on validation over
regulariser {0, 0.001, 0.01, 0.1, 1, 10, 30} x K {10, 30, 50} ("paper").
The default ("small") grid keeps the part of it that wins on every dataset
we tried, so that a Table III run takes minutes on a 2-core CPU.
"""

from __future__ import annotations

import dataclasses

from common import config_flags
from metrics.protocol import NEGATIVES, SAMPLINGS, SELECT_ON

MODELS = ("rand", "poprank", "warp", "bprmf", "visrank", "fm", "vbpr")
# Models that need pre-trained visual features.
VISUAL_MODELS = ("visrank", "fm", "vbpr")
# Models with trained parameters (and so a hyper-parameter grid).
TRAINED_MODELS = ("warp", "bprmf", "fm", "vbpr")
# Display names in Table III.
DISPLAY_NAMES = {
    "rand": "RAND",
    "poprank": "PopRank",
    "warp": "WARP",
    "bprmf": "BPR-MF",
    "visrank": "VisRank",
    "fm": "FM",
    "vbpr": "VBPR",
    "dvbpr": "DVBPR",
}


PAPER_REGS = (0.0, 0.001, 0.01, 0.1, 1.0, 10.0, 30.0)
PAPER_DIMS = (10, 30, 50)
GRIDS = {
    "paper": (PAPER_REGS, PAPER_DIMS),
    "small": ((0.01, 0.1, 1.0), (10, 30)),
    # One point: tests and quick looks.
    "none": ((), ()),
}


@dataclasses.dataclass(frozen=True)
class BaselineConfig:
    """Everything that determines one baseline's training and selection.

    The trained models share one objective form. For a batch of B sampled
    triplets (u, i, j), with x_ui = beta_i + p_u . q_i (see each model's
    docstring in `baselines.models` for p_u and q_i):

      BPR:  sum_b softplus(-(x_ui - x_uj)) + reg / 2 * sum_b (||rows touched||^2)
      WARP: sum_b log(rank_b) * max(0, margin - x_ui + x_uj) + the same L2,

    where "rows touched" are the user's and both items' factor rows and
    biases (per-sample L2, as in Rendle et al.'s SGD), and rank_b is WARP's
    rank estimate floor((num_items - 1) / trials). Dense visual parameters
    (VBPR's E and beta', FM's V and w) get `reg_dense / 2 * ||W||^2` once per
    batch. Updates are sparse (only the rows a batch touches move).

    Attributes:
      model: one of MODELS.
      dim: K, latent factors (VBPR: of gamma_u/gamma_i and of theta_u/E).
      reg: lambda of the per-sample L2 on factor rows and biases.
      reg_dense: lambda of the L2 on dense visual parameters (VBPR E, beta';
        FM V, w), applied once per batch.
      optimizer: "adagrad" (row-wise for factor tables, per coordinate for
        biases and dense weights) or "sgd".
      learning_rate: step size.
      adagrad_init: initial Adagrad accumulator.
      init_scale: factors start N(0, init_scale^2); biases and dense visual
        weights start at zero except E / V, which start N(0, init_scale^2 / D).
      batch_size: triplets per step.
      epochs: training length; one epoch is len(train) triplets.
      sampling: how (u, i) is drawn: "users" (default, the paper's protocol:
        user uniform, then item uniform among the user's training items, as
        the DVBPR release and the reference BPR-MF do) or "pairs" uniform
        over training pairs (Rendle et al.'s bootstrap over D_S; what LightFM
        and implicit do: active users are drawn more often).
      negatives: how j is drawn (redrawn while in the user's training set):
        "uniform" (default, the paper's protocol) over all items; "observed"
        uniform over items with training data only (a departure: items that
        exist only as held-out items are never pushed down and keep their
        prior score, which leaks the split, see `metrics.auc.leak_diagnostic`);
        "popularity" the item of a uniformly drawn training pair (the
        `implicit` library).
      warp_max_trials: WARP draws up to this many negatives per positive and
        keeps the first that violates the margin (LightFM's max_sampled).
      warp_margin: WARP's hinge margin.
      visrank_metric: "sqeuclidean" (mean squared Euclidean distance, exact
        through norms and the user's mean feature) or "cosine" (mean cosine
        similarity, exact through the user's mean unit feature).
      select_on: the validation figure that picks the epoch and the grid
        point: "auc_warm" (default; rows whose item has training data,
        against such items) or "auc" (all items). Under the paper's uniform
        negatives, training pushes every item without training data down,
        so on splits where many held-out items have none the all-items
        validation AUC of a model with per-item parameters mostly measures
        how far those were pushed, and selecting on it rewards stopping
        early (Amazon interactions: BPR-MF stopped at epoch 5 with warm test
        AUC 0.775, below PopRank's 0.794). The warm rows are where such a
        model's ranking reflects what it learned. Reported AUCs are the same
        figures either way.
      eval_every: epochs between validation evaluations.
      patience: evaluations without improvement before training stops.
      regs: regulariser grid (empty: only `reg`).
      dims: K grid (empty: only `dim`).
      grid: name of the grid the config came from (for reports).
      validation_seed: seed of the validation carved from train when the
        dataset has no validation split.
      seed: seeds initialisation and sampling (batch b is a pure function of
        (seed, b)).
      eval_user_block: users scored at a time by the AUC evaluation.
      jit_compile: compile the update step with XLA (8x faster steps on CPU,
        a few seconds of compilation per grid point; off for tiny data).
    """

    model: str = "bprmf"
    dim: int = 10
    reg: float = 0.01
    reg_dense: float = 0.0
    optimizer: str = "adagrad"
    learning_rate: float = 0.05
    adagrad_init: float = 0.1
    init_scale: float = 0.1
    batch_size: int = 1024
    epochs: int = 60
    sampling: str = "users"
    negatives: str = "uniform"
    warp_max_trials: int = 10
    warp_margin: float = 1.0
    visrank_metric: str = "cosine"
    select_on: str = "auc_warm"
    eval_every: int = 5
    patience: int = 4
    regs: tuple[float, ...] = GRIDS["small"][0]
    dims: tuple[int, ...] = GRIDS["small"][1]
    grid: str = "small"
    validation_seed: int = 0
    seed: int = 0
    eval_user_block: int = 1024
    jit_compile: bool = True

    def __post_init__(self):
        if self.model not in MODELS:
            raise ValueError(f"Unknown baseline --model={self.model!r}; use one of {MODELS}.")
        if self.optimizer not in ("adagrad", "sgd"):
            raise ValueError(f"BaselineConfig.optimizer {self.optimizer!r}: use adagrad or sgd.")
        if self.sampling not in SAMPLINGS:
            raise ValueError(f"--sampling={self.sampling!r}: use one of {', '.join(SAMPLINGS)}.")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"--negatives={self.negatives!r}: use one of {', '.join(NEGATIVES)}.")
        if self.select_on not in SELECT_ON:
            raise ValueError(f"--select_on={self.select_on!r}: use one of {', '.join(SELECT_ON)}.")
        if self.visrank_metric not in ("sqeuclidean", "cosine"):
            raise ValueError(
                f"BaselineConfig.visrank_metric {self.visrank_metric!r}: use sqeuclidean or cosine."
            )
        if self.dim < 1 or self.batch_size < 1 or self.epochs < 0 or self.warp_max_trials < 1:
            raise ValueError("BaselineConfig: dim, batch_size, warp_max_trials >= 1; epochs >= 0.")
        if self.eval_every < 1 or self.patience < 1:
            raise ValueError("BaselineConfig: eval_every and patience must be >= 1.")
        if min((self.reg, self.reg_dense, *self.regs), default=0.0) < 0:
            raise ValueError("BaselineConfig: regularisers must be >= 0.")
        if any(d < 1 for d in self.dims):
            raise ValueError("BaselineConfig.dims: every K must be >= 1.")

    @property
    def trained(self) -> bool:
        return self.model in TRAINED_MODELS

    @property
    def visual(self) -> bool:
        return self.model in VISUAL_MODELS

    def grid_points(self) -> list[tuple[float, int]]:
        """(reg, dim) pairs to search; one point for untrained models or empty grids."""
        if not self.trained:
            return [(self.reg, self.dim)]
        regs = self.regs or (self.reg,)
        dims = self.dims or (self.dim,)
        return [(r, d) for d in dims for r in regs]


# Per-model defaults. Learning rates and epochs were chosen on the
# validation carved from the Amazon interactions' train split (see
# baselines/lib.py), then kept for every dataset.
_MODEL_DEFAULTS = {
    "rand": {},
    "poprank": {},
    "visrank": {},
    "bprmf": dict(learning_rate=0.05, epochs=60),
    "warp": dict(learning_rate=0.05, epochs=60),
    "fm": dict(learning_rate=0.05, epochs=60),
    "vbpr": dict(learning_rate=0.05, epochs=60),
}


def get_config(model: str, grid: str = "small", **overrides) -> BaselineConfig:
    """The default config of a model with a named grid.

    Args:
      model: one of MODELS.
      grid: "small" (default), "paper" or "none" (only `reg`/`dim`).
      **overrides: fields to replace (`common.config_flags.resolve`).

    Returns:
      The resolved, validated config.

    Raises:
      ValueError: unknown model, grid or field, or a value the config rejects.
    """
    if model not in MODELS:
        raise ValueError(f"Unknown baseline --model={model!r}; use one of {', '.join(MODELS)}.")
    if grid not in GRIDS:
        raise ValueError(f"Unknown --grid={grid!r}; use one of {', '.join(GRIDS)}.")
    regs, dims = GRIDS[grid]
    default = BaselineConfig(model=model, regs=regs, dims=dims, grid=grid, **_MODEL_DEFAULTS[model])
    return config_flags.resolve(default, overrides)
