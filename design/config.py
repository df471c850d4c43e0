"""Hyper-parameters of personalized design (paper Section III-D).

    config = design.config.get_preset("paper")
    config = dataclasses.replace(config, eta=0.3)

Presets:
  paper: the paper's choices where it states them: m = 64 restarts from
    z ~ U(-1, 1), z' = atanh(z), eta = 1, k = 3 returned images; 50 ascent
    steps (Fig. 6 shows iterations 0..50). The paper gives no step size;
    we take the authors' release's Adam lr 0.05 (AUTHORS_CODE.md, `PM/`).
  fast: 16 restarts and 30 steps, for quick looks and the demo's
    figures; the same objective.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DesignConfig:
    """Everything that determines a design query.

    Attributes:
      preset: name of the preset this config started from.
      restarts: m, random starting points optimised together per query.
      steps: Adam steps of preference maximisation (eq. 10).
      learning_rate: Adam step size on z' (the release: 0.05).
      adam_beta1: Adam first-moment decay.
      adam_beta2: Adam second-moment decay.
      adam_epsilon: Adam epsilon.
      eta: weight of the realism term eta * (D_c(G_c(z)) - 1)^2 (the paper's
        "sweet spot": 1). On fashion_mnist_users the term barely acts below
        3, and 10 is what brings the designs' field precision near
        retrieval's while still beating it in preference (README, Fig. 3).
      top_k: k, images returned per query (best-k and the eq. 11 sample).
      z_clip: initial z are clipped to [-z_clip, z_clip] before atanh, so
        that z' stays finite (atanh(1) is inf).
      inversion_restarts: random starts of the eq. 12 inversion per query.
      inversion_steps: Adam steps of the inversion.
      inversion_learning_rate: Adam step size of the inversion.
      tailor_steps: ascent steps after the inversion (Fig. 6: 50).
      snapshot_every: tailoring keeps the image every this many steps
        (Fig. 6: 10, so iterations 0, 10, ..., 50).
      seed: seeds the starting points and the eq. 11 sampling.
    """

    preset: str = "paper"
    restarts: int = 64
    steps: int = 50
    learning_rate: float = 0.05
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    eta: float = 1.0
    top_k: int = 3
    z_clip: float = 0.999
    inversion_restarts: int = 16
    inversion_steps: int = 300
    inversion_learning_rate: float = 0.05
    tailor_steps: int = 50
    snapshot_every: int = 10
    seed: int = 0

    def __post_init__(self):
        if self.restarts < 1 or self.inversion_restarts < 1:
            raise ValueError("DesignConfig: restarts and inversion_restarts must be >= 1.")
        if self.steps < 0 or self.inversion_steps < 0 or self.tailor_steps < 0:
            raise ValueError("DesignConfig: step counts must be >= 0.")
        if not 1 <= self.top_k <= self.restarts:
            raise ValueError(
                f"DesignConfig.top_k must be in [1, restarts={self.restarts}], got {self.top_k}."
            )
        if not 0.0 < self.z_clip < 1.0:
            raise ValueError(f"DesignConfig.z_clip must be in (0, 1), got {self.z_clip}.")
        if self.snapshot_every < 1:
            raise ValueError("DesignConfig.snapshot_every must be >= 1.")
        if self.eta < 0:
            raise ValueError(f"DesignConfig.eta must be >= 0, got {self.eta}.")


PRESETS: dict[str, DesignConfig] = {
    "paper": DesignConfig(preset="paper"),
    "fast": DesignConfig(preset="fast", restarts=16, steps=30, inversion_restarts=8),
}


def get_preset(name: str) -> DesignConfig:
    """Returns the named preset ("paper" or "fast")."""
    if name not in PRESETS:
        raise ValueError(f"Unknown design preset {name!r}; use one of {', '.join(PRESETS)}.")
    return PRESETS[name]
