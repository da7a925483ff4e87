"""The dataset spec's syntax, checked without loading anything (and without TensorFlow): what the
app's job form accepts is what ``python -m easiness.score --dataset SPEC`` would.

Forms (:func:`easiness.data.load` reads them): ``synthetic`` or ``synthetic:KEY=VALUE,...`` with
the fields of :class:`easiness.data.synthetic.SyntheticConfig`; ``folder:PATH`` (a folder or a
.tar/.tar.gz/.tgz archive); ``tfds:NAME``; ``npz:PATH``. A relative PATH starts from ``base``, the
folder the command runs in (the app's jobs run in the runs root's parent folder).
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

from easiness.data import folders, prepared, synthetic
from easiness.data.types import DataError
from easiness.errors import EasinessError

FORMS = "synthetic[:key=value,...], folder:PATH, tfds:NAME or npz:PATH"
_TFDS = re.compile(r"[a-z][a-z0-9_]*(/[A-Za-z0-9_.-]+)?(:[0-9.*]+)?")  # name[/config][:version]
# the synthetic options: SyntheticConfig's fields, in its order, with the types of their defaults
SYNTHETIC_KEYS: dict[str, type] = {f.name: type(f.default) for f in dataclasses.fields(synthetic.SyntheticConfig)}


def check(spec: str, *, base: Path) -> str:
    """``spec`` stripped if the command line would accept it ("" keeps the preset's dataset);
    EasinessError with a one-line reason otherwise."""
    spec = spec.strip()
    scheme, sep, rest = spec.partition(":")
    if not spec:
        return ""
    if scheme == "synthetic":
        _check_synthetic(rest)
    elif scheme in ("folder", "npz") and sep and rest:
        _check_path(scheme, rest, base)
    elif not (scheme == "tfds" and _TFDS.fullmatch(rest)):
        raise EasinessError(f"unknown dataset spec {spec!r}; use {FORMS}")
    return spec


def synthetic_options(options: str) -> dict[str, int | float]:
    """``"classes=5,flip=0.02"`` -> ``{"classes": 5, "flip": 0.02}``, checked against
    :data:`SYNTHETIC_KEYS`; DataError with a one-line reason otherwise."""
    values: dict[str, int | float] = {}
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, eq, text = (s.strip() for s in item.partition("="))
        if key not in SYNTHETIC_KEYS or not eq:
            raise DataError(f"bad synthetic option {item!r}; use key=value with keys {', '.join(SYNTHETIC_KEYS)}")
        try:
            values[key] = SYNTHETIC_KEYS[key](text)
        except ValueError:
            raise DataError(f"synthetic option {key} needs a {SYNTHETIC_KEYS[key].__name__}, got {text!r}") from None
    return values


def _check_synthetic(options: str) -> None:
    """The options name SyntheticConfig's fields with values of their types, and make a valid config."""
    problems = synthetic.SyntheticConfig(**synthetic_options(options)).problems()
    if problems:
        raise DataError(f"bad synthetic spec {options!r}: {'; '.join(problems)}")


def _check_path(scheme: str, text: str, base: Path) -> None:
    """A folder or archive (``folder:``), an .npz archive (``npz:``), named as typed in the message."""
    given = Path(text).expanduser()
    path = given if given.is_absolute() else Path(base) / given
    where = "" if given.is_absolute() else " (relative paths start from the runs root's parent folder)"
    try:
        if scheme == "folder" and not (path.is_dir() or (path.is_file() and path.name.lower().endswith(folders.ARCHIVE_SUFFIXES))):
            raise EasinessError(f"dataset folder {text!r} is neither a folder nor a .tar/.tar.gz archive{where}")
        if scheme == "npz" and not path.exists():
            raise EasinessError(f"npz file {text!r} does not exist{where}{prepared.missing_hint(text)}")
        if scheme == "npz" and not (path.is_file() and zipfile.is_zipfile(path)):
            raise EasinessError(f"npz file {text!r} is not an .npz archive{where}")
    except (OSError, ValueError) as e:  # a path nobody may read, or one holding a NUL byte
        raise EasinessError(f"dataset path {text!r} cannot be read ({type(e).__name__})") from None
