"""Shared building blocks of the model zoo: convolutions, batch norm and the logits head.

Every block function takes a tensor and a hierarchical ``name`` prefix and returns a tensor, in
the style of ``keras/src/applications/resnet.py``; the layers it creates are named
``{name}_conv``, ``{name}_bn``, ``{name}_relu`` and so on, so that a layer name such as
``stage2_block1_conv2`` says where the layer sits in the network.
"""

from __future__ import annotations

import os

import keras
import tensorflow as tf

# BatchNorm momentum and epsilon of Chainer and PyTorch (their momentum 0.1 on the new batch is
# Keras's 0.9 on the running value), the frameworks of the paper's era. Keras's default 0.99
# makes the moving statistics trail the weights by ~100 steps, so inference-mode losses in the
# first epochs -- exactly the phase Kishida & Nakayama (arXiv:1911.10739) score -- come
# from stale statistics: a small CNN on CIFAR-10 scored a mean loss of 2.2 after 3 epochs with
# 0.99 against 1.4-1.7 with 0.9.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def kernel_init(scale: float = 2.0) -> keras.initializers.Initializer:
    """He-normal initialisation on fan-out, as torchvision's ResNet and DenseNet.

    He et al., "Delving Deep into Rectifiers" (2015, Sec. 2.2) show that scaling by fan-out
    (the backward-pass condition) trains as well; torchvision's ``kaiming_normal_(mode="fan_out")``
    follows it. Untruncated,
    unlike Keras's ``he_normal``, to keep the variance exactly 2 / fan_out.
    """
    return keras.initializers.VarianceScaling(
        scale=scale, mode="fan_out", distribution="untruncated_normal"
    )


def conv(
    x,
    filters: int,
    kernel: int,
    *,
    name: str,
    strides: int = 1,
    groups: int = 1,
    use_bias: bool = False,
):
    """A ``kernel``x``kernel`` convolution with PyTorch's symmetric padding ``kernel // 2``.

    Keras's ``padding="same"`` pads strided convolutions asymmetrically (more at the bottom and
    right), which shifts the sampling grid against the reference implementations; an explicit
    ``ZeroPadding2D`` keeps the 224x224 shapes and receptive fields of torchvision. For stride 1
    both are the same, so no extra layer is made.
    """
    pad = kernel // 2
    padding = "same"
    if strides > 1 and pad > 0:
        x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
        padding = "valid"
    if groups > 1 and grouped_conv_mode() == "split":
        return _split_conv(x, filters, kernel, strides=strides, padding=padding, groups=groups,
                           use_bias=use_bias, name=name)
    return keras.layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        groups=groups,
        use_bias=use_bias,
        kernel_initializer=kernel_init(),
        name=name,
    )(x)


def grouped_conv_mode() -> str:
    """How a grouped convolution is built: "native" (one ``Conv2D(groups=...)``) or "split".

    TensorFlow's CPU kernel for grouped convolutions is 50-250x slower than the same work as
    one convolution per group (measured here: a 3x3, 64-channel layer at 32x32, batch 128,
    forward and backward: 1.36 s native against 0.027 s split for 2 groups), while cuDNN runs
    the native form well. "auto" (default, or ``EASINESS_GROUPED_CONV``) picks native on GPUs
    and split otherwise. Both forms have the same parameters and compute the same function.
    """
    mode = os.environ.get("EASINESS_GROUPED_CONV", "auto")
    if mode not in ("auto", "native", "split"):
        raise ValueError(f"EASINESS_GROUPED_CONV must be auto, native or split, got {mode!r}")
    if mode == "auto":
        return "native" if tf.config.list_physical_devices("GPU") else "split"
    return mode


def _split_conv(x, filters: int, kernel: int, *, strides: int, padding: str, groups: int,
                use_bias: bool, name: str):
    """A grouped convolution as ``groups`` convolutions on channel slices, concatenated.

    Group i maps input channels [i*c/g, (i+1)*c/g) to output channels [i*f/g, (i+1)*f/g), as
    ``Conv2D(groups=g)`` does; each kernel's init scale is divided by g because its fan-out is
    g times smaller than the native kernel's.
    """
    parts = keras.ops.split(x, groups, axis=-1)
    outputs = [
        keras.layers.Conv2D(filters // groups, kernel, strides=strides, padding=padding,
                            use_bias=use_bias, kernel_initializer=kernel_init(2.0 / groups),
                            name=f"{name}_g{i + 1}")(part)
        for i, part in enumerate(parts)
    ]
    return keras.layers.Concatenate(name=name)(outputs)


