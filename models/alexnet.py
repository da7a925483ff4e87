"""AlexNet (Krizhevsky et al., "ImageNet Classification with Deep CNNs", NIPS 2012).

The one-tower variant of torchvision (after Krizhevsky, "One weird trick for parallelizing
CNNs", 2014): five convolutions of 64, 192, 384, 256, 256 channels with biases and no batch
norm, 3x3/2 max pools after the first, second and fifth, an adaptive average pool to 6x6
(the identity at 224x224 input), then dropout 0.5 and dense layers 4096-4096-classes. This is
the AlexNet of Kishida & Nakayama (arXiv:1911.10739) on ImageNet; at 1000 classes it
has 61,100,840 parameters, as torchvision's.
"""

from __future__ import annotations

from typing import NamedTuple

import keras

from . import layers


class ConvSpec(NamedTuple):
    """One convolution of the feature extractor and whether a max pool follows it."""

    filters: int
    kernel: int
    strides: int
    pool: bool


# torchvision's ``features``: (channels, kernel, stride, max pool after it).
FEATURES = (
    ConvSpec(64, 11, 4, True),
    ConvSpec(192, 5, 1, True),
    ConvSpec(384, 3, 1, False),
    ConvSpec(256, 3, 1, False),
    ConvSpec(256, 3, 1, True),
)
POOLED_SIZE = 6  # the adaptive pool's output side, so the first dense layer sees 6*6*256
HIDDEN_UNITS = 4096
DROPOUT = 0.5


def conv(x, spec: ConvSpec, *, name: str):
    """Conv with bias and ReLU, then a 3x3/2 max pool if the spec asks for one.

    The first conv pads 2 pixels, as torchvision, which gives 55x55 maps at 224 input; the
    others pad kernel // 2 to keep their size.
    """
    pad = 2 if spec.strides > 1 else spec.kernel // 2
    x = keras.layers.ZeroPadding2D(pad, name=f"{name}_pad")(x)
    x = keras.layers.Conv2D(
        spec.filters,
        spec.kernel,
        strides=spec.strides,
        kernel_initializer=layers.kernel_init(),
        name=f"{name}_conv",
    )(x)
    x = layers.relu(x, name=f"{name}_relu")
    if spec.pool:
        x = keras.layers.MaxPooling2D(3, strides=2, name=f"{name}_pool")(x)
    return x


def classifier(x, num_classes: int):
    """Dropout-dense-ReLU twice, then the logits layer."""
    for i in (1, 2):
        x = keras.layers.Dropout(DROPOUT, name=f"fc{i}_dropout")(x)
        x = keras.layers.Dense(HIDDEN_UNITS, name=f"fc{i}_dense")(x)
        x = layers.relu(x, name=f"fc{i}_relu")
    return layers.logits(x, num_classes)


def alexnet(
    *,
    num_classes: int,
    input_shape: tuple[int, int, int],
    name: str = "alexnet",
) -> keras.Model:
    """AlexNet returning logits; needs inputs of at least 63x63 so the third pool has input."""
    layers.check_classes(num_classes)
    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    for i, spec in enumerate(FEATURES, start=1):
        x = conv(x, spec, name=f"features{i}")
    x = keras.layers.AdaptiveAveragePooling2D(POOLED_SIZE, name="head_pool")(x)
    x = keras.layers.Flatten(name="head_flatten")(x)
    outputs = classifier(x, num_classes)
    return keras.Model(inputs, outputs, name=name)
