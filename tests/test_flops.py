"""FLOP counts of models.flops against counts worked out by hand (2 FLOPs per multiply-add)."""

from __future__ import annotations

import keras
import pytest

from easiness import models
from easiness.models import flops, layers


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()


def one_layer(input_shape, layer) -> keras.Model:
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, layer(inputs))


def test_single_conv():
    # 8x8 output, 4 filters, each a 3x3x3 window: 64 * 4 * 27 multiply-adds.
    model = one_layer((8, 8, 3), keras.layers.Conv2D(4, 3, padding="same"))
    assert flops.forward_flops(model) == 2 * 64 * 4 * 27 == 13_824


def test_strided_valid_conv_counts_output_positions():
    # 9x9 input, 3x3 kernel, stride 2, valid: 4x4 outputs of 5 channels from 2 inputs.
    model = one_layer((9, 9, 2), keras.layers.Conv2D(5, 3, strides=2))
    assert flops.forward_flops(model) == 2 * 16 * 5 * 9 * 2


def test_dense_ignores_bias_and_counts_leading_axes():
    assert flops.forward_flops(one_layer((7,), keras.layers.Dense(3))) == 2 * 7 * 3
    # A dense layer on [T=4, D=6] is applied at every one of the 4 positions.
    assert flops.forward_flops(one_layer((4, 6), keras.layers.Dense(3))) == 2 * 4 * 6 * 3


def test_grouped_conv_native_and_split_count_the_same(monkeypatch):
    # 4x4 output, 8 -> 8 channels in 4 groups: each output sees 2 input channels x 3x3.
    expected = 2 * 16 * 8 * (3 * 3 * 2)
    for mode in ("native", "split"):
        monkeypatch.setenv("EASINESS_GROUPED_CONV", mode)
        inputs = keras.Input((4, 4, 8))
        model = keras.Model(inputs, layers.conv(inputs, 8, 3, groups=4, name="g"))
        assert flops.forward_flops(model) == expected, mode


def test_depthwise_conv():
    model = one_layer((5, 5, 3), keras.layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same"))
    assert flops.forward_flops(model) == 2 * 25 * (3 * 3 * 3 * 2)


def test_ignored_layers_count_zero():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.BatchNormalization()(inputs)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    model = keras.Model(inputs, keras.layers.GlobalAveragePooling2D()(x))
    assert flops.forward_flops(model) == 0


def test_nested_model_counted_once_per_call():
    inner = one_layer((8, 8, 3), keras.layers.Conv2D(4, 3, padding="same"))
    inputs = keras.Input((8, 8, 3))
    shared = keras.layers.Dense(2)
    a = shared(keras.layers.Flatten()(inner(inputs)))
    b = shared(keras.layers.Flatten()(inner(inputs)))
    model = keras.Model(inputs, [a, b])
    assert flops.forward_flops(model) == 2 * 13_824 + 2 * (2 * 256 * 2)


def test_training_is_three_forwards():
    model = one_layer((7,), keras.layers.Dense(3))
    assert flops.training_flops(model) == 3 * flops.forward_flops(model)


def test_uncounted_kernel_layer_is_an_error():
    with pytest.raises(ValueError, match="cannot count"):
        flops.forward_flops(one_layer((4, 4, 2), keras.layers.Conv2DTranspose(2, 3)))


def test_unknown_spatial_size_is_an_error():
    with pytest.raises(ValueError, match="unknown size"):
        flops.forward_flops(one_layer((None, None, 3), keras.layers.Conv2D(4, 3)))


def wrn16_4_multiply_adds(side: int = 32, classes: int = 10) -> int:
    """WRN-16-4 on side x side images by hand: stem, 3 groups of 2 blocks, 1x1 shortcuts, dense."""
    def conv(positions, c_in, c_out, k):
        return positions * c_out * k * k * c_in

    total = conv(side**2, 3, 16, 3)  # stem
    c_in = 16
    for g, width in enumerate((64, 128, 256)):
        positions = (side // 2**g) ** 2  # strides 1, 2, 2
        total += conv(positions, c_in, width, 3) + conv(positions, c_in, width, 1)  # conv1, shortcut
        total += 3 * conv(positions, width, width, 3)  # conv2 of block 1, both convs of block 2
        c_in = width
    return total + 256 * classes


def test_wrn16_4_matches_the_hand_count():
    model = models.build("wrn16_4", num_classes=10, input_shape=(32, 32, 3))
    assert wrn16_4_multiply_adds() == 392_612_352
    assert flops.forward_flops(model) == 2 * 392_612_352  # 0.785 GFLOPs, the published ~0.8
