"""The easiness table: one row per training example, the scores of every chosen model as columns.

``python -m easiness.export`` writes it (CSV, NPZ or parquet) and the app's "Easy & hard
examples" page offers it as a download; both call :func:`easiness_table`, so a file and a
download of the same view hold the same numbers. Numpy and pandas only; no TensorFlow.

Columns: ``id``, ``label``, ``class``, then for each model ``<score>_<model>`` for every score
in :data:`COLUMNS`, in that order:

* ``easiness_<model>``: Eq. 1 of arXiv:1911.10739 at checkpoint T, the mean loss over the
  model's runs (a NaN from a diverged run counts as ``inf``, the hardest value, as in the app);
* ``rank_<model>``: 1 = easiest, ties broken by the lower example index (the rule of
  :func:`easiness.analysis.metrics.easy_hard`, so ``easy`` is exactly ``rank <= set size`` globally);
* ``easy_<model>`` / ``hard_<model>``: membership of the ``fraction`` lowest / highest easiness,
  over all examples or per class (``per_class``).

Then, with ``scores``, ``<score>_<model>`` for each difficulty score of :mod:`easiness.analysis.scores`
(mean loss, correctness, forgetting, AUM, EL2N, data-map confidence and variability, ...), each
averaged over the model's runs at the same T (:func:`easiness.analysis.study_scores.compute`). The
export asks for every score a model's runs allow; scores needing margins or EL2N that an older
study did not record are left out and named in ``frame.attrs["notes"]``.

More columns derived from easiness join the table by adding a :data:`ColumnBuilder` to
:data:`COLUMNS`; each reads what it needs through :class:`ModelScores`.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import os
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from easiness.store import atomic
from easiness.analysis import checkpoints, metrics, study_scores
from easiness.errors import EasinessError
from easiness.store import Study

FORMATS = ("csv", "npz", "parquet")
PARQUET_HINT = "pip install pyarrow"


# --------------------------------------------------------------------------- choosing the view


def scored_models(study: Study) -> list[str]:
    """The study's models with at least one completed checkpoint, sorted."""
    return [m for m in study.models if study.checkpoints(m)]


def check_models(study: Study, models: Sequence[str] | None) -> list[str]:
    """``models`` (default: every scored model), each known and scored; EasinessError listing
    the valid names otherwise."""
    valid = scored_models(study)
    if not valid:
        raise EasinessError(f"{study.root} has no model with a completed checkpoint yet")
    chosen = list(dict.fromkeys(models)) if models else valid  # why dict: drop repeats, keep order
    unknown = [m for m in chosen if m not in valid]
    if unknown:
        raise EasinessError(f"unknown model {unknown[0]!r} in {study.root.name}; models: {', '.join(valid)}")
    return chosen


Runs = Mapping[str, Sequence[int]]  # model -> the run indices averaged (default: the study's default runs)


def _runs_of(runs: Runs | None, model: str) -> Sequence[int] | None:
    return None if runs is None else runs.get(model)


def common_count(study: Study, models: Sequence[str], runs: Runs | None = None) -> int:
    """C: the completed checkpoints every one of ``models`` has (over the ``runs`` averaged)."""
    return min(study.losses(m, runs=_runs_of(runs, m)).shape[1] if runs else len(study.checkpoints(m))
               for m in models)


def checkpoint_epoch(study: Study, model: str, k: int, runs: Runs | None = None) -> float:
    """The epoch of checkpoint ``k`` (0-based) of ``model``'s runs."""
    chosen = _runs_of(runs, model)
    if chosen is None:
        return float(study.checkpoints(model)[k]["epoch"])
    first = next(m for m in study.runs(model) if m["run"] == chosen[0])
    return float(first["planned"][k]["epoch"])


def checkpoint_index(study: Study, models: Sequence[str], t: int | None, runs: Runs | None = None) -> int:
    """The 0-based checkpoint of the 1-based ``t`` (the app's ``t``; None = the last checkpoint
    every model in ``models`` has); EasinessError naming the valid range otherwise."""
    count = common_count(study, models, runs)
    if t is None:
        return count - 1
    if not 1 <= t <= count:
        raise EasinessError(f"checkpoint {t} is out of range: {', '.join(models)} have T = 1..{count}")
    return t - 1


