"""``python -m easiness.app``: start the Streamlit app from any folder, installed or in a clone.

    python -m easiness.app                       # studies under ./runs (or $EASINESS_RUNS)
    python -m easiness.app --runs DIR            # studies under DIR
    python -m easiness.app --runs DIR --server.port 8502   # other options go to streamlit run

In a clone, ``streamlit run app.py`` does the same. The safe defaults of the repository's
``.streamlit/config.toml`` (listen on 127.0.0.1 only, no usage statistics) are passed as flags,
since that file is read from the current folder only; a flag given here overrides them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from easiness.cli import OneLineParser

SAFE_DEFAULTS = {  # why: the same as .streamlit/config.toml, which Streamlit reads from the cwd only
    "--server.address": "127.0.0.1",
    "--server.headless": "true",
    "--browser.gatherUsageStats": "false",
    "--browser.serverAddress": "127.0.0.1",
    "--client.toolbarMode": "minimal",
}


def command(argv: Sequence[str]) -> list[str]:
    """The ``streamlit run`` command line for ``argv`` (``--runs DIR`` and streamlit flags)."""
    parser = OneLineParser(prog="python -m easiness.app", description="Start the easiness app.",
                           epilog="Every other option (e.g. --server.port 8502) goes to streamlit run.")
    parser.add_argument("--runs", help="the runs root: the folder whose subfolders are studies "
                                       "(default $EASINESS_RUNS or ./runs)")
    args, rest = parser.parse_known_args(argv)
    flags = [*rest]
    given = {arg.split("=", 1)[0] for arg in rest if arg.startswith("--")}
    for flag, value in SAFE_DEFAULTS.items():
        if flag not in given:
            flags += [flag, value]
    script = Path(__file__).resolve().parent / "ui" / "main.py"
    app_args = ["--", "--runs", str(Path(args.runs).expanduser().resolve())] if args.runs else []
    return [sys.executable, "-m", "streamlit", "run", str(script), *flags, *app_args]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the app until interrupted; returns streamlit's exit status."""
    try:
        cmd = command(sys.argv[1:] if argv is None else argv)
    except SystemExit as stop:  # --help or a one-line usage error
        return int(stop.code or 0)
    if hasattr(os, "execv"):  # why: become streamlit, so a signal to this process (Ctrl-C, a
        os.execv(cmd[0], cmd)  # terminate) reaches the server itself; a child would outlive us
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
