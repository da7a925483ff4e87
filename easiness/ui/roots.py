"""Where the app looks for studies, and which study names it accepts (no Streamlit here).

Studies are chosen only from the listing of one folder, the runs root: a name from a URL is
looked up in that listing, never joined onto a path as given, and the resolved folder must lie
inside the root (a symlink pointing elsewhere is refused, and so is any model folder, run folder
or file inside a study that leads out of the root).

Text shown in a page names files relative to the runs root (:func:`redact`): a shared view
never shows the server's paths.
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
# an absolute path in a message: one "/" (not a URL's "//") that follows no word or relative path
_ABSOLUTE = re.compile(r"(?<![\w.~/-])/(?!/)[^\s'\"`()\[\],;]+")


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
    """:func:`easiness.store.list_studies` of ``root`` (nothing read outside it), with a folder
    that resolves outside the root marked unreadable (so it can be listed but never opened)."""
    entries = list_studies(root, within=root)
    for entry in entries:
        if inside(root, entry["name"]) is None:
            entry.update(status="unreadable", problem="the folder resolves outside the runs root")
        for field in ("problem", "dataset"):  # a dataset spec may name a folder: folder:/data/...
            if entry[field]:
                entry[field] = redact(entry[field], root)
    return entries


def readable(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    """The names of the studies in a listing that can be opened."""
    return [e["name"] for e in entries if e["status"] != "unreadable"]


def default_study(entries: Sequence[Mapping[str, Any]]) -> str | None:
    """The study a view shows when no valid one is asked for: the first readable one without a
    problem, else the first readable one (never an unreadable one); None when there is none."""
    names = readable(entries)
    clean = [e["name"] for e in entries if e["name"] in names and not e["problem"]]
    return (clean or names or [None])[0]


def unreadable_reason(entries: Sequence[Mapping[str, Any]], name: str) -> str | None:
    """Why the listed study ``name`` cannot be opened; None if it can, or is not listed."""
    found = [e for e in entries if e["name"] == name and e["status"] == "unreadable"]
    return f"cannot be opened ({found[0]['problem']})" if found else None


def redact(text: Any, root: Path) -> str:
    """``text`` for a page: paths under the runs root relative to it, the root itself called
    "the runs root", any other absolute path cut to its last part (a shared view shows no
    server paths)."""
    text = str(text)
    for base in dict.fromkeys((str(root), str(Path(root).resolve()))):
        if len(base) > 1:  # why: a root of "/" would turn every slash into words
            text = text.replace(base + os.sep, "")
            text = re.sub(re.escape(base) + r"(?![\w.-])", "the runs root", text)  # not runs2/ or runs-old/
    return _ABSOLUTE.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


def describe_root(root: Path) -> str:
    """The runs root for display: relative to the current folder when it lies below it, else its
    name alone (a shared view shows no server paths)."""
    try:
        return str(root.relative_to(Path(os.getcwd()).resolve())) or "."
    except ValueError:
        return root.name or "the runs root"
