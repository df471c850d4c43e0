"""Tests of dvbpr_tf.optim: the fused Adam step against Keras's own Adam."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from dvbpr_tf import optim

SHAPES = [(6, 5), (5,), (9, 3), (4, 2)]


def _setup(**adam_kwargs):
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype(np.float32)) for s in SHAPES]
    optimizer = keras.optimizers.Adam(learning_rate=0.05, **adam_kwargs)
    optimizer.build(variables)
    return variables, optimizer


def _grads(step: int):
    rng = np.random.default_rng(100 + step)
    dense = [tf.constant(rng.normal(size=s).astype(np.float32)) for s in SHAPES[:3]]
    # theta's gradient is sparse (a gather); the last variable gets none on odd steps.
    rows = tf.constant([1, 3, 1], tf.int64)
    sparse = tf.IndexedSlices(
        tf.constant(rng.normal(size=(3, 3)).astype(np.float32)), rows, tf.constant([9, 3], tf.int64)
    )
    last = None if step % 2 else tf.constant(rng.normal(size=SHAPES[3]).astype(np.float32))
    return [dense[0], dense[1], sparse, last]


# Keras's Adam warns when a gradient is None; _grads passes None for the last
# variable on odd steps on purpose (the case apply_adam must skip as Keras does).
@pytest.mark.filterwarnings("ignore:Gradients do not exist for variables:UserWarning")
def test_fused_adam_matches_keras_adam():
    want_vars, keras_adam = _setup(beta_1=0.8, beta_2=0.95, epsilon=1e-4)
    got_vars, fused_adam = _setup(beta_1=0.8, beta_2=0.95, epsilon=1e-4)
    assert optim.fused_adam_supported(fused_adam, num_replicas=1)
    keras_step = tf.function(lambda g: keras_adam.apply(g, want_vars))
    fused_step = tf.function(lambda g: optim.apply_adam(fused_adam, g, got_vars))
    start = [v.numpy() for v in got_vars]
    for step in range(5):
        grads = _grads(step)
        keras_step(grads)
        fused_step(grads)
    assert int(fused_adam.iterations) == int(keras_adam.iterations) == 5
    for got, want, first in zip(got_vars, want_vars, start, strict=True):
        assert not np.allclose(got.numpy(), first)  # Every variable moved.
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6, atol=1e-7)
    for got, want in zip(
        fused_adam._momentums + fused_adam._velocities,
        keras_adam._momentums + keras_adam._velocities,
        strict=True,
    ):
        # Float rounding (the kernel computes m as b1 * m + (1 - b1) * g).
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "optimizer, replicas",
    [
        (keras.optimizers.Adam(clipnorm=1.0), 1),
        (keras.optimizers.Adam(amsgrad=True), 1),
        (keras.optimizers.Adam(weight_decay=0.1), 1),
        (keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()), 1),
        (keras.optimizers.SGD(), 1),
        (keras.optimizers.Adam(), 2),
    ],
)
def test_fused_adam_only_for_plain_single_replica_adam(optimizer, replicas):
    assert not optim.fused_adam_supported(optimizer, replicas)
