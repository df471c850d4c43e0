"""What the design queries return: `DesignResult`, `InversionResult`, `TailorResult`.

`design.optimize.Designer.maximize` returns a `DesignResult` (delta-hat,
eqs. 9-11), `Designer.invert` an `InversionResult` (eq. 12) and
`Designer.tailor` a `TailorResult` (Fig. 6). Plain NumPy arrays, so the
reports and Table IV read them without TensorFlow.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class DesignResult:
    """What delta-hat returns for Q queries with m restarts.

    Attributes:
      users: int32 [Q].
      categories: int32 [Q].
      eta: float32 [Q].
      z: float32 [Q, m, z_dim], tanh(z') after the ascent.
      objective: float32 [Q, m], final x-hat = preference - eta * realism.
      preference: float32 [Q, m], final theta_u . Phi(Delta G_c(z)) (eq. 6).
      realism: float32 [Q, m], final (D_c(G_c(z)) - 1)^2.
      initial_objective: float32 [Q, m], x-hat at the starting points.
      history: float32 [steps + 1, Q, m], x-hat before each step and at the end.
      best: int64 [Q], argmax of the final objective.
      top: int64 [Q, k], the k best restarts by final objective.
      sampled: int64 [Q, k], the eq. 11 draws.
      best_image: float32 [Q, R, R, C] in [-1, 1].
      top_images: float32 [Q, k, R, R, C].
      sampled_images: float32 [Q, k, R, R, C].
    """

    users: np.ndarray
    categories: np.ndarray
    eta: np.ndarray
    z: np.ndarray
    objective: np.ndarray
    preference: np.ndarray
    realism: np.ndarray
    initial_objective: np.ndarray
    history: np.ndarray
    best: np.ndarray
    top: np.ndarray
    sampled: np.ndarray
    best_image: np.ndarray
    top_images: np.ndarray
    sampled_images: np.ndarray

    def pick(self, field: str, index: np.ndarray) -> np.ndarray:
        """Values of a [Q, m] field at per-query restart indices [Q] or [Q, k]."""
        values = getattr(self, field)
        index = np.asarray(index)
        if index.ndim == 1:
            return values[np.arange(len(index)), index]
        return np.take_along_axis(values, index, axis=1)


@dataclasses.dataclass
class InversionResult:
    """Eq. 12 for N query images.

    Attributes:
      z_prime: float32 [N, z_dim], the best restart's z' (z = tanh z').
      images: float32 [N, R, R, C], G_c(tanh z') (the l1 approximation).
      l1: float32 [N], mean absolute pixel error of the best restart (the
        l1 norm divided by R*R*C), on the [-1, 1] scale.
      targets: float32 [N, R, R, C], the downscaled queries.
    """

    z_prime: np.ndarray
    images: np.ndarray
    l1: np.ndarray
    targets: np.ndarray


@dataclasses.dataclass
class TailorResult:
    """Prototype tailoring (eqs. 12 then 10) of one item for U users.

    Attributes:
      users: int32 [U].
      category: the category the item is tailored in.
      inversion: the eq. 12 result for the item (N = 1).
      steps: int [T], the iterations kept (0, 10, ..., 50).
      images: float32 [U, T, R, R, C] in [-1, 1]; images[:, 0] is the
        inverted (l1-approximated) image.
      preference: float32 [U, T], x_u (eq. 6) of each kept image.
      objective: float32 [U, T], x-hat (eq. 10) of each kept image.
    """

    users: np.ndarray
    category: int
    inversion: InversionResult
    steps: np.ndarray
    images: np.ndarray
    preference: np.ndarray
    objective: np.ndarray
