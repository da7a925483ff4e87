"""Tests of the model zoo, driven by one table that pins every preset's parameter count.

The exact counts are trainable weights (BN moving statistics excluded), which is how the
published figures count: torchvision's for the ImageNet models, the papers' rounded figures for
the CIFAR models (WRN-16-4 2.7M, DenseNet-BC 100 k=12 0.8M, ResNeXt-29 8x64d 34.4M).
"""

from __future__ import annotations

import re

import keras
import numpy as np
import pytest

from easiness import models
from easiness.errors import EasinessError

CIFAR_INPUT = (32, 32, 3)
IMAGENET_INPUT = (224, 224, 3)

# name, classes, input shape, exact trainable parameters, published figure, relative tolerance
PARAM_TABLE = [
    ("alexnet", 1000, IMAGENET_INPUT, 61_100_840, 61_100_840, 0.0),
    ("resnet18", 1000, IMAGENET_INPUT, 11_689_512, 11_689_512, 0.0),
    ("resnet50", 1000, IMAGENET_INPUT, 25_557_032, 25_557_032, 0.0),
    ("densenet121", 1000, IMAGENET_INPUT, 7_978_856, 7_978_856, 0.0),
    ("wrn16_4", 10, CIFAR_INPUT, 2_748_890, 2_700_000, 0.03),
    ("wrn10_1", 10, CIFAR_INPUT, 77_850, None, None),
    ("densenet_bc100_k12", 10, CIFAR_INPUT, 769_162, 800_000, 0.05),
    ("densenet_bc40_k12", 10, CIFAR_INPUT, 176_122, None, None),
    ("resnext29_4x64d", 10, CIFAR_INPUT, 17_562_442, None, None),
    ("resnext11_2x16d", 10, CIFAR_INPUT, 1_044_682, None, None),
    # Not a preset: the shape form pinned against the ResNeXt paper's 34.4M (Table 7).
    ("resnext29_8x64d", 10, CIFAR_INPUT, 34_426_698, 34_400_000, 0.02),
]

# Keras's automatic layer names (snake-cased class name, maybe numbered): a layer left unnamed.
DEFAULT_NAME = re.compile(
    r"(conv2d|batch_normalization|activation|add|concatenate|dense|dropout|flatten|"
    r"zero_padding2d|max_pooling2d|average_pooling2d|global_average_pooling2d|"
    r"adaptive_average_pooling2d|input_layer|functional)(_\d+)?"
)


@pytest.fixture(autouse=True)
def _fresh_session():
    """Free each test's models so that the large ImageNet ones do not pile up in memory."""
    yield
    keras.backend.clear_session()


def trainable_params(model: keras.Model) -> int:
    """The number of trainable scalars: what torchvision and the papers count."""
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def check_structure(model: keras.Model, num_classes: int) -> None:
    """Logits of shape [batch, classes] in float32; named layers; the shared BN settings."""
    assert tuple(model.output.shape) == (None, num_classes)
    assert model.output.dtype == "float32"
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert not [n for n in names[1:] if DEFAULT_NAME.fullmatch(n)]
    norms = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    assert all(bn.momentum == 0.9 and bn.epsilon == 1e-5 for bn in norms)
    assert model.layers[-1].name == "logits"
    assert model.layers[-1].activation.__name__ == "linear"


@pytest.mark.parametrize(("name", "classes", "shape", "exact", "published", "tol"), PARAM_TABLE)
def test_parameter_count_and_structure(name, classes, shape, exact, published, tol):
    model = models.build(name, num_classes=classes, input_shape=shape)
    assert model.name == name
    assert trainable_params(model) == exact
    if published is not None:
        assert exact == pytest.approx(published, rel=tol)
    check_structure(model, classes)


def test_every_preset_is_in_the_table():
    assert set(models.names()) <= {row[0] for row in PARAM_TABLE}
    assert models.names() == sorted(models.names())


def test_families():
    imagenet = {"alexnet", "resnet18", "resnet50", "densenet121"}
    assert {n for n in models.names() if models.family(n) == "imagenet"} == imagenet
    assert {models.family(n) for n in models.names()} == {"cifar", "imagenet"}
    assert models.family("wrn22_8") == "cifar"


@pytest.mark.parametrize("name", ["wrn10_1", "densenet_bc40_k12", "resnext11_2x16d"])
def test_small_models_forward(name):
    model = models.build(name, num_classes=10, input_shape=CIFAR_INPUT)
    x = np.random.default_rng(0).normal(size=(2, *CIFAR_INPUT)).astype("float32")
    for training in (False, True):
        y = model(x, training=training)
        assert tuple(y.shape) == (2, 10)
        assert y.dtype == "float32"
        assert np.isfinite(np.asarray(y)).all()


