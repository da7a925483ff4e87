"""Ranks and Spearman's rank correlation, numpy only (no scipy, no pandas).

Shared by :mod:`easiness.analysis.agreement` (a score file against easiness), :mod:`easiness.analysis.stability`
(scores against each other and against themselves over runs) and :mod:`easiness.analysis.ablation`
(rank-normalised removal weights).
"""

from __future__ import annotations

import numpy as np


def average_ranks(values: np.ndarray) -> np.ndarray:
    """``[N]`` float64 ranks, 1 = lowest; tied values share the mean of their positions."""
    values = np.asarray(values)
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])  # first position of each tie group
    ends = np.r_[starts[1:], values.size]
    mean_rank = (starts + ends + 1) / 2.0  # mean of the 1-based positions starts+1 .. ends
    ranks = np.empty(values.size, dtype=np.float64)
    ranks[order] = np.repeat(mean_rank, ends - starts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two ``[N]`` arrays without NaN: the Pearson correlation of
    their average ranks. NaN when it is undefined (N < 2, or either array constant)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"spearman needs two 1-D arrays of one shape, got {a.shape} and {b.shape}")
    if np.isnan(a).any() or np.isnan(b).any():
        raise ValueError("spearman: the arrays contain NaN")
    return float(spearman_matrix(np.stack([a, b]))[0, 1])


def spearman_matrix(rows: np.ndarray) -> np.ndarray:
    """``[S, S]`` Spearman correlations between the ``S`` rows of ``[S, N]`` values (no NaN);
    NaN for a pair with a constant row; 1 on the diagonal of non-constant rows."""
    ranks = np.stack([average_ranks(r) for r in np.asarray(rows)]) if len(rows) else np.zeros((0, 0))
    ranks -= ranks.mean(axis=1, keepdims=True) if ranks.size else 0.0
    norms = np.sqrt((ranks * ranks).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (ranks @ ranks.T) / np.outer(norms, norms)
    out[np.outer(norms, norms) == 0] = np.nan
    return np.clip(out, -1.0, 1.0)
