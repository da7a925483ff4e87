"""The view-choosing widgets the pages share, each bound to a URL query parameter.

``study`` and ``model`` live in the sidebar; a page's own choices (checkpoint ``t``, ``class``,
fraction ``frac``) sit at the top of the page. A page that needs a study calls
:func:`study_and_model`, which stops the page with a pointer to the start page when there is
nothing to show, and lists in the sidebar what is wrong with the chosen study (runs that cannot
be read, runs whose checkpoints disagree, unusable ground truth); :func:`checkpoint` says how
many examples have a NaN or infinite loss at T. Every text names files relative to the runs root.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import streamlit as st

from easiness.analysis import checkpoints
from easiness.store import StoreError, Study
from easiness.ui import cache, compute, navigation, roots, urlstate

ALL_CLASSES = "all classes"
DEFAULT_PERCENT = 10  # the paper's easy/hard share


@dataclasses.dataclass(frozen=True)
class View:
    """What a page shows: checkpoint ``k`` (0-based), the class (None = all), the fraction."""

    k: int
    checkpoint: dict
    class_index: int | None
    fraction: float


def runs_root() -> Path:
    """The runs root of this server (``--runs`` after ``--``, $EASINESS_RUNS, or ./runs).

    Every page starts by asking for it, so this is also where a page run without the app's
    frame is sent back through it (:func:`navigation.ensure_frame`)."""
    navigation.ensure_frame()
    return roots.runs_root(sys.argv[1:], os.environ)


def choose_study(root: Path) -> Study | None:
    """Sidebar: the study, chosen from the listing of ``root``; None when none can be opened.

    A link naming a study that cannot be opened falls back to a readable one without problems
    if there is one (never to an unreadable one), with a notice saying what is wrong with it."""
    entries = cache.listing(str(root))
    names = roots.readable(entries)
    if not names:
        _unreadable_link(entries)
        urlstate.forget("study")
        return None
    with st.sidebar:
        name = urlstate.select("Study", names, key="study", default=roots.default_study(entries), what="the study",
                               parse=str, help=f"Studies under {roots.describe_root(root)}",
                               explain=lambda asked: roots.unreadable_reason(entries, asked))
    return open_listed(root, name)


def open_listed(root: Path, name: str) -> Study | None:
    """The listed study ``name``; None, with a notice naming the reason, if it cannot be opened
    (the listing may be seconds old: the study may have been damaged since)."""
    path = roots.inside(root, name)
    try:
        return cache.open_study(path) if path is not None else None
    except (StoreError, OSError) as e:
        st.warning(f"{name} cannot be opened: {roots.redact(e, root)}", icon=":material/warning:")
        return None


def _unreadable_link(entries: list[dict]) -> None:
    """With no readable study at all, say why the study a link asks for cannot be opened."""
    asked = st.query_params.get("study")
    reason = roots.unreadable_reason(entries, asked) if asked else None
    if reason:
        st.warning(f"The link asks for the study {asked!r}, which {reason}.", icon=":material/warning:")


def choose_model(study: Study) -> str | None:
    """Sidebar: the model, among those of ``study`` with at least one completed checkpoint."""
    names = [m for m in study.models if study.checkpoints(m)]
    if not names:
        urlstate.forget("model")
        return None
    with st.sidebar:
        model = urlstate.select("Model", names, key="model", default=names[0], what="the model", parse=str)
        dataset = roots.redact(study.dataset, study.root.parent)  # a spec may name a folder: folder:/data/...
        st.caption(f"{dataset} · N = {study.n:,} · {study.num_classes} classes · {study.status}")
    return model


def study_and_model() -> tuple[Study, str]:
    """The chosen study and model; stops the page with an explanation when there are none."""
    root = runs_root()
    study = choose_study(root)
    if study is None:
        st.info(f"No readable study under {roots.describe_root(root)} yet: create one on the start page.")
        st.page_link("pages/start.py", label="Go to the start page", icon=":material/home:")
        st.stop()
    problems = study_problems(root, study)
    for problem in problems:
        st.sidebar.warning(problem, icon=":material/warning:")
    model = choose_model(study)
    if model is None:
        why = "see the notices in the sidebar" if problems else "this page fills in once the first epoch is scored"
        st.info(f"{study.root.name} has no model with a completed checkpoint yet ({study.status}); {why}.")
        st.stop()
    return study, model


def study_problems(root: Path, study: Study) -> list[str]:
    """What is wrong with ``study``, one line each, paths relative to the runs root: runs that
    cannot be read, models whose runs planned other checkpoints, unusable ground truth."""
    lines = [*study.problems, *compute.plan_conflicts(study)]
    ground_truth = cache.ground_truth_problem(str(study.root), cache.study_token(study.root))
    if ground_truth:
        lines.append(ground_truth)
    return [roots.redact(line, root) for line in lines]


def nonfinite_notice(study: Study, models: list[str], k: int) -> None:
    """A notice per model with NaN or infinite losses at checkpoint ``k`` (counted as hardest)."""
    for model in models:
        count = cache.nonfinite(cache.ref(study, model), k)
        if count:
            st.warning(f"{model}: {count:,} of {study.n:,} examples have a NaN or infinite loss at T = {k + 1} in "
                       "at least one run (a diverged run?); they count as the hardest.", icon=":material/warning:")


def checkpoint(study: Study, models: list[str]) -> tuple[int, dict]:
    """Slider for T (1-based in the URL as ``t``), over the checkpoints every model in ``models``
    has; returns (0-based index, that checkpoint's ``{"epoch", "step"}``)."""
    plans = [study.checkpoints(m) for m in models]
    count = min(len(p) for p in plans)
    t = urlstate.int_slider("Checkpoint T", 1, count, key="t", default=count, what="checkpoint",
                            help="T: the scoring checkpoint (one per epoch unless --score-every was set)")
    point = plans[0][t - 1]
    st.caption(f"T = {t} of {count}: epoch {point['epoch']:g}, {point['step']:,} updates")
    apart = checkpoints.mismatch({m: plan[t - 1]["epoch"] for m, plan in zip(models, plans)}, t)
    if apart:
        st.warning(apart[0].upper() + apart[1:] + ".")
    nonfinite_notice(study, models, t - 1)
    return t - 1, point


def class_choice(study: Study, *, allow_all: bool) -> int | None:
    """Select a class by name (``class`` in the URL); None means all classes."""
    names = ([ALL_CLASSES] if allow_all else []) + study.class_names
    chosen = urlstate.select("Class", names, key="class", default=names[0], what="the class", parse=str)
    return None if chosen == ALL_CLASSES else study.class_names.index(chosen)


def fraction() -> float:
    """Slider for the easy/hard share in percent (``frac`` in the URL)."""
    percent = urlstate.int_slider("Easy / hard share (%)", 1, 50, key="frac", default=DEFAULT_PERCENT,
                                  what="share", help="the paper uses the 10% lowest and highest easiness")
    return percent / 100


def view(study: Study, model: str, *, classes: str = "any") -> View:
    """A row of the page's own choices: checkpoint, class, fraction. ``classes``: "any" (all
    classes or one), "one" (a class must be chosen) or "none" (no class choice)."""
    left, middle, right = st.columns([2, 1, 1])
    with left:
        k, point = checkpoint(study, [model])
    class_index = None
    if classes != "none":
        with middle:
            class_index = class_choice(study, allow_all=classes == "any")
    with right:
        share = fraction()
    return View(k=k, checkpoint=point, class_index=class_index, fraction=share)


def points(count: int, *, default: int) -> int:
    """How many checkpoints a curve over training is computed at (``points`` in the URL)."""
    options = sorted({p for p in (5, 10, 20, 50, 100, 200) if p < count} | {min(default, count), count})
    chosen = min(default, count)
    return urlstate.select("Points on the curves", options, key="points", default=chosen,
                           what="number of points", parse=int,
                           format_func=lambda p: f"all {p}" if p == count else str(p),
                           help="each point reads every run's losses at one checkpoint")
