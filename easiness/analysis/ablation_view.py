"""Ablation results for the app's Ablation page: find, read, aggregate, chart and read out
(numpy, pandas and altair; no Streamlit, no TensorFlow).

An ablation folder is what ``python -m easiness.ablate`` writes (``ablation.json``,
``ablation.csv``, ``kept/``...). The chart is Fig. 4 of arXiv:1911.10739: test accuracy against
the removed fraction, one curve per strategy, the mean over seeds with +-1 standard deviation as
error bars, every curve starting at the full-data point, and random removal as the dashed
baseline. An ablation may hold curves of several scores (``--score``: easiness stepwise, EL2N
top-k, forgetting top-k...), drawn together against the one random baseline. The read-out is :func:`easiness.analysis.ablation.readout`: how many extra randomly chosen
examples each point is worth, and what scoring cost against what the smaller dataset saves.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import altair as alt
import pandas as pd

from easiness.analysis import ablation
from easiness.analysis.ablation_folder import CSV_FILE, JSON_FILE
STRATEGY_ORDER = ["full", "easy", "hard", "random", "stepwise", "easy-topk", "hard-topk"]
STRATEGY_COLOURS = ["#6c757d", "#2a9d8f", "#e76f51", "#264653", "#e9c46a", "#8ab17d", "#b5179e"]
OTHER_COLOURS = ["#4361ee", "#f3722c", "#7209b7", "#90be6d", "#f94144", "#577590", "#f9844a", "#43aa8b"]


@dataclasses.dataclass(frozen=True)
class Loaded:
    """One ablation folder as read now."""

    path: Path
    meta: dict[str, Any]  # ablation.json: settings, requested points, costs, read-out
    rows: list[dict[str, Any]]  # ablation.csv, typed (easiness.analysis.ablation.parse_rows)

    @property
    def requested(self) -> int:
        """Points the last command asked for: a full point plus strategies x fractions, per seed."""
        asked = self.meta.get("requested", {})
        per_seed = 1 + len(asked.get("strategies", [])) * len(asked.get("fractions", []))
        return per_seed * len(asked.get("seeds", []))


def list_ablations(root: str | os.PathLike) -> list[dict[str, Any]]:
    """Every subfolder of ``root`` holding an ablation.json: name, path, study, model, points.
    Never raises (an unreadable folder gets its problem instead)."""
    folder = Path(root)
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(p for p in folder.iterdir() if p.is_dir() and (p / JSON_FILE).is_file()):
        entry = {"name": path.name, "path": str(path), "study": "", "model": "", "points": 0, "problem": None}
        try:
            loaded = load(path)
            entry.update(study=Path(loaded.meta.get("study", "")).name,
                         model=loaded.meta.get("settings", {}).get("model", ""), points=len(loaded.rows))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:  # whatever damaged files hold
            entry["problem"] = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        found.append(entry)
    return found


def load(path: str | os.PathLike) -> Loaded:
    """Read ``path``'s ablation.json and ablation.csv (no rows yet: an empty list)."""
    folder = Path(path)
    meta = json.loads((folder / JSON_FILE).read_text())
    if not isinstance(meta, dict):
        raise ValueError(f"{JSON_FILE} is not a JSON object")
    csv = folder / CSV_FILE
    rows = ablation.parse_rows(csv.read_text()) if csv.is_file() else []
    return Loaded(folder, meta, rows)