def check_fraction(fraction: float) -> float:
    """The easy/hard share as a float in (0, 1); EasinessError otherwise."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)) \
            or not 0.0 < float(fraction) < 1.0:
        raise EasinessError(f"the easy/hard fraction must be a number in (0, 1), got {fraction!r}")
    return float(fraction)


# --------------------------------------------------------------------------- scores of one model


def model_easiness(study: Study, model: str, k: int, runs: Sequence[int] | None = None) -> np.ndarray:
    """``[N]`` float64 easiness (Eq. 1) of ``model`` at checkpoint ``k`` (0-based) over ``runs``
    (default: the study's default runs); NaN -> inf."""
    # why nan_hardest: a run that diverged must not make the whole table unreadable; the app
    # ranks it as the hardest value too
    return metrics.easiness(study.losses(model, runs=runs), checkpoint=k, nan_hardest=True)


def ordinal_ranks(values: np.ndarray) -> np.ndarray:
    """``[N]`` int64 ranks of ``values``, 1 = lowest, ties by lower index (a stable sort)."""
    ranks = np.empty(values.size, dtype=np.int64)
    ranks[np.argsort(values, kind="stable")] = np.arange(1, values.size + 1)
    return ranks


def membership(indices: np.ndarray, n: int) -> np.ndarray:
    """``[n]`` bool mask of example ``indices``."""
    mask = np.zeros(n, dtype=bool)
    mask[indices] = True
    return mask


@dataclasses.dataclass
class ModelScores:
    """What the column builders of one model read; easiness and sets are computed once."""

    study: Study
    model: str
    k: int  # checkpoint, 0-based
    fraction: float  # share of each of the easy and hard sets
    per_class: bool  # easy/hard sets per class instead of over all examples
    runs: Sequence[int] | None = None  # the runs averaged (default: the study's default runs)

    @functools.cached_property
    def easiness(self) -> np.ndarray:
        """``[N]`` float64 easiness at ``k``."""
        return model_easiness(self.study, self.model, self.k, self.runs)

    @functools.cached_property
    def sets(self) -> tuple[np.ndarray, np.ndarray]:
        """(easy, hard) example indices, as :func:`easiness.analysis.metrics.easy_hard`."""
        return metrics.easy_hard(self.easiness, fraction=self.fraction,
                                 labels=np.asarray(self.study.labels), per_class=self.per_class)


ColumnBuilder = Callable[[ModelScores], np.ndarray]

COLUMNS: dict[str, ColumnBuilder] = {
    "easiness": lambda s: s.easiness,
    "rank": lambda s: ordinal_ranks(s.easiness),
    "easy": lambda s: membership(s.sets[0], s.study.n),
    "hard": lambda s: membership(s.sets[1], s.study.n),
}


# --------------------------------------------------------------------------- the table


def easiness_table(study: Study, *, models: Sequence[str] | None = None, checkpoint: int = -1,
                   fraction: float = 0.1, per_class: bool = False,
                   columns: Sequence[str] | None = None, scores: Sequence[str] | None = (),
                   runs: Runs | None = None) -> pd.DataFrame:
    """One row per training example (study order) with each model's scores at one checkpoint.

    Args:
        study: an opened study.
        models: which models (default: every model with a completed checkpoint).
        checkpoint: 0-based index into the checkpoints all ``models`` have, -1 = the last.
        fraction: share of the easy and of the hard set, in (0, 1) (paper: 0.1).
        per_class: take ``fraction`` of each class for the easy/hard flags.
        columns: which scores of :data:`COLUMNS` (default: all), in the order given.
        scores: difficulty scores of :mod:`easiness.analysis.scores` to add: none (the default), their
            names (ScoreUnavailable when a model's runs lack an array one needs), or None for
            every score each model's runs allow.
        runs: model -> the run indices averaged (:mod:`easiness.store.run_choice`; default: every
            readable run but failed ones without a committed checkpoint).

    Returns:
        ``[N rows]``: id (str), label (int), class (categorical), then ``<score>_<model>``;
        ``attrs["scores"]``: model -> the difficulty scores added; ``attrs["notes"]``: why
        scores were left out (one line per model that lacks arrays), and a line when the models'
        checkpoint lies at different epochs (:func:`easiness.analysis.checkpoints.mismatch`).
    """
    chosen = check_models(study, models)
    k = _checkpoint(study, chosen, checkpoint, runs)
    frac = check_fraction(fraction)
    names = _column_names(columns)
    wanted = scores if scores is None else study_scores.check_names(scores) if scores else []
    for model in chosen if wanted else []:
        study_scores.require(study, model, wanted, runs=_runs_of(runs, model))  # why first: fail before reading any model
    data, added, notes = _base_columns(study), {}, []
    for model in chosen:
        builders = ModelScores(study, model, k, frac, per_class, _runs_of(runs, model))
        data.update({f"{name}_{model}": COLUMNS[name](builders) for name in names})
        extra = _difficulty_columns(study, model, k, wanted, skip=names, runs=_runs_of(runs, model))
        if extra is not None:
            data.update({f"{name}_{model}": values for name, values in extra.mean.items()})
            added[model] = extra.names
            notes += [extra.note] if extra.note else []
    apart = checkpoints.mismatch({m: checkpoint_epoch(study, m, k, runs) for m in chosen}, k + 1)
    frame = pd.DataFrame(data)
    frame.attrs.update(scores=added, notes=notes + ([apart] if apart else []))
    return frame


def _difficulty_columns(study: Study, model: str, k: int, wanted: Sequence[str] | None,
                        skip: Sequence[str], runs: Sequence[int] | None = None) -> study_scores.ScoreSet | None:
    """The difficulty scores ``wanted`` (None: all available) of ``model`` at ``k``, less those
    already among the columns (easiness); None when there is nothing to add."""
    if wanted is not None:
        wanted = [w for w in wanted if w not in skip]
        if not wanted:
            return None
    result = study_scores.compute(study, model, at=k, names=wanted, runs=runs)
    for name in [n for n in result.mean if n in skip]:
        del result.mean[name]
    return result


def _checkpoint(study: Study, models: Sequence[str], checkpoint: int, runs: Runs | None = None) -> int:
    count = common_count(study, models, runs)
    if not -count <= checkpoint < count:
        raise EasinessError(f"checkpoint index {checkpoint} is out of range for {count} checkpoints")
    return checkpoint % count


def _column_names(columns: Sequence[str] | None) -> list[str]:
    names = list(COLUMNS) if columns is None else list(columns)
    unknown = [c for c in names if c not in COLUMNS]
    if unknown or not names:
        raise EasinessError(f"unknown score column {unknown[0] if unknown else ''!r}; choose from {', '.join(COLUMNS)}")
    return names


def _base_columns(study: Study) -> dict[str, Any]:
    """id, label and class of every example; class as a categorical (N strings cost 100 MB)."""
    labels = np.asarray(study.labels).astype(np.int64)
    return {"id": np.asarray(study.ids), "label": labels,
            "class": pd.Categorical.from_codes(labels, categories=study.class_names)}


# --------------------------------------------------------------------------- writing


def format_of(path: Path, fmt: str | None = None) -> str:
    """``fmt`` if given, else the format the suffix of ``path`` names; EasinessError otherwise."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise EasinessError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
        return fmt
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise EasinessError(f"cannot tell the format of {path.name!r} from its suffix; "
                            f"name it .csv, .npz or .parquet, or give --format")
    return suffix


def parquet_engine() -> str | None:
    """The installed parquet engine pandas can use (pyarrow, then fastparquet), or None."""
    for name in ("pyarrow", "fastparquet"):
        try:
            __import__(name)
        except ImportError:
            continue
        return name
    return None


def require_parquet() -> str:
    """The parquet engine; EasinessError saying how to install one when there is none."""
    engine = parquet_engine()
    if engine is None:
        raise EasinessError(f"parquet needs pyarrow, which is not installed: {PARQUET_HINT} "
                            "(or use csv or npz)")
    return engine


def check_destination(path: Path, fmt: str | None = None) -> str:
    """The format to write ``path`` in (``fmt``, else from the suffix); refuses before any work a
    missing folder, a folder as the file, an unknown format and parquet without an engine."""
    if not path.parent.is_dir():
        if path.parent.exists():
            raise EasinessError(f"{path.parent} is a file, not a folder; give another --out")
        raise EasinessError(f"the folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise EasinessError(f"{path} is a folder; give a file name")
    fmt = format_of(path, fmt)
    if fmt == "parquet":
        require_parquet()
    return fmt


def write_table(frame: pd.DataFrame, path: str | os.PathLike, fmt: str) -> None:
    """Write ``frame`` to ``path`` in ``fmt``, atomically: a temp file in the same folder is
    renamed over ``path`` only when complete, so an existing file is never half-overwritten."""
    path = Path(path)
    writer = _WRITERS[check_destination(path, fmt)]
    try:
        atomic.write_atomic(path, lambda f: writer(frame, f))
    except OSError as e:  # a full or read-only disk: one line naming the file (not its temp file)
        from easiness.cli import os_error_line

        raise EasinessError(os_error_line(OSError(e.errno, e.strerror or str(e), str(path)))) from None


def _write_csv(frame: pd.DataFrame, f: BinaryIO) -> None:
    frame.to_csv(f, index=False, mode="wb", encoding="utf-8")


def _write_parquet(frame: pd.DataFrame, f: BinaryIO) -> None:
    frame.to_parquet(f, index=False, engine=require_parquet())


def _write_npz(frame: pd.DataFrame, f: BinaryIO) -> None:
    np.savez_compressed(f, allow_pickle=False, **npz_arrays(frame))


def npz_arrays(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The columns as plain arrays: numbers and flags as they are, text (ids, class names) as
    fixed-width unicode, so the file loads with ``allow_pickle=False``."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        plain = pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype)
        out[str(name)] = column.to_numpy() if plain else column.to_numpy(dtype=str)
    return out


_WRITERS: dict[str, Callable[[pd.DataFrame, BinaryIO], None]] = {
    "csv": _write_csv, "npz": _write_npz, "parquet": _write_parquet,
}


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """``frame`` as UTF-8 CSV bytes (the app's download)."""
    buffer = io.BytesIO()
    _write_csv(frame, buffer)
    return buffer.getvalue()


def describe(frame: pd.DataFrame, models: Sequence[str], columns: Sequence[str] | None = None) -> str:
    """``240 rows x 11 columns (id, label, class + easiness, rank, easy, hard of 2 models)``, the
    difficulty scores of ``frame.attrs["scores"]`` listed after those."""
    added = dict.fromkeys(n for names in frame.attrs.get("scores", {}).values() for n in names)
    scores = ", ".join([*(columns or COLUMNS), *added])
    plural = "s" if len(models) != 1 else ""
    return (f"{len(frame):,} rows x {len(frame.columns)} columns "
            f"(id, label, class + {scores} of {len(models)} model{plural})")
