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

Your own models: ``register(name, build)`` adds a function ``build(num_classes, input_shape) ->
keras.Model`` (logits out) under ``name``; ``python -m easiness.score --model FILE.py:build`` (or
``module:build``) does the same from the command line (:mod:`easiness.models.user`). In a clone
this package is the top-level ``models/`` folder; installed, it is ``easiness.models``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import NamedTuple

import keras

from easiness.errors import EasinessError
from . import alexnet, densenet, resnet, resnext, user, wrn
from .flops import forward_flops, training_flops  # noqa: F401  (re-exported)
from .user import ModelSpecError

CIFAR = "cifar"
IMAGENET = "imagenet"
CUSTOM = "custom"  # a registered model: its input pipeline is the dataset's

__all__ = ["CIFAR", "CUSTOM", "IMAGENET", "ModelSpecError", "UnknownModelError", "build", "family", "names",
           "register", "spec_of", "use_spec"]


class UnknownModelError(EasinessError):
    """A model name that is neither a preset nor a valid shape form; the message lists both."""


class _Entry(NamedTuple):
    """What a model name resolves to: its input family and a builder taking the keyword
    arguments ``num_classes`` and ``input_shape``; for a registered model the spec that imports
    its function again in another process (None when it has none, e.g. defined in ``__main__``)."""

    family: str
    builder: Callable[..., keras.Model]
    spec: str | None = None


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


# Models added by register() or a --model MODULE:FUNCTION spec, by name.
_REGISTERED: dict[str, _Entry] = {}


def names() -> list[str]:
    """The preset and registered names, sorted. Shape forms (``wrn22_8`` and so on) are accepted besides."""
    return sorted({*_PRESETS, *_REGISTERED})


def is_zoo(name: str) -> bool:
    """Whether ``name`` is a preset or a shape form of the zoo (not a registered model)."""
    return name in _PRESETS or any(pattern.fullmatch(name) for pattern, _, _ in _SHAPES)


def register(name: str, build: Callable[..., keras.Model], *, spec: str | None = None) -> None:
    """Add your own model under ``name``: ``build(num_classes, input_shape)`` returns a
    ``keras.Model`` with one output of ``num_classes`` logits (checked at every build).

    ``spec`` (``module:function`` or ``file.py:function``) lets another process (a resumed run, an
    ablation) import the same function; by default it is derived from the function's module when
    that module is importable (not ``__main__``). Registering a name again replaces it; a zoo name
    is refused (ModelSpecError), as is a name that cannot be a folder name.
    """
    from easiness.store.layout import StoreError, validate_name

    try:
        validate_name(name, "model")
    except StoreError as err:
        raise ModelSpecError(str(err)) from None
    if is_zoo(name):
        raise ModelSpecError(f"{name!r} is a model of the zoo; register your model under another name (--name)")
    if not callable(build):
        raise ModelSpecError(f"build for {name!r} must be a function, got {type(build).__name__}")
    _REGISTERED[name] = _Entry(CUSTOM, user.checked(name, build), spec or _importable_spec(build))


def _importable_spec(build: Callable) -> str | None:
    """``module:qualname`` of a module-level function of an importable module, else None."""
    module, qualname = getattr(build, "__module__", None), getattr(build, "__qualname__", "")
    if not module or module == "__main__" or module.startswith("easiness_user_") or not qualname.isidentifier():
        return None
    return f"{module}:{qualname}"


def use_spec(name: str, spec: str) -> user.UserModel:
    """Load ``spec`` and register its function as ``name`` (again, if a spec changed); returns
    what was loaded, with the hash of its source file. ModelSpecError (one line) if it fails."""
    loaded = user.load(spec)
    register(name, loaded.build, spec=spec)
    return loaded


def spec_of(name: str) -> str | None:
    """The spec a registered model was loaded from (or derived), None for zoo models."""
    entry = _REGISTERED.get(name)
    return entry.spec if entry is not None else None


def _choices() -> str:
    """The one-line list of valid names and shape forms that every error message ends with."""
    forms = ", ".join(form for _, form, _ in _SHAPES)
    return f"choose one of {', '.join(names())}, a shape {forms}, or your own MODULE:FUNCTION or FILE.py:FUNCTION"


def _resolve(name: str) -> _Entry:
    """The registry entry of a preset or a parsed shape form; ``UnknownModelError`` otherwise."""
    if name in _PRESETS:
        return _PRESETS[name]
    if name in _REGISTERED:
        return _REGISTERED[name]
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


def build(name: str, *, num_classes: int, input_shape: tuple[int, int, int], spec: str | None = None) -> keras.Model:
    """A new, randomly initialised model named ``name`` that outputs float32 logits.

    ``input_shape`` is (height, width, channels). ``spec``: the ``module:function`` a study
    recorded for a model of your own; it is imported (once) when ``name`` is not registered with
    it. Raises ``UnknownModelError`` for a name that is neither a preset, a valid shape form nor a
    registered model, ``ModelSpecError`` for a spec or a build that fails.
    """
    if spec is not None and spec_of(name) != spec:
        use_spec(name, spec)
    return _resolve(name).builder(num_classes=num_classes, input_shape=tuple(input_shape))
