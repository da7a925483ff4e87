"""Blocks of the "Scores" page: every difficulty score of one model (:mod:`easiness.analysis.scores`) at T,
how they agree (a heat map), the data map, how many runs each needs to be reproducible, the
hardest examples by each, and, on request, whether one model's scores predict another's.

The scores come from one streaming pass per (study, model, runs, T) (:func:`load`, cached as a
resource: ``[N]`` arrays shared read-only); everything charted is aggregated from them in
numpy (:mod:`easiness.ui.score_data`). A study written before margins and EL2N were recorded
gets a notice naming what is missing; the views its losses allow are still drawn.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from easiness.analysis import images as imaging
from easiness.analysis import score_cache, scores, stability
from easiness.errors import EasinessError
from easiness.store import Study
from easiness.analysis.study_scores import ScoreSet
from easiness.ui import cache, charts, roots, score_data, urlstate
from easiness.ui.examples import mosaic

SHOWN = 24  # hardest examples per score
PER_ROW = 3  # score mosaics side by side
TILES = 6  # tiles per mosaic row (4 rows of 6)
SPLITS = 6  # random splits of the runs per half-size (the library's default is 10)
ACROSS = ("hide", "show")


@st.cache_resource(max_entries=8, show_spinner="Computing every score over the checkpoints up to T...")
def _scores(r: cache.Ref, k: int) -> ScoreSet:
    return score_cache.page_view(cache.study_of(r), r.model, at=k, runs=r.runs)


def load(study: Study, model: str, k: int) -> ScoreSet:
    """The scores of ``model`` at ``k``; stops the page with the one-line reason if they fail."""
    try:
        return _scores(cache.ref(study, model), k)
    except EasinessError as e:
        st.error(roots.redact(e, study.root.parent), icon=":material/error:")
        st.stop()


def missing_notice(result: ScoreSet) -> None:
    """What an older study lacks, and how to get it (nothing when every score is there)."""
    if result.note:
        st.warning(f"Not every score can be shown: {result.note}.", icon=":material/info:")


# --------------------------------------------------------------------------- agreement


@st.cache_data(max_entries=32, show_spinner=False)
def _matrix(r: cache.Ref, k: int, which: str, fraction: float):
    return score_data.matrix_frame(_scores(r, k), which, fraction=fraction)


def agreement(study: Study, model: str, k: int, fraction: float) -> None:
    """The score-by-score heat map: rho, or the easy or hard sets' matching rate (``matrix`` in the URL)."""
    which = urlstate.select("Compare the scores by", list(score_data.MATRICES), key="matrix", default="spearman",
                            what="the comparison", parse=str,
                            help="Spearman's rho of the scores oriented so that +1 = the same order from easy to "
                                 "hard; or the matching rate of their easy (hard) sets of the chosen share")
    frame, chance = _matrix(cache.ref(study, model), k, which, fraction)
    if frame.empty:
        st.info("No score that ranks examples is available.")
        return
    st.altair_chart(charts.score_matrix(frame, title=which, diverging=which == "spearman"))
    if chance is None:
        st.caption("+1: two scores order the examples the same way from easy to hard (each score oriented by "
                   "which end is hard); 0: unrelated. never_learned is a flag, not a ranking, and is left out.")
    else:
        st.caption(f"Matching rate (Eq. 2) of the {fraction:.0%} easiest (hardest) examples by each score; "
                   f"chance = {chance:.3f}. Ties are taken by the lower example index.")


# --------------------------------------------------------------------------- the data map


@st.cache_data(max_entries=16, show_spinner=False)
def _data_map(r: cache.Ref, k: int) -> dict:
    study = cache.study_of(r)
    return score_data.data_map(_scores(r, k), ids=study.ids, labels=study.labels, class_names=study.class_names)


def data_map(study: Study, model: str, k: int) -> None:
    """Confidence against variability; clicking a point looks that example up below."""
    data = _data_map(cache.ref(study, model), k)
    event = st.altair_chart(charts.data_map(data["bins"], data["points"], data["colour"]), width="stretch",
                            on_select="rerun", key="datamap", selection_mode="pick")
    _follow_pick(event)
    shown = len(data["points"])
    st.caption(f"Shaded cells: all {study.n:,} examples; points: a uniform sample of {shown:,} to hover and click, "
               f"coloured by {data['colour']}. Top left: easy to learn; bottom left: hard to learn; right: "
               "ambiguous (Swayamdipta et al. 2020).")


def _follow_pick(event) -> None:
    """When a point is newly clicked, make it the example looked up below (``example`` in the URL)."""
    picked = (getattr(event, "selection", None) or {}).get("pick") or []
    chosen = str(picked[0].get("id")) if picked and picked[0].get("id") is not None else None
    if chosen and st.session_state.get("_picked_datamap") != chosen:
        st.session_state["example"] = chosen
    st.session_state["_picked_datamap"] = chosen


