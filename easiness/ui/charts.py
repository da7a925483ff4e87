"""Altair charts of small, already aggregated tables (one row per mark, never one per example)."""

from __future__ import annotations

import altair as alt
import pandas as pd

SETS = ["easy", "hard"]
SET_COLOURS = ["#2a9d8f", "#e76f51"]
SPLITS = ["train", "test"]
SPLIT_COLOURS = ["#1d4e89", "#f4a261"]  # dark blue, light orange: apart in colour and in lightness
SPLIT_DASHES = [[1, 0], [6, 4]]  # train solid, test dashed


def _epoch_axis() -> alt.X:
    """Epochs on the x axis, ticks on whole epochs."""
    return alt.X("epoch:Q", title="epoch", axis=alt.Axis(tickMinStep=1, format="~g"))


def accuracy(frame: pd.DataFrame) -> alt.LayerChart:
    """Train and test accuracy over epochs, one line per run and split: the split sets colour and
    line style (train solid, test dashed; one legend), the run the points' shape.
    frame: epoch, run, split, accuracy."""
    base = alt.Chart(frame).encode(
        x=_epoch_axis(),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(zero=False)),
        color=alt.Color("split:N", title="split", scale=alt.Scale(domain=SPLITS, range=SPLIT_COLOURS),
                        legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=2.5, symbolSize=300)),
        tooltip=["run", "split", "epoch", alt.Tooltip("accuracy:Q", format=".3f")])
    lines = base.mark_line(opacity=0.85).encode(
        strokeDash=alt.StrokeDash("split:N", title="split", scale=alt.Scale(domain=SPLITS, range=SPLIT_DASHES),
                                  legend=alt.Legend(symbolType="stroke", symbolStrokeWidth=2.5, symbolSize=300)),
        detail="run:N")
    points = base.mark_point(filled=True, size=45).encode(shape=alt.Shape("run:N", title="run"))
    return (lines + points).properties(height=280)


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
        color=alt.Color("pair:N", title="models", legend=alt.Legend(orient="bottom", columns=2, labelLimit=400)),
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


def score_matrix(frame: pd.DataFrame, *, title: str, diverging: bool) -> alt.LayerChart:
    """A score-by-score heat map with the values written in: Spearman's rho on a diverging
    scale (-1..1) or a matching rate (0..1). frame: a, b, value."""
    axis = alt.Axis(labelAngle=-35, labelLimit=140, title=None)
    scale = alt.Scale(domain=[-1, 1], scheme="redblue") if diverging else alt.Scale(domain=[0, 1], scheme="blues")
    base = alt.Chart(frame).encode(x=alt.X("a:N", sort=None, axis=axis),
                                   y=alt.Y("b:N", sort=None, axis=alt.Axis(labelLimit=140, title=None)))
    cells = base.mark_rect().encode(color=alt.Color("value:Q", scale=scale, title=title),
                                    tooltip=["a", "b", alt.Tooltip("value:Q", format=".3f", title=title)])
    dark = (alt.datum.value > 0.6) | (alt.datum.value < -0.6) if diverging else alt.datum.value > 0.6
    text = base.mark_text(fontSize=11).encode(text=alt.Text("value:Q", format=".2f"),
                                              color=alt.condition(dark, alt.value("white"), alt.value("black")))
    step = max(32, min(64, 420 // max(frame["a"].nunique(), 1)))
    return (cells + text).properties(width=alt.Step(step), height=alt.Step(step))


def data_map(bins: pd.DataFrame, points: pd.DataFrame, colour: str) -> alt.LayerChart:
    """Data map (Swayamdipta et al. 2020): confidence against variability. ``bins`` (x0, x1, y0,
    y1, examples) shade where all examples lie; ``points`` (id, class, confidence, variability,
    ``colour``) are a sample to hover and pick (selection ``pick``, by id)."""
    x_title, y_title = "variability (std of the true-class probability)", "confidence (mean true-class probability)"
    x = alt.X("variability:Q", title=x_title)
    y = alt.Y("confidence:Q", title=y_title, scale=alt.Scale(domain=[0, 1]))
    shade = alt.Chart(bins).mark_rect(color="#adb5bd").encode(
        x=alt.X("x0:Q", title=x_title), x2="x1:Q", y=alt.Y("y0:Q", title=y_title, scale=alt.Scale(domain=[0, 1])),
        y2="y1:Q",
        opacity=alt.Opacity("examples:Q", scale=alt.Scale(type="log", range=[0.1, 0.6]), legend=None),
        tooltip=[alt.Tooltip("examples:Q", format=",", title="examples in this cell")])
    pick = alt.selection_point(name="pick", fields=["id"], on="click")
    scheme = "redyellowgreen" if colour == "correctness" else "yelloworangered"
    dots = alt.Chart(points).mark_circle(size=22).encode(
        x=x, y=y, color=alt.Color(f"{colour}:Q", scale=alt.Scale(scheme=scheme), title=colour),
        opacity=alt.condition(pick, alt.value(0.85), alt.value(0.3)),
        tooltip=["id", "class", alt.Tooltip("confidence:Q", format=".3f"),
                 alt.Tooltip("variability:Q", format=".3f"), alt.Tooltip(f"{colour}:Q", format=".3f")],
    ).add_params(pick)
    return (shade + dots).properties(height=380)


def stability(measured: pd.DataFrame, predicted: pd.DataFrame, target: float) -> alt.LayerChart:
    """Split-half rho per score against runs averaged (points, +-1 std over the splits) and
    Spearman-Brown's prediction (dashed), with the target as a rule.
    measured: score, m, rho, low, high; predicted: score, n, rho."""
    x = alt.X("runs:Q", title="runs averaged in each (measured: the two halves; dashed: predicted)",
              axis=alt.Axis(tickMinStep=1))
    y = alt.Y("rho:Q", title="rho of two independent averages", scale=alt.Scale(domain=[-0.1, 1]))
    colour = alt.Color("score:N", title="score")
    dots = alt.Chart(measured.rename(columns={"m": "runs"})).mark_point(filled=True, size=50).encode(
        x=x, y=y, color=colour, tooltip=["score", "runs", alt.Tooltip("rho:Q", format=".3f")])
    bars = alt.Chart(measured.rename(columns={"m": "runs"})).mark_errorbar().encode(
        x=x, y=alt.Y("low:Q", title=""), y2="high:Q", color=colour)
    lines = alt.Chart(predicted.rename(columns={"n": "runs"})).mark_line(strokeDash=[5, 3], opacity=0.7).encode(
        x=x, y=y, color=colour, tooltip=["score", "runs", alt.Tooltip("rho:Q", format=".3f", title="predicted")])
    rule = alt.Chart(pd.DataFrame({"target": [target]})).mark_rule(color="grey", strokeDash=[2, 2]).encode(
        y="target:Q", tooltip=[alt.Tooltip("target:Q", title="target")])
    return (lines + bars + dots + rule).properties(height=320)
