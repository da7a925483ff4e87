"""Do the difficulty scores agree with each other, and how many runs make one reproducible?

Numpy only. Inputs are the outputs of :mod:`easiness.analysis.study_scores`: per score, ``[N]`` run
averages or ``[M, N]`` per-run values, keyed by the score names of :mod:`easiness.analysis.scores`.

**Between scores** (:func:`correlations`, :func:`tail_matching`): each score is oriented with
:func:`easiness.analysis.scores.hardness` (higher = harder), so Spearman's rho is +1 when two scores order
the examples the same way from easy to hard, whichever end each calls hard. The matching rate
(Eq. 2 of arXiv:1911.10739) of their easy sets (the ``fraction`` least hard) and of their hard
sets (the most hard); ties are taken by the lower example index as in
:func:`easiness.analysis.metrics.easy_hard`, which makes the sets of scores with many ties (forgetting
counts, correctness) partly arbitrary. ``never_learned`` is a flag, not a ranking, and is left
out of these comparisons (:data:`RANKINGS`).

**Over runs** (:func:`split_half`, :func:`stability`): for each half-size m = 1..floor(M/2), the
M runs are split at random into two disjoint groups of m runs (``splits`` times); rho between
the two groups' averaged scores, averaged over the splits, is the reliability of an m-run score.
The Spearman-Brown formula rho_k = k rho / (1 + (k - 1) rho) predicts it for k times as many runs;
:func:`runs_needed` inverts it from the largest half (the most runs per half, the least noise)
to the runs whose average two independent studies would reproduce at rho = 0.9.

**Across models** (:func:`across_models`): rho between model A's and model B's values of each
score: does one architecture's forgetting predict another's?
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

from easiness.analysis import metrics, scores
from easiness.analysis.ranks import spearman, spearman_matrix

RANKINGS = tuple(n for n in scores.names() if n != "never_learned")  # scores that rank examples
TARGET = 0.9  # the reliability a score should reach
SPLITS = 10  # random splits of the runs per half-size


# --------------------------------------------------------------------------- between scores


def rankings(values: Mapping[str, np.ndarray]) -> list[str]:
    """The names in ``values`` that rank examples, in :data:`RANKINGS` order."""
    return [n for n in RANKINGS if n in values]


def _oriented(values: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """``[S, N]`` hardness (higher = harder) of the named scores; ValueError for NaN or shapes."""
    rows = [scores.hardness(n, _vector(values[n], n)) for n in names]
    if len({r.size for r in rows}) > 1:
        raise ValueError(f"every score must have the same length, got {', '.join(str(r.size) for r in rows)}")
    return np.stack(rows) if rows else np.zeros((0, 0))


def _vector(value: np.ndarray, name: str) -> np.ndarray:
    v = np.asarray(value, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or np.isnan(v).any():
        raise ValueError(f"score {name} must be a non-empty 1-D array without NaN, got shape {v.shape}")
    return v


def correlations(values: Mapping[str, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Spearman's rho between every pair of scores, oriented so +1 = same order of difficulty.

    Args:
        values: score name -> ``[N]`` values (run averages), one N for all.

    Returns:
        (names, ``[S, S]`` rho): the ranking scores of ``values``; NaN where a score is constant.
    """
    names = rankings(values)
    return names, spearman_matrix(_oriented(values, names))


def tail_matching(values: Mapping[str, np.ndarray], *, fraction: float = 0.1) -> dict[str, object]:
    """Matching rates (Eq. 2) of the scores' easy sets and of their hard sets.

    Returns:
        {"names", "easy": ``[S, S]``, "hard": ``[S, S]``, "set_size", "chance"}.
    """
    names = rankings(values)
    rows = _oriented(values, names)
    if not names:
        return {"names": [], "easy": np.zeros((0, 0)), "hard": np.zeros((0, 0)), "set_size": 0, "chance": math.nan}
    n = rows.shape[1]
    size = metrics.set_size(n, fraction=fraction)
    easy = np.stack([metrics.tail_mask(row, size, highest=False) for row in rows])
    hard = np.stack([metrics.tail_mask(row, size, highest=True) for row in rows])
    return {"names": names, "easy": _rates(easy, size), "hard": _rates(hard, size), "set_size": size,
            "chance": metrics.chance_matching_rate(size, size, n)}


def _rates(masks: np.ndarray, size: int) -> np.ndarray:
    """``[S, S]`` |A & B| / size of the ``[S, N]`` boolean sets (all of ``size`` members)."""
    m = masks.astype(np.float32)  # why float32: exact for counts below 2^24, half the memory
    return (m @ m.T).astype(np.float64) / size


