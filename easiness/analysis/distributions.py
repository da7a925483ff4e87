"""What a chart of easiness needs, aggregated in numpy so a page receives a few rows, not N:
the class mix of a set, the easy and hard cuts, histograms (log-spaced when losses pile up near
zero) and count/mean/median per group. Numpy only; conventions as in
:mod:`easiness.analysis.metrics`."""

from __future__ import annotations

from typing import Any

import numpy as np

from easiness.analysis.metrics import _easiness_vector, _fraction, _index_vector, _labels, _set_size

__all__ = ["class_mix", "display_histogram", "histogram", "summary_by_group", "thresholds"]


def class_mix(indices: Any, labels: Any, *, num_classes: int) -> np.ndarray:
    """How many examples of each class a set holds (duplicates counted as given).

    Args:
        indices: [K] integer example indices, e.g. an easy set.
        labels: [N] integer labels in [0, num_classes).
        num_classes: number of classes.

    Returns:
        [num_classes] int64 counts.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be a positive integer, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be a positive integer, got {num_classes}")
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {lab.shape}")
    lab = _labels(lab, n=lab.size)
    if lab.size and (lab.min() < 0 or lab.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes})")
    idx = _index_vector(indices, name="indices")
    if idx.size and (idx.min() < 0 or idx.max() >= lab.size):
        raise ValueError(f"indices must lie in [0, {lab.size})")
    return np.bincount(lab[idx], minlength=int(num_classes)).astype(np.int64)


def thresholds(easiness: np.ndarray, *, fraction: float = 0.1) -> tuple[float, float]:
    """Easiness values at the easy and the hard cut, to mark on a histogram.

    Returns:
        (largest easiness inside the easy set, smallest easiness inside the hard set).
    """
    values = _easiness_vector(easiness)
    k = _set_size(values.size, _fraction(fraction))
    ordered = np.sort(values)
    return float(ordered[k - 1]), float(ordered[values.size - k])


def histogram(easiness: np.ndarray, *, bins: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Histogram of easiness, aggregated in numpy so a chart receives ``bins`` rows, not N.

    Returns:
        (counts [bins] int64, edges [bins + 1] float64).
    """
    values = _easiness_vector(easiness)
    _bins(bins)
    if not np.isfinite(values).all():
        raise ValueError("easiness must be finite to build a histogram")
    return _histogram(values, int(bins))


def display_histogram(easiness: np.ndarray, *, bins: int = 50) -> tuple[np.ndarray, np.ndarray, bool]:
    """:func:`histogram` for a chart of losses that may pile up near zero (late in training):
    log-spaced bins when the finite values span more than two decades; the flag says which.

    Infinite values (a diverged run's, see ``nan_hardest``) are left out; on log bins, values
    below the first edge (zeros included) count in the first bin.

    Returns:
        (counts [bins] int64, edges [bins + 1] float64, log-spaced?).
    """
    values = _easiness_vector(easiness)
    _bins(bins)
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    floor = max(high * 1e-6, 1e-12)
    if not (high > 0 and high / max(low, floor) > 100):
        return (*_histogram(finite if finite.size else np.zeros(1), int(bins)), False)
    edges = np.geomspace(max(low, floor), high, int(bins) + 1)
    counts, _ = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
    return counts.astype(np.int64), edges, True


def _bins(bins: Any) -> None:
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")


def _histogram(values: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    counts, edges = np.histogram(values, bins=bins)
    return counts.astype(np.int64), edges.astype(np.float64)


def summary_by_group(easiness: np.ndarray, groups: Any) -> list[dict]:
    """Count, mean and median easiness per group (e.g. synthetic appearance mode, flipped label).

    Args:
        easiness: [N] easiness.
        groups: [N] group value of each example (ints, bools or strings).

    Returns:
        One dict per group value in sorted order:
        {"group": value, "count": int, "mean": float, "median": float}.
    """
    values = _easiness_vector(easiness)
    keys = np.asarray(groups)
    if keys.shape != values.shape:
        raise ValueError(f"groups must have shape {values.shape}, got {keys.shape}")
    return _summary_by_group(values, keys)


def _summary_by_group(values: np.ndarray, keys: np.ndarray) -> list[dict]:
    uniques, inverse = np.unique(keys, return_inverse=True)
    rows = []
    for g, key in enumerate(uniques):
        members = values[inverse == g]
        rows.append({
            "group": key.item() if isinstance(key, np.generic) else key,
            "count": int(members.size),
            "mean": float(members.mean()),
            "median": float(np.median(members)),
        })
    return rows
