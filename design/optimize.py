"""Personalized design: retrieval, preference maximisation and prototype tailoring.

Paper Section III-D, on two exports (see `exports/`):

- `Designer.retrieve` is delta(u, c) (eq. 8): the top-k real items of
  category c for user u by x_ui = theta_u . Phi(X_i), over the stored
  item embeddings.
- `Designer.maximize` is delta-hat(u, c) (eqs. 9-11): for each query, m
  starting points z ~ U(-1, 1), z' = atanh(z), ascend

      x-hat(z') = theta_u . Phi(Delta G_c(tanh z')) - eta (D_c(G_c(tanh z')) - 1)^2

  with Adam (the realism term is the GAN's own per-image G loss,
  `realism_penalty`: the paper's (D - 1)^2 for its LSGAN), all queries
  and restarts of a call in one batch, as ~20
  calls of one `tf.function` that carry Adam's state (so that a long
  ascent reports progress with an ETA on stderr); returns the best
  image, the top-k by x-hat, and k images sampled without replacement
  with p(e_t) = softmax(x-hat)_t (eq. 11).
  Delta upscales G's R x R images to Phi's S x S input by nearest
  neighbour (and tiles grey images to RGB).
- `Designer.invert` solves eq. 12, min_z' ||G_c(tanh z') - nabla X||_1
  with restarts, and `Designer.tailor` ascends eq. 10 from the inverted
  code, keeping snapshots (Fig. 6: iterations 0, 10, ..., 50). The
  inversion and the Adam loop both use live in a base class that needs no
  recommender, `design.inversion.LatentSearch`.

Adam acts elementwise and G, Phi and D run in inference mode, so the rows
of a batch do not interact: a batch of restarts gives the result of
optimising each alone (tested).

Retrieval lives in `design.retrieval` (a base class of `Designer`), the
result types in `design.results`, Delta and eq. 11's draws in `design.ops`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from absl import logging

from common.images import tf_grey_to_rgb, to_unit_range
from data import preprocess
from data.core import DataError
from design.config import DesignConfig
from design.inversion import LatentSearch
from design.ops import nearest_upscale, sample_without_replacement
from design.pairing import check_pair
from design.results import DesignResult, TailorResult
from design.retrieval import Retrieval
from exports.gan import LoadedGenerator
from exports.recommender import LoadedRecommender

# Rows per call when scoring or generating outside the optimiser (bounds memory).
_CHUNK = 256


class Designer(Retrieval, LatentSearch):
    """Design queries over one recommender export and one GAN export.

    Args:
      recommender: a `LoadedRecommender` (with item_embedding_float).
      gan: a `LoadedGenerator` whose categories are the recommender's.
      config: the design hyper-parameters.

    Raises:
      DataError: the two exports do not fit each other (`check_pair`).
    """

    def __init__(self, recommender: LoadedRecommender, gan: LoadedGenerator, config: DesignConfig):
        check_pair(recommender, gan)
        super().__init__(gan, config)
        self.rec = recommender
        self._theta = tf.constant(recommender.theta)
        self._ascent_chunk_fn = tf.function(self._ascent_chunk, reduce_retracing=True)
        self._terms_fn = tf.function(self._terms, reduce_retracing=True)

    # ------------------------------------------------------------------
    # Argument checks shared by the public methods.

    def _queries(self, users, categories) -> tuple[np.ndarray, np.ndarray]:
        users = self.rec.check_users(users)
        categories = np.asarray(categories).reshape(-1)
        if categories.size == 1 and users.size > 1:
            categories = np.repeat(categories, users.size)
        if users.size == 1 and categories.size > 1:
            users = np.repeat(users, categories.size)
        if categories.size != users.size:
            raise DataError(
                f"{users.size} users and {categories.size} categories: pass one category, or "
                f"one per user."
            )
        return users, self.gan.check_categories(categories)

    def _eta(self, eta, rows: int) -> np.ndarray:
        eta = np.asarray(self.config.eta if eta is None else eta, np.float32).reshape(-1)
        if eta.size == 1:
            eta = np.repeat(eta, rows)
        if eta.size != rows or np.any(eta < 0) or not np.all(np.isfinite(eta)):
            raise ValueError(f"eta must be one value >= 0 or one per query ({rows}); got {eta}.")
        return eta

    # ------------------------------------------------------------------
    # The graph pieces.

    def _terms(self, z_prime, theta_rows, categories):
        """(preference [N], realism [N], images [N, R, R, C]) at z' [N, z_dim]."""
        images = self.gan.generate(tf.tanh(z_prime), categories)
        rgb = nearest_upscale(tf_grey_to_rgb(images), self.rec.image_size)
        preference = tf.reduce_sum(theta_rows * self.rec.embed(rgb), axis=-1)
        realism = self.gan.realism_penalty(images, categories)
        return preference, realism, images

    def _ascent_chunk(self, z_prime, m, v, t0, steps, keep, users, categories, eta):
        """`_adam_chunk` of eq. 10 for N rows."""
        theta_rows = tf.gather(self._theta, users)

        def value_and_grad(zp):
            with tf.GradientTape() as tape:
                tape.watch(zp)
                preference, realism, _ = self._terms(zp, theta_rows, categories)
                objective = preference - eta * realism
                total = tf.reduce_sum(objective)
            return objective, tape.gradient(total, zp)

        return self._adam_chunk(
            z_prime, m, v, t0, value_and_grad, self.config.learning_rate, steps, keep
        )

    def _ascent(self, z_prime, users, categories, eta, steps: int, keep: bool, what: str):
        """Eq. 10 for N rows: the end state, the path of z' (if kept), the history.

        Args:
          z_prime: float32 [N, z_dim] numpy start.
          users, categories: int [N]; eta: float32 [N].

        Returns:
          A dict of numpy arrays: z_prime [N, z_dim], history [steps, N],
          preference and realism [N] at the end, path [steps + 1, N, z_dim]
          when `keep`.
        """
        users, categories, eta = map(tf.constant, (users, categories, eta))

        def chunk_fn(zp, m, v, t0, n, keep):
            return self._ascent_chunk_fn(zp, m, v, t0, n, keep, users, categories, eta)

        z_prime, path, history = self._adam(chunk_fn, z_prime, steps, keep, what)
        preference, realism, _ = self._terms_fn(
            tf.constant(z_prime), tf.gather(self._theta, users), categories
        )
        out = {
            "z_prime": z_prime,
            "history": history,
            "preference": preference.numpy(),
            "realism": realism.numpy(),
        }
        if keep:
            out["path"] = path
        return out

    # ------------------------------------------------------------------
    # Scoring helpers.

    def generate(self, z: np.ndarray, categories: np.ndarray) -> np.ndarray:
        """G_c(z): z float [N, z_dim] in [-1, 1] -> float32 [N, R, R, C] in [-1, 1]."""
        z = np.asarray(z, np.float32).reshape(-1, self.gan.z_dim)
        categories = self.gan.check_categories(categories)
        out = [
            self.gan.generate(
                tf.constant(z[i : i + _CHUNK]), tf.constant(categories[i : i + _CHUNK])
            ).numpy()
            for i in range(0, len(z), _CHUNK)
        ]
        if not out:
            r, ch = self.gan.resolution, self.gan.channels
            return np.zeros([0, r, r, ch], np.float32)
        return np.concatenate(out)

    def score_generated(self, users, images: np.ndarray) -> np.ndarray:
        """x_u (eq. 6) of G-sized images: users [N], images float [N, R, R, C] -> float32 [N]."""
        users = self.rec.check_users(users)
        images = np.asarray(images, np.float32)
        if len(images) != len(users):
            raise ValueError(f"{len(users)} users for {len(images)} images.")
        out = []
        for i in range(0, len(users), _CHUNK):
            x = nearest_upscale(
                tf_grey_to_rgb(tf.constant(images[i : i + _CHUNK])), self.rec.image_size
            )
            emb = self.rec.embed(x).numpy()
            out.append(np.sum(self.rec.theta[users[i : i + _CHUNK]] * emb, axis=-1))
        return np.concatenate(out) if out else np.zeros([0], np.float32)

    # ------------------------------------------------------------------
    # delta-hat(u, c): preference maximisation, eqs. 9-11.

    def maximize(
        self,
        users,
        categories,
        *,
        eta=None,
        z0: np.ndarray | None = None,
        seed: int | None = None,
        k: int | None = None,
    ) -> DesignResult:
        """delta-hat(u, c) for Q queries, all restarts in one batched ascent.

        Args:
          users: int [Q] user indices.
          categories: int [Q] (or one) category ids.
          eta: the realism weight, one value or [Q] (config.eta when None).
          z0: float [Q, m, z_dim] starting z in [-1, 1]; drawn from U(-1, 1)
            with `seed` (config.seed when None) when not given.
          seed: seeds the starting points and the eq. 11 draws.
          k: images returned per query (config.top_k when None).

        Returns:
          A `DesignResult`.
        """
        c = self.config
        k = c.top_k if k is None else int(k)
        seed = c.seed if seed is None else int(seed)
        users, categories = self._queries(users, categories)
        q = len(users)
        eta = self._eta(eta, q)
        if z0 is None:
            z0 = self.initial_z(q, c.restarts, seed)
        z0 = np.asarray(z0, np.float32)
        if z0.ndim != 3 or z0.shape[0] != q or z0.shape[2] != self.gan.z_dim:
            raise ValueError(f"z0 must be [{q}, m, {self.gan.z_dim}], got {z0.shape}.")
        m = z0.shape[1]
        if not 1 <= k <= m:
            raise ValueError(f"k={k} images per query need at least k restarts, got m={m}.")
        rows = q * m
        out = self._ascent(
            self._atanh(z0).reshape(rows, -1),
            np.repeat(users, m),
            np.repeat(categories, m),
            np.repeat(eta, m),
            c.steps,
            keep=False,
            what=f"delta-hat ({q} queries x {m} restarts)",
        )
        preference = out["preference"].reshape(q, m)
        realism = out["realism"].reshape(q, m)
        objective = preference - eta[:, None] * realism
        history = np.concatenate([out["history"].reshape(-1, q, m), objective[None]], axis=0)
        z = np.tanh(out["z_prime"]).reshape(q, m, -1)
        order = np.argsort(-objective, axis=1, kind="stable")
        rng = np.random.default_rng([seed, 11])
        sampled = sample_without_replacement(objective, k, rng)
        top = order[:, :k]
        rows_q = np.arange(q)[:, None]
        picked = np.concatenate([order[:, :1], top, sampled], axis=1)
        images = self.generate(
            z[rows_q, picked].reshape(-1, self.gan.z_dim), np.repeat(categories, 1 + 2 * k)
        ).reshape((q, 1 + 2 * k) + (self.gan.resolution,) * 2 + (self.gan.channels,))
        logging.info(
            "delta-hat: %d queries x %d restarts, %d steps: mean best objective %.4f (start %.4f)",
            q,
            m,
            c.steps,
            objective.max(1).mean(),
            history[0].max(1).mean(),
        )
        return DesignResult(
            users=users,
            categories=categories,
            eta=eta,
            z=z,
            objective=objective.astype(np.float32),
            preference=preference,
            realism=realism,
            initial_objective=history[0],
            history=history,
            best=order[:, 0],
            top=top,
            sampled=sampled,
            best_image=images[:, 0],
            top_images=images[:, 1 : 1 + k],
            sampled_images=images[:, 1 + k :],
        )

    # ------------------------------------------------------------------
    # Prototype tailoring: eq. 12, then eq. 10.

    def downscale(self, images_uint8: np.ndarray) -> np.ndarray:
        """nabla: uint8 [N, H, W, 3] -> float32 [N, R, R, C] in [-1, 1], as the GAN saw its data.

        The GAN's training images went through `data.preprocess`
        (antialiased bilinear resize, BT.601 grey when C = 1); queries go
        through the same.
        """
        images = np.asarray(images_uint8)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(
                f"Query images must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}."
            )
        small = preprocess.resize_uint8(
            tf.constant(images), self.gan.resolution, self.gan.channels
        ).numpy()
        return to_unit_range(small)

    def tailor(
        self,
        query_uint8: np.ndarray,
        category: int,
        users,
        *,
        eta=None,
        seed: int | None = None,
    ) -> TailorResult:
        """Fig. 6: invert one item's image, then ascend each user's objective from there.

        Args:
          query_uint8: uint8 [H, W, 3] or [1, H, W, 3], the prototype's image.
          category: its category id.
          users: int [U] user indices.
          eta: the realism weight (config.eta when None).
          seed: seeds the inversion's restarts.

        Returns:
          A `TailorResult` with snapshots every config.snapshot_every steps.
        """
        c = self.config
        query = np.asarray(query_uint8)
        if query.ndim == 3:
            query = query[None]
        users, categories = self._queries(users, [category])
        inversion = self.invert(self.downscale(query[:1]), categories[:1], seed=seed)
        u = len(users)
        eta = self._eta(eta, u)
        # Iterations 0, every, 2 every, ..., and the last one.
        steps = sorted(set(range(0, c.tailor_steps, c.snapshot_every)) | {c.tailor_steps})
        out = self._ascent(
            np.repeat(inversion.z_prime, u, axis=0),
            users,
            categories,
            eta,
            c.tailor_steps,
            keep=True,
            what=f"tailoring ({u} users)",
        )
        kept = out["path"][steps]  # [T, U, z_dim]
        t = len(kept)
        flat_c = np.tile(categories, t)
        preference, realism, images = [], [], []
        for i in range(0, t * u, _CHUNK):
            p, q, x = self._terms_fn(
                tf.constant(kept.reshape(t * u, -1)[i : i + _CHUNK]),
                tf.gather(self._theta, np.tile(users, t)[i : i + _CHUNK]),
                tf.constant(flat_c[i : i + _CHUNK]),
            )
            preference.append(p.numpy())
            realism.append(q.numpy())
            images.append(x.numpy())
        preference = np.concatenate(preference).reshape(t, u).T
        realism = np.concatenate(realism).reshape(t, u).T
        images = np.concatenate(images).reshape((t, u) + images[0].shape[1:]).swapaxes(0, 1)
        return TailorResult(
            users=users,
            category=int(categories[0]),
            inversion=inversion,
            steps=np.array(steps),
            images=images,
            preference=preference,
            objective=preference - eta[:, None] * realism,
        )
