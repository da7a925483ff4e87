"""Blocks of the matching-rates page: Fig. 3 curves, Table 1, and matrices over models and runs."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd
import streamlit as st

from easiness.analysis import checkpoints, metrics, report
from easiness.store import Study
from easiness.ui import cache, charts, tables

# Losses read for a curve's default resolution: each point reads M x N values per model, so a
# CIFAR-10 study (3 x 10 runs x 50,000) gets 10 points and an ImageNet one the minimum, 5.
POINT_BUDGET = 15_000_000
PAPER_TABLE_1 = "WRN 16-4 0.18 / 0.255, DenseNet-BC 12-100 0.24 / 0.279, ResNeXt 4-64d 0.129 / 0.174"


def scored_models(study: Study) -> list[str]:
    """The models with at least one completed checkpoint."""
    return [m for m in study.models if study.checkpoints(m)]


def common_count(study: Study, models: list[str]) -> int:
    """The epochs every one of ``models`` was scored at: the points Fig. 3 can draw."""
    return len(checkpoints.shared(study, models)[0])


def default_points(study: Study, models: list[str]) -> int:
    """A curve resolution that keeps the first render of the page near a second."""
    per_point = study.n * sum(len(cache.ref(study, m).runs) for m in models)
    return max(5, POINT_BUDGET // max(per_point, 1))


def chance(study: Study, fraction: float) -> float:
    """The expected matching rate of two random sets of this size (0.1 for two 10% sets)."""
    size = metrics.set_size(study.n, fraction=fraction)
    return metrics.chance_matching_rate(size, size, study.n)


def curves(study: Study, models: list[str], fraction: float, points: int) -> None:
    """Fig. 3: easy and hard matching rate of every pair of models against epoch."""
    epochs, at = checkpoints.shared(study, models)
    if not epochs:
        st.info(f"{', '.join(models)} were never scored at the same epoch, so there is no curve to draw "
                "(compare models scored every epoch, or with the same --score-every).")
        return
    picks = checkpoints.spread(len(epochs), points)
    ks = tuple(tuple(at[m][j] for j in picks) for m in models)
    rates = cache.curves(tuple(cache.ref(study, m) for m in models), ks, fraction)
    frame = tables.matching(rates, [epochs[j] for j in picks])
    for which in ("easy", "hard"):  # why stacked, full width: side by side, the legends left ~150 px of chart
        st.markdown(f"**{which} sets**")
        st.altair_chart(charts.matching(frame[frame["set"] == which], chance(study, fraction)), width="stretch")
    st.caption(f"Dashed line: chance ({chance(study, fraction):.3f}). Computed at {len(picks)} of the "
               f"{len(epochs)} epochs every model was scored.")
    below_chance_note(frame["rate"], chance(study, fraction), detail=_below_where(frame, chance(study, fraction)))


def table_1(study: Study, models: list[str], fraction: float) -> None:
    """Table 1: per model, how much of the easy (hard) set at the first checkpoint is still in
    it at the last."""
    rows = []
    for model in models:
        last = len(study.checkpoints(model)) - 1
        rates = cache.beginning_end(cache.ref(study, model), last, fraction)
        rows.append({"model": model, "checkpoints": last + 1, "easy: first vs last": rates["easy"],
                     "hard: first vs last": rates["hard"], "chance": chance(study, fraction)})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("easy: first vs last", "hard: first vs last", "chance")})
    st.caption(f"The paper (CIFAR-10, 300 epochs, easy / hard): {PAPER_TABLE_1}.")
    below_chance_note([r[c] for r in rows for c in ("easy: first vs last", "hard: first vs last")],
                      chance(study, fraction))


def model_matrices(study: Study, models: list[str], k: int, fraction: float) -> None:
    """Matching rates between every two models' easy (hard) sets at T."""
    rates = cache.model_matrix(tuple(cache.ref(study, m) for m in models), k, fraction)
    _matrices(models, rates)
    below_chance_note(off_diagonal(rates), chance(study, fraction))


def run_matrices(study: Study, model: str, k: int, fraction: float) -> None:
    """Matching rates between single runs of one model at T: how stable the sets are."""
    r = cache.ref(study, model)
    if len(r.runs) < 2:
        st.info(f"{model} has one run; stability across runs needs at least two.")
        return
    rates = cache.run_matrix(r, k, fraction)
    _matrices([f"run {i}" for i in r.runs], rates)
    st.caption(f"Mean over pairs of runs: easy {tables.off_diagonal_mean(rates['easy']):.3f}, "
               f"hard {tables.off_diagonal_mean(rates['hard']):.3f} (chance {chance(study, fraction):.3f}). "
               "Each run's sets come from its own loss (M = 1).")
    below_chance_note(off_diagonal(rates), chance(study, fraction))


def off_diagonal(rates: dict[str, np.ndarray]) -> np.ndarray:
    """The rates of distinct pairs in the easy and the hard matrix (the diagonal is 1)."""
    return np.concatenate([m[~np.eye(len(m), dtype=bool)] for m in (rates["easy"], rates["hard"])])


def below_chance(rates: Iterable[float], chance: float) -> bool:
    """Whether a rate shown is below chance."""
    values = np.asarray(list(rates), dtype=np.float64)
    return bool(np.any(values < chance))


def below_chance_note(rates: Iterable[float], chance: float, *, detail: str = "") -> None:
    """A short note under a chart or table with a rate below chance: what it means."""
    if below_chance(rates, chance):
        where = f" ({detail})" if detail else ""
        st.info(f"Some rates here are below chance ({chance:.3f}){where}: {report.BELOW_CHANCE}",
                icon=":material/info:")


def _below_where(frame: pd.DataFrame, chance: float, shown: int = 3) -> str:
    """The first few points of Fig. 3 below chance, e.g. "easy sets at epoch 1: 0.000"."""
    below = frame[frame["rate"] < chance].sort_values(["epoch", "set"])
    pairs = frame["pair"].nunique() > 1
    parts = [f"{row.pair + ', ' if pairs else ''}{row.set} sets at epoch {row.epoch:g}: {row.rate:.3f}"
             for row in below.head(shown).itertuples()]
    return "; ".join(parts) + ("; ..." if len(below) > shown else "")


def _matrices(names: list[str], rates: dict) -> None:
    """The easy and the hard matrix side by side."""
    for column, which in zip(st.columns(2), ("easy", "hard")):
        column.markdown(f"**{which} sets**")
        column.altair_chart(charts.matrix(tables.matrix(names, rates[which])))