def aggregate(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per (strategy, fraction): the mean over seeds and +-1 std, ready to chart.

    The ``full`` point (nothing removed) is repeated at the start of every curve. Columns:
    curve (the strategy, ``... by <score>`` for scores other than easiness), strategy, score,
    target_fraction, removed_fraction, kept, accuracy, std, low, high, seeds.
    """
    columns = ["curve", "strategy", "score", "target_fraction", "removed_fraction", "kept", "accuracy", "std", "seeds"]
    frame = pd.DataFrame([{"curve": s["curve"], "strategy": s["strategy"], "score": s["score"],
                           "target_fraction": s["target_fraction"], "removed_fraction": s["removed_fraction"],
                           "kept": s["kept"], "accuracy": s["accuracy_mean"], "std": s["accuracy_std"],
                           "seeds": s["seeds"]} for s in ablation.summarise(rows)], columns=columns)
    full = frame[frame["curve"] == ablation.FULL]
    curves = frame[frame["curve"] != ablation.FULL].drop_duplicates("curve")
    starts = [full.assign(curve=c.curve, strategy=c.strategy, score=c.score) for c in curves.itertuples()]
    frame = pd.concat([frame, *starts], ignore_index=True) if starts else frame
    frame = frame.assign(low=frame["accuracy"] - frame["std"], high=frame["accuracy"] + frame["std"])
    return frame.sort_values(["curve", "removed_fraction"], ignore_index=True)


def curve_colours(curves: Sequence[str]) -> tuple[list[str], list[str]]:
    """(domain, colours) of the curves: the easiness strategies first in their fixed colours, then
    the other scores' curves in name order."""
    known = [s for s in STRATEGY_ORDER if s in curves]
    others = sorted(c for c in set(curves) if c not in STRATEGY_ORDER)
    colours = [STRATEGY_COLOURS[STRATEGY_ORDER.index(s)] for s in known]
    colours += [OTHER_COLOURS[i % len(OTHER_COLOURS)] for i in range(len(others))]
    return known + others, colours


def chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Fig. 4: test accuracy against the removed fraction, per strategy, with error bars
    (+-1 std over seeds) and random removal dashed. frame: :func:`aggregate`'s table."""
    domain, colours = curve_colours(list(frame["curve"].unique()))
    colour = alt.Color("curve:N", title="removed", sort=domain, scale=alt.Scale(domain=domain, range=colours),
                       legend=alt.Legend(labelLimit=220))
    x = alt.X("removed_fraction:Q", title="fraction of the training set removed", axis=fraction_axis(frame))
    tooltip = [alt.Tooltip("curve:N", title="removed"), alt.Tooltip("removed_fraction:Q", format=".1%", title="removed share"),
               alt.Tooltip("kept:Q", format=",.0f"), alt.Tooltip("accuracy:Q", format=".4f", title="test accuracy"),
               alt.Tooltip("std:Q", format=".4f"), "seeds"]
    base = alt.Chart(frame[frame["curve"] != ablation.FULL])
    lines = base.mark_line(point=True).encode(
        x=x, y=alt.Y("accuracy:Q", title="test accuracy (mean over seeds)", scale=alt.Scale(zero=False)),
        color=colour, tooltip=tooltip,
        strokeDash=alt.condition(alt.datum.strategy == "random", alt.value([6, 4]), alt.value([1, 0])))
    bars = base.mark_errorbar(ticks=True).encode(x=x, y=alt.Y("low:Q", title=""), y2="high:Q", color=colour)
    full = frame[frame["curve"] == ablation.FULL]
    rule = alt.Chart(full).mark_rule(color="#6c757d", strokeDash=[2, 2]).encode(
        y="accuracy:Q", tooltip=[alt.Tooltip("accuracy:Q", format=".4f", title="full data")])
    return (bars + lines + rule).properties(height=360)


def fraction_axis(frame: pd.DataFrame) -> alt.Axis:
    """The x axis with a tick at every fraction measured (0 included) and no other: the points
    sit on labelled ticks, e.g. 0%, 10%, 30%, 50% rather than every 4%."""
    ticks = sorted({round(float(v), 4) for v in frame["removed_fraction"]})
    whole = all(abs(t * 100 - round(t * 100)) < 1e-6 for t in ticks)
    return alt.Axis(values=ticks, format=".0%" if whole else ".1%")


def readout_table(loaded: Loaded) -> pd.DataFrame:
    """The read-out as a display table: one line per strategy and fraction (``full`` first)."""
    costs = loaded.meta.get("costs")
    entries = ablation.readout(ablation.summarise(loaded.rows), costs=costs)
    order = {s: i for i, s in enumerate(STRATEGY_ORDER)}
    other = {r["score"] for r in entries} - {"", ablation.DEFAULT_SCORE}  # easiness and the baselines first
    entries.sort(key=lambda r: (r["score"] in other, r["score"] if r["score"] in other else "",
                                order.get(r["strategy"], 99), r["target_fraction"]))
    return pd.DataFrame({
        "strategy": [r["curve"] for r in entries],
        "removed": [r["removed_fraction"] for r in entries],
        "kept": [round(r["kept"]) for r in entries],
        "test accuracy": [r["accuracy_mean"] for r in entries],
        "± std": [r["accuracy_std"] for r in entries],
        "seeds": [r["seeds"] for r in entries],
        "vs random": [r["vs_random"] for r in entries],
        "worth (random examples)": [r["worth"] for r in entries],
        "break-even trainings": [_break_even(r) for r in entries],
        "note": [r["note"] for r in entries],
    })


READOUT_FORMATS = {"removed": "{:.1%}", "test accuracy": "{:.4f}", "± std": "{:.4f}", "vs random": "{:+.4f}",
                   "worth (random examples)": "{:+,.0f}", "break-even trainings": "{:.1f}"}


def styled_readout(table: pd.DataFrame) -> "pd.io.formats.style.Styler":
    """:func:`readout_table` for display: numbers formatted, and a missing value (no random
    point to compare with, no scoring cost) an empty cell rather than "None"; the note says why."""
    return table.style.format({k: v for k, v in READOUT_FORMATS.items() if k in table}, na_rep="")


def _break_even(entry: Mapping[str, Any]) -> float:
    """Trainings on the subset that pay for the scoring (NaN where nothing was scored)."""
    if not entry.get("scoring_cost"):
        return math.nan
    return entry.get("break_even", math.nan)


def ledger_text(loaded: Loaded) -> str:
    """The cost ledger in words (example-passes = examples x epochs)."""
    costs = loaded.meta.get("costs")
    if not costs:
        return "No cost figures recorded."
    stepwise = costs.get("stepwise") or []
    text = (f"Scoring the study (M runs up to T) cost {costs['scoring']:,.0f} example-passes"
            + (f"; stepwise re-scoring adds {', '.join(f'{c:,.0f}' for c in stepwise)} for steps "
               f"1..{len(stepwise)}" if stepwise else "")
            + f". Every retraining runs {costs['epochs']} epochs, so removing R examples saves "
              f"{costs['epochs']} × R example-passes per training; the break-even column is how many trainings "
              "on the smaller set pay back the scoring.")
    return text


def summary_line(loaded: Loaded) -> str:
    """One line: the study, model, T, settings and how many points are done."""
    s = loaded.meta.get("settings", {})
    used = sorted({r["score"] for r in loaded.rows if r["score"]}) or [loaded.meta.get("requested", {}).get(
        "score", ablation.DEFAULT_SCORE)]
    return (f"{Path(loaded.meta.get('study', '')).name} · {s.get('model')} · T = {s.get('checkpoint')} · "
            f"removal by {', '.join(used)} · "
            f"{s.get('retrain', {}).get('epochs')} epochs per retraining · "
            f"{'class-balanced · ' if s.get('balanced') else ''}easy weighting {s.get('easy_weighting')} · "
            f"{len(loaded.rows)} of {loaded.requested} points done")
