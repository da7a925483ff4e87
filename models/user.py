"""Your own model: ``module.path:function`` or ``path/to/file.py:function`` specs.

The function is called as ``build(num_classes, input_shape)`` and must return a ``keras.Model``
with one output of ``num_classes`` logits (no softmax: the trainer computes the cross-entropy from
logits). A spec is what a study records (with a hash of the source file), so a run, a resumed run
and a later ablation can build the same model again in another process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Callable, NamedTuple

import keras

from easiness.errors import EasinessError


class ModelSpecError(EasinessError):
    """A ``--model MODULE:FUNCTION`` spec that cannot be used; the message says why."""


class UserModel(NamedTuple):
    """A loaded spec: the function, the spec as given and where its code lives."""

    spec: str
    build: Callable[..., keras.Model]
    source: str | None  # the file that defines the function (None if it has none)
    sha256: str | None  # of that file's bytes, so a study can be traced back to its code

    def provenance(self) -> dict[str, str | None]:
        """What a run's manifest records about the code of its model."""
        return {"model_spec": self.spec, "model_source": self.source, "model_source_sha256": self.sha256}


def is_spec(text: str) -> bool:
    """Whether a ``--model`` value names user code (``target:function``) rather than the zoo."""
    return ":" in text


def split(spec: str) -> tuple[str, str]:
    """``(target, function name)`` of a spec; the last colon separates them (Windows drives)."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr.isidentifier():
        raise ModelSpecError(f"--model {spec!r}: expected MODULE:FUNCTION or FILE.py:FUNCTION")
    return target, attr


def normalise(spec: str) -> str:
    """The spec as a study records it: a file by its absolute path, so that a resumed run or an
    ablation started in another folder imports the same file (and compares equal)."""
    target, attr = split(spec)
    return f"{Path(target).expanduser().resolve()}:{attr}" if _is_file(target) else spec


def load(spec: str) -> UserModel:
    """Import the spec's module or file and return its function; ModelSpecError otherwise."""
    target, attr = split(spec)
    target = str(Path(target).expanduser()) if _is_file(target) else target
    module = _import_file(spec, Path(target)) if _is_file(target) else _import_module(spec, target)
    build = getattr(module, attr, None)
    if build is None:
        raise ModelSpecError(f"--model {spec!r}: {target} has no {attr!r}")
    if not callable(build):
        raise ModelSpecError(f"--model {spec!r}: {attr} is not a function but {type(build).__name__!r}")
    source = getattr(module, "__file__", None)
    return UserModel(spec, build, str(Path(source).resolve()) if source else None, _sha256(source))


def _is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _import_file(spec: str, path: Path):
    """Import a Python file as a module of its own (its folder importable, for its siblings)."""
    if not path.is_file():
        raise ModelSpecError(f"--model {spec!r}: no such file {path}")
    name = f"easiness_user_{hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]}"
    if name in sys.modules:
        return sys.modules[name]
    loader_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(loader_spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
    except Exception as err:  # why: user code can raise anything; the user sees one line
        sys.modules.pop(name, None)
        raise ModelSpecError(f"--model {spec!r}: importing {path} failed: {_one_line(err)}") from None
    finally:
        sys.path.remove(folder)
    return module


def _import_module(spec: str, target: str):
    try:
        return importlib.import_module(target)
    except Exception as err:  # why: user code can raise anything; the user sees one line
        raise ModelSpecError(f"--model {spec!r}: importing {target} failed: {_one_line(err)}") from None


def _sha256(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def checked(name: str, build: Callable[..., keras.Model]) -> Callable[..., keras.Model]:
    """``build`` called as ``build(num_classes, input_shape)``, its result checked: a Keras model
    with one output of ``num_classes`` logits; ModelSpecError naming ``name`` otherwise."""
    def build_checked(*, num_classes: int, input_shape: tuple[int, int, int]) -> keras.Model:
        try:
            model = build(num_classes, tuple(input_shape))
        except Exception as err:  # why: user code can raise anything; the user sees one line
            raise ModelSpecError(f"model {name!r}: build({num_classes}, {tuple(input_shape)}) "
                                 f"failed: {_one_line(err)}") from None
        check_output(name, model, num_classes, input_shape)
        return model

    return build_checked


def check_output(name: str, model: object, num_classes: int, input_shape: tuple[int, ...]) -> None:
    """ModelSpecError unless ``model`` is a Keras model with one ``[batch, num_classes]`` output
    of logits (a final softmax would make the recorded cross-entropy wrong)."""
    if not isinstance(model, keras.Model):
        raise ModelSpecError(f"model {name!r}: build returned a {type(model).__name__}, not a keras.Model")
    shapes = _output_shapes(name, model, input_shape)
    if len(shapes) != 1:
        raise ModelSpecError(f"model {name!r} has {len(shapes)} outputs; it must have one (the logits)")
    shape = shapes[0]
    if len(shape) != 2 or shape[-1] != num_classes:
        raise ModelSpecError(f"model {name!r} outputs shape {shape}; it must output [batch, {num_classes}] "
                             f"logits for the {num_classes} classes")
    activation = getattr(model.layers[-1], "activation", None) if model.layers else None
    if getattr(activation, "__name__", "") == "softmax":
        raise ModelSpecError(f"model {name!r} ends in a softmax; return logits (the trainer applies "
                             f"the cross-entropy to logits)")


def _output_shapes(name: str, model: keras.Model, input_shape: tuple[int, ...]) -> list[tuple]:
    """The output shapes of a functional model, or of a subclassed one called on one zero image."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):  # why: a subclassed model has no outputs until called
        outputs = None
    if outputs is None:
        try:
            outputs = keras.tree.flatten(model(keras.ops.zeros((1, *input_shape)), training=False))
        except Exception as err:  # why: user code can raise anything; the user sees one line
            raise ModelSpecError(f"model {name!r} fails on a {input_shape} input: {_one_line(err)}") from None
    return [tuple(o.shape) for o in outputs]
