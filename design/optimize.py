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
  code, keeping snapshots (Fig. 6: iterations 0, 10, ..., 50).

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
from common.runtime import Progress
from data import preprocess
from data.core import DataError
from design.config import DesignConfig
from design.ops import nearest_upscale, sample_without_replacement
from design.pairing import check_pair
from design.results import DesignResult, InversionResult, TailorResult
from design.retrieval import Retrieval
from exports.gan import LoadedGenerator
from exports.recommender import LoadedRecommender

# Rows per call when scoring or generating outside the optimiser (bounds memory).
_CHUNK = 256
# An ascent runs as about this many calls, so that it can report progress.
_PROGRESS_CHUNKS = 20


class Designer(Retrieval):
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
        self.rec = recommender
        self.gan = gan
        self.config = config
        self._theta = tf.constant(recommender.theta)
        self._ascent_chunk_fn = tf.function(self._ascent_chunk, reduce_retracing=True)
        self._invert_chunk_fn = tf.function(self._invert_chunk, reduce_retracing=True)
        self._inverted_fn = tf.function(self._inverted, reduce_retracing=True)
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

    def initial_z(self, num_queries: int, restarts: int, seed: int) -> np.ndarray:
        """Starting points z ~ U(-1, 1): float32 [num_queries, restarts, z_dim]."""
        rng = np.random.default_rng(seed)
        z = rng.uniform(-1.0, 1.0, (num_queries, restarts, self.gan.z_dim))
        return z.astype(np.float32)

    def _atanh(self, z: np.ndarray) -> np.ndarray:
        clip = self.config.z_clip
        return np.arctanh(np.clip(np.asarray(z, np.float32), -clip, clip)).astype(np.float32)

    # ------------------------------------------------------------------
    # The graph pieces.

    def _terms(self, z_prime, theta_rows, categories):
        """(preference [N], realism [N], images [N, R, R, C]) at z' [N, z_dim]."""
        images = self.gan.generate(tf.tanh(z_prime), categories)
        rgb = nearest_upscale(tf_grey_to_rgb(images), self.rec.image_size)
        preference = tf.reduce_sum(theta_rows * self.rec.embed(rgb), axis=-1)
        realism = self.gan.realism_penalty(images, categories)
        return preference, realism, images

    def _adam_chunk(self, z_prime, m, v, t0, value_and_grad, lr, steps, keep):
        """`steps` Adam steps on z' [N, z_dim] from step t0, elementwise per row.

        One tf.while_loop; `_adam` calls it chunk after chunk, carrying the
        moments and the step count, so the steps are those of one loop.

        Args:
          z_prime, m, v: float32 [N, z_dim], the iterate and Adam's moments.
          t0: int32 scalar, steps already taken (Adam's bias correction).
          value_and_grad: z' -> (values [N], d sum(values) / d z').
          lr: step size.
          steps: int32 scalar, steps of this chunk.
          keep: a Python bool; also return z' after every step.

        Returns:
          (z', m, v after the chunk, [steps, N, z_dim] z' after each step
          or None, [steps, N] values before each step).
        """
        c = self.config
        b1, b2, eps = c.adam_beta1, c.adam_beta2, c.adam_epsilon
        rows = z_prime.shape[:1]
        history = tf.TensorArray(tf.float32, size=steps, element_shape=rows)
        # Written only when kept: the writes also keep grappler from fusing
        # D's conv, bias and leaky ReLU (a "remapper failed" error on stderr).
        path = tf.TensorArray(tf.float32, size=steps if keep else 0, element_shape=z_prime.shape)

        def body(i, zp, m, v, history, path):
            values, grad = value_and_grad(zp)
            step = tf.cast(t0 + i + 1, tf.float32)
            m = b1 * m + (1.0 - b1) * grad
            v = b2 * v + (1.0 - b2) * tf.square(grad)
            m_hat = m / (1.0 - tf.pow(b1, step))
            v_hat = v / (1.0 - tf.pow(b2, step))
            zp = zp + lr * m_hat / (tf.sqrt(v_hat) + eps)
            if keep:
                path = path.write(i, zp)
            return i + 1, zp, m, v, history.write(i, values), path

        _, z_prime, m, v, history, path = tf.while_loop(
            lambda i, *_: i < steps,
            body,
            (tf.constant(0), z_prime, m, v, history, path),
        )
        return z_prime, m, v, (path.stack() if keep else None), history.stack()

    def _adam(self, chunk_fn, z_prime, steps: int, keep: bool, what: str):
        """Adam ascent on z' [N, z_dim] in chunks of steps, with progress and ETA.

        Args:
          chunk_fn: (z', m, v, t0, steps, keep) -> `_adam_chunk`'s outputs,
            the query's tensors bound.
          z_prime: float32 [N, z_dim] numpy start.
          steps: total steps.
          keep: also return z' at every step.
          what: names the loop in progress lines.

        Returns:
          (z' after the last step [N, z_dim], [steps + 1, N, z_dim] z' at
          every step (step 0 first) or None, [steps, N] values before each
          step), numpy.
        """
        z_prime = tf.constant(z_prime)
        m = v = tf.zeros_like(z_prime)
        # About 20 calls per ascent: progress every few seconds on a long
        # one; each call adds a dispatch of a few milliseconds.
        chunk = max(1, -(-steps // _PROGRESS_CHUNKS))
        progress = Progress(steps, "steps", prefix=what, quiet_start=True)
        paths, history = [z_prime.numpy()[None]] if keep else [], []
        for t0 in range(0, steps, chunk):
            n = min(chunk, steps - t0)
            z_prime, m, v, path, values = chunk_fn(
                z_prime, m, v, tf.constant(t0), tf.constant(n), keep
            )
            history.append(values.numpy())
            if keep:
                paths.append(path.numpy())
            progress.update(t0 + n)
        progress.update(steps, force=True)
        rows = z_prime.shape[0]
        values = np.concatenate(history) if history else np.zeros([0, rows], np.float32)
        return z_prime.numpy(), (np.concatenate(paths) if keep else None), values

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

    def _invert_chunk(self, z_prime, m, v, t0, steps, keep, targets, categories):
        """`_adam_chunk` of eq. 12 for N rows: descent on the mean absolute error."""

        def value_and_grad(zp):
            with tf.GradientTape() as tape:
                tape.watch(zp)
                images = self.gan.generate(tf.tanh(zp), categories)
                l1 = tf.reduce_mean(tf.abs(images - targets), axis=[1, 2, 3])
                total = -tf.reduce_sum(l1)
            return -l1, tape.gradient(total, zp)

        return self._adam_chunk(
            z_prime, m, v, t0, value_and_grad, self.config.inversion_learning_rate, steps, keep
        )

    def _inverted(self, z_prime, targets, categories):
        """(G_c(tanh z') [N, R, R, C], mean absolute error to the targets [N])."""
        images = self.gan.generate(tf.tanh(z_prime), categories)
        return images, tf.reduce_mean(tf.abs(images - targets), axis=[1, 2, 3])

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

    def invert(
        self, targets: np.ndarray, categories, *, seed: int | None = None, z0=None
    ) -> InversionResult:
        """Eq. 12: the code whose image is l1-closest to each target, best of r restarts.

        Args:
          targets: float [N, R, R, C] in [-1, 1] (see `downscale`).
          categories: int [N] (or one) category ids.
          seed: seeds the restarts (config.seed when None).
          z0: optional float [N, r, z_dim] starting z in [-1, 1].

        Returns:
          An `InversionResult`.
        """
        c = self.config
        targets = np.asarray(targets, np.float32)
        want = (self.gan.resolution, self.gan.resolution, self.gan.channels)
        if targets.ndim != 4 or targets.shape[1:] != want:
            raise ValueError(
                f"targets must be [N, {', '.join(map(str, want))}], got "
                f"{targets.shape}; downscale query images with Designer.downscale."
            )
        n = len(targets)
        categories = np.asarray(categories).reshape(-1)
        if categories.size == 1:
            categories = np.repeat(categories, n)
        categories = self.gan.check_categories(categories)
        if len(categories) != n:
            raise ValueError(f"{len(categories)} categories for {n} targets.")
        seed = c.seed if seed is None else int(seed)
        if z0 is None:
            z0 = self.initial_z(n, c.inversion_restarts, seed + 12)
        z0 = np.asarray(z0, np.float32)
        r = z0.shape[1]
        targets_r = tf.constant(np.repeat(targets, r, axis=0))
        categories_r = tf.constant(np.repeat(categories, r))

        def chunk_fn(zp, m, v, t0, steps, keep):
            return self._invert_chunk_fn(zp, m, v, t0, steps, keep, targets_r, categories_r)

        z_prime, _, _ = self._adam(
            chunk_fn,
            self._atanh(z0).reshape(n * r, -1),
            c.inversion_steps,
            keep=False,
            what=f"inversion ({n} images x {r} restarts)",
        )
        images, l1 = self._inverted_fn(tf.constant(z_prime), targets_r, categories_r)
        l1 = l1.numpy().reshape(n, r)
        best = l1.argmin(1)
        pick = np.arange(n) * r + best
        return InversionResult(
            z_prime=z_prime[pick],
            images=images.numpy()[pick],
            l1=l1[np.arange(n), best],
            targets=targets,
        )

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
