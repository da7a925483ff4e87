"""Easiness, easy/hard sets and matching rates (Kishida & Nakayama, arXiv:1911.10739).

Numpy only: this module never imports TensorFlow, so the app and the terminal report load fast.

Shapes used below: ``M`` runs, ``C`` checkpoints, ``N`` training examples.

``losses`` is the per-example cross-entropy of every run at every checkpoint, shape ``[M, C, N]``:
either an ndarray or a lazy reader with ``.shape == (M, C, N)`` whose ``losses[:, k]`` returns an
ndarray ``[M, N]``. ImageNet studies hold about 10 GB of losses, so every function here reads one
checkpoint at a time through ``losses[:, k]`` and never converts the whole object to an array.

Conventions:

* **Set size.** A set of "the ``fraction`` lowest (highest)" of ``n`` examples holds
  ``round(fraction * n)`` examples, rounding halves up, and at least one (:func:`set_size`).
* **Ties** are broken by example index: among equal easiness values the lower index comes first,
  in the easy set and in the hard set alike (a stable sort), so results are reproducible.
* **NaN** easiness is refused: it has no place in a ranking. ``inf`` (a probability that
  underflowed to zero) ranks as the hardest value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np

__all__ = [
    "beginning_end",
    "between_runs",
    "chance_matching_rate",
    "class_mix",
    "easiness",
    "easy_hard",
    "histogram",
    "matching_matrix",
    "matching_over_checkpoints",
    "matching_rate",
    "set_size",
    "summary_by_group",
    "thresholds",
]


# --------------------------------------------------------------------------- validation helpers


def _loss_shape(losses: Any, *, name: str = "losses") -> tuple[int, int, int]:
    """(M, C, N) of a loss array or lazy reader; reads no data."""
    shape = getattr(losses, "shape", None)
    if shape is None or len(shape) != 3:
        raise ValueError(f"{name} must have shape [runs, checkpoints, examples], got {shape}")
    m, c, n = (int(s) for s in shape)
    if min(m, c, n) < 1:
        raise ValueError(f"{name} must have at least one run, checkpoint and example, got {shape}")
    return m, c, n


def _index(value: Any, *, size: int, name: str) -> int:
    """Normalise a possibly negative Python-style index into [0, size)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not -size <= int(value) < size:
        raise ValueError(f"{name} {value} is out of range for {size} entries")
    return int(value) % size


def _fraction(fraction: float) -> float:
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise ValueError(f"fraction must be a number in (0, 1), got {fraction!r}")
    if not 0.0 < float(fraction) < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    return float(fraction)


def _easiness_vector(values: Any, *, name: str = "easiness") -> np.ndarray:
    """A non-empty 1-D float64 array without NaN."""
    arr = np.asarray(values)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if np.isnan(arr).any():
        raise ValueError(f"{name} contains NaN")
    return arr


def _index_vector(values: Any, *, name: str) -> np.ndarray:
    """A 1-D int64 array of example indices (an empty collection is allowed): an array, a list,
    a tuple, a set, a frozenset or any other iterable of integers."""
    if isinstance(values, (AbstractSet, Iterator)):
        # why: np.asarray wraps a set (or a generator) into a 0-d object array, not a vector
        values = list(values)
    arr = np.asarray(values).ravel()
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer example indices, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _read_checkpoint(losses: Any, k: int, *, shape: tuple[int, int, int]) -> np.ndarray:
    """Losses of every run at checkpoint ``k``: [M, N] float64 (one checkpoint read)."""
    m, _, n = shape
    # float64 because stores may keep float16, whose sums over 10 runs lose digits.
    block = np.asarray(losses[:, k], dtype=np.float64)
    if block.shape != (m, n):
        raise ValueError(f"losses[:, {k}] has shape {block.shape}, expected {(m, n)}")
    return block


# --------------------------------------------------------------------------- Eq. 1: easiness


