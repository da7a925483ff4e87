"""Wide Residual Networks for CIFAR (Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016).

WRN-d-k: a 3x3 stem with 16 channels, then three groups of n = (d - 4) / 6 pre-activation basic
blocks (BN-ReLU-conv3x3-BN-ReLU-conv3x3, Sec. 2 and Table 1 of the WRN paper) with widths
16k, 32k, 64k and strides 1, 2, 2, and a BN-ReLU-global-average-pool-dense head. A 1x1
convolution replaces the identity shortcut where the shape changes. No dropout: the WRN
paper's plain variant, which Kishida & Nakayama (arXiv:1911.10739) name as WRN 16-4.
"""

from __future__ import annotations

import keras

from . import layers

GROUP_WIDTHS = (16, 32, 64)  # channels per group at width factor 1 (WRN paper, Table 1)
GROUP_STRIDES = (1, 2, 2)


def blocks_per_group(depth: int) -> int:
    """n = (depth - 4) / 6 blocks per group: three groups of n blocks of two convs each.

    The remaining 4 of the depth follow the WRN paper's counting (stem, head and shortcut
    layers). Raises ``ValueError`` naming the constraint.
    """
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"WRN depth must be 6n+4 with n >= 1 (10, 16, 22, 28, ...), got {depth}")
    return (depth - 4) // 6


def check_width(width: int) -> None:
    """The width factor k multiplies every group's channels, so it must be positive."""
    if width < 1:
        raise ValueError(f"WRN width factor must be at least 1, got {width}")


def basic_block(x, filters: int, *, strides: int, name: str):
    """Pre-activation basic block; the shortcut conv, if any, reads the pre-activated input.

    Sharing the first BN-ReLU with a projection shortcut follows the authors' code: the shortcut
    then sees a normalised input like the residual branch does.
    """
    pre = layers.bn_relu(x, name=name, index="1")
    y = layers.conv(pre, filters, 3, strides=strides, name=f"{name}_conv1")
    y = layers.bn_relu(y, name=name, index="2")
    y = layers.conv(y, filters, 3, name=f"{name}_conv2")
    if strides != 1 or x.shape[-1] != filters:
        x = layers.conv(pre, filters, 1, strides=strides, name=f"{name}_shortcut_conv")
    return keras.layers.Add(name=f"{name}_add")([x, y])


def group(x, filters: int, blocks: int, *, strides: int, name: str):
    """``blocks`` basic blocks; only the first one strides and changes width."""
    for i in range(1, blocks + 1):
        x = basic_block(x, filters, strides=strides if i == 1 else 1, name=f"{name}_block{i}")
    return x


def wide_resnet(
    depth: int,
    width: int,
    *,
    num_classes: int,
    input_shape: tuple[int, int, int],
    name: str | None = None,
) -> keras.Model:
    """WRN-``depth``-``width``, returning logits. Works for any input size (global pooling)."""
    blocks = blocks_per_group(depth)
    check_width(width)
    layers.check_classes(num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.conv(inputs, GROUP_WIDTHS[0], 3, name="stem_conv")
    for g, (filters, strides) in enumerate(zip(GROUP_WIDTHS, GROUP_STRIDES), start=1):
        x = group(x, filters * width, blocks, strides=strides, name=f"stage{g}")
    x = layers.bn_relu(x, name="head")
    outputs = layers.logits_head(x, num_classes)
    return keras.Model(inputs, outputs, name=name or f"wrn{depth}_{width}")


def wrn16_4(**kwargs) -> keras.Model:
    """WRN-16-4, the paper's CIFAR-10 model (about 2.75M parameters at 10 classes)."""
    return wide_resnet(16, 4, name="wrn16_4", **kwargs)


def wrn10_1(**kwargs) -> keras.Model:
    """WRN-10-1, a small model for quick runs and tests (one block per group, width 16-64)."""
    return wide_resnet(10, 1, name="wrn10_1", **kwargs)
