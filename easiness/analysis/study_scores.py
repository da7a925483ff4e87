"""Every difficulty score of one model of a study in one streaming pass, as a table keyed by id.

The definitions and their citations are in :mod:`easiness.analysis.scores` (easiness, mean loss,
correctness, forgetting, never learned, AUM, EL2N, data-map confidence and variability). This
module feeds a study to them:

* **Streaming.** :func:`compute` reads the losses (and the margins and EL2N the runs recorded)
  one checkpoint at a time over blocks of :data:`BLOCK` examples, so memory is a few hundred MB
  whatever N and the number of checkpoints: an ImageNet-sized study (N = 1,281,167, 10 runs) is
  scored within 2 GB (``benchmarks/bench_app.py --scores-only`` measures it). Rows are read
  with ``os.pread``, not through the study's memory maps: pages read through a map stay in the
  process's resident memory until it is closed, and this pass reads every page of the study.
* **Checkpoints.** Every score uses the checkpoints 0..T (``at``, 0-based, -1 = the last); EL2N
  the one nearest 10% of those T+1 (:func:`easiness.analysis.scores.early_checkpoint`), so a score at T
  never looks past T.
* **Runs.** Each score is computed per run, then averaged over the M runs (the average of Eq. 1
  of arXiv:1911.10739, applied to every score); the per-run values are kept on request.
* **Diverged runs.** A NaN loss counts as +inf (the hardest value, as the app and the export
  show it), a NaN margin as -inf (wrong), a NaN EL2N as sqrt(2) (its maximum): a diverged run
  never makes the table unreadable.
* **Old studies.** Studies written before margins and EL2N were recorded lack the scores that
  need them: by default those are left out with a note (:attr:`ScoreSet.note`); asking for one by
  name raises :class:`ScoreUnavailable`, one line naming the missing array and how to get it.

Numpy and pandas only; no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from easiness.analysis import scores
from easiness.errors import EasinessError
from easiness.store.layout import LOSSES_FILE, MODELS_DIR, run_dirname
from easiness.store import Study

BLOCK = 131_072  # examples per streaming block: about 100 MB of float64 accumulators at M = 10
RECORDED = ("margins", "el2n")  # the arrays beside the losses that some scores need (the store's RECORDS)
FILL = {"losses": math.inf, "margins": -math.inf, "el2n": math.sqrt(2.0)}  # what a NaN (diverged run) becomes
HOW_TO_GET = ("a study written before easiness recorded margins and EL2N, or scored with --record losses; "
              "score it again into a new --out to get them")


class ScoreUnavailable(EasinessError):
    """A score needs an array (margins, EL2N) that the study's runs did not record; one line."""


# --------------------------------------------------------------------------- which scores


def check_names(names: Sequence[str] | None) -> list[str]:
    """``names`` (default: every score), without repeats; EasinessError listing the valid ones."""
    if names is None:
        return scores.names()
    chosen = list(dict.fromkeys(names))
    unknown = [n for n in chosen if n not in scores.SCORES]
    if unknown or not chosen:
        raise EasinessError(f"unknown score {unknown[0] if unknown else ''!r}; choose from {', '.join(scores.names())}")
    return chosen


def recorded(study: Study, model: str, *, runs: Sequence[int] | None = None) -> list[str]:
    """The arrays beside the losses that every chosen run of ``model`` recorded."""
    manifests = {m["run"]: m for m in study.runs(model)}
    chosen = study.losses(model, runs=runs).runs
    return [a for a in RECORDED if chosen and all(a in manifests[r].get("records", {}) for r in chosen)]


def lacking(study: Study, model: str, names: Sequence[str] | None = None, *,
            runs: Sequence[int] | None = None) -> dict[str, tuple[str, ...]]:
    """Of ``names`` (default: all), the scores ``model``'s runs cannot give: name -> missing arrays."""
    have = set(recorded(study, model, runs=runs))
    out = {}
    for name in check_names(names):
        missing = tuple(a for a in scores.needs(name) if a not in have)
        if missing:
            out[name] = missing
    return out


def available(study: Study, model: str, *, runs: Sequence[int] | None = None) -> list[str]:
    """The scores ``model``'s runs allow, in :func:`easiness.analysis.scores.names` order."""
    left_out = lacking(study, model, runs=runs)
    return [n for n in scores.names() if n not in left_out]


def require(study: Study, model: str, names: Sequence[str], *, runs: Sequence[int] | None = None) -> None:
    """ScoreUnavailable (one line: the score, the missing array, how to get it) unless every
    score in ``names`` can be computed."""
    for name, missing in lacking(study, model, names, runs=runs).items():
        raise ScoreUnavailable(f"score {name} needs {' and '.join(missing)}, which {model} in "
                               f"{study.root.name} did not record ({HOW_TO_GET})")


