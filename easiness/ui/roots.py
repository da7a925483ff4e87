"""Where the app looks for studies, and which study names it accepts (no Streamlit here).

Studies are chosen only from the listing of one folder, the runs root: a name from a URL is
looked up in that listing, never joined onto a path as given, and the resolved folder must lie
inside the root (a symlink pointing elsewhere is refused).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from easiness.store import list_studies

ENV_VAR = "EASINESS_RUNS"
DEFAULT_ROOT = "runs"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def runs_root(argv: Sequence[str], environ: Mapping[str, str]) -> Path:
    """The runs root: ``--runs DIR`` after ``streamlit run app.py --``, else $EASINESS_RUNS,
    else ``./runs``; absolute, resolved against the current folder."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--runs")
    known, _ = parser.parse_known_args(list(argv))
    chosen = known.runs or environ.get(ENV_VAR) or DEFAULT_ROOT
    return Path(chosen).expanduser().resolve()


def valid_name(name: str) -> bool:
    """Whether ``name`` could be a study folder name: no separators, not hidden, not dots."""
    return isinstance(name, str) and len(name) <= 200 and bool(_NAME.fullmatch(name))


def inside(root: Path, name: str) -> Path | None:
    """``root/name`` resolved, if ``name`` is a valid name and the result stays inside ``root``."""
    if not valid_name(name):
        return None
    base = root.resolve()
    path = (base / name).resolve()
    return path if path.parent == base else None


def studies(root: Path) -> list[dict[str, Any]]:
    """:func:`easiness.store.list_studies` of ``root``, with a folder that resolves outside the
    root marked unreadable (so it can be listed but never opened)."""
    entries = list_studies(root)
    prefix = str(root) + os.sep
    for entry in entries:
        if inside(root, entry["name"]) is None:
            entry.update(status="unreadable", problem="the folder resolves outside the runs root")
        if entry["problem"]:  # paths relative to the root: shorter, and a shared view shows no server paths
            entry["problem"] = entry["problem"].replace(prefix, "")
    return entries


def readable(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The names of the studies in a listing that can be opened."""
    return [e["name"] for e in entries if e["status"] != "unreadable"]


def describe_root(root: Path) -> str:
    """The runs root for display: relative to the current folder when it lies below it."""
    try:
        return str(root.relative_to(Path(os.getcwd()).resolve())) or "."
    except ValueError:
        return str(root)
