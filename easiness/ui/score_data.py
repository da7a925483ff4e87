"""The small tables behind the Scores page, built in numpy from a :class:`ScoreSet` (no
Streamlit, no TensorFlow): one row per chart mark, never one per example, so an ImageNet-sized
study (N = 1.28M) charts as fast as a small one.

* the score-by-score matrices (:func:`matrix_frame`): Spearman's rho (oriented, +1 = agree) or
  the matching rate of the easy or the hard sets (:mod:`easiness.analysis.stability`);
* the data map (:func:`data_map`; Swayamdipta et al. 2020): confidence against variability, all
  N examples as 2-D bins, a fixed uniform sample of them as points to hover and pick;
* the stability curves (:func:`stability_frames`): split-half rho per score against runs,
  Spearman-Brown's prediction beyond M, the runs needed for rho = 0.9;
* the hardest examples by each score (:func:`hardest`) and one example's scores (:func:`example_scores`).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from easiness.analysis import scores, stability
from easiness.analysis.score_cache import sample
from easiness.analysis.study_scores import ScoreSet

POINTS = 2_000  # data-map points drawn (the rest are in the bins)
BINS = 40  # data-map bins per axis
MATRICES = ("spearman", "easy matching", "hard matching")


# --------------------------------------------------------------------------- between scores


def matrix_frame(result: ScoreSet, which: str, *, fraction: float = 0.1) -> tuple[pd.DataFrame, float | None]:
    """(long table a, b, value of every pair of ranking scores; the chance rate for a matching
    matrix, None for rho). ``which``: one of :data:`MATRICES`."""
    if which == "spearman":
        names, values = stability.correlations(result.mean)
        chance = None
    else:
        out = stability.tail_matching(result.mean, fraction=fraction)
        names, values, chance = out["names"], out["easy" if which == "easy matching" else "hard"], out["chance"]
    rows = [{"a": a, "b": b, "value": float(values[i, j])} for i, a in enumerate(names) for j, b in enumerate(names)]
    return pd.DataFrame(rows, columns=["a", "b", "value"]), chance


# --------------------------------------------------------------------------- the data map


def data_map(result: ScoreSet, *, ids: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
             points: int = POINTS, bins: int = BINS) -> dict[str, pd.DataFrame | str]:
    """The data map of ``result``: ``bins`` (x0, x1, y0, y1, examples) of all N in variability
    (x) and confidence (y), and ``points`` (id, class, confidence, variability, colour) of a
    fixed uniform sample, coloured by correctness (or by easiness where margins are missing)."""
    x, y = result.mean["variability"], result.mean["confidence"]
    colour = "correctness" if "correctness" in result.mean else "easiness"
    counts, xe, ye = np.histogram2d(x, y, bins=bins, range=[[0, max(float(x.max()), 1e-9)], [0, 1]])
    i, j = np.nonzero(counts)
    grid = pd.DataFrame({"x0": xe[i], "x1": xe[i + 1], "y0": ye[j], "y1": ye[j + 1], "examples": counts[i, j]})
    pick = sample(x.size, points)
    label = np.asarray(labels)[pick].astype(np.int64)
    shown = pd.DataFrame({"id": np.asarray(ids)[pick].astype(str), "class": np.asarray(class_names)[label],
                          "confidence": y[pick], "variability": x[pick], colour: result.mean[colour][pick]})
    return {"bins": grid, "points": shown, "colour": colour}


# --------------------------------------------------------------------------- stability


def stability_frames(result: ScoreSet, *, splits: int = stability.SPLITS,
                     target: float = stability.TARGET) -> dict[str, pd.DataFrame]:
    """``measured`` (score, m, rho, low, high: +-1 std over splits), ``predicted`` (score, n,
    rho: Spearman-Brown from the largest half up to the runs needed or 2M, at most 100) and
    ``summary`` (one row per score) of the per-run values of ``result``."""
    out = stability.stability(result.per_run, splits=splits, target=target)
    measured = pd.DataFrame(out["curve"], columns=["score", "m", "rho", "std", "splits"])
    measured = measured.assign(low=measured["rho"] - measured["std"], high=measured["rho"] + measured["std"])
    predicted = []
    for row in out["summary"]:
        if row["m"] and row["rho"] > 0:
            upto = int(min(max(2 * row["runs"], row["runs_needed"]), 100))
            predicted += [{"score": row["score"], **p} for p in stability.predicted(row["rho"], row["m"],
                                                                                    range(1, upto + 1))]
    return {"measured": measured, "predicted": pd.DataFrame(predicted, columns=["score", "n", "rho"]),
            "summary": pd.DataFrame(out["summary"])}


# --------------------------------------------------------------------------- examples


def hardest(result: ScoreSet, name: str, count: int) -> np.ndarray:
    """Indices of the ``count`` hardest examples by score ``name``, hardest first; ties (a
    forgetting count, a never-learned flag) go to the higher easiness, then the lower index."""
    hard = scores.hardness(name, result.mean[name])
    tie = result.mean["easiness"] if "easiness" in result.mean else np.zeros(hard.size)
    count = min(count, hard.size)
    top = np.argpartition(-hard, count - 1)[:count] if count < hard.size else np.arange(hard.size)
    cut = hard[top].min()
    pool = np.flatnonzero(hard >= cut)  # every example tied at the cut competes on the tie rule
    order = np.lexsort((pool, -tie[pool], -hard[pool]))
    return pool[order][:count]


def example_scores(result: ScoreSet, index: int) -> pd.DataFrame:
    """One example: each score's value and the share of examples it is harder than."""
    rows = []
    for name, values in result.mean.items():
        hard = scores.hardness(name, values)
        rows.append({"score": name, "value": float(values[index]),
                     "harder than": float(np.count_nonzero(hard < hard[index]) / hard.size),
                     "hard when": scores.SCORES[name].hard_when})
    return pd.DataFrame(rows)


def across_frame(results: Mapping[str, ScoreSet], model: str) -> pd.DataFrame:
    """Spearman's rho of each score between ``model`` and every other model (score, model, rho)."""
    mine = results[model].mean
    rows = [{"score": name, "model": other, "rho": rho}
            for other, result in results.items() if other != model
            for name, rho in stability.across_models(mine, result.mean).items()]
    return pd.DataFrame(rows, columns=["score", "model", "rho"])
