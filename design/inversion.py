"""Eq. 12 on a GAN export alone: the codes whose images are l1-closest to targets.

`LatentSearch` is the part of `design.optimize.Designer` that needs no
recommender: the batched Adam loop over z' = atanh(z) that both eq. 10's
ascent and eq. 12's inversion run, and the inversion itself. It stands
alone so that a GAN can be inverted without a recommender: `eval.gan_report
--invert` asks whether G can draw the real images at all (its range), as
against whether its samples land on them (its coverage).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from common.runtime import Progress
from design.config import DesignConfig
from design.results import InversionResult
from exports.gan import LoadedGenerator

# An optimisation runs as about this many calls, so that it can report progress.
_PROGRESS_CHUNKS = 20


class LatentSearch:
    """Adam on G's latent codes, and eq. 12's inversion, over one GAN export.

    Args:
      gan: a `LoadedGenerator`.
      config: the design hyper-parameters (the Adam constants, z_clip and
        the inversion's restarts, steps and step size).
    """

    def __init__(self, gan: LoadedGenerator, config: DesignConfig):
        self.gan = gan
        self.config = config
        self._invert_chunk_fn = tf.function(self._invert_chunk, reduce_retracing=True)
        self._inverted_fn = tf.function(self._inverted, reduce_retracing=True)

    def initial_z(self, num_queries: int, restarts: int, seed: int) -> np.ndarray:
        """Starting points z ~ U(-1, 1): float32 [num_queries, restarts, z_dim]."""
        rng = np.random.default_rng(seed)
        z = rng.uniform(-1.0, 1.0, (num_queries, restarts, self.gan.z_dim))
        return z.astype(np.float32)

    def _atanh(self, z: np.ndarray) -> np.ndarray:
        clip = self.config.z_clip
        return np.arctanh(np.clip(np.asarray(z, np.float32), -clip, clip)).astype(np.float32)

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

    def invert(
        self, targets: np.ndarray, categories, *, seed: int | None = None, z0=None
    ) -> InversionResult:
        """Eq. 12: the code whose image is l1-closest to each target, best of r restarts.

        Args:
          targets: float [N, R, R, C] in [-1, 1] (`Designer.downscale` makes them
            from catalogue images).
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
