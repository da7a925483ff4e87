"""The model zoo: the seven CNNs of Kishida & Nakayama (arXiv:1911.10739) and small kin.

``build(name, num_classes=..., input_shape=...)`` returns a functional Keras model whose output
is float32 logits (no softmax). ``name`` is a preset from ``names()`` or a CIFAR shape form:

- ``wrn{depth}_{width}``: Wide ResNet (paper: ``wrn16_4``), see :mod:`models.wrn`;
- ``densenet_bc{depth}_k{growth}``: DenseNet-BC (paper: ``densenet_bc100_k12``),
  see :mod:`models.densenet`;
- ``resnext{depth}_{cardinality}x{width}d``: ResNeXt (paper: ``resnext29_4x64d``),
  see :mod:`models.resnext`.

``family(name)`` says which input pipeline an architecture was designed for: ``"cifar"`` (small
images, any size, global pooling) or ``"imagenet"`` (224x224 crops).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import NamedTuple

import keras

from easiness.errors import EasinessError
from models import alexnet, densenet, resnet, resnext, wrn
from models.flops import forward_flops, training_flops  # noqa: F401  (re-exported)

CIFAR = "cifar"
IMAGENET = "imagenet"

__all__ = ["CIFAR", "IMAGENET", "UnknownModelError", "build", "family", "names"]


class UnknownModelError(EasinessError):
    """A model name that is neither a preset nor a valid shape form; the message lists both."""


class _Entry(NamedTuple):
    """What a model name resolves to: its input family and a builder taking the keyword
    arguments ``num_classes`` and ``input_shape``."""

    family: str
    builder: Callable[..., keras.Model]


# The one registry of named presets. Small presets make quick runs and tests possible.
_PRESETS: dict[str, _Entry] = {
    "alexnet": _Entry(IMAGENET, alexnet.alexnet),
    "resnet18": _Entry(IMAGENET, resnet.resnet18),
    "resnet50": _Entry(IMAGENET, resnet.resnet50),
    "densenet121": _Entry(IMAGENET, densenet.densenet121),
    "wrn16_4": _Entry(CIFAR, wrn.wrn16_4),
    "wrn10_1": _Entry(CIFAR, wrn.wrn10_1),
    "densenet_bc100_k12": _Entry(CIFAR, densenet.densenet_bc100_k12),
    "densenet_bc40_k12": _Entry(CIFAR, densenet.densenet_bc40_k12),
    "resnext29_4x64d": _Entry(CIFAR, resnext.resnext29_4x64d),
    "resnext11_2x16d": _Entry(CIFAR, resnext.resnext11_2x16d),
}


def _wrn(name: str, depth: int, width: int) -> _Entry:
    """Validate a ``wrn{depth}_{width}`` shape and bind its builder."""
    wrn.blocks_per_group(depth)
    wrn.check_width(width)
    return _Entry(CIFAR, functools.partial(wrn.wide_resnet, depth, width, name=name))


def _densenet_bc(name: str, depth: int, growth: int) -> _Entry:
    """Validate a ``densenet_bc{depth}_k{growth}`` shape and bind its builder."""
    densenet.bc_layers_per_block(depth)
    densenet.check_growth(growth)
    return _Entry(CIFAR, functools.partial(densenet.densenet_bc, depth, growth, name=name))


def _resnext(name: str, depth: int, cardinality: int, width: int) -> _Entry:
    """Validate a ``resnext{depth}_{cardinality}x{width}d`` shape and bind its builder."""
    resnext.blocks_per_stage(depth)
    resnext.check_cardinality(cardinality, width)
    builder = functools.partial(resnext.resnext, depth, cardinality, width, name=name)
    return _Entry(CIFAR, builder)


_INT = r"([1-9][0-9]*)"  # no leading zeros, so every model has one spelling
# The shape forms: (regex, form shown in error messages, validating binder).
_SHAPES: tuple[tuple[re.Pattern[str], str, Callable[..., _Entry]], ...] = (
    (re.compile(rf"wrn{_INT}_{_INT}"), "wrn{depth}_{width}", _wrn),
    (re.compile(rf"densenet_bc{_INT}_k{_INT}"), "densenet_bc{depth}_k{growth}", _densenet_bc),
    (
        re.compile(rf"resnext{_INT}_{_INT}x{_INT}d"),
        "resnext{depth}_{cardinality}x{width}d",
        _resnext,
    ),
)


def names() -> list[str]:
    """The preset names, sorted. Shape forms (``wrn22_8`` and so on) are accepted besides."""
    return sorted(_PRESETS)


def _choices() -> str:
    """The one-line list of valid names and shape forms that every error message ends with."""
    forms = ", ".join(form for _, form, _ in _SHAPES)
    return f"choose one of {', '.join(names())} or a shape {forms}"


def _resolve(name: str) -> _Entry:
    """The registry entry of a preset or a parsed shape form; ``UnknownModelError`` otherwise."""
    if name in _PRESETS:
        return _PRESETS[name]
    for pattern, _, bind in _SHAPES:
        match = pattern.fullmatch(name)
        if match:
            try:
                return bind(name, *map(int, match.groups()))
            except ValueError as err:
                raise UnknownModelError(f"invalid model {name!r}: {err}; {_choices()}") from None
    raise UnknownModelError(f"unknown model {name!r}; {_choices()}")


def family(name: str) -> str:
    """``"cifar"`` or ``"imagenet"``: the input size and augmentation the model was designed for."""
    return _resolve(name).family


def build(name: str, *, num_classes: int, input_shape: tuple[int, int, int]) -> keras.Model:
    """A new, randomly initialised functional model named ``name`` that outputs float32 logits.

    ``input_shape`` is (height, width, channels). Raises ``UnknownModelError`` for a name that is
    neither a preset nor a valid shape form.
    """
    return _resolve(name).builder(num_classes=num_classes, input_shape=tuple(input_shape))
