"""Altair charts of small, already aggregated tables (one row per mark, never one per example)."""

from __future__ import annotations

import altair as alt
import pandas as pd

SETS = ["easy", "hard"]
SET_COLOURS = ["#2a9d8f", "#e76f51"]


def _epoch_axis() -> alt.X:
    """Epochs on the x axis, ticks on whole epochs."""
    return alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="~g"))


def accuracy(frame: pd.DataFrame) -> alt.Chart:
    """Train and test accuracy over epochs, one line per run and split.
    frame: epoch, run, split, accuracy."""
    return alt.Chart(frame).mark_line(point=True, opacity=0.8).encode(
        x=_epoch_axis(),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(zero=False)),
        color=alt.Color("run:N", title="run"),
        strokeDash=alt.StrokeDash("split:N", title="split", sort=["train", "test"]),
        tooltip=["run", "split", "epoch", alt.Tooltip("accuracy:Q", format=".3f")],
    ).properties(height=280)


def histogram(bins: pd.DataFrame, easy_cut: float, hard_cut: float, *, log: bool = False) -> alt.LayerChart:
    """Bars of a precomputed histogram with the easy and hard thresholds as rules; a log x axis
    when the bins are log-spaced. bins: from, to, examples."""
    title = "easiness (mean cross-entropy over runs; low = easy)" + (", log scale" if log else "")
    scale = alt.Scale(type="log") if log else alt.Scale()
    bars = alt.Chart(bins).mark_bar(color="#8d99ae").encode(
        x=alt.X("from:Q", title=title, scale=scale),
        x2="to:Q", y=alt.Y("examples:Q", title="examples"), y2=alt.Y2Datum(0),
        tooltip=[alt.Tooltip("from:Q", format=".3f"), alt.Tooltip("to:Q", format=".3f"), "examples"])
    low = float(bins["from"].iloc[0])
    cuts = pd.DataFrame({"threshold": [max(easy_cut, low) if log else easy_cut, hard_cut], "set": SETS})
    rules = alt.Chart(cuts).mark_rule(strokeWidth=2, strokeDash=[5, 3]).encode(
        x="threshold:Q", color=alt.Color("set:N", scale=alt.Scale(domain=SETS, range=SET_COLOURS), title="cut"),
        tooltip=["set", alt.Tooltip("threshold:Q", format=".4f")])
    return (bars + rules).properties(height=260)


def class_mix(frame: pd.DataFrame) -> alt.Chart:
    """Share of each class in all examples, the easy set and the hard set (grouped bars).
    frame: class, set, share, examples."""
    order = ["all examples", "easy set", "hard set"]
    return alt.Chart(frame).mark_bar().encode(
        y=alt.Y("class:N", title=None, sort=None),
        yOffset=alt.YOffset("set:N", sort=order),
        x=alt.X("share:Q", title="share of the set", axis=alt.Axis(format="%")),
        color=alt.Color("set:N", sort=order, scale=alt.Scale(domain=order, range=["#adb5bd"] + SET_COLOURS)),
        tooltip=["class", "set", "examples", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=max(160, 40 * frame["class"].nunique()))


def loss_curve(frame: pd.DataFrame) -> alt.Chart:
    """One example's loss over training, one line per run and the run mean (its easiness).
    frame: epoch, run, loss."""
    return alt.Chart(frame).mark_line(point=True).encode(
        x=_epoch_axis(), y=alt.Y("loss:Q", title="cross-entropy"),
        color=alt.Color("run:N", title="run"),
        size=alt.condition(alt.datum.run == "mean", alt.value(3.5), alt.value(1.2)),
        tooltip=["run", "epoch", alt.Tooltip("loss:Q", format=".4f")],
    ).properties(height=260)


def matching(frame: pd.DataFrame, chance: float) -> alt.LayerChart:
    """Fig. 3 for one kind of set: matching rate against epoch for every pair of models, with
    the chance line. frame: pair, epoch, rate."""
    lines = alt.Chart(frame).mark_line(point=True).encode(
        x=_epoch_axis(), y=alt.Y("rate:Q", title="matching rate", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("pair:N", title="models", legend=alt.Legend(labelLimit=220)),
        tooltip=["pair", "epoch", alt.Tooltip("rate:Q", format=".3f")])
    rule = alt.Chart(pd.DataFrame({"chance": [chance]})).mark_rule(color="grey", strokeDash=[4, 4]).encode(
        y="chance:Q", tooltip=[alt.Tooltip("chance:Q", format=".3f")])
    return (lines + rule).properties(height=260)


def matrix(frame: pd.DataFrame) -> alt.LayerChart:
    """A symmetric matching-rate matrix as a heat map with the values written in.
    frame: a, b, rate."""
    axis = alt.Axis(labelAngle=-35, labelLimit=140, title=None)
    base = alt.Chart(frame).encode(x=alt.X("a:N", sort=None, axis=axis),
                                   y=alt.Y("b:N", sort=None, axis=alt.Axis(labelLimit=140, title=None)))
    cells = base.mark_rect().encode(
        color=alt.Color("rate:Q", scale=alt.Scale(domain=[0, 1], scheme="blues"), title="rate"),
        tooltip=["a", "b", alt.Tooltip("rate:Q", format=".3f")])
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text("rate:Q", format=".2f"),
        color=alt.condition(alt.datum.rate > 0.6, alt.value("white"), alt.value("black")))
    step = max(28, min(64, 360 // max(frame["a"].nunique(), 1)))
    return (cells + text).properties(width=alt.Step(step), height=alt.Step(step))


def group_bars(frame: pd.DataFrame) -> alt.Chart:
    """Share of each ground-truth group in all examples, the easy set and the hard set.
    frame: group, set, share."""
    order = ["all examples", "easy set", "hard set"]
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X("group:N", title=None, sort=None), xOffset=alt.XOffset("set:N", sort=order),
        y=alt.Y("share:Q", title="share of the set", axis=alt.Axis(format="%")),
        color=alt.Color("set:N", sort=order, scale=alt.Scale(domain=order, range=["#adb5bd"] + SET_COLOURS)),
        tooltip=["group", "set", alt.Tooltip("share:Q", format=".1%")],
    ).properties(height=260)


def group_lines(frame: pd.DataFrame) -> alt.Chart:
    """Mean easiness of each ground-truth group over training. frame: epoch, group, easiness."""
    return alt.Chart(frame).mark_line(point=True).encode(
        x=_epoch_axis(), y=alt.Y("easiness:Q", title="mean easiness"),
        color=alt.Color("group:N", title="group", sort=None),
        tooltip=["group", "epoch", alt.Tooltip("easiness:Q", format=".3f")],
    ).properties(height=260)