def note(model: str, left_out: dict[str, tuple[str, ...]]) -> str | None:
    """One sentence on the scores left out for lack of arrays (None when none were)."""
    if not left_out:
        return None
    arrays = [a for a in RECORDED if any(a in missing for missing in left_out.values())]
    verb = "is" if len(left_out) == 1 else "are"
    return (f"{model} did not record {' or '.join(arrays)}, so {', '.join(left_out)} {verb} left out "
            f"({HOW_TO_GET})")


# --------------------------------------------------------------------------- computing


@dataclasses.dataclass(frozen=True)
class ScoreSet:
    """The scores of one model at checkpoint ``k``; arrays are read-only by convention."""

    model: str
    k: int  # the checkpoint T, 0-based
    runs: tuple[int, ...]  # the M runs averaged
    mean: dict[str, np.ndarray]  # score -> [N] float64, the average over the runs
    per_run: dict[str, np.ndarray]  # score -> [M, K] float32 for the examples ``sample`` (empty unless asked)
    sample: np.ndarray | None  # [K] ascending example indices of ``per_run``; None = all N
    left_out: dict[str, tuple[str, ...]]  # score -> the arrays its runs lack

    @property
    def names(self) -> list[str]:
        """The scores computed, in :func:`easiness.analysis.scores.names` order."""
        return list(self.mean)

    @property
    def note(self) -> str | None:
        """Why scores were left out, one sentence; None when none were."""
        return note(self.model, self.left_out)


def compute(study: Study, model: str, *, at: int = -1, names: Sequence[str] | None = None,
            runs: Sequence[int] | None = None, per_run: bool = False, sample: Any = None,
            block: int = BLOCK) -> ScoreSet:
    """Every score of ``model`` at checkpoint ``at`` in one streaming pass.

    Args:
        study, model: the model's runs (``runs``: run indices; default the study's default runs).
        at: the checkpoint T, 0-based, Python-style (-1 = the last completed one).
        names: scores to compute; None = every score the runs allow (the others are left out and
            named in ``left_out``); a named score the runs cannot give raises ScoreUnavailable.
        per_run: also keep each run's values, ``[M, K]`` float32 per score.
        sample: with ``per_run``, keep them only for these example indices (``[K]``; default all N).
        block: examples per streaming block.
    """
    stack = study.losses(model, runs=runs)
    _, count, n = stack.shape
    if count == 0:
        raise EasinessError(f"{model} in {study.root.name} has no completed checkpoint yet")
    t = _checkpoint(at, count)
    if names is None:
        left_out = lacking(study, model, runs=stack.runs)
        chosen = [s for s in scores.names() if s not in left_out]
    else:
        chosen, left_out = check_names(names), {}
        require(study, model, chosen, runs=stack.runs)
    rows = _sample(sample, n) if per_run else None
    arrays = _arrays(study, model, stack.runs, chosen, count)
    try:
        mean, kept = _stream(arrays, t, chosen, rows, block)
    finally:
        for array in arrays.values():
            array.close()
    return ScoreSet(model=model, k=t, runs=tuple(stack.runs), mean=mean, per_run=kept,
                    sample=None if sample is None or not per_run else rows, left_out=left_out)


def _checkpoint(at: int, count: int) -> int:
    if isinstance(at, bool) or not isinstance(at, (int, np.integer)) or not -count <= at < count:
        raise EasinessError(f"checkpoint index {at!r} is out of range for {count} checkpoints")
    return int(at) % count


def _arrays(study: Study, model: str, runs: Sequence[int], names: Sequence[str], count: int) -> dict[str, "_Rows"]:
    """The losses and the recorded arrays ``names`` need (others are not read), as ``_Rows``."""
    needed = {a for name in names for a in scores.needs(name)}
    for a in needed:
        study.record(model, a, runs=runs)  # why: the store's checks and its message for a missing array
    folder = study.root / MODELS_DIR / model
    files = {"losses": LOSSES_FILE, **{a: f"{a}.npy" for a in RECORDED if a in needed}}
    return {a: _Rows([folder / run_dirname(r) / name for r in runs], count, study.n) for a, name in files.items()}


def _sample(sample: Any, n: int) -> np.ndarray:
    """Ascending unique example indices in [0, n); all n when ``sample`` is None."""
    if sample is None:
        return np.arange(n)
    rows = np.unique(np.asarray(sample, dtype=np.int64))
    if rows.ndim != 1 or (rows.size and (rows[0] < 0 or rows[-1] >= n)):
        raise EasinessError(f"sample must hold example indices in [0, {n})")
    return rows


