"""Cached loaders: opened studies, and what pages derive from them per (study, model, T).

The chain is small: :func:`open_study` (``st.cache_resource``, keyed by the folder and a change
token of its ``study.json``) -> :func:`easiness` and :func:`masks` (``st.cache_resource``: ``[N]``
arrays shared read-only, never copied) -> small tables (``st.cache_data``). Arguments are strings,
numbers and :class:`Ref` (a few strings and ints): no big array is ever hashed as a key.

Committed loss rows never change, so (study, model, the runs averaged, checkpoint) names a
result for good; a study still being trained just adds keys. A run that finishes changes the
runs a model averages only if it was excluded before, which changes the key.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from easiness.analysis import distributions, ground_truth as truth
from easiness.analysis import images as imaging
from easiness.analysis import metrics
from easiness.store import Study
from easiness.ui import compute, roots


@dataclasses.dataclass(frozen=True)
class Ref:
    """One model of one study as a cache key: the folder, its change token, the model, its runs."""

    path: str
    token: tuple
    model: str
    runs: tuple[int, ...]


def study_token(path: Path) -> tuple:
    """What changes when ``study.json`` is replaced (a study deleted and created again)."""
    try:
        st_ = (Path(path) / "study.json").stat()
    except OSError:
        return ()
    return (st_.st_ino, st_.st_size, st_.st_mtime_ns)


@st.cache_resource(max_entries=16, show_spinner=False)
def _open(path: str, token: tuple) -> Study:
    # why within the parent: studies are opened only as folders of the runs root (roots.inside),
    # and nothing in them may lead out of it
    return Study.open(path, within=Path(path).parent)


def open_study(path: Path) -> Study:
    """The study in ``path`` (a folder of the runs root), opened once per change of its
    ``study.json``; StoreError if not."""
    return _open(str(path), study_token(path))


def ref(study: Study, model: str) -> Ref:
    """The cache key of ``model`` in ``study``."""
    return Ref(str(study.root), study_token(study.root), model, tuple(study.losses(model).runs))


def study_of(r: Ref) -> Study:
    """The opened study a :class:`Ref` points to."""
    return _open(r.path, r.token)


@st.cache_resource(max_entries=24, show_spinner=False)
def easiness(r: Ref, k: int) -> np.ndarray:
    """``[N]`` easiness at checkpoint ``k`` (read-only, shared)."""
    values = compute.easiness_at(study_of(r), r.model, k)
    values.setflags(write=False)
    return values


@st.cache_resource(max_entries=48, show_spinner=False)
def masks(r: Ref, k: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The easy and hard sets at ``k`` as ``[N]`` bool masks (read-only, shared)."""
    easy, hard = metrics.easy_hard_masks(easiness(r, k), fraction=fraction)
    easy.setflags(write=False)
    hard.setflags(write=False)
    return easy, hard


@st.cache_resource(max_entries=24, show_spinner=False)
def nonfinite(r: Ref, k: int) -> int:
    """How many examples have a NaN or infinite easiness at ``k`` (a run diverged on them)."""
    return int(np.count_nonzero(~np.isfinite(easiness(r, k))))


@st.cache_data(max_entries=16, show_spinner=False)
def ground_truth_problem(path: str, token: tuple) -> str | None:
    """Why the ground truth of the study at ``path`` cannot be shown (None if it can)."""
    return truth.problem(_open(path, token).extras)


@st.cache_data(ttl=3, show_spinner=False)
def listing(root: str) -> list[dict[str, Any]]:
    """The studies under the runs root (re-read at most every 3 s: opening every study to
    summarise it costs tens of milliseconds per rerun on big studies)."""
    return roots.studies(Path(root))


def members(study: Study, class_index: int | None) -> np.ndarray | None:
    """Example indices of one class, or None for all classes."""
    return None if class_index is None else np.flatnonzero(np.asarray(study.labels) == class_index)


@st.cache_data(max_entries=64, show_spinner=False)
def ranking(r: Ref, k: int, class_index: int | None, count: int, hardest: bool) -> np.ndarray:
    """The ``count`` easiest (hardest) example indices at ``k``, globally or in one class."""
    chosen = members(study_of(r), class_index)
    return metrics.ranked(easiness(r, k), count=count, hardest=hardest, members=chosen)


@st.cache_data(max_entries=64, show_spinner=False)
def histogram(r: Ref, k: int, class_index: int | None, fraction: float, bins: int = 60) -> dict[str, Any]:
    """Easiness histogram (numpy-aggregated) and the easy/hard thresholds, globally or per class."""
    values = easiness(r, k)
    chosen = members(study_of(r), class_index)
    if chosen is not None:
        values = values[chosen]
    counts, edges, log = distributions.display_histogram(values, bins=bins)
    easy_cut, hard_cut = distributions.thresholds(values, fraction=fraction)
    frame = pd.DataFrame({"from": edges[:-1], "to": edges[1:], "examples": counts})
    return {"bins": frame, "easy": easy_cut, "hard": hard_cut, "n": int(values.size), "log": log,
            "infinite": int(np.count_nonzero(~np.isfinite(values)))}


