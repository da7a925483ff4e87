"""Blocks of the "Compare scores" page: another per-example score (uploaded, or a file under the
runs root) against easiness: a scatter, Spearman's rho over training, and the matching rates of
the easy and hard tails (definitions and the id join in :mod:`easiness.analysis.agreement`).

Score files are offered from two folders only, the chosen study's folder and the runs root (top
level, ``.csv``/``.npz``/``.parquet``); a name from the URL is looked up in that listing and never
joined onto a path as given. Parsed files and joins are cached by a key naming the file and its
version (or the upload), never by hashing their arrays.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from easiness.analysis import agreement, checkpoints
from easiness.errors import EasinessError
from easiness.store import Study
from easiness.ui import cache, roots, urlstate

SCATTER_POINTS = 2_000  # points drawn at most: a uniform sample of the joined examples
POINT_BUDGET = 15_000_000  # losses read for the Spearman curve's default resolution (as Fig. 3's)
EASIER = ("lower", "higher")


# --------------------------------------------------------------------------- where scores come from


@dataclasses.dataclass(frozen=True)
class Source:
    """A score file to read: ``key`` names its content for the caches; ``data`` is a path or bytes."""

    key: str
    name: str
    data: Any  # Path or bytes


def score_files(root: Path, study: Study) -> list[str]:
    """Score files in the study's folder and the runs root, as names relative to the root."""
    base = root.resolve()
    names = []
    for folder in (Path(study.root).resolve(), base):
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if _is_score_file(path, base):
                names.append(path.relative_to(base).as_posix() if path.parent != base else path.name)
    return list(dict.fromkeys(names))


def _is_score_file(path: Path, base: Path) -> bool:
    """A visible .csv/.npz/.parquet file that resolves inside the runs root."""
    if path.name.startswith(".") or path.suffix.lower().lstrip(".") not in agreement.SCORE_FORMATS:
        return False
    return path.is_file() and path.resolve().is_relative_to(base)


def score_path(root: Path, name: str, listing: list[str]) -> Path | None:
    """The file a listed ``name`` stands for, still inside ``root``; None otherwise."""
    if name not in listing:
        return None
    path = (root.resolve() / name).resolve()
    return path if path.is_relative_to(root.resolve()) and path.is_file() else None


def choose_source(root: Path, study: Study) -> Source | None:
    """An uploaded file (it wins; it cannot be in a link), else a listed file (``scores`` in the URL)."""
    upload = st.file_uploader("Upload a score file", type=list(agreement.SCORE_FORMATS), key="upload",
                              help="a table keyed by 'id' with a numeric score column")
    listing = score_files(root, study)
    if upload is not None:
        urlstate.forget("scores")
        st.caption("An uploaded file is not part of the page's link; put it in the study's folder to share the view.")
        return Source(f"upload:{upload.file_id}", upload.name, upload.getvalue())
    if not listing:
        urlstate.forget("scores")
        return None
    name = urlstate.select("Score file", listing, key="scores", default=listing[0], what="the score file",
                           parse=str, help=f"files in {study.root.name}/ and in the runs root")
    path = score_path(root, name, listing)
    if path is None:
        return None
    stat = path.stat()
    return Source(f"file:{name}:{stat.st_mtime_ns}:{stat.st_size}", name, path)


# --------------------------------------------------------------------------- cached steps


@st.cache_resource(max_entries=8, show_spinner="Reading the score file...")
def scores(key: str, _source: Source) -> agreement.ScoreFile:
    """The parsed score file named by ``key`` (read once per version)."""
    return agreement.read_scores(_source.data, name=_source.name)


@st.cache_resource(max_entries=8, show_spinner=False)
def joined(path: str, token: tuple, key: str, column: str, _study: Study, _source: Source) -> agreement.Joined:
    """The score ``column`` joined to the study at ``path`` (same for every model)."""
    return agreement.join(np.asarray(_study.ids), scores(key, _source), column)[1]


def _oriented(values: np.ndarray, higher: bool) -> np.ndarray:
    return -values if higher else values


