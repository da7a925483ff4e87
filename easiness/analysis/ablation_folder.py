"""An ablation folder on disk: what ``python -m easiness.ablate`` writes into ``--out`` and reads
back when it resumes (numpy and the standard library; no TensorFlow).

Layout::

    ablation.json                  settings (what a resumed run must match), costs, read-out
    ablation.csv                   one row per finished point; rewritten atomically after each
    kept/<strategy>_f<fraction>_s<seed>.txt   the kept example ids, one per line
    kept/<strategy>_f<fraction>_s<seed>.npy   the kept indices into the study's N examples
                                   (``<strategy>-by-<score>_f...`` for scores other than easiness)
    stepwise/step-01/              intermediate studies of stepwise removal (ordinary study folders)
    stepwise/step-01-kept.txt/.npy the subset each one was trained on
    stepwise-<score>/step-01/      the same for stepwise removal by another score

Every file is written atomically (:mod:`easiness.store.atomic`): a kill leaves the previous
state readable, and the same command continues from it.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from easiness.analysis import ablation
from easiness.analysis.ablation import AblationError
from easiness.cli import check_writable_place
from easiness.errors import EasinessError, one_line
from easiness.store import Study, atomic

SCHEMA = 1
KIND = "easiness-ablation"
CSV_FILE, JSON_FILE, KEPT_DIR, STEPWISE_DIR = "ablation.csv", "ablation.json", "kept", "stepwise"


def check_folder(out: Path, *, study_root: Path, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ablation.json already in ``out`` (None for a new folder); AblationError if the folder
    is the study, a file, holds anything else, or an ablation with other ``settings``."""
    if out.resolve() == study_root.resolve():
        raise AblationError("--out must not be the study folder itself")
    if out.exists() and not out.is_dir():
        raise AblationError(f"{out} is a file; choose another --out")
    check_writable_place(out, "--out", folder=True)
    if not (out / JSON_FILE).is_file():
        if out.is_dir() and any(out.iterdir()):
            raise AblationError(f"{out} is not empty and holds no ablation; choose another --out")
        return None
    meta = read_meta(out / JSON_FILE)
    old = meta.get("settings", {})
    changed = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
    if changed:
        raise AblationError(f"{out} holds an ablation with other settings ({', '.join(changed)}); "
                            f"choose another --out")
    return meta


def read_meta(path: Path) -> dict[str, Any]:
    """A JSON file written by this tool; AblationError if unreadable."""
    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:
        raise AblationError(f"cannot read {path}: {one_line(e)}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("settings", {}), dict):
        raise AblationError(f"cannot read {path}: not an ablation.json of this tool (no settings object); "
                            f"choose another --out")
    return meta


def old_meta(out: Path) -> dict[str, Any]:
    """``out``'s ablation.json, or an empty dict when there is none yet."""
    return read_meta(out / JSON_FILE) if (out / JSON_FILE).is_file() else {}


def write_meta(out: Path, meta: Mapping[str, Any]) -> None:
    """Write ablation.json atomically, NaN as null (standard JSON for other tools)."""
    atomic.write_json_atomic(out / JSON_FILE, _finite(dict(meta)))


def _finite(value: Any) -> Any:
    """``value`` with NaN floats as None, in nested dicts and lists."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def read_rows(out: Path) -> list[dict[str, Any]]:
    """The points recorded in ``out/ablation.csv`` (none if it does not exist); AblationError
    (one line) if it cannot be read."""
    path = out / CSV_FILE
    if not path.is_file():
        return []
    try:
        return ablation.parse_rows(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AblationError(f"cannot read {path} ({one_line(e)}); repair it or choose another --out") from None


def write_rows(out: Path, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rewrite ablation.csv atomically; the rows as a resumed run will read them, to the digit."""
    text = ablation.format_rows(rows)
    atomic.write_bytes_atomic(out / CSV_FILE, text.encode())
    return ablation.parse_rows(text)


def save_kept(folder: Path, name: str, ids: np.ndarray, keep: np.ndarray) -> None:
    """``<name>.txt`` (the kept ids, one per line) and ``<name>.npy`` (their indices), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes_atomic(folder / f"{name}.txt", ("\n".join(np.asarray(ids)[keep].tolist()) + "\n").encode())
    atomic.save_npy_atomic(folder / f"{name}.npy", np.asarray(keep, dtype=np.int64))


def step_dir(out: Path, step: int, score: str = ablation.DEFAULT_SCORE) -> Path:
    """The folder of stepwise step ``step``'s intermediate study (one chain per score)."""
    chain = STEPWISE_DIR if score == ablation.DEFAULT_SCORE else f"{STEPWISE_DIR}-{score}"
    return out / chain / f"step-{step:02d}"


def is_finished(folder: Path, model: str, runs: int) -> bool:
    """Whether ``folder`` holds a study whose ``runs`` runs of ``model`` are all finished."""
    try:
        manifests = Study.open(folder).runs(model)
    except EasinessError:
        return False
    return len(manifests) >= runs and all(m["status"] in ("done", "failed") for m in manifests)