@st.cache_data(max_entries=64, show_spinner=False)
def class_mix(r: Ref, k: int, fraction: float) -> pd.DataFrame:
    """Per class: its share of all examples, of the easy set and of the hard set (long table)."""
    study = study_of(r)
    labels = np.asarray(study.labels)
    easy, hard = masks(r, k, fraction)
    rows = []
    for name, chosen in (("all examples", slice(None)), ("easy set", easy), ("hard set", hard)):
        counts = np.bincount(labels[chosen], minlength=study.num_classes)
        rows.append(pd.DataFrame({"class": study.class_names, "set": name,
                                  "share": counts / max(counts.sum(), 1), "examples": counts}))
    return pd.concat(rows, ignore_index=True)


@st.cache_data(max_entries=32, show_spinner=False)
def example_losses(r: Ref, index: int, count: int) -> np.ndarray:
    """``[M, C]`` losses of example ``index`` in every run (``count`` = C, part of the key)."""
    return compute.example_losses(study_of(r), r.model, index)[:, :count]


@st.cache_data(max_entries=32, show_spinner=False)
def find_example(path: str, token: tuple, example_id: str) -> int | None:
    """The index of the example called ``example_id`` in the study at ``path``."""
    return compute.find_example(np.asarray(_open(path, token).ids), example_id)


@st.cache_data(max_entries=32, show_spinner=False)
def averaged(r: Ref, k: int, class_index: int, fraction: float) -> dict[str, Any]:
    """Fig. 2: the averaged easy, random and hard images of one class, and their contrast."""
    study = study_of(r)
    out = imaging.averaged_images(study.images, easiness(r, k), np.asarray(study.labels),
                                  class_index=class_index, fraction=fraction)
    return {name: {"image": out[name], "count": int(out[f"{name}_indices"].size),
                   "contrast": imaging.contrast(out[name])} for name in ("easy", "random", "hard")}


@st.cache_data(max_entries=16, show_spinner=False)
def curves(refs: tuple[Ref, ...], ks: tuple[tuple[int, ...], ...], fraction: float) -> dict[tuple[str, str], dict]:
    """Fig. 3 rates for every pair of the models in ``refs``, the j-th checkpoint of each in
    ``ks`` (one tuple per model, at the same epochs) compared (the sets of each checkpoint are
    computed, compared and dropped: only the rates are kept)."""
    study = study_of(refs[0])
    return metrics.matching_curves({r.model: study.losses(r.model) for r in refs}, fraction=fraction,
                                   checkpoints={r.model: list(k) for r, k in zip(refs, ks)}, nan_hardest=True)


@st.cache_data(max_entries=32, show_spinner=False)
def beginning_end(r: Ref, last: int, fraction: float) -> dict[str, float]:
    """Table 1 for one model: easy (hard) set at the first vs at the last checkpoint ``last``."""
    first, end = masks(r, 0, fraction), masks(r, last, fraction)
    return {"easy": metrics.mask_matching_rate(first[0], end[0]), "hard": metrics.mask_matching_rate(first[1], end[1])}


@st.cache_data(max_entries=32, show_spinner=False)
def model_matrix(refs: tuple[Ref, ...], k: int, fraction: float) -> dict[str, np.ndarray]:
    """Matching rates between the models' easy (hard) sets at ``k``."""
    return metrics.mask_matching_matrices({r.model: masks(r, k, fraction) for r in refs})


@st.cache_data(max_entries=32, show_spinner=False)
def run_matrix(r: Ref, k: int, fraction: float) -> dict[str, np.ndarray]:
    """Matching rates between single runs' easy (hard) sets at ``k``."""
    return metrics.between_runs(study_of(r).losses(r.model), fraction=fraction, checkpoint=k, nan_hardest=True)


@st.cache_data(max_entries=16, show_spinner=False)
def ground_truth(r: Ref, k: int, fraction: float, ks: tuple[int, ...]) -> dict[str, Any] | None:
    """Synthetic ground truth at ``k``: per group its easiness summary and its share of the
    easy and hard sets; and each group's mean easiness over the checkpoints ``ks``."""
    study = study_of(r)
    groups = truth.groups(study.extras)
    if groups is None:
        return None
    codes, names = groups
    summary = pd.DataFrame(distributions.summary_by_group(easiness(r, k), codes))
    summary.insert(0, "group", [names[g] for g in summary.pop("group")])
    shares = truth.shares(codes, len(names), masks(r, k, fraction))
    means = compute.group_means(study, r.model, codes, len(names), ks)
    return {"names": names, "summary": summary, "shares": shares, "means": means}