@st.cache_data(max_entries=32, show_spinner=False)
def rates(refs: tuple[cache.Ref, ...], k: int, key: str, column: str, higher: bool, fraction: float,
          _join: agreement.Joined) -> pd.DataFrame:
    """One row per model: n, Spearman, easy and hard matching rates, chance (as the CLI)."""
    rows = []
    for r in refs:
        result = agreement.agreement(cache.easiness(r, k)[_join.index], _join.values, fraction=fraction,
                                     higher_is_easier=higher)
        rows.append({"model": r.model, **result})
    return pd.DataFrame(rows)


@st.cache_data(max_entries=32, show_spinner="Correlating at every checkpoint...")
def spearman_curve(r: cache.Ref, ks: tuple[int, ...], epochs: tuple[float, ...], key: str, column: str,
                   higher: bool, _join: agreement.Joined) -> pd.DataFrame:
    """Spearman's rho of easiness and the oriented score at each checkpoint in ``ks``."""
    score = _oriented(_join.values, higher)
    rho = [agreement.spearman(cache.easiness(r, k)[_join.index], score) for k in ks]
    return pd.DataFrame({"epoch": epochs, "spearman": rho})


@st.cache_data(max_entries=32, show_spinner=False)
def scatter_points(r: cache.Ref, k: int, key: str, column: str, fraction: float,
                   _study: Study, _join: agreement.Joined) -> pd.DataFrame:
    """At most :data:`SCATTER_POINTS` joined examples (a fixed uniform sample): id, class,
    easiness, score, and which easiness set (over all examples) each is in."""
    values = cache.easiness(r, k)
    easy, hard = cache.masks(r, k, fraction)
    pick = sample(_join.index.size, SCATTER_POINTS)
    index = _join.index[pick]
    labels = np.asarray(_study.labels)[index]
    group = np.where(easy[index], "easy set", np.where(hard[index], "hard set", "neither"))
    return pd.DataFrame({"id": np.asarray(_study.ids)[index].astype(str),
                         "class": np.asarray(_study.class_names)[labels], "easiness": values[index],
                         "score": _join.values[pick], "set": group})


def sample(n: int, count: int) -> np.ndarray:
    """Sorted positions of a fixed uniform sample of ``count`` of ``n`` (all when n <= count)."""
    if n <= count:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, size=count, replace=False))


# --------------------------------------------------------------------------- the page's blocks


def load(study: Study, source: Source) -> agreement.ScoreFile:
    """The parsed score file; stops the page with the one-line reason when it cannot be read."""
    try:
        return scores(source.key, source)
    except EasinessError as e:
        st.error(roots.redact(e, study.root.parent), icon=":material/error:")
        st.stop()


def choose_column(parsed: agreement.ScoreFile) -> str:
    """The score column (``column`` in the URL) among the numeric ones; stops when there is none."""
    options = list(parsed.numeric)
    if not options:
        st.error(f"{parsed.name} has no numeric score column besides the ids.", icon=":material/error:")
        st.stop()
    return urlstate.select("Score column", options, key="column", default=options[0], what="the column", parse=str)


def choose_easier() -> bool:
    """Which end of the score is easy (``easier`` in the URL); True for "higher"."""
    chosen = urlstate.select("Easy end of the score", list(EASIER), key="easier", default="lower",
                             what="the easy end", parse=str, format_func=lambda e: f"{e} = easier",
                             help="easiness itself is low for easy examples; a confidence is high")
    return chosen == "higher"


def join(study: Study, source: Source, column: str) -> agreement.Joined:
    """The join of ``column`` with the study, its counts as a caption; stops on a bad join."""
    try:
        result = joined(str(study.root), cache.study_token(study.root), source.key, column, study, source)
    except EasinessError as e:
        st.error(roots.redact(e, study.root.parent), icon=":material/error:")
        st.stop()
    st.caption(result.summary())
    return result


