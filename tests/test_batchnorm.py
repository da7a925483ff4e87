"""The zoo's fused batch norm computes Keras's BatchNormalization (models.layers.FusedBatchNorm)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from easiness.models.layers import BN_EPSILON, BN_MOMENTUM, FusedBatchNorm


def pair(shape, **kwargs):
    """A fused layer and Keras's own with equal, non-trivial weights, both built for ``shape``."""
    fused = FusedBatchNorm(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **kwargs)
    plain = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, **kwargs)
    rng = np.random.default_rng(0)
    for layer in (fused, plain):
        layer.build(shape)
    for a, b in zip(fused.weights, plain.weights):
        value = rng.uniform(0.5, 1.5, a.shape).astype("float32")
        a.assign(value)
        b.assign(value)
    return fused, plain


def outputs_and_gradients(layer, x):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.range(1.0, 1.0 + y.shape[-1]) ** 2 * tf.sin(x))
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return y.numpy(), [g.numpy() for g in grads]


def test_training_step_matches_keras_outputs_gradients_and_moving_mean():
    x = np.random.default_rng(1).normal(2.0, 3.0, (8, 5, 5, 4)).astype("float32")
    fused, plain = pair(x.shape)
    y_f, g_f = outputs_and_gradients(fused, x)
    y_p, g_p = outputs_and_gradients(plain, x)
    np.testing.assert_allclose(y_f, y_p, rtol=1e-4, atol=1e-4)
    for a, b in zip(g_f, g_p):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-5)
    # the fused kernel follows the unbiased batch variance, as Chainer and PyTorch do
    n = x.shape[0] * x.shape[1] * x.shape[2]
    batch_variance = x.var(axis=(0, 1, 2))
    expected_fused = plain.moving_variance.numpy() + (1 - BN_MOMENTUM) * batch_variance * (n / (n - 1) - 1)
    np.testing.assert_allclose(fused.moving_variance.numpy(), expected_fused, rtol=1e-4)
    assert not np.allclose(fused.moving_variance.numpy(), plain.moving_variance.numpy(), rtol=1e-6)


def test_inference_matches_keras_and_leaves_the_statistics_alone():
    x = np.random.default_rng(2).normal(0.0, 2.0, (3, 4, 4, 6)).astype("float32")
    fused, plain = pair(x.shape)
    before = fused.moving_mean.numpy().copy()
    np.testing.assert_allclose(fused(x, training=False), plain(x, training=False), rtol=1e-4, atol=1e-4)
    fused.trainable = False  # a frozen layer normalises with its moving statistics, as Keras's does
    np.testing.assert_allclose(fused(x, training=True), plain(x, training=False), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(fused.moving_mean.numpy(), before)


@pytest.mark.parametrize("kwargs", [{"center": False, "scale": False}, {"axis": 1}])
def test_options_and_other_axes_agree_with_keras(kwargs):
    x = np.random.default_rng(3).normal(1.0, 1.0, (4, 3, 5, 5)).astype("float32")
    fused, plain = pair(x.shape, **kwargs)
    np.testing.assert_allclose(fused(x, training=True), plain(x, training=True), rtol=1e-4, atol=1e-4)


def test_bfloat16_compute_keeps_float32_statistics():
    x = np.random.default_rng(4).normal(0.0, 1.0, (4, 3, 3, 2)).astype("float32")
    layer = FusedBatchNorm(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype="mixed_bfloat16")
    y = layer(tf.cast(x, tf.bfloat16), training=True)
    assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.1 * x.mean(axis=(0, 1, 2)), rtol=2e-2, atol=1e-3)


def test_round_trips_through_keras_config():
    layer = FusedBatchNorm(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name="bn")
    again = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(again) is FusedBatchNorm and again.momentum == BN_MOMENTUM
