"""ResNet-18 and ResNet-50 for ImageNet (He et al., "Deep Residual Learning", CVPR 2016).

The layout of torchvision's ``resnet18`` / ``resnet50`` ("v1.5": a bottleneck strides on its
3x3 conv, not on its first 1x1 conv), which Kishida & Nakayama (arXiv:1911.10739)
train on ImageNet: a 7x7/2 stem with a 3x3/2 max pool, four stages of 64, 128, 256, 512 base
channels with strides 1, 2, 2, 2, global average pooling and a dense layer. Post-activation
blocks (conv-BN-ReLU, add, ReLU); a 1x1 conv-BN projection wherever the shape changes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import keras

from . import layers

STAGE_WIDTHS = (64, 128, 256, 512)  # base channels per stage (He et al. Table 1)
STAGE_STRIDES = (1, 2, 2, 2)  # stage 1 follows the stem's max pool, so it does not stride
BOTTLENECK_EXPANSION = 4  # a bottleneck's output has 4x its base channels


def shortcut(x, filters: int, *, strides: int, name: str):
    """Identity, or a 1x1 conv-BN projection when the stride or the width changes."""
    if strides == 1 and x.shape[-1] == filters:
        return x
    return layers.conv_bn(x, filters, 1, strides=strides, name=f"{name}_shortcut")


def join(shortcut_x, residual, *, name: str):
    """Add the two branches, then the block's final ReLU."""
    x = keras.layers.Add(name=f"{name}_add")([shortcut_x, residual])
    return layers.relu(x, name=f"{name}_out")


def basic_block(x, filters: int, *, strides: int, name: str):
    """Two 3x3 convs (ResNet-18/34); the first one strides."""
    y = layers.conv_bn_relu(x, filters, 3, strides=strides, name=name, index="1")
    y = layers.conv_bn(y, filters, 3, name=name, index="2")
    return join(shortcut(x, filters, strides=strides, name=name), y, name=name)


def bottleneck_block(x, filters: int, *, strides: int, name: str):
    """1x1 reduce, 3x3 (strided: torchvision v1.5), 1x1 expand to 4x ``filters`` (ResNet-50+)."""
    out = filters * BOTTLENECK_EXPANSION
    y = layers.conv_bn_relu(x, filters, 1, name=name, index="1")
    y = layers.conv_bn_relu(y, filters, 3, strides=strides, name=name, index="2")
    y = layers.conv_bn(y, out, 1, name=name, index="3")
    return join(shortcut(x, out, strides=strides, name=name), y, name=name)


class ResNetSpec(NamedTuple):
    """Which block and how many per stage, like tf-models' ``RESNET_SPECS``."""

    block: Callable
    blocks_per_stage: tuple[int, ...]


RESNET_SPECS: dict[int, ResNetSpec] = {
    18: ResNetSpec(basic_block, (2, 2, 2, 2)),
    50: ResNetSpec(bottleneck_block, (3, 4, 6, 3)),
}


def stage(x, spec: ResNetSpec, index: int, *, name: str):
    """Stage ``index`` (0-based) of ``spec``; only its first block strides."""
    for i in range(1, spec.blocks_per_stage[index] + 1):
        strides = STAGE_STRIDES[index] if i == 1 else 1
        x = spec.block(x, STAGE_WIDTHS[index], strides=strides, name=f"{name}_block{i}")
    return x


def resnet(
    depth: int,
    *,
    num_classes: int,
    input_shape: tuple[int, int, int],
    name: str | None = None,
) -> keras.Model:
    """The ImageNet ResNet of ``depth`` (a key of ``RESNET_SPECS``), returning logits."""
    spec = RESNET_SPECS[depth]
    layers.check_classes(num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.conv_bn_relu(inputs, STAGE_WIDTHS[0], 7, strides=2, name="stem")
    x = layers.max_pool_3x3_s2(x, name="stem_pool")
    for s in range(len(STAGE_WIDTHS)):
        x = stage(x, spec, s, name=f"stage{s + 1}")
    outputs = layers.logits_head(x, num_classes)
    return keras.Model(inputs, outputs, name=name or f"resnet{depth}")


def resnet18(**kwargs) -> keras.Model:
    """ResNet-18 (11,689,512 parameters at 1000 classes, as torchvision)."""
    return resnet(18, **kwargs)


def resnet50(**kwargs) -> keras.Model:
    """ResNet-50 v1.5 (25,557,032 parameters at 1000 classes, as torchvision)."""
    return resnet(50, **kwargs)