def default_points(study: Study, model: str) -> int:
    """A curve resolution that keeps the first render near a second (as the matching page)."""
    return max(5, POINT_BUDGET // max(study.n * len(cache.ref(study, model).runs), 1))


def rates_table(study: Study, k: int, source: Source, column: str, higher: bool, fraction: float,
                result: agreement.Joined) -> None:
    """Per model with checkpoint T: joined n, Spearman and the tails' matching rates, chance."""
    refs = tuple(cache.ref(study, m) for m in study.models if len(study.checkpoints(m)) > k)
    frame = rates(refs, k, source.key, column, higher, fraction, result)
    frame = frame.rename(columns={"easy_matching": "easy matching", "hard_matching": "hard matching",
                                  "set_size": "set size"})
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("spearman", "easy matching", "hard matching", "chance")})
    st.caption(f"Sets: the {fraction:.0%} lowest (easy) and highest (hard) among the {result.index.size:,} "
               "joined examples, by easiness and by the score; chance = set size / joined examples.")


def scatter(study: Study, model: str, k: int, source: Source, column: str, higher: bool, fraction: float,
            result: agreement.Joined) -> None:
    """Easiness at T against the score, a bounded sample of points, ids on hover."""
    frame = scatter_points(cache.ref(study, model), k, source.key, column, fraction, study, result)
    st.altair_chart(scatter_chart(frame, column, higher), width="stretch")
    shown = f"a uniform sample of {len(frame):,} of" if len(frame) < result.index.size else "all"
    st.caption(f"{shown} {result.index.size:,} joined examples; colour: the example's easiness set at T.")


def curve(study: Study, model: str, points: int, source: Source, column: str, higher: bool,
          result: agreement.Joined) -> None:
    """Spearman's rho between easiness and the score at checkpoints spread over training."""
    plan = study.checkpoints(model)
    ks = tuple(checkpoints.spread(len(plan), points))
    epochs = tuple(float(plan[k]["epoch"]) for k in ks)
    frame = spearman_curve(cache.ref(study, model), ks, epochs, source.key, column, higher, result)
    st.altair_chart(spearman_chart(frame), width="stretch")
    st.caption(f"Computed at {len(ks)} of {len(plan)} checkpoints; +1: the score orders the examples as easiness does.")


# --------------------------------------------------------------------------- charts


def _log_helps(values: pd.Series) -> bool:
    """Log scale when the values are positive and span more than two decades."""
    finite = values[np.isfinite(values)]
    return bool(len(finite)) and finite.min() > 0 and finite.max() / finite.min() > 100


def _axis(field: str, title: str, values: pd.Series) -> dict[str, Any]:
    log = _log_helps(values)
    return {"field": field, "type": "quantitative", "title": title + (" (log scale)" if log else ""),
            "scale": alt.Scale(type="log") if log else alt.Scale(zero=False)}


def scatter_chart(frame: pd.DataFrame, column: str, higher: bool) -> alt.Chart:
    """Points of easiness (x) against the score (y). frame: id, class, easiness, score, set."""
    frame = frame[np.isfinite(frame["easiness"]) & np.isfinite(frame["score"])]
    x = _axis("easiness", "easiness at T (low = easy)", frame["easiness"])
    y = _axis("score", f"{column} ({'high' if higher else 'low'} = easy)", frame["score"])
    order = ["easy set", "neither", "hard set"]
    return alt.Chart(frame).mark_circle(size=18, opacity=0.6).encode(
        x=alt.X(**x), y=alt.Y(**y),
        color=alt.Color("set:N", sort=order, scale=alt.Scale(domain=order, range=["#2a9d8f", "#adb5bd", "#e76f51"])),
        tooltip=["id", "class", alt.Tooltip("easiness:Q", format=".4g"), alt.Tooltip("score:Q", format=".4g")],
    ).properties(height=360)


def spearman_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Spearman's rho against epoch, with the no-correlation line. frame: epoch, spearman."""
    line = alt.Chart(frame).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="~g")),
        y=alt.Y("spearman:Q", title="Spearman's rho", scale=alt.Scale(domain=[-1, 1])),
        tooltip=["epoch", alt.Tooltip("spearman:Q", format=".3f")])
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(color="grey", strokeDash=[4, 4]).encode(y="zero:Q")
    return (line + zero).properties(height=260)

