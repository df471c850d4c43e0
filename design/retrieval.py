"""delta(u, c), retrieval (paper eq. 8): the top-k real items of a category for a user.

`Retrieval` is the part of `design.optimize.Designer` that scores
catalogue items by x_ui = theta_u . Phi(X_i) over the recommender
export's stored item embeddings; it needs no GAN but for the category
ids it checks.
"""

from __future__ import annotations

import numpy as np

from common.runtime import Progress
from data.core import DataError


class Retrieval:
    """The retrieval methods of `design.optimize.Designer` (its base class).

    They read the Designer's `rec` (the recommender export), `gan` (its
    categories), `config` (top_k) and its `_queries` argument check.
    """

    def score_items(self, users, items) -> np.ndarray:
        """x_ui (eq. 6) of catalogue items from the stored embeddings.

        Args:
          users: int [Q].
          items: int [Q] or [Q, k].

        Returns:
          float32 of the shape of `items`.
        """
        users = self.rec.check_users(users)
        items = np.asarray(items)
        self.rec.check_items(items)
        emb = self.rec.item_embeddings[items]
        theta = self.rec.theta[users].reshape((len(users),) + (1,) * (items.ndim - 1) + (-1,))
        return np.sum(theta * emb, axis=-1).astype(np.float32)

    def category_items(self, category: int) -> np.ndarray:
        """int64 indices of the recommender's items of `category` (X_c)."""
        (category,) = self.gan.check_categories([category])
        return np.flatnonzero(self.rec.item_categories == category)

    def retrieve(self, users, categories, k: int | None = None, block: int | None = None):
        """delta(u, c): the top-k items of X_c for each query (eq. 8).

        Args:
          users: int [Q] user indices.
          categories: int [Q] (or one) category ids.
          k: items per query (config.top_k when None).
          block: queries scored per matmul (bounds the [block, I] scores;
            by default about 16M scores at a time).

        Returns:
          (items int64 [Q, k], scores float32 [Q, k]), best first.

        Raises:
          DataError: unknown user or category, or a category with fewer
            than k items in the recommender's catalogue.
        """
        k = self.config.top_k if k is None else int(k)
        users, categories = self._queries(users, categories)
        counts = np.bincount(
            self.rec.item_categories[self.rec.item_categories >= 0],
            minlength=self.gan.num_categories,
        )
        short = sorted({int(c) for c in categories if counts[c] < k})
        if short:
            raise DataError(
                f"Category(ies) {short} have fewer than k={k} items in the recommender's "
                f"catalogue ({[int(counts[c]) for c in short]}); ask for fewer items."
            )
        items = np.zeros([len(users), k], np.int64)
        scores = np.zeros([len(users), k], np.float32)
        emb = self.rec.item_embeddings
        block = block or max(1, (1 << 24) // max(1, len(emb)))
        progress = Progress(len(users), "queries", prefix="retrieval", quiet_start=True)
        for start in range(0, len(users), block):
            u = users[start : start + block]
            c = categories[start : start + block]
            s = self.rec.theta[u] @ emb.T
            s = np.where(self.rec.item_categories[None, :] == c[:, None], s, -np.inf)
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]
            part_scores = np.take_along_axis(s, part, axis=1)
            order = np.argsort(-part_scores, axis=1, kind="stable")
            items[start : start + block] = np.take_along_axis(part, order, axis=1)
            scores[start : start + block] = np.take_along_axis(part_scores, order, axis=1)
            progress.update(min(start + block, len(users)))
        return items, scores
