"""DenseNet-BC (Huang et al., "Densely Connected Convolutional Networks", CVPR 2017).

One generic builder serves both of the paper's DenseNets (Kishida & Nakayama, arXiv:1911.10739,
experiments): DenseNet-BC 100 (k = 12) on CIFAR-10 and DenseNet-121 on ImageNet. They share the
bottleneck layer (BN-ReLU-1x1 conv to 4k, BN-ReLU-3x3 conv to k, concatenated to the input,
Huang et al. Sec. 3 "Bottleneck layers"), the transition with compression 0.5 (BN-ReLU-1x1
conv-2x2 average pool, "Compression") and the BN-ReLU-global-pool-dense head; they differ in the
stem and in the number of blocks (``CIFAR_STEM`` / ``IMAGENET_STEM`` below).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from . import layers

BOTTLENECK_FACTOR = 4  # the 1x1 conv of a dense layer outputs 4k channels (Huang et al. Sec. 3)
COMPRESSION = 0.5  # a transition keeps half of the channels: the "C" of DenseNet-BC
CIFAR_STEM = "cifar"  # a 3x3 conv with 2k channels (Huang et al. Sec. 3)
IMAGENET_STEM = "imagenet"  # a 7x7/2 conv with 2k channels, BN-ReLU, a 3x3/2 max pool (Table 1)
IMAGENET_121_BLOCKS = (6, 12, 24, 16)  # DenseNet-121 (Huang et al. Table 1), growth 32


def bc_layers_per_block(depth: int) -> int:
    """Bottleneck layers per block of a 3-block CIFAR DenseNet-BC of the given depth.

    Each bottleneck layer has two convolutions, so depth = 3 blocks x 2n + 4 (stem, two
    transitions, head). Raises ``ValueError`` naming the constraint.
    """
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(
            f"DenseNet-BC depth must be 6n+4 with n >= 1 (40, 100, 190, ...), got {depth}"
        )
    return (depth - 4) // 6


def check_growth(growth: int) -> None:
    """The growth rate k is the channels each layer adds, so it must be positive."""
    if growth < 1:
        raise ValueError(f"DenseNet growth rate must be at least 1, got {growth}")


def dense_layer(x, growth: int, *, name: str):
    """One bottleneck layer; its k new channels are concatenated to its input."""
    y = layers.bn_relu(x, name=name, index="1")
    y = layers.conv(y, BOTTLENECK_FACTOR * growth, 1, name=f"{name}_conv1")
    y = layers.bn_relu(y, name=name, index="2")
    y = layers.conv(y, growth, 3, name=f"{name}_conv2")
    return keras.layers.Concatenate(name=f"{name}_concat")([x, y])


def dense_block(x, num_layers: int, growth: int, *, name: str):
    """``num_layers`` dense layers, named ``{name}_layer1`` onwards."""
    for i in range(1, num_layers + 1):
        x = dense_layer(x, growth, name=f"{name}_layer{i}")
    return x


def transition(x, *, name: str):
    """BN-ReLU-1x1 conv to floor(0.5 C) channels, then a 2x2 average pool of stride 2."""
    x = layers.bn_relu(x, name=name)
    x = layers.conv(x, int(x.shape[-1] * COMPRESSION), 1, name=f"{name}_conv")
    return keras.layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def stem(x, growth: int, kind: str):
    """The input stem, 2k channels wide in both variants (Huang et al. Sec. 3 and Table 1)."""
    if kind == CIFAR_STEM:
        return layers.conv(x, 2 * growth, 3, name="stem_conv")
    x = layers.conv_bn_relu(x, 2 * growth, 7, strides=2, name="stem")
    return layers.max_pool_3x3_s2(x, name="stem_pool")


def densenet(
    block_sizes: Sequence[int],
    growth: int,
    *,
    stem_kind: str,
    num_classes: int,
    input_shape: tuple[int, int, int],
    name: str,
) -> keras.Model:
    """Generic DenseNet-BC: stem, dense blocks joined by transitions, BN-ReLU-pool-dense head."""
    check_growth(growth)
    layers.check_classes(num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = stem(inputs, growth, stem_kind)
    for b, size in enumerate(block_sizes, start=1):
        x = dense_block(x, size, growth, name=f"dense{b}")
        if b < len(block_sizes):
            x = transition(x, name=f"trans{b}")
    x = layers.bn_relu(x, name="head")
    outputs = layers.logits_head(x, num_classes)
    return keras.Model(inputs, outputs, name=name)


def densenet_bc(depth: int, growth: int, *, name: str | None = None, **kwargs) -> keras.Model:
    """CIFAR DenseNet-BC of ``depth`` with growth ``growth``: three equal blocks, 3x3 stem."""
    n = bc_layers_per_block(depth)
    name = name or f"densenet_bc{depth}_k{growth}"
    return densenet((n, n, n), growth, stem_kind=CIFAR_STEM, name=name, **kwargs)


def densenet_bc100_k12(**kwargs) -> keras.Model:
    """DenseNet-BC 100 with k = 12, the paper's CIFAR-10 DenseNet (about 0.77M parameters)."""
    return densenet_bc(100, 12, name="densenet_bc100_k12", **kwargs)


def densenet_bc40_k12(**kwargs) -> keras.Model:
    """DenseNet-BC 40 with k = 12, a small model for quick runs and tests (6 layers a block)."""
    return densenet_bc(40, 12, name="densenet_bc40_k12", **kwargs)


def densenet121(**kwargs) -> keras.Model:
    """DenseNet-121 for ImageNet (7,978,856 parameters at 1000 classes, as torchvision)."""
    return densenet(IMAGENET_121_BLOCKS, 32, stem_kind=IMAGENET_STEM, name="densenet121", **kwargs)
