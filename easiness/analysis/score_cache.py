"""Every score of a finished model at its last checkpoint, computed once and kept in the study.

Computing the scores is one pass over all the checkpoints of losses, margins and EL2N: seconds
for a CIFAR-sized study of 300 checkpoints, over a minute for an ImageNet-sized one
(``benchmarks/bench_app.py``). The Scores page opens at the last checkpoint, so that one view is
kept on disk, one file per model, ``<study>/.easiness-cache/scores/<model>.npz``: written by
``python -m easiness.score`` when the model's runs finish, or by the first view of it, and read
back as long as its key (the runs, their identity, T, the scores asked, the sample) still
matches. A hidden folder: the store's readers skip it, and deleting it loses nothing.

Only finished runs are kept (a running model's last checkpoint moves every epoch), and a cache
that cannot be written (a read-only study) or read (damaged, another version) is ignored: the
scores are then computed as if there were none. Numpy only.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from easiness.analysis import study_scores
from easiness.analysis.study_scores import ScoreSet
from easiness.store import Study, atomic

__all__ = ["CACHE_DIR", "STABILITY_EXAMPLES", "compute", "keepable", "page_view", "path", "sample"]

CACHE_DIR = ".easiness-cache"
VERSION = 1  # why: a change of the scores' definitions or of this format must miss old files
STABILITY_EXAMPLES = 20_000  # examples whose per-run values feed the split halves (rho's error ~0.01)


def sample(n: int, count: int) -> np.ndarray:
    """Sorted positions of a fixed uniform sample of ``count`` of ``n`` (all when n <= count)."""
    if n <= count:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=count, replace=False))


def page_view(study: Study, model: str, *, at: int = -1, runs: Sequence[int] | None = None) -> ScoreSet:
    """What the app's Scores page shows: every score the runs allow, with per-run values for
    :data:`STABILITY_EXAMPLES` examples; the command that trains the model keeps it when it ends."""
    return compute(study, model, at=at, runs=runs, per_run=True, sample=sample(study.n, STABILITY_EXAMPLES))


def path(study: Study, model: str) -> Path:
    """Where the kept scores of ``model`` live."""
    return study.root / CACHE_DIR / "scores" / f"{model}.npz"


def compute(study: Study, model: str, *, at: int = -1, names: Sequence[str] | None = None,
            runs: Sequence[int] | None = None, per_run: bool = False, sample: Any = None) -> ScoreSet:
    """:func:`easiness.analysis.study_scores.compute`, read from the kept file when it holds
    this very view (the last checkpoint of finished runs), and kept after computing it."""
    key = _key(study, model, at=at, names=names, runs=runs, per_run=per_run, sample=sample)
    if key is not None:
        kept = _load(path(study, model), key)
        if kept is not None:
            return kept
    result = study_scores.compute(study, model, at=at, names=names, runs=runs, per_run=per_run, sample=sample)
    if key is not None:
        _save(path(study, model), key, result)
    return result


def keepable(study: Study, model: str) -> bool:
    """Whether the page's view of ``model`` (its last checkpoint, default runs) would be kept:
    every run averaged has finished."""
    return _key(study, model, at=-1, names=None, runs=None, per_run=True, sample=None) is not None


def _key(study: Study, model: str, *, at: int, names: Sequence[str] | None, runs: Sequence[int] | None,
         per_run: bool, sample: Any) -> str | None:
    """The view's identity, or None when it is not kept (not the last checkpoint of finished runs)."""
    stack = study.losses(model, runs=runs)
    count = stack.shape[1]
    if count == 0 or not isinstance(at, (int, np.integer)) or isinstance(at, bool) or at not in (-1, count - 1):
        return None
    manifests = {m["run"]: m for m in study.runs(model)}
    chosen = [manifests.get(r) for r in stack.runs]
    if any(m is None or m.get("status") != "done" for m in chosen):
        return None
    rows = None if sample is None or not per_run else np.unique(np.asarray(sample, dtype=np.int64))
    identity = {
        "version": VERSION, "fingerprint": study.fingerprint, "n": study.n, "model": model, "k": count - 1,
        "runs": [[m["run"], m.get("seed"), m.get("created"), m.get("done")] for m in chosen],
        "names": None if names is None else list(names), "per_run": bool(per_run),
        "sample": None if rows is None else hashlib.sha256(rows.tobytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()


def _load(file: Path, key: str) -> ScoreSet | None:
    """The kept scores when ``file`` holds ``key``; None when it is missing, other or unreadable."""
    try:
        with np.load(file, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("key") != key:
                return None
            mean = {name: z[f"mean/{name}"] for name in meta["names"]}
            per_run = {name: z[f"per_run/{name}"] for name in meta["per_run"]}
            sample = z["sample"] if "sample" in z.files else None
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None
    return ScoreSet(model=meta["model"], k=int(meta["k"]), runs=tuple(meta["runs"]), mean=mean,
                    per_run=per_run, sample=sample,
                    left_out={name: tuple(arrays) for name, arrays in meta["left_out"].items()})


def _save(file: Path, key: str, result: ScoreSet) -> None:
    """Keep ``result`` under ``key``, atomically; a study that cannot be written is left as it is."""
    meta = {"key": key, "model": result.model, "k": result.k, "runs": list(result.runs), "names": result.names,
            "per_run": list(result.per_run), "left_out": {k: list(v) for k, v in result.left_out.items()}}
    arrays = {"meta": np.array(json.dumps(meta)),
              **{f"mean/{name}": values for name, values in result.mean.items()},
              **{f"per_run/{name}": values for name, values in result.per_run.items()}}
    if result.sample is not None:
        arrays["sample"] = result.sample
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_bytes_atomic(file, buffer.getvalue())
    except OSError:
        pass  # why: a read-only study still shows its scores, computed on each view
