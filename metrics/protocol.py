"""The evaluation protocol's vocabulary, TF-free so that data/ and the configs can import it.

The first value of each tuple is the paper's protocol.
"""

from __future__ import annotations

import numpy as np

# The paper: an item is cold with "fewer than 5" training observations.
COLD_ITEM_THRESHOLD = 5
# Sampled-100 AUC: uniform over never-observed items, or as the release draws them.
SAMPLED_AUC_MODES = ("uniform", "release")
# How the baselines' BPR/WARP (u, i) and j are drawn.
SAMPLINGS = ("users", "pairs")
NEGATIVES = ("uniform", "observed", "popularity")
# Validation figures that can select epochs and grid points.
SELECT_ON = ("auc_warm", "auc")


def interactions_csr(rows: np.ndarray, num_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Groups (user, item) rows by user: ([num_users + 1] indptr, [n] items)."""
    order = np.lexsort((rows[:, 1], rows[:, 0]))
    indices = rows[order, 1].astype(np.int64)
    counts = np.bincount(rows[:, 0], minlength=num_users)
    indptr = np.zeros(num_users + 1, np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, indices
