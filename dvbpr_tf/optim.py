"""Keras Adam's update in one fused kernel per variable.

Keras 3's `Adam.update_step` is written as about ten element-wise ops per
variable (subtract, multiply, square, assign-add, sqrt, divide, ...), each
a full pass over memory. DVBPR's full6 and full7 kernels hold 54M floats:
on the 2-core CPU, Keras's update of the paper preset's largest kernels took
0.23-0.28 CPU-seconds per step (of ~3 for the whole step), TF's
`ResourceApplyAdam`, which does the same update in one pass per variable,
0.07.

The update is the same formula as Keras's, on the same variables (the
optimizer's own `iterations`, momentums and velocities, so checkpoints do
not change):

    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)      t = iterations + 1
    m += (g - m) * (1 - beta_1)
    v += (g^2 - v) * (1 - beta_2)
    w -= m * alpha / (sqrt(v) + epsilon)

and agrees with Keras's to float rounding (the kernel is vectorised
differently). Only plain single-replica Adam takes this path: clipping,
EMA, weight decay, AMSGrad, gradient accumulation, loss scaling and
multi-replica all-reduce stay with Keras's `apply`.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def fused_adam_supported(optimizer, num_replicas: int) -> bool:
    """Whether `apply_adam` computes exactly what `optimizer.apply` would."""
    return (
        type(optimizer) is keras.optimizers.Adam
        and num_replicas == 1
        and not optimizer.amsgrad
        and optimizer.weight_decay is None
        and not optimizer.use_ema
        and not optimizer.gradient_accumulation_steps
        and optimizer.loss_scale_factor is None
        and optimizer.clipnorm is None
        and optimizer.clipvalue is None
        and optimizer.global_clipnorm is None
    )


def apply_adam(optimizer: keras.optimizers.Adam, grads, variables) -> None:
    """One Adam step on `variables` (as `optimizer.apply(grads, variables)`), fused.

    Args:
      optimizer: a built `keras.optimizers.Adam` for which
        `fused_adam_supported` holds.
      grads: one gradient per variable: dense (fused update),
        `tf.IndexedSlices` (Keras's own update) or None (the variable is
        left alone, as Keras does).
      variables: float32 Keras variables the optimizer was built on.
    """
    dtype = tf.float32
    step = tf.cast(optimizer.iterations + 1, dtype)
    beta_1 = tf.constant(optimizer.beta_1, dtype)
    beta_2 = tf.constant(optimizer.beta_2, dtype)
    lr = tf.cast(optimizer._get_current_learning_rate(), dtype)
    epsilon = tf.constant(optimizer.epsilon, dtype)
    beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
    for grad, variable in zip(grads, variables, strict=True):
        if grad is None:
            continue
        if isinstance(grad, tf.IndexedSlices):
            # Keras squares each slice before summing repeated rows into v
            # (as TF1's sparse Adam, the release's, did); its own update keeps
            # that. Only theta's gradient is sparse, and theta is small.
            optimizer.update_step(grad, variable, lr)
            continue
        k = optimizer._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=optimizer._momentums[k].handle,
            v=optimizer._velocities[k].handle,
            beta1_power=beta_1_power,
            beta2_power=beta_2_power,
            lr=lr,
            beta1=beta_1,
            beta2=beta_2,
            epsilon=epsilon,
            grad=tf.cast(grad, dtype),
        )
    optimizer.iterations.assign_add(1)
