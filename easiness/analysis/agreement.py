"""Does another per-example score agree with easiness? Score files, the id join, Spearman's rank
correlation and the matching rates of the easy and hard tails.

Shared by ``python -m easiness.compare`` and the app's "Compare scores" page. Numpy and pandas
only; no TensorFlow, no scipy.

**Score files** (:func:`read_scores`): CSV, NPZ or parquet with one row per example, keyed by an
``id`` column (NPZ: an ``id`` or ``ids`` array) and one or more numeric score columns. Ids must
be unique. NaN scores (an example a method could not score) are dropped and counted.

**The join** (:func:`join`): a score id joins the study example whose id equals it; failing that,
the study example whose id *ends with* it on a ``/`` boundary: a score id of d ``/``-separated
parts matches the last d parts of a longer study id, so ``horse/0042.jpg`` joins the folder id
``train/horse/0042.jpg``, and so does ``0042.jpg`` if no other class has a ``0042.jpg``. A suffix
that several study ids share is ambiguous and refused, as are two score ids that join one example.
Ids that join nothing are counted (both ways), never silently dropped.

**Agreement** (:func:`agreement`): among the joined examples only, the score is oriented so low
means easy (negated under ``higher_is_easier``); Spearman's rho of easiness against it (+1 = the
same order), and the matching rate (Eq. 2 of arXiv:1911.10739) of the ``fraction`` lowest easiness
with the ``fraction`` lowest oriented score (easy tails) and of the highest with the highest (hard
tails). The sets are taken among the K joined examples, so chance is ``set size / K``.
"""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Mapping, Sequence

import numpy as np
import pandas as pd

from easiness.analysis import metrics, tables
from easiness.errors import EasinessError
from easiness.analysis.ranks import average_ranks, spearman  # noqa: F401 (part of this module's API)
from easiness.store import Study

SCORE_FORMATS = ("csv", "npz", "parquet")
ID_COLUMNS = ("id", "ids")


# --------------------------------------------------------------------------- reading score files


@dataclasses.dataclass(frozen=True)
class ScoreFile:
    """A score file read whole: ``[R]`` ids and its columns, numeric ones as ``[R]`` float64."""

    name: str  # for messages
    ids: np.ndarray  # [R] str (object array), unique
    numeric: dict[str, np.ndarray]  # column -> [R] float64
    other: tuple[str, ...]  # columns that are not numeric (text, booleans, ...)

    def column(self, name: str | None) -> tuple[str, np.ndarray]:
        """(name, [R] values) of the score column ``name``, or of the only numeric column."""
        if name is None:
            return self._only_column()
        if name in self.numeric:
            return name, self.numeric[name]
        if name in self.other:
            raise EasinessError(f"column {name!r} of {self.name} is not numeric; numeric columns: {self._listing()}")
        raise EasinessError(f"{self.name} has no column {name!r}; numeric columns: {self._listing()}")

    def _only_column(self) -> tuple[str, np.ndarray]:
        if len(self.numeric) == 1:
            return next(iter(self.numeric.items()))
        if not self.numeric:
            raise EasinessError(f"{self.name} has no numeric score column besides the ids")
        raise EasinessError(f"{self.name} has several numeric columns ({self._listing()}); choose one with --column")

    def _listing(self) -> str:
        return ", ".join(self.numeric) or "none"


def score_format(name: str) -> str:
    """csv, npz or parquet, from a file name's suffix; EasinessError otherwise."""
    suffix = Path(name).suffix.lower().lstrip(".")
    if suffix not in SCORE_FORMATS:
        raise EasinessError(f"cannot read {name!r}: score files are .csv, .npz or .parquet")
    return suffix


def read_scores(source: str | os.PathLike | bytes, *, name: str | None = None) -> ScoreFile:
    """Read a score file from a path, or from ``bytes`` (an upload) named ``name``."""
    label = name or str(source)
    fmt = score_format(label)
    if not isinstance(source, bytes) and os.path.exists(source) and not os.path.isfile(source) \
            and not os.path.isdir(source):  # why: opening a FIFO would wait for a writer forever
        raise EasinessError(f"score file {label} is not a regular file")
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    except FileNotFoundError:
        raise EasinessError(f"score file {label} does not exist") from None
    except OSError as e:
        raise EasinessError(f"cannot read score file {label} ({e.strerror or e})") from None
    with stream:
        frame = _READERS[fmt](stream, label)
    return _score_file(frame, label)


