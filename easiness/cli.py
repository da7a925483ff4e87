"""Shared command-line plumbing: usage errors are one line and exit status 2."""

from __future__ import annotations

import argparse
from typing import Sequence


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