def easiness(losses: Any, *, checkpoint: int = -1, runs: Sequence[int] | None = None) -> np.ndarray:
    """Easiness of every example after ``checkpoint`` updates (Eq. 1).

    e_i^T = (1/M) sum_m CE(t_i, f(x_i, W_m^T)): the cross-entropy of example i under run m's
    weights after T updates, averaged over the M runs.

    Args:
        losses: [M, C, N] per-example cross-entropy (ndarray or lazy reader, see module doc).
        checkpoint: which checkpoint T, Python-style (-1 = the last one).
        runs: which of the M runs to average (default: all); distinct indices.

    Returns:
        [N] float64; low = easy.
    """
    shape = _loss_shape(losses)
    k = _index(checkpoint, size=shape[1], name="checkpoint")
    rows = _run_rows(runs, m=shape[0])
    return _easiness(_read_checkpoint(losses, k, shape=shape), rows)


def _run_rows(runs: Sequence[int] | None, *, m: int) -> np.ndarray | None:
    if runs is None:
        return None
    rows = [_index(r, size=m, name="run") for r in runs]
    if not rows:
        raise ValueError("runs must name at least one run")
    if len(set(rows)) != len(rows):
        raise ValueError(f"runs must be distinct, got {list(runs)}")
    return np.asarray(rows, dtype=np.int64)


