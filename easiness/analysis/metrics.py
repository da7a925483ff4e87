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
  underflowed to zero) ranks as the hardest value. With ``nan_hardest=True`` a NaN loss (a run
  that diverged) ranks as ``inf`` instead, so a damaged study can still be shown (the app does).
* **Memory.** The mean over runs is summed one run's row at a time in float64, so a checkpoint
  costs one ``[M, N]`` block in the stored dtype plus one ``[N]`` float64 vector, never an
  ``[M, N]`` float64 block (ImageNet: 100 MB). Easy and hard sets are found with a partial sort
  in O(N) (:func:`easy_hard_masks`, :func:`ranked`), and sets compared as boolean masks.
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
    "easiness",
    "easy_hard",
    "easy_hard_masks",
    "mask_matching_matrices",
    "mask_matching_rate",
    "matching_curves",
    "matching_matrix",
    "matching_over_checkpoints",
    "matching_rate",
    "ranked",
    "set_size",
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
    """Losses of every run at checkpoint ``k``: [M, N] in the stored dtype (one checkpoint read)."""
    m, _, n = shape
    block = np.asarray(losses[:, k])
    if block.shape != (m, n):
        raise ValueError(f"losses[:, {k}] has shape {block.shape}, expected {(m, n)}")
    if block.dtype.kind not in "iuf":
        raise ValueError(f"losses[:, {k}] must be numeric, got dtype {block.dtype}")
    return block


def _row(block: np.ndarray, r: int) -> np.ndarray:
    """Run ``r``'s losses as [N] float64 (a copy): stores may keep float16, whose sums over 10
    runs lose digits."""
    return block[r].astype(np.float64)


def _nan_as_hardest(values: np.ndarray, k: int, nan_hardest: bool) -> np.ndarray:
    """``values`` with NaN as +inf (``nan_hardest``) or refused: a NaN has no place in a ranking."""
    nan = np.isnan(values)
    if nan.any():
        if not nan_hardest:
            raise ValueError(f"losses at checkpoint {k} contain NaN")
        values[nan] = np.inf
    return values


# --------------------------------------------------------------------------- Eq. 1: easiness


def easiness(losses: Any, *, checkpoint: int = -1, runs: Sequence[int] | None = None,
             nan_hardest: bool = False) -> np.ndarray:
    """Easiness of every example after ``checkpoint`` updates (Eq. 1).

    e_i^T = (1/M) sum_m CE(t_i, f(x_i, W_m^T)): the cross-entropy of example i under run m's
    weights after T updates, averaged over the M runs.

    Args:
        losses: [M, C, N] per-example cross-entropy (ndarray or lazy reader, see module doc).
        checkpoint: which checkpoint T, Python-style (-1 = the last one).
        runs: which of the M runs to average (default: all); distinct indices.
        nan_hardest: turn a NaN (a run that diverged on the example) into +inf, the hardest
            value; by default a NaN is returned as is.

    Returns:
        [N] float64; low = easy.
    """
    shape = _loss_shape(losses)
    k = _index(checkpoint, size=shape[1], name="checkpoint")
    rows = _run_rows(runs, m=shape[0])
    values = _easiness(_read_checkpoint(losses, k, shape=shape), rows)
    if nan_hardest:
        values[np.isnan(values)] = np.inf
    return values


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
    """[M, N] losses at one checkpoint -> [N] float64 mean over the chosen runs.

    The runs are added one row at a time in float64, in run order, then divided by their count:
    the same operations, hence the same values, as ``block.astype(float64).mean(axis=0)``
    (numpy reduces a leading axis row by row), without the [M, N] float64 copy."""
    chosen = range(block.shape[0]) if rows is None else rows
    total = None
    for r in chosen:
        if total is None:
            total = _row(block, r)
        else:
            total += block[r]
    return total / len(chosen)


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
    return _ranked(values, k, hardest=False), _ranked(values, k, hardest=True)