# --------------------------------------------------------------------------- over runs


def spearman_brown(rho: float, k: float) -> float:
    """Reliability of a score averaged over k times as many runs: k rho / (1 + (k - 1) rho)."""
    if not k > 0:
        raise ValueError(f"k must be > 0, got {k}")
    if math.isnan(rho):
        return math.nan
    return k * rho / (1.0 + (k - 1.0) * rho)


def runs_needed(rho: float, m: int, *, target: float = TARGET) -> float:
    """The fewest runs n whose average two independent studies reproduce at rho >= ``target``,
    from ``rho`` between two independent m-run averages (Spearman-Brown inverted):
    k = target (1 - rho) / (rho (1 - target)), n = ceil(k m), at least 1.

    inf when ``rho`` <= 0 (more runs never help); NaN when ``rho`` is NaN.
    """
    if not 0 < target < 1 or m < 1:
        raise ValueError(f"target must lie in (0, 1) and m >= 1, got {target} and {m}")
    if math.isnan(rho):
        return math.nan
    if rho <= 0:
        return math.inf
    if rho >= 1:
        return 1.0
    k = target * (1.0 - rho) / (rho * (1.0 - target))
    return float(max(1, math.ceil(k * m - 1e-9)))


def split_half(per_run: np.ndarray, *, splits: int = SPLITS, seed: int = 0) -> list[dict[str, float]]:
    """Rho between two disjoint m-run averages for m = 1..floor(M/2) (none for M = 1).

    Args:
        per_run: ``[M, N]`` one score's values per run (no NaN).
        splits: random splits of the runs per m; the rho are averaged.
        seed: the splits drawn.

    Returns:
        one ``{"m", "rho", "std", "splits"}`` per m (std: over the splits).
    """
    values = np.asarray(per_run, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] < 2 or np.isnan(values).any():
        raise ValueError(f"per_run must be [M, N] with N >= 2 and no NaN, got shape {values.shape}")
    if splits < 1:
        raise ValueError(f"splits must be >= 1, got {splits}")
    rng = np.random.default_rng(seed)
    m_runs = values.shape[0]
    out = []
    for m in range(1, m_runs // 2 + 1):
        rhos = []
        for _ in range(splits):
            order = rng.permutation(m_runs)
            rhos.append(spearman(values[order[:m]].mean(axis=0), values[order[m:2 * m]].mean(axis=0)))
        rho = np.array(rhos)
        out.append({"m": m, "rho": float(rho.mean()), "std": float(rho.std()), "splits": splits})
    return out


def stability(per_run: Mapping[str, np.ndarray], *, splits: int = SPLITS, seed: int = 0,
              target: float = TARGET) -> dict[str, list[dict[str, object]]]:
    """:func:`split_half` of every ranking score, and its read-out.

    Returns:
        {"curve": one row per score and m (score, m, rho, std, splits), "summary": one row per
        score: runs (M), m (the largest half), rho (at that m), rho_all (predicted for two
        independent M-run averages), runs_needed (for ``target``), note}.
    """
    curve, summary = [], []
    for name in rankings(per_run):
        points = split_half(per_run[name], splits=splits, seed=seed)
        curve += [{"score": name, **p} for p in points]
        summary.append(_summary(name, points, int(np.asarray(per_run[name]).shape[0]), target))
    return {"curve": curve, "summary": summary}


def _summary(name: str, points: list[dict[str, float]], m_runs: int, target: float) -> dict[str, object]:
    """The read-out of one score's split-half curve."""
    if not points:
        return {"score": name, "runs": m_runs, "m": 0, "rho": math.nan, "rho_all": math.nan,
                "runs_needed": math.nan, "note": "one run: no two halves to compare"}
    last = points[-1]
    rho, m = float(last["rho"]), int(last["m"])
    note = "" if rho > 0 else "the halves do not agree: more runs will not make it reproducible"
    return {"score": name, "runs": m_runs, "m": m, "rho": rho, "rho_all": spearman_brown(rho, m_runs / m),
            "runs_needed": runs_needed(rho, m, target=target), "note": note}


def predicted(rho: float, m: int, runs: Sequence[int]) -> list[dict[str, float]]:
    """Spearman-Brown's prediction from ``rho`` at m runs per half, at each n in ``runs``."""
    return [{"n": int(n), "rho": spearman_brown(rho, n / m)} for n in runs]


# --------------------------------------------------------------------------- across models


def across_models(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Spearman's rho between two models' ``[N]`` values of each ranking score they both have
    (one orientation for both, so +1 = the same examples are hard for both)."""
    return {n: spearman(_vector(a[n], n), _vector(b[n], n)) for n in rankings(a) if n in b}