def _stream(arrays: dict[str, "_Rows"], t: int, names: Sequence[str], rows: np.ndarray | None,
            block: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Blocks of examples through :func:`easiness.analysis.scores.per_run`: run means ``[N]`` and, for
    ``rows``, per-run values ``[M, K]``."""
    m, _, n = arrays["losses"].shape
    mean = {name: np.empty(n) for name in names}
    kept = {name: np.empty((m, rows.size), dtype=np.float32) for name in names} if rows is not None else {}
    early = scores.early_checkpoint(t + 1)
    for start in range(0, n, block):
        part = slice(start, min(n, start + block))
        views = {a: _Block(v, part, FILL[a]) for a, v in arrays.items()}
        out = scores.per_run(views["losses"], views.get("margins"), views.get("el2n"), at=t, early=early)
        lo, hi = (np.searchsorted(rows, [part.start, part.stop]) if rows is not None else (0, 0))
        for name in names:
            mean[name][part] = out[name].mean(axis=0)
            if rows is not None:
                kept[name][:, lo:hi] = out[name][:, rows[lo:hi] - part.start]
    return mean, kept


class _Rows:
    """One ``[M, C, N]`` array of a model's runs (one ``[>= C, N]`` ``.npy`` per run), read a row
    slice at a time with ``os.pread``; :meth:`close` closes the files."""

    def __init__(self, paths: Sequence[Path], count: int, n: int) -> None:
        self.shape = (len(paths), count, n)
        self._files: list[tuple[int, int, np.dtype]] = []
        try:
            for path in paths:
                self._files.append(_open_npy(path, n))
        except BaseException:
            self.close()
            raise

    def read(self, k: int, part: slice) -> np.ndarray:
        """``[M, len(part)]``: examples ``part`` of row ``k`` of every run."""
        n = self.shape[2]
        out = []
        for fd, offset, dtype in self._files:
            size = (part.stop - part.start) * dtype.itemsize
            raw = os.pread(fd, size, offset + (k * n + part.start) * dtype.itemsize)
            if len(raw) != size:
                raise EasinessError(f"a run's array ended early (row {k}); the study is damaged")
            out.append(np.frombuffer(raw, dtype=dtype))
        return np.stack(out)

    def close(self) -> None:
        for fd, _, _ in self._files:
            os.close(fd)
        self._files = []


def _open_npy(path: Path, n: int) -> tuple[int, int, np.dtype]:
    """(file descriptor, data offset, dtype) of a C-ordered ``[rows, n]`` ``.npy``."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = header(f)
        offset = f.tell()
    if fortran or len(shape) != 2 or shape[1] != n:
        raise EasinessError(f"{path} is not a C-ordered [checkpoints, {n}] array")
    return os.open(path, os.O_RDONLY), offset, np.dtype(dtype)


class _Block:
    """Examples ``part`` of a :class:`_Rows` with NaN replaced by ``fill``: what
    :func:`easiness.analysis.scores.per_run` reads (``x.shape`` and ``x[:, k]``)."""

    def __init__(self, rows: _Rows, part: slice, fill: float) -> None:
        m, c, _ = rows.shape
        self.rows, self.part, self.fill = rows, part, fill
        self.shape = (m, c, part.stop - part.start)

    def __getitem__(self, key: tuple[slice, int]) -> np.ndarray:
        _, k = key  # why only [:, k]: all per_run asks for
        values = self.rows.read(k, self.part)
        nan = np.isnan(values)
        return np.where(nan, values.dtype.type(self.fill), values) if nan.any() else values


# --------------------------------------------------------------------------- the table


def scores_table(study: Study, model: str, *, at: int = -1, names: Sequence[str] | None = None,
                 runs: Sequence[int] | None = None, per_run: bool = False) -> pd.DataFrame:
    """One row per training example (study order): id, label, class, then each score averaged
    over the runs (one column per score, named as in :data:`easiness.analysis.scores.SCORES`) and, with
    ``per_run``, ``<score>_run<r>`` for every run r.

    Arguments as :func:`compute`. Scores left out for lack of recorded arrays are named, with
    the reason, in ``frame.attrs["note"]`` (None when none were).
    """
    result = compute(study, model, at=at, names=names, runs=runs, per_run=per_run)
    labels = np.asarray(study.labels).astype(np.int64)
    data: dict[str, Any] = {"id": np.asarray(study.ids), "label": labels,
                            "class": pd.Categorical.from_codes(labels, categories=study.class_names)}
    data.update(result.mean)
    for name in result.per_run:
        data.update({f"{name}_run{r}": result.per_run[name][i] for i, r in enumerate(result.runs)})
    frame = pd.DataFrame(data)
    frame.attrs["note"] = result.note
    return frame