def easy_hard_masks(easiness: np.ndarray, *, fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The sets of :func:`easy_hard` as boolean masks: ``(easy [N] bool, hard [N] bool)``.

    Found with a partial sort in O(N), so a page can ask for them on 1.28M examples; two sets
    are then compared with :func:`mask_matching_rate` (one ``count_nonzero``)."""
    return _set_masks(_easiness_vector(easiness), _fraction(fraction))


def ranked(
    easiness: np.ndarray, *, count: int, hardest: bool = False, members: Any = None
) -> np.ndarray:
    """The ``count`` easiest (or hardest) examples in rank order, ties by lower index: the first
    ``count`` of :func:`easy_hard`'s order, in O(N + count log count).

    Args:
        easiness: [N] easiness.
        count: how many; fewer when the pool is smaller.
        hardest: the hardest first instead of the easiest first.
        members: example indices to rank among (e.g. one class); default all.

    Returns:
        int64 example indices.
    """
    values = _easiness_vector(easiness)
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0:
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    chosen = None if members is None else _index_vector(members, name="members")
    if chosen is not None and chosen.size and (chosen.min() < 0 or chosen.max() >= values.size):
        raise ValueError(f"members must lie in [0, {values.size})")
    pool = values if chosen is None else values[chosen]
    count = min(int(count), pool.size)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    picked = _ranked(pool, count, hardest=hardest)
    return picked if chosen is None else chosen[picked]


def _ranked(values: np.ndarray, count: int, *, hardest: bool) -> np.ndarray:
    """int64 indices of the ``count`` (1..N) lowest (highest) ``values``, in rank order."""
    mask = _highest(values, count) if hardest else _lowest(values, count)
    picked = np.flatnonzero(mask)
    key = -values[picked] if hardest else values[picked]
    return picked[np.lexsort((picked, key))].astype(np.int64)


def tail_mask(values: np.ndarray, size: int, *, highest: bool = False) -> np.ndarray:
    """``[N]`` bool: the ``size`` (1..N) lowest (``highest``: highest) of ``values``, ties taken by
    the lower index: one set of :func:`easy_hard` as a mask, found with a partial sort in O(N)."""
    return _highest(values, size) if highest else _lowest(values, size)


def _lowest(values: np.ndarray, count: int) -> np.ndarray:
    """``[N]`` bool: the ``count`` (1..N) lowest values, ties taken by lower index."""
    kth = np.partition(values, count - 1)[count - 1]
    return _fill_ties(values < kth, values == kth, count)


def _highest(values: np.ndarray, count: int) -> np.ndarray:
    """``[N]`` bool: the ``count`` (1..N) highest values, ties taken by lower index."""
    kth = np.partition(values, values.size - count)[values.size - count]
    return _fill_ties(values > kth, values == kth, count)


def _fill_ties(strict: np.ndarray, tied: np.ndarray, count: int) -> np.ndarray:
    """Add the lowest-index tied positions to ``strict`` until it holds ``count``."""
    need = count - int(np.count_nonzero(strict))
    strict[np.flatnonzero(tied)[:need]] = True
    return strict


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


def mask_matching_rate(a: np.ndarray, b: np.ndarray) -> float:
    """Eq. 2 on two ``[N]`` boolean masks: |A ∩ B| / max(|A|, |B|) (0 when both are empty)."""
    return _mask_rate(np.asarray(a, dtype=bool), np.asarray(b, dtype=bool))


def _mask_rate(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / max(np.count_nonzero(a), np.count_nonzero(b), 1)


def mask_matching_matrices(masks: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Pairwise matching rates of named (easy, hard) mask pairs, e.g. every model's sets at T
    (from :func:`easy_hard_masks`).

    Returns:
        {"easy": [K, K] float64, "hard": [K, K] float64}, symmetric with diagonal 1, rows and
        columns in the mapping's order.
    """
    return _mask_matrices(list(masks.values()))


def _mask_matrices(pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    out = {"easy": np.eye(len(pairs)), "hard": np.eye(len(pairs))}
    for i in range(len(pairs)):
        for j in range(i + 1, len(pairs)):
            for s, which in ((0, "easy"), (1, "hard")):
                out[which][i, j] = out[which][j, i] = _mask_rate(pairs[i][s], pairs[j][s])
    return out


# --------------------------------------------------------------------------- Fig. 3, Table 1


def matching_over_checkpoints(
    losses_a: Any,
    losses_b: Any,
    *,
    fraction: float = 0.1,
    checkpoints: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    nan_hardest: bool = False,
) -> dict[str, np.ndarray]:
    """Fig. 3: matching rate of model A's and model B's easy (hard) sets at each checkpoint.

    Each model's easiness at checkpoint T is the mean over its own runs (Eq. 1); the runs of A
    and B may differ in number. Only the checkpoints both models have are compared.

    Args:
        losses_a: [M_a, C_a, N] losses of model A (ndarray or lazy reader).
        losses_b: [M_b, C_b, N] losses of model B, same N and example order.
        fraction: share of examples in each set (paper: 0.1).
        checkpoints: indices into the common min(C_a, C_b) checkpoints (default: all); or
            ``{"a": [...], "b": [...]}``, each model's own, as for :func:`matching_curves`.
        nan_hardest: rank a NaN easiness as the hardest value instead of refusing it.

    Returns:
        {"easy": [K] float64, "hard": [K] float64}, one entry per requested checkpoint.
    """
    shapes = {"a": _loss_shape(losses_a, name="losses_a"), "b": _loss_shape(losses_b, name="losses_b")}
    if shapes["a"][2] != shapes["b"][2]:
        raise ValueError(f"models score different examples: N={shapes['a'][2]} vs N={shapes['b'][2]}")
    ks = _model_checkpoints(shapes, checkpoints)
    curves = _curves({"a": losses_a, "b": losses_b}, shapes, ks, _fraction(fraction), nan_hardest)
    return curves[("a", "b")]


def matching_curves(
    losses: Mapping[str, Any],
    *,
    fraction: float = 0.1,
    checkpoints: Sequence[int] | Mapping[str, Sequence[int]] | None = None,
    nan_hardest: bool = False,
) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Fig. 3 for every pair of several models: :func:`matching_over_checkpoints` of each pair at
    the checkpoints every model has, with each model's sets computed once per checkpoint (and
    dropped before the next: ImageNet's are 2.5 MB of masks per model).

    Args:
        losses: model name -> [M, C, N] losses (ndarray or lazy reader), the same N.
        fraction, nan_hardest: as for :func:`matching_over_checkpoints`.
        checkpoints: indices into the checkpoints every model has (default: all); or, per model
            name, that model's own indices, lists of one length whose j-th entries are compared
            (the checkpoints at the same epochs when the models were scored at different steps:
            :func:`easiness.analysis.checkpoints.shared`).

    Returns:
        {(a, b): {"easy": [K], "hard": [K]}} for every pair a before b in the mapping's order.
    """
    shapes = {name: _loss_shape(value, name=f"losses of {name}") for name, value in losses.items()}
    if len({shape[2] for shape in shapes.values()}) > 1:
        raise ValueError("models score different examples: N=" + " vs N=".join(str(s[2]) for s in shapes.values()))
    if len(shapes) < 2:
        return {}
    ks = _model_checkpoints(shapes, checkpoints)
    return _curves(losses, shapes, ks, _fraction(fraction), nan_hardest)


def _model_checkpoints(shapes: Mapping[str, tuple[int, int, int]],
                       checkpoints: Sequence[int] | Mapping[str, Sequence[int]] | None) -> dict[str, list[int]]:
    """Per model, the requested checkpoint indices, normalised: the same indices into the
    checkpoints every model has (default: all of them), or each model's own from a mapping."""
    if isinstance(checkpoints, Mapping):
        if set(checkpoints) != set(shapes):
            raise ValueError(f"checkpoints are given for {sorted(checkpoints)}, the losses for {sorted(shapes)}")
        if len({len(ks) for ks in checkpoints.values()}) > 1:
            raise ValueError("each model needs as many checkpoints as the others: the j-th of each are compared")
        return {name: [_index(k, size=shapes[name][1], name=f"checkpoint of {name}") for k in checkpoints[name]]
                for name in shapes}
    common = min(shape[1] for shape in shapes.values())
    steps = range(common) if checkpoints is None else checkpoints
    ks = [_index(k, size=common, name="checkpoint") for k in steps]
    return {name: ks for name in shapes}


def _curves(losses, shapes, ks, fraction, nan_hardest) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    names = list(shapes)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    count = len(ks[names[0]])
    out = {pair: {"easy": np.zeros(count), "hard": np.zeros(count)} for pair in pairs}
    for j in range(count):
        masks = {name: _masks_at(losses[name], ks[name][j], shapes[name], fraction, nan_hardest) for name in names}
        for a, b in pairs:
            out[(a, b)]["easy"][j] = _mask_rate(masks[a][0], masks[b][0])
            out[(a, b)]["hard"][j] = _mask_rate(masks[a][1], masks[b][1])
    return out


def _masks_at(losses: Any, k: int, shape: tuple[int, int, int], fraction: float,
              nan_hardest: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(easy, hard) masks of the run-averaged easiness at checkpoint ``k``: one checkpoint read."""
    values = _nan_as_hardest(_easiness(_read_checkpoint(losses, k, shape=shape)), k, nan_hardest)
    return _set_masks(values, fraction)


def _set_masks(values: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    size = _set_size(values.size, fraction)
    return _lowest(values, size), _highest(values, size)


def beginning_end(
    losses: Any, *, fraction: float = 0.1, begin: int = 0, end: int = -1, nan_hardest: bool = False
) -> dict[str, float]:
    """Table 1: does a model's easy (hard) set at the beginning of training survive to the end?

    Args:
        losses: [M, C, N] losses of one model (ndarray or lazy reader).
        fraction: share of examples in each set (paper: 0.1).
        begin, end: the two checkpoints compared, Python-style indices.
        nan_hardest: rank a NaN easiness as the hardest value instead of refusing it.

    Returns:
        {"easy": rate(easy at begin, easy at end), "hard": rate(hard at begin, hard at end)}.
    """
    shape = _loss_shape(losses)
    frac = _fraction(fraction)
    k0 = _index(begin, size=shape[1], name="begin")
    k1 = _index(end, size=shape[1], name="end")
    first = _masks_at(losses, k0, shape, frac, nan_hardest)
    last = _masks_at(losses, k1, shape, frac, nan_hardest)
    return {"easy": _mask_rate(first[0], last[0]), "hard": _mask_rate(first[1], last[1])}


def between_runs(
    losses: Any, *, fraction: float = 0.1, checkpoint: int = -1, nan_hardest: bool = False
) -> dict[str, np.ndarray]:
    """Stability across seeds: matching rates of single runs' easy (hard) sets.

    Each run's easiness is its own loss (Eq. 1 with M = 1); high off-diagonal rates mean one run
    already finds the examples that the M-run average finds.

    Args:
        losses: [M, C, N] losses of one model (ndarray or lazy reader).
        fraction: share of examples in each set (paper: 0.1).
        checkpoint: which checkpoint, Python-style.
        nan_hardest: rank a NaN loss as the hardest value instead of refusing it.

    Returns:
        {"easy": [M, M] float64, "hard": [M, M] float64}, symmetric with diagonal 1.
    """
    shape = _loss_shape(losses)
    frac = _fraction(fraction)
    k = _index(checkpoint, size=shape[1], name="checkpoint")
    block = _read_checkpoint(losses, k, shape=shape)
    masks = [_set_masks(_nan_as_hardest(_row(block, r), k, nan_hardest), frac) for r in range(shape[0])]
    return _mask_matrices(masks)
