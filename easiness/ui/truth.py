"""Blocks of the ground-truth page: in a synthetic study every example's appearance mode (the
majority mode of its class or a minority mode) and whether its label was flipped are known, so
the paper's bias hypothesis (the majority mode comes out easy, minority modes hard) can be
checked directly. Groups from :func:`easiness.analysis.ground_truth.groups`."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from easiness.analysis import checkpoints
from easiness.store import Study
from easiness.ui import cache, charts, tables
from easiness.ui.controls import View

CURVE_POINTS = 25  # checkpoints on the easiness-over-training curve


def has_ground_truth(study: Study) -> bool:
    """Whether the study knows each example's mode (synthetic studies do), usable or not (the
    sidebar names damaged ground truth, and :func:`summary` says it cannot be shown)."""
    return "mode" in study.extras


def explain_missing(study: Study) -> None:
    """Why the page is empty for this study."""
    st.info(f"{study.root.name} has no per-example ground truth: only studies of the synthetic dataset "
            "(`--dataset synthetic`) know which appearance mode each example has and which labels were flipped.")


def summary(study: Study, model: str, view: View) -> None:
    """Per group at T: count, mean and median easiness; and the group's share of each set."""
    problem = cache.ground_truth_problem(str(study.root), cache.study_token(study.root))
    if problem:
        st.warning(f"{study.root.name}: {problem}.", icon=":material/warning:")
        return
    r = cache.ref(study, model)
    count = len(study.checkpoints(model))
    ks = tuple(checkpoints.spread(count, CURVE_POINTS))
    data = cache.ground_truth(r, view.k, view.fraction, ks)
    left, right = st.columns(2)
    with left:
        st.markdown("**Easiness by group at T** (lower = easier)")
        st.dataframe(data["summary"], hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.4f") for c in ("mean", "median")})
        st.altair_chart(charts.group_bars(tables.group_shares(data["names"], data["shares"])), width="stretch")
    with right:
        st.markdown("**Mean easiness of each group over training**")
        epochs = [study.checkpoints(model)[k]["epoch"] for k in ks]
        st.altair_chart(charts.group_lines(tables.group_means(data["names"], data["means"], epochs)), width="stretch")
    _verdict(data["shares"], data["names"])


def _verdict(shares: dict, names: list[str]) -> None:
    """One sentence: which group the easy and the hard set over-represent most."""
    ratio = pd.DataFrame({k: shares[k] for k in ("all", "easy", "hard")}, index=names)
    ratio = ratio[ratio["all"] > 0]
    easy = (ratio["easy"] / ratio["all"]).idxmax()
    hard = (ratio["hard"] / ratio["all"]).idxmax()
    st.caption(f"The easy set over-represents **{easy}** most, the hard set **{hard}** "
               "(the bias hypothesis expects the majority mode to be easy, minority modes and flipped labels hard).")
