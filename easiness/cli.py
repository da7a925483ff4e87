"""Shared command-line plumbing: usage errors are one line and exit status 2."""

from __future__ import annotations

import argparse
import os
import sys
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
    """Parse ``argv`` and run ``body(args)``; a usage error or an :class:`EasinessError` ends as
    one line on stderr and exit status 2, never a traceback."""
    args = parse(parser, argv)
    if isinstance(args, int):  # --help (0) or a one-line usage error (2)
        return args
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        return body(args)
    except EasinessError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except ModuleNotFoundError as err:
        if err.name not in _TRAINING_MODULES:
            raise
        print(f"error: this needs {err.name}, which is not installed: pip install 'easiness[cpu]' "
              f"(or 'easiness[gpu]' on NVIDIA GPUs)", file=sys.stderr)
        return 2


# What the training side imports beyond the base install (pyproject.toml's cpu and gpu extras).
_TRAINING_MODULES = frozenset({"tensorflow", "keras", "tensorflow_datasets"})
LOGS_ENV = "EASINESS_TF_LOGS"  # set to 1 to see TensorFlow's native start-up lines


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
