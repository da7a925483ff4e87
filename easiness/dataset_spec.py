"""The dataset spec's syntax, checked without loading anything (and without TensorFlow): what the
app's job form accepts is what ``python -m easiness.score --dataset SPEC`` would.

Forms (:func:`easiness.data.load` reads them): ``synthetic`` or ``synthetic:KEY=VALUE,...`` with
the fields of :class:`easiness.synthetic.SyntheticConfig`; ``folder:PATH`` (a folder or a
.tar/.tar.gz/.tgz archive); ``tfds:NAME``; ``npz:PATH``. A relative PATH starts from ``base``, the
folder the command runs in (the app's jobs run in the runs root's parent folder).
"""

from __future__ import annotations

import dataclasses
import re
import zipfile
from pathlib import Path

from easiness import synthetic
from easiness.errors import EasinessError

FORMS = "synthetic[:key=value,...], folder:PATH, tfds:NAME or npz:PATH"
ARCHIVES = (".tar", ".tar.gz", ".tgz")  # as easiness.folders.ARCHIVE_SUFFIXES (which imports TensorFlow)
_TFDS = re.compile(r"[a-z][a-z0-9_]*(/[A-Za-z0-9_.-]+)?(:[0-9.*]+)?")  # name[/config][:version]
_SYNTHETIC = {f.name: type(f.default) for f in dataclasses.fields(synthetic.SyntheticConfig)}


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


def _check_synthetic(options: str) -> None:
    """The options name SyntheticConfig's fields with values of their types, and make a valid config."""
    values = {}
    for item in filter(None, (part.strip() for part in options.split(","))):
        key, eq, text = (s.strip() for s in item.partition("="))
        if key not in _SYNTHETIC or not eq:
            raise EasinessError(f"bad synthetic option {item!r}; use key=value with keys {', '.join(_SYNTHETIC)}")
        try:
            values[key] = _SYNTHETIC[key](text)
        except ValueError:
            raise EasinessError(f"synthetic option {key} needs a {_SYNTHETIC[key].__name__}, got {text!r}") from None
    problems = synthetic.SyntheticConfig(**values).problems()
    if problems:
        raise EasinessError(f"bad synthetic spec {options!r}: {'; '.join(problems)}")


def _check_path(scheme: str, text: str, base: Path) -> None:
    """A folder or archive (``folder:``), an .npz archive (``npz:``), named as typed in the message."""
    given = Path(text).expanduser()
    path = given if given.is_absolute() else Path(base) / given
    where = "" if given.is_absolute() else " (relative paths start from the runs root's parent folder)"
    try:
        if scheme == "folder" and not (path.is_dir() or (path.is_file() and path.name.lower().endswith(ARCHIVES))):
            raise EasinessError(f"dataset folder {text!r} is neither a folder nor a .tar/.tar.gz archive{where}")
        if scheme == "npz" and not (path.is_file() and zipfile.is_zipfile(path)):
            raise EasinessError(f"npz file {text!r} is not an .npz archive{where}")
    except (OSError, ValueError) as e:  # a path nobody may read, or one holding a NUL byte
        raise EasinessError(f"dataset path {text!r} cannot be read ({type(e).__name__})") from None