@keras.saving.register_keras_serializable(package="easiness")
class FusedBatchNorm(keras.layers.BatchNormalization):
    """Keras's ``BatchNormalization`` computed by TensorFlow's fused kernel where it can be.

    Keras 3 normalises with separate moment, subtract, scale and shift ops, each a pass over the
    activation in the forward and in the backward pass; ``FusedBatchNormV3`` (oneDNN on CPUs,
    cuDNN on GPUs, one XLA op) does each pass in one. Measured here on the CPU (wrn10_1,
    batch 128, ``benchmarks/batchnorm.py``): a training step 1.37 s per epoch of 2,500 images
    against 1.88 s with Keras's layer. The variables, their names and the computed function are
    Keras's, with two documented differences of the fused kernel: the moving variance follows the
    unbiased batch variance (n / (n - 1), as Chainer and PyTorch, the paper's frameworks) and
    epsilon is at least 1.001e-5. Anything else (masks, renorm, another axis or rank, another
    backend) falls back to Keras's own ``call``. Computes in float32, as Keras's layer does.
    """

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        x = tf.cast(inputs, tf.float32)
        channels = x.shape[-1]
        scale = self.gamma if self.scale else tf.ones([channels], tf.float32)
        offset = self.beta if self.center else tf.zeros([channels], tf.float32)
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x, scale, offset, mean=self.moving_mean, variance=self.moving_variance, epsilon=self.epsilon,
                is_training=True, exponential_avg_factor=1.0 - self.momentum)[:3]
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        else:
            y = tf.compat.v1.nn.fused_batch_norm(
                x, scale, offset, mean=self.moving_mean, variance=self.moving_variance, epsilon=self.epsilon,
                is_training=False)[0]
        return tf.cast(y, self.compute_dtype)

    def _fusable(self, inputs, mask) -> bool:
        return (keras.backend.backend() == "tensorflow" and mask is None and not self.renorm
                and len(inputs.shape) == 4 and self.axis in (-1, 3) and self.moving_mean.dtype == "float32")


def batch_norm(x, *, name: str):
    """Batch normalisation with the shared momentum and epsilon (see ``BN_MOMENTUM``), fused."""
    return FusedBatchNorm(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)(x)


def relu(x, *, name: str):
    """A named ReLU layer."""
    return keras.layers.Activation("relu", name=name)(x)


def bn_relu(x, *, name: str, index: str = ""):
    """BN then ReLU (WRN and DenseNet pre-activation): ``{name}_bn{index}``, ``_relu{index}``."""
    x = batch_norm(x, name=f"{name}_bn{index}")
    return relu(x, name=f"{name}_relu{index}")


def conv_bn(
    x, filters: int, kernel: int, *, name: str, index: str = "", strides: int = 1, groups: int = 1
):
    """Conv (no bias: BN's beta is the shift) then BN: ``{name}_conv{index}``, ``_bn{index}``."""
    x = conv(x, filters, kernel, strides=strides, groups=groups, name=f"{name}_conv{index}")
    return batch_norm(x, name=f"{name}_bn{index}")


def conv_bn_relu(
    x, filters: int, kernel: int, *, name: str, index: str = "", strides: int = 1, groups: int = 1
):
    """Conv, BN, ReLU: ``{name}_conv{index}``, ``{name}_bn{index}``, ``{name}_relu{index}``."""
    x = conv_bn(x, filters, kernel, strides=strides, groups=groups, name=name, index=index)
    return relu(x, name=f"{name}_relu{index}")


def max_pool_3x3_s2(x, *, name: str):
    """torchvision's stem pool, ``MaxPool2d(3, stride=2, padding=1)``.

    Zero padding equals PyTorch's -inf padding here because the input follows a ReLU.
    """
    x = keras.layers.ZeroPadding2D(1, name=f"{name}_pad")(x)
    return keras.layers.MaxPooling2D(3, strides=2, name=name)(x)


def logits_head(x, num_classes: int):
    """Global average pooling then a dense layer to ``num_classes`` float32 logits (no softmax).

    The dense layer is pinned to float32 so that the logits, and the per-example cross-entropy
    computed from them, stay float32 under a ``mixed_float16`` policy.
    """
    x = keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
    return logits(x, num_classes)


def logits(x, num_classes: int):
    """The final dense layer named ``logits``, float32, default (Glorot) initialisation."""
    return keras.layers.Dense(num_classes, dtype="float32", name="logits")(x)


def check_classes(num_classes: int) -> None:
    """Reject a class count that cannot make a classifier."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