@pytest.mark.parametrize("name", ["wrn10_2", "densenet_bc22_k8", "resnext11_1x8d"])
def test_shape_forms_parse_and_run(name):
    model = models.build(name, num_classes=7, input_shape=(24, 24, 3))
    assert model.name == name
    y = model(np.zeros((3, 24, 24, 3), "float32"), training=False)
    assert tuple(y.shape) == (3, 7)


def test_shape_form_of_a_preset_equals_the_preset():
    # The small preset and the generic builder with its shape must be the same network.
    from easiness.models import wrn

    preset = models.build("wrn10_1", num_classes=10, input_shape=CIFAR_INPUT)
    generic = wrn.wide_resnet(10, 1, num_classes=10, input_shape=CIFAR_INPUT)
    assert trainable_params(preset) == trainable_params(generic)
    assert [layer.name for layer in preset.layers] == [layer.name for layer in generic.layers]


def test_resnext_uses_grouped_convolutions(monkeypatch):
    monkeypatch.setenv("EASINESS_GROUPED_CONV", "native")
    model = models.build("resnext11_2x16d", num_classes=10, input_shape=CIFAR_INPUT)
    assert model.get_layer("stage1_block1_conv2").groups == 2
    assert model.get_layer("stage3_block1_conv2").filters == 2 * 16 * 4  # C * w * 2^stage


def test_split_grouped_conv_computes_the_native_function(monkeypatch):
    """The CPU form (one conv per group) equals Conv2D(groups=g) with the same weights."""
    built = {}
    for mode in ("native", "split"):
        monkeypatch.setenv("EASINESS_GROUPED_CONV", mode)
        built[mode] = models.build("resnext11_2x16d", num_classes=10, input_shape=(8, 8, 3))
    native, split = built["native"], built["split"]
    assert trainable_params(native) == trainable_params(split)
    for layer in native.layers:
        if isinstance(layer, keras.layers.Conv2D) and layer.groups > 1:
            kernel = layer.get_weights()[0]  # [k, k, in/g, out]
            for i, chunk in enumerate(np.split(kernel, layer.groups, axis=-1)):
                split.get_layer(f"{layer.name}_g{i + 1}").set_weights([chunk])
        elif layer.weights and not isinstance(layer, keras.layers.InputLayer):
            split.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    np.testing.assert_allclose(split(x, training=False), native(x, training=False), rtol=1e-4, atol=1e-4)


def test_imagenet_forward_one_image():
    model = models.build("resnet18", num_classes=5, input_shape=IMAGENET_INPUT)
    y = model(np.zeros((1, *IMAGENET_INPUT), "float32"), training=False)
    assert tuple(y.shape) == (1, 5)


def test_logits_stay_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = models.build("wrn10_1", num_classes=10, input_shape=CIFAR_INPUT)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.get_layer("stage1_block1_conv1").compute_dtype == "float16"
    assert model.output.dtype == "float32"


def assert_lists_choices(message: str) -> None:
    """An error message is one line naming every preset and every shape form."""
    assert "\n" not in message
    for name in models.names():
        assert name in message
    for form in ("wrn{depth}_{width}", "densenet_bc{depth}_k{growth}", "resnext{depth}_"):
        assert form in message


@pytest.mark.parametrize("name", ["foo", "resnet34", "WRN16_4", "wrn016_4", "wrn16_4 ", ""])
def test_unknown_names_list_the_choices(name):
    with pytest.raises(models.UnknownModelError) as info:
        models.build(name, num_classes=10, input_shape=CIFAR_INPUT)
    assert isinstance(info.value, EasinessError)
    assert f"unknown model {name!r}" in str(info.value)
    assert_lists_choices(str(info.value))


@pytest.mark.parametrize(
    ("name", "constraint"),
    [
        ("wrn11_1", "6n+4"),
        ("wrn4_1", "6n+4"),
        ("densenet_bc41_k12", "6n+4"),
        ("resnext12_2x16d", "9n+2"),
        ("resnext2_2x16d", "9n+2"),
    ],
)
def test_invalid_shapes_explain_the_constraint(name, constraint):
    with pytest.raises(models.UnknownModelError) as info:
        models.family(name)
    message = str(info.value)
    assert f"invalid model {name!r}" in message and constraint in message
    assert_lists_choices(message)