def _easiness(block: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """[M, N] losses at one checkpoint -> [N] mean over the chosen runs."""
    if rows is not None:
        block = block[rows]
    return block.mean(axis=0)


# --------------------------------------------------------------------------- easy and hard sets


def set_size(n: int, *, fraction: float) -> int:
    """Size of "the ``fraction`` lowest" of ``n`` examples: round(fraction * n) halves up, >= 1."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return _set_size(int(n), _fraction(fraction))


def _set_size(n: int, fraction: float) -> int:
    # Half-up rather than Python's round-half-even, so 2.5 examples -> 3 on every platform.
    return max(1, math.floor(fraction * n + 0.5))


def easy_hard(
    easiness: np.ndarray,
    *,
    fraction: float = 0.1,
    labels: np.ndarray | None = None,
    per_class: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The easy and the hard set: the ``fraction`` lowest and highest easiness (paper: 10%).

    Args:
        easiness: [N] easiness of every example (Eq. 1).
        fraction: share of examples in each set, in (0, 1); see :func:`set_size`.
        labels: [N] integer class labels; used only with ``per_class``.
        per_class: take ``fraction`` of each class's examples and concatenate the classes in
            ascending label order (balanced sets, as for the per-class averages of Fig. 2).

    Returns:
        (easy, hard) int64 example indices; easy ordered easiest-first, hard hardest-first, ties
        by lower index. With fraction > 0.5 the two sets overlap.
    """
    values = _easiness_vector(easiness)
    frac = _fraction(fraction)
    if not per_class:
        return _easy_hard(values, frac)
    if labels is None:
        raise ValueError("per_class=True needs labels")
    classes = _labels(labels, n=values.size)
    return _easy_hard_per_class(values, classes, frac)


def _labels(labels: Any, *, n: int) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _easy_hard(values: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    k = _set_size(values.size, fraction)
    easy = np.argsort(values, kind="stable")[:k]
    # Sorting the negated values keeps ties in ascending index order for the hard set too.
    hard = np.argsort(-values, kind="stable")[:k]
    return easy.astype(np.int64), hard.astype(np.int64)


def _easy_hard_per_class(
    values: np.ndarray, labels: np.ndarray, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    easy, hard = [], []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        e, h = _easy_hard(values[members], fraction)
        easy.append(members[e])
        hard.append(members[h])
    return np.concatenate(easy).astype(np.int64), np.concatenate(hard).astype(np.int64)


# --------------------------------------------------------------------------- Eq. 2: matching rate


def matching_rate(a: Any, b: Any) -> float:
    """Matching rate of two example sets (Eq. 2): |A ∩ B| / max(|A|, |B|).

    Args:
        a, b: collections of integer example indices (arrays, lists, tuples, sets, frozensets);
            duplicates are ignored.

    Returns:
        A float in [0, 1]; 0 when exactly one set is empty.
    """
    set_a = np.unique(_index_vector(a, name="a"))
    set_b = np.unique(_index_vector(b, name="b"))
    if set_a.size == 0 and set_b.size == 0:
        raise ValueError("matching_rate of two empty sets is undefined")
    return _matching_rate(set_a, set_b)


def _matching_rate(set_a: np.ndarray, set_b: np.ndarray) -> float:
    """Eq. 2 on two arrays of unique indices, not both empty."""
    common = np.intersect1d(set_a, set_b, assume_unique=True).size
    return common / max(set_a.size, set_b.size)


def chance_matching_rate(size_a: int, size_b: int, n: int) -> float:
    """Expected matching rate of two independent uniformly random sets of ``n`` examples.

    E|A ∩ B| = |A||B|/n (hypergeometric mean), so the rate is (|A||B|/n) / max(|A|, |B|)
    = min(|A|, |B|) / n: 0.1 for two 10% sets, the baseline of Fig. 3 and Table 1.
    """
    for name, value in (("size_a", size_a), ("size_b", size_b), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if n < 1 or max(size_a, size_b) > n:
        raise ValueError(f"set sizes {size_a}, {size_b} must fit in n={n} >= 1 examples")
    if max(size_a, size_b) == 0:
        raise ValueError("chance matching rate of two empty sets is undefined")
    return min(int(size_a), int(size_b)) / int(n)


def matching_matrix(sets: Mapping[str, Any]) -> tuple[list[str], np.ndarray]:
    """Pairwise matching rates (Eq. 2) of named example sets.

    Args:
        sets: name -> non-empty collection of example indices (e.g. each model's easy set).

    Returns:
        (names in the mapping's order, [K, K] float64 symmetric matrix with diagonal 1).
    """
    if not sets:
        raise ValueError("matching_matrix needs at least one set")
    names = [str(name) for name in sets]
    uniques = [np.unique(_index_vector(s, name=f"set {name!r}")) for name, s in sets.items()]
    for name, u in zip(names, uniques):
        if u.size == 0:
            raise ValueError(f"set {name!r} is empty")
    return names, _matching_matrix(uniques)


def _matching_matrix(uniques: Sequence[np.ndarray]) -> np.ndarray:
    k = len(uniques)
    out = np.eye(k, dtype=np.float64)
    for i in range(k):
        for j in range(i + 1, k):
            out[i, j] = out[j, i] = _matching_rate(uniques[i], uniques[j])
    return out


# --------------------------------------------------------------------------- Fig. 3, Table 1


def matching_over_checkpoints(
    losses_a: Any,
    losses_b: Any,
    *,
    fraction: float = 0.1,
    checkpoints: Sequence[int] | None = None,
) -> dict[str, np.ndarray]:
    """Fig. 3: matching rate of model A's and model B's easy (hard) sets at each checkpoint.

    Each model's easiness at checkpoint T is the mean over its own runs (Eq. 1); the runs of A
    and B may differ in number. Only the checkpoints both models have are compared.

    Args:
        losses_a: [M_a, C_a, N] losses of model A (ndarray or lazy reader).
        losses_b: [M_b, C_b, N] losses of model B, same N and example order.
        fraction: share of examples in each set (paper: 0.1).
        checkpoints: indices into the common min(C_a, C_b) checkpoints (default: all).

    Returns:
        {"easy": [K] float64, "hard": [K] float64}, one entry per requested checkpoint.
    """
    shape_a = _loss_shape(losses_a, name="losses_a")
    shape_b = _loss_shape(losses_b, name="losses_b")
    if shape_a[2] != shape_b[2]:
        raise ValueError(f"models score different examples: N={shape_a[2]} vs N={shape_b[2]}")
    frac = _fraction(fraction)
    common = min(shape_a[1], shape_b[1])
    steps = range(common) if checkpoints is None else checkpoints
    ks = [_index(k, size=common, name="checkpoint") for k in steps]
    rates = [_matching_at(losses_a, losses_b, k, shape_a, shape_b, frac) for k in ks]
    arr = np.asarray(rates, dtype=np.float64).reshape(len(ks), 2)
    return {"easy": arr[:, 0], "hard": arr[:, 1]}


def _sets_at(losses: Any, k: int, shape: tuple[int, int, int], fraction: float):
    """(easy, hard) of the run-averaged easiness at checkpoint ``k``: one checkpoint read."""
    values = _easiness(_read_checkpoint(losses, k, shape=shape))
    if np.isnan(values).any():
        raise ValueError(f"losses at checkpoint {k} contain NaN")
    return _easy_hard(values, fraction)


def _matching_at(losses_a, losses_b, k, shape_a, shape_b, fraction) -> tuple[float, float]:
    easy_a, hard_a = _sets_at(losses_a, k, shape_a, fraction)
    easy_b, hard_b = _sets_at(losses_b, k, shape_b, fraction)
    return _matching_sets(easy_a, easy_b), _matching_sets(hard_a, hard_b)


def _matching_sets(a: np.ndarray, b: np.ndarray) -> float:
    return _matching_rate(np.unique(a), np.unique(b))


def beginning_end(
    losses: Any, *, fraction: float = 0.1, begin: int = 0, end: int = -1
) -> dict[str, float]:
    """Table 1: does a model's easy (hard) set at the beginning of training survive to the end?

    Args:
        losses: [M, C, N] losses of one model (ndarray or lazy reader).
        fraction: share of examples in each set (paper: 0.1).
        begin, end: the two checkpoints compared, Python-style indices.

    Returns:
        {"easy": rate(easy at begin, easy at end), "hard": rate(hard at begin, hard at end)}.
    """
    shape = _loss_shape(losses)
    frac = _fraction(fraction)
    k0 = _index(begin, size=shape[1], name="begin")
    k1 = _index(end, size=shape[1], name="end")
    easy0, hard0 = _sets_at(losses, k0, shape, frac)
    easy1, hard1 = _sets_at(losses, k1, shape, frac)
    return {"easy": _matching_sets(easy0, easy1), "hard": _matching_sets(hard0, hard1)}


def between_runs(
    losses: Any, *, fraction: float = 0.1, checkpoint: int = -1
) -> dict[str, np.ndarray]:
    """Stability across seeds: matching rates of single runs' easy (hard) sets.

    Each run's easiness is its own loss (Eq. 1 with M = 1); high off-diagonal rates mean one run
    already finds the examples that the M-run average finds.

    Args:
        losses: [M, C, N] losses of one model (ndarray or lazy reader).
        fraction: share of examples in each set (paper: 0.1).
        checkpoint: which checkpoint, Python-style.

    Returns:
        {"easy": [M, M] float64, "hard": [M, M] float64}, symmetric with diagonal 1.
    """
    shape = _loss_shape(losses)
    frac = _fraction(fraction)
    k = _index(checkpoint, size=shape[1], name="checkpoint")
    block = _read_checkpoint(losses, k, shape=shape)
    if np.isnan(block).any():
        raise ValueError(f"losses at checkpoint {k} contain NaN")
    sets = [_easy_hard(row, frac) for row in block]
    easy = _matching_matrix([np.unique(e) for e, _ in sets])
    hard = _matching_matrix([np.unique(h) for _, h in sets])
    return {"easy": easy, "hard": hard}


# --------------------------------------------------------------------------- views for charts


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
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    if not np.isfinite(values).all():
        raise ValueError("easiness must be finite to build a histogram")
    counts, edges = np.histogram(values, bins=int(bins))
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
