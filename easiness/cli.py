"""Shared command-line plumbing: usage errors are one line and exit status 2.

Every command runs its body through :func:`run_command`, which turns what a user can cause into
exactly one line on stderr: an :class:`EasinessError` (bad input, exit status 2, or 1 for
:class:`JobFailed`), an ``OSError`` of the file system (a read-only or full disk, a path through a
file: :func:`os_error_line` names the file, exit status 2) and a missing training package. Pure
Python; TensorFlow is imported only through :func:`import_tensorflow_quietly`.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Callable, Sequence

from easiness.errors import EasinessError


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage block) and exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace | int:
    """The parsed arguments, or the exit status when argparse stopped (--help: 0, usage error: 2)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def run_command(parser: argparse.ArgumentParser, argv: Sequence[str] | None,
                body: Callable[[argparse.Namespace], int]) -> int:
    """Parse ``argv`` and run ``body(args)``; a usage error, an :class:`EasinessError` or a file
    system error ends as one line on stderr and exit status 2 (``JobFailed``: 1), never a traceback."""
    args = parse(parser, argv)
    if isinstance(args, int):  # --help (0) or a one-line usage error (2)
        return args
    if not os.environ.get(LOGS_ENV):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    shown = warnings.showwarning
    warnings.showwarning = _one_line_warning  # why: a Python warning must not add a traceback-like block
    try:
        return body(args)
    except EasinessError as err:
        print(f"error: {clean(str(err))}", file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:  # why: output piped into `head` that stopped reading is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's exit flush must not fail again
        return 0
    except OSError as err:
        print(f"error: {os_error_line(err)}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        if err.name not in _TRAINING_MODULES:
            raise
        print(f"error: this needs {err.name}, which is not installed: pip install 'easiness[cpu]' "
              f"(or 'easiness[gpu]' on NVIDIA GPUs)", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = shown


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {' '.join(str(message).split())}", file=file or sys.stderr)


# What the training side imports beyond the base install (pyproject.toml's cpu and gpu extras).
_TRAINING_MODULES = frozenset({"tensorflow", "keras", "tensorflow_datasets"})
LOGS_ENV = "EASINESS_TF_LOGS"  # set to 1 to see TensorFlow's native start-up lines


# --------------------------------------------------------------------------- file system errors

_HINTS = {
    errno.ENOSPC: "the disk is full: free space and run the same command again to continue",
    errno.EDQUOT: "the disk quota is exceeded: free space and run the same command again to continue",
    errno.EROFS: "choose a writable place",
    errno.EACCES: "permission denied: choose a writable place",
    errno.EPERM: "not permitted: choose a writable place",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
}


_WRITING = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


def os_error_line(err: OSError) -> str:
    """One line naming the file of a file system error and what to do: ``cannot write
    runs/x/ablation.csv: No space left on device; the disk is full: free space and run the same
    command again to continue``. A temp file of :mod:`easiness.store.atomic` is named by its target."""
    from easiness.store.atomic import target_name

    where = [target_name(str(f)) for f in (err.filename, err.filename2) if f is not None]
    what = err.strerror or " ".join(str(err).split()) or type(err).__name__
    hint = _HINTS.get(err.errno)
    verb = "write" if err.errno in _WRITING else "use"
    place = f"cannot {verb} {' -> '.join(where)}: " if where else ""
    return clean(f"{place}{what}" + (f"; {hint}" if hint else ""))


_FILE_OBJECT = re.compile(r"<_io\.\w+ (?:object at 0x[0-9a-fA-F]+|name=[^>]*)>")


def clean(message: str, name: str = "the file") -> str:
    """``message`` on one line, with the repr of a file object (``<_io.BytesIO object at
    0x...>``, which PIL and numpy put in their messages) replaced by ``name``."""
    return " ".join(_FILE_OBJECT.sub(name, str(message)).split())


def check_writable_place(path: str | os.PathLike, option: str, *, folder: bool) -> None:
    """EasinessError (one line, nothing written) when ``path``, a folder (``folder``) or a file
    to create, cannot be: a part of it is a file, a folder stands where the file goes, or its
    nearest existing folder lies on a read-only file system. What cannot be seen beforehand (a
    full disk, a pseudo file system such as /proc) surfaces when writing, as :func:`os_error_line`."""
    path = Path(path)
    above = next((p for p in [path, *path.parents] if p.exists()), None)
    if above is None:
        return
    if above == path:
        if folder and not path.is_dir():
            raise EasinessError(f"{option} {path} is a file, not a folder")
        if not folder and path.is_dir():
            raise EasinessError(f"{option} {path} is a folder; give a file name")
    elif not above.is_dir():
        raise EasinessError(f"{option} {path}: {above} is a file, not a folder")
    where = above if above.is_dir() else above.parent
    if not os.access(where, os.W_OK):  # why: as root only a read-only file system fails here
        raise EasinessError(f"{option} {path}: {where} is not writable; choose a writable place")


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with the native start-up lines it writes to stderr silenced (absl's
    "All log messages before absl::InitializeLog()", oneDNN notices), so that an error of a
    command is the one line on stderr; ``EASINESS_TF_LOGS=1`` keeps them.

    Why the file descriptor: those lines come from C++ while the library loads, before
    ``TF_CPP_MIN_LOG_LEVEL`` or absl's own level can apply, so only fd 2 itself can hold them.
    """
    if "tensorflow" in sys.modules or os.environ.get(LOGS_ENV):
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