def _read_csv(stream: BinaryIO, label: str) -> dict[str, np.ndarray]:
    try:
        frame = pd.read_csv(stream, dtype={c: str for c in ID_COLUMNS})
    except pd.errors.EmptyDataError:
        raise EasinessError(f"score file {label} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as e:
        raise EasinessError(f"score file {label} is not a readable CSV ({_one_line(e)})") from None
    return {str(c): frame[c].to_numpy() for c in frame.columns}


def _read_parquet(stream: BinaryIO, label: str) -> dict[str, np.ndarray]:
    engine = tables.require_parquet()
    try:
        frame = pd.read_parquet(stream, engine=engine)
    except Exception as e:  # why broad: each engine raises its own types for a corrupt file
        raise EasinessError(f"score file {label} is not a readable parquet file ({_one_line(e)})") from None
    return {str(c): frame[c].to_numpy() for c in frame.columns}


def _read_npz(stream: BinaryIO, label: str) -> dict[str, np.ndarray]:
    try:
        with np.load(stream, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:  # pickled objects, garbage, truncation
        if stream.seek(0, 2) == 0:
            raise EasinessError(f"score file {label} is empty") from None
        raise EasinessError(f"score file {label} is not a readable .npz of plain arrays ({_one_line(e)})") from None


_READERS = {"csv": _read_csv, "npz": _read_npz, "parquet": _read_parquet}


def _one_line(error: BaseException) -> str:
    from easiness.cli import clean

    return clean(str(error), "the file")[:200]


def _score_file(columns: Mapping[str, np.ndarray], label: str) -> ScoreFile:
    """Split raw columns into ids, numeric scores and the rest; check ids."""
    key = next((c for c in ID_COLUMNS if c in columns), None)
    if key is None:
        raise EasinessError(f"score file {label} has no id column (columns: {', '.join(columns) or 'none'}); "
                            "name the example ids 'id'")
    ids = _ids(columns[key], label)
    numeric, other = {}, []
    for name, values in columns.items():
        if name in ID_COLUMNS:
            continue
        if values.ndim != 1 or len(values) != len(ids):
            raise EasinessError(f"array {name!r} of {label} has shape {values.shape}, expected ({len(ids)},)")
        if values.dtype.kind in "iuf":  # why not "b": a flag such as easy_<model> is no score
            numeric[name] = values.astype(np.float64)
        else:
            other.append(name)
    return ScoreFile(label, ids, numeric, tuple(other))


def _ids(raw: np.ndarray, label: str) -> np.ndarray:
    """``[R]`` ids as an object array of str (a fixed-width unicode array would be as wide as the
    longest id, 4 bytes a character): non-empty, unique; bytes decoded as UTF-8."""
    if raw.ndim != 1 or raw.size == 0:
        raise EasinessError(f"score file {label} has no rows")
    if raw.dtype.kind == "S":
        raw = np.char.decode(raw, "utf-8")
    ids = pd.Series(raw, dtype=object)
    if ids.isna().any():
        raise EasinessError(f"score file {label} has {int(ids.isna().sum())} empty ids")
    ids = ids.map(str).to_numpy(dtype=object)
    repeated = pd.Series(ids).duplicated()
    if repeated.any():
        first = str(ids[np.flatnonzero(repeated.to_numpy())[0]])
        raise EasinessError(f"score file {label} repeats {int(repeated.sum())} ids (e.g. {first!r}); "
                            "every id must appear once")
    return ids


# --------------------------------------------------------------------------- the join


@dataclasses.dataclass(frozen=True)
class Joined:
    """A score column joined to a study: example indices ascending, their scores, the counts."""

    index: np.ndarray  # [K] int64 study example indices, ascending
    values: np.ndarray  # [K] float64 scores of those examples (no NaN)
    rows: int  # rows in the score file
    nan_dropped: int  # rows whose score is NaN (left out before joining)
    unmatched: int  # rows with a score whose id names no study example
    unscored: int  # study examples with no (non-NaN) score
    by_suffix: int  # joined through the suffix rule rather than an equal id

    def summary(self) -> str:
        """One line: what joined and what did not."""
        parts = [f"joined {self.index.size:,} of {self.rows:,} score rows"]
        if self.by_suffix:
            parts.append(f"{self.by_suffix:,} by id suffix")
        parts.append(f"{self.unmatched:,} score ids not in the study")
        parts.append(f"{self.unscored:,} study examples without a score")
        if self.nan_dropped:
            parts.append(f"{self.nan_dropped:,} NaN scores dropped")
        return "; ".join(parts)


def join(study_ids: np.ndarray, scores: ScoreFile, column: str | None = None) -> tuple[str, Joined]:
    """The chosen column of ``scores`` joined to the study's ``[N]`` ids (rule: module doc).

    Returns:
        (column name, :class:`Joined`); EasinessError when nothing joins or a join is ambiguous.
    """
    name, values = scores.column(column)
    keep = ~np.isnan(values)
    if not keep.any():
        raise EasinessError(f"column {name!r} of {scores.name} holds only NaN")
    ids = scores.ids[keep]
    where, by_suffix = match_ids(np.asarray(study_ids), ids)
    _refuse_double_joins(where, ids, study_ids)
    found = where >= 0
    if not found.any():
        raise EasinessError(f"none of the {ids.size:,} ids of {scores.name} names an example of the study "
                            f"(score ids look like {str(ids[0])!r}, study ids like {str(study_ids[0])!r})")
    order = np.argsort(where[found], kind="stable")
    index = where[found][order]
    joined = Joined(index=index, values=values[keep][found][order], rows=int(values.size),
                    nan_dropped=int((~keep).sum()), unmatched=int((~found).sum()),
                    unscored=int(len(study_ids) - index.size), by_suffix=by_suffix)
    return name, joined


def match_ids(study_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, int]:
    """For each of the ``[R]`` score ``ids``, the index of its study example or -1; and how many
    joined by suffix. EasinessError for a suffix several study ids share."""
    where = pd.Index(study_ids).get_indexer(ids).astype(np.int64)
    missing = np.flatnonzero(where < 0)
    if missing.size == 0:
        return where, 0
    parts = pd.Series(ids[missing], dtype=object).str.count("/").to_numpy() + 1
    for depth in np.unique(parts):
        rows = missing[parts == depth]
        where[rows] = _suffix_lookup(study_ids, ids[rows], int(depth))
    return where, int((where[missing] >= 0).sum())


def _suffix_lookup(study_ids: np.ndarray, ids: np.ndarray, depth: int) -> np.ndarray:
    """Study index of each id by the last ``depth`` parts of the longer study ids, or -1."""
    # why a regex: the suffix must start right after a "/", so "0042.jpg" never joins "10042.jpg"
    tails = pd.Series(study_ids, dtype=str).str.extract(rf"/((?:[^/]*/){{{depth - 1}}}[^/]*)$", expand=False)
    tails = tails.dropna()
    shared = tails[tails.duplicated(keep=False)]
    clash = np.isin(ids, shared.to_numpy())
    if clash.any():
        _ambiguous(ids[np.flatnonzero(clash)[0]], shared, study_ids)
    unique = tails.drop_duplicates(keep=False)  # shared suffixes no score id asked for
    return _lookup(pd.Series(unique.index.to_numpy(), index=unique.to_numpy()), ids)


def _lookup(table: pd.Series, ids: np.ndarray) -> np.ndarray:
    """``table[id]`` for each id (unique index), -1 where absent."""
    pos = pd.Index(table.index).get_indexer(ids)
    out = np.full(ids.size, -1, dtype=np.int64)
    out[pos >= 0] = table.to_numpy()[pos[pos >= 0]]
    return out


def _ambiguous(score_id: str, shared: pd.Series, study_ids: np.ndarray) -> None:
    """Refuse a score id that ends several study ids, naming two of them."""
    matches = [str(study_ids[i]) for i in shared[shared == score_id].index[:2]]
    raise EasinessError(f"score id {str(score_id)!r} ends {int((shared == score_id).sum())} study ids "
                        f"({matches[0]!r}, {matches[1]!r}, ...); give full ids")


def _refuse_double_joins(where: np.ndarray, ids: np.ndarray, study_ids: np.ndarray) -> None:
    """Two score ids (one full, one a suffix) that name the same example: refuse."""
    hits = where[where >= 0]
    repeated = pd.Series(hits).duplicated()
    if repeated.any():
        example = int(hits[np.flatnonzero(repeated.to_numpy())[0]])
        both = [str(i) for i in ids[where == example][:2]]
        raise EasinessError(f"score ids {both[0]!r} and {both[1]!r} both name the study example "
                            f"{str(study_ids[example])!r}")


# --------------------------------------------------------------------------- agreement


def agreement(easiness: np.ndarray, score: np.ndarray, *, fraction: float = 0.1,
              higher_is_easier: bool = False) -> dict[str, Any]:
    """How a score agrees with easiness on K examples (K >= 1).

    Args:
        easiness: ``[K]`` easiness (Eq. 1), low = easy, no NaN (inf ranks hardest).
        score: ``[K]`` the other score, no NaN.
        fraction: share of the K examples in each easy/hard set, in (0, 1).
        higher_is_easier: the score is easy at its high end (e.g. a confidence).

    Returns:
        {"n", "spearman" (of easiness and the oriented score; NaN if undefined), "easy_matching",
        "hard_matching", "set_size", "chance" (the matching rate of random sets)}.
    """
    oriented = -np.asarray(score, dtype=np.float64) if higher_is_easier else np.asarray(score, dtype=np.float64)
    easy_e, hard_e = metrics.easy_hard(easiness, fraction=fraction)
    easy_s, hard_s = metrics.easy_hard(oriented, fraction=fraction)
    k = int(easiness.size)
    return {"n": k, "spearman": spearman(easiness, oriented),
            "easy_matching": metrics.matching_rate(easy_e, easy_s),
            "hard_matching": metrics.matching_rate(hard_e, hard_s),
            "set_size": int(easy_e.size), "chance": metrics.chance_matching_rate(easy_e.size, easy_e.size, k)}


def compare(study: Study, joined: Joined, *, models: Sequence[str], k: int, fraction: float = 0.1,
            higher_is_easier: bool = False, runs: Mapping[str, Sequence[int]] | None = None,
            ) -> dict[str, dict[str, Any]]:
    """:func:`agreement` of each model's easiness at checkpoint ``k`` (0-based) with the joined
    scores: ``{model: {...}}``; ``runs``: model -> the runs averaged (default: the study's default runs)."""
    return {model: agreement(tables.model_easiness(study, model, k, None if runs is None else runs.get(model))
                             [joined.index], joined.values,
                             fraction=fraction, higher_is_easier=higher_is_easier)
            for model in models}
