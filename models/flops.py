"""Analytic FLOP counts of Keras models, per example, for benchmarks that report achieved FLOP/s.

What is counted: 2 FLOPs (a multiply and an add) per multiply-accumulate of every
convolution (``Conv1D``/``Conv2D``/``Conv3D``, grouped or not, ``DepthwiseConv2D``) and every
``Dense`` layer. That is the convention of the papers' "FLOPs" tables times two (they count
multiply-adds) and of vendors' peak figures (an FMA is 2 FLOPs), so achieved / peak compares like
with like.

What is ignored, on purpose: biases, BatchNorm, activations, pooling, additions and
concatenations. They cost O(activations), not O(activations x fan-in): for WRN-16-4 on 32x32
they are well under 1% of the convolutions' count, and they are memory-bound, so counting them
would flatter the achieved FLOP/s rather than measure the arithmetic units.

How: a layer's count is ``2 x kernel.size x output positions`` for every call of the layer
(every inbound node), the output positions being the output's shape without the batch and
channel axes. ``kernel.size`` is the multiply-adds of one output position over all output
channels for every kind counted here: a grouped kernel is ``[kh, kw, C_in / groups, C_out]``
and a depthwise one ``[kh, kw, C_in, multiplier]``. So the zoo's grouped convolutions count the
same whether built natively (``Conv2D(groups=g)``, on GPUs) or as one ``Conv2D`` per group
(on CPUs, see :func:`models.layers.grouped_conv_mode`). Nested functional models are counted
recursively, once per call. A layer shared by two different models counts the calls it has in
both (the zoo shares none).
"""

from __future__ import annotations

import math

import keras

__all__ = ["forward_flops", "training_flops"]

# Layers whose multiply-adds per output position are exactly their kernel's size.
_KERNEL_LAYERS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D,
                  keras.layers.DepthwiseConv2D, keras.layers.Dense)

# Backward ~ 2 x forward: one product for the gradient of the inputs and one for the gradient
# of the weights, each as large as the forward one (the usual approximation, e.g. Kaplan et al.
# 2020, "Scaling Laws", Sec. 2.1). It slightly overcounts the first layer, whose input gradient
# is never computed.
TRAINING_FACTOR = 3


def forward_flops(model: keras.Model) -> int:
    """FLOPs of one example's forward pass through a built functional ``model`` (see module doc).

    Raises ValueError for a layer with a kernel that is not counted here (e.g. a transposed
    convolution) or for outputs of unknown spatial size, rather than silently undercounting.
    """
    return sum(_layer_flops(layer) for layer in model.layers)


def training_flops(model: keras.Model) -> int:
    """FLOPs of one example's training step: forward plus backward, ``3 x forward_flops``."""
    return TRAINING_FACTOR * forward_flops(model)


def _layer_flops(layer: keras.layers.Layer) -> int:
    """Every call of ``layer``: nested models recursively, kernels analytically, the rest 0."""
    calls = len(layer._inbound_nodes)  # why: Keras keeps no public list of a layer's calls
    if isinstance(layer, keras.Model):
        return calls * forward_flops(layer)
    if isinstance(layer, _KERNEL_LAYERS):
        return sum(_kernel_flops(layer, node.output_tensors[0].shape) for node in layer._inbound_nodes)
    if getattr(layer, "kernel", None) is not None:
        raise ValueError(f"cannot count the FLOPs of layer {layer.name!r} ({type(layer).__name__})")
    return 0


def _kernel_flops(layer: keras.layers.Layer, output_shape: tuple) -> int:
    """2 x multiply-adds per output position x output positions, for one call."""
    positions = output_shape[1:-1]
    if any(d is None for d in positions):
        raise ValueError(f"layer {layer.name!r} has outputs of unknown size {tuple(output_shape)}; "
                         f"build the model with a fixed input shape")
    return 2 * math.prod(layer.kernel.shape) * math.prod(positions)
