"""ResNeXt for CIFAR (Xie et al., "Aggregated Residual Transformations", CVPR 2017, Sec. 5.3).

ResNeXt-d (C x w d): a 3x3 stem with 64 channels, then three stages of n = (d - 2) / 9
bottleneck blocks with 256, 512, 1024 output channels and strides 1, 2, 2, global average
pooling and a dense layer. A block is 1x1 conv to the inner width, a grouped 3x3 conv with C
groups (the "aggregated transformations", Xie et al. Fig. 3c) carrying the stride, and 1x1 conv
to the output, each followed by BN (and ReLU but the last); a 1x1 conv-BN projection shortcut
wherever the shape changes. The inner width is C * w at stage 1 and doubles with each stage,
so ResNeXt-29 (8x64d) has 34.4M parameters at 10 classes, as its paper reports (Table 7).
Kishida & Nakayama (arXiv:1911.10739) use ResNeXt-29 (4x64d).
"""

from __future__ import annotations

import keras

from . import layers

STEM_WIDTH = 64
STAGE_OUTPUTS = (256, 512, 1024)  # block output channels per stage (Xie et al. Sec. 5.3)
STAGE_STRIDES = (1, 2, 2)


def blocks_per_stage(depth: int) -> int:
    """n = (depth - 2) / 9: three stages of n blocks of three convs, plus the stem and the head.

    Raises ``ValueError`` naming the constraint.
    """
    if depth < 11 or (depth - 2) % 9:
        raise ValueError(f"ResNeXt depth must be 9n+2 with n >= 1 (11, 20, 29, ...), got {depth}")
    return (depth - 2) // 9


def check_cardinality(cardinality: int, width: int) -> None:
    """Both the number of groups C and the per-group width w must be positive."""
    if cardinality < 1 or width < 1:
        raise ValueError(
            f"ResNeXt cardinality and bottleneck width must be at least 1, "
            f"got {cardinality}x{width}d"
        )


def block(x, out: int, inner: int, cardinality: int, *, strides: int, name: str):
    """One ResNeXt bottleneck block, post-activation like the ResNet it extends."""
    y = layers.conv_bn_relu(x, inner, 1, name=name, index="1")
    y = layers.conv_bn_relu(
        y, inner, 3, strides=strides, groups=cardinality, name=name, index="2"
    )
    y = layers.conv_bn(y, out, 1, name=name, index="3")
    if strides != 1 or x.shape[-1] != out:
        x = layers.conv_bn(x, out, 1, strides=strides, name=f"{name}_shortcut")
    x = keras.layers.Add(name=f"{name}_add")([x, y])
    return layers.relu(x, name=f"{name}_out")


def stage(x, index: int, blocks: int, cardinality: int, width: int, *, name: str):
    """Stage ``index`` (0-based): inner width C * w * 2^index; only the first block strides."""
    inner = cardinality * width * 2**index
    for i in range(1, blocks + 1):
        strides = STAGE_STRIDES[index] if i == 1 else 1
        x = block(
            x, STAGE_OUTPUTS[index], inner, cardinality, strides=strides, name=f"{name}_block{i}"
        )
    return x


def resnext(
    depth: int,
    cardinality: int,
    width: int,
    *,
    num_classes: int,
    input_shape: tuple[int, int, int],
    name: str | None = None,
) -> keras.Model:
    """ResNeXt-``depth`` (``cardinality`` x ``width`` d) for CIFAR-sized inputs; logits out."""
    blocks = blocks_per_stage(depth)
    check_cardinality(cardinality, width)
    layers.check_classes(num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.conv_bn_relu(inputs, STEM_WIDTH, 3, name="stem")
    for s in range(len(STAGE_OUTPUTS)):
        x = stage(x, s, blocks, cardinality, width, name=f"stage{s + 1}")
    outputs = layers.logits_head(x, num_classes)
    return keras.Model(inputs, outputs, name=name or f"resnext{depth}_{cardinality}x{width}d")


def resnext29_4x64d(**kwargs) -> keras.Model:
    """ResNeXt-29 (4x64d), the paper's CIFAR-10 ResNeXt."""
    return resnext(29, 4, 64, name="resnext29_4x64d", **kwargs)


def resnext11_2x16d(**kwargs) -> keras.Model:
    """ResNeXt-11 (2x16d), a small model for quick runs and tests (one block per stage)."""
    return resnext(11, 2, 16, name="resnext11_2x16d", **kwargs)