def example(study: Study, model: str, result: ScoreSet) -> None:
    """One example (clicked on the map or typed in): its image and every score with its rank."""
    r = cache.ref(study, model)
    example_id = urlstate.text("Example id", key="example", what="example id",
                               placeholder="click a point on the map, or type an id",
                               valid=lambda x: cache.find_example(r.path, r.token, x) is not None)
    index = cache.find_example(r.path, r.token, example_id) if example_id else None
    if index is None:
        return
    left, right = st.columns([1, 3])
    if study.images is not None:
        left.image(imaging.mosaic(np.asarray(study.images[index:index + 1]), columns=1,
                                  scale=max(1, 160 // study.images.shape[1])), output_format="PNG")
    left.markdown(f"**{study.ids[index]}** · label **{study.class_names[int(study.labels[index])]}**")
    right.dataframe(score_data.example_scores(result, index), hide_index=True, column_config={
        "value": st.column_config.NumberColumn(format="%.4g"),
        "harder than": st.column_config.NumberColumn(format="percent", help="share of examples it is harder than")})


# --------------------------------------------------------------------------- stability


@st.cache_data(max_entries=16, show_spinner="Splitting the runs in halves...")
def _stability(r: cache.Ref, k: int) -> dict:
    return score_data.stability_frames(_scores(r, k), splits=SPLITS)


def runs_needed(study: Study, model: str, k: int, result: ScoreSet) -> None:
    """Split-half rho against runs per half, Spearman-Brown beyond, the runs needed for 0.9."""
    if len(result.runs) < 2:
        st.info(f"{model} has one run: stability needs two runs to compare (the paper averages 10).")
        return
    frames = _stability(cache.ref(study, model), k)
    st.altair_chart(charts.stability(frames["measured"], frames["predicted"], stability.TARGET), width="stretch")
    summary = frames["summary"].rename(columns={"runs": "M", "m": "runs per half", "rho": "rho (halves)",
                                                "rho_all": f"rho of {len(result.runs)} runs", "runs_needed":
                                                f"runs for rho = {stability.TARGET}"})
    st.dataframe(summary, hide_index=True, column_config={
        c: st.column_config.NumberColumn(format="%.3f") for c in ("rho (halves)", f"rho of {len(result.runs)} runs")})
    sampled = result.sample.size if result.sample is not None else study.n
    st.caption(f"The {len(result.runs)} runs split at random into two disjoint halves ({SPLITS} splits per size, "
               f"{sampled:,} examples sampled); dashed: Spearman-Brown rho_k = k rho / (1 + (k-1) rho) from the "
               "largest half. Runs needed: the fewest runs whose averages two independent studies would "
               f"reproduce at rho = {stability.TARGET}.")


# --------------------------------------------------------------------------- hardest examples


def hardest(study: Study, model: str, result: ScoreSet) -> None:
    """The hardest examples by each ranking score, side by side."""
    names = stability.rankings(result.mean)
    for start in range(0, len(names), PER_ROW):
        for column, name in zip(st.columns(PER_ROW), names[start:start + PER_ROW]):
            with column:
                _hardest_of(study, result, name)


def _hardest_of(study: Study, result: ScoreSet, name: str) -> None:
    shown = score_data.hardest(result, name, SHOWN)
    st.markdown(f"**{name}** · {scores.SCORES[name].citation}")
    if study.images is not None:
        st.image(mosaic(study.images, shown, columns=TILES), output_format="PNG",
                 caption=f"{scores.SCORES[name].description}; hardest first")
    else:
        st.dataframe({"id": [str(i) for i in np.asarray(study.ids)[shown]],
                      name: result.mean[name][shown]}, hide_index=True, height=240)


# --------------------------------------------------------------------------- across models


def across_models(study: Study, model: str, k: int) -> None:
    """On request (``across`` in the URL): rho of each score between this model and the others."""
    others = [m for m in study.models if m != model and len(study.checkpoints(m)) > k]
    if not others:
        urlstate.forget("across")
        st.caption("The study has no other model with checkpoint T.")
        return
    show = urlstate.select("Compare with the other models", list(ACROSS), key="across", default="hide",
                           what="the choice", parse=str, help="one more pass over each other model's checkpoints")
    if show == "hide":
        return
    results = {m: load(study, m, k) for m in [model, *others]}
    frame = score_data.across_frame(results, model)
    st.dataframe(frame.pivot(index="score", columns="model", values="rho").reset_index(), hide_index=True)
    st.caption(f"Spearman's rho between {model}'s and each other model's value of the same score at T: "
               "does one architecture's hard set predict another's?")
