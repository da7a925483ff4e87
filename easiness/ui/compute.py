"""Numpy views of a study for the app: easiness at a checkpoint, easy/hard sets, ranked examples,
matching-rate curves and matrices, ground-truth summaries (no Streamlit, no TensorFlow).

Same numbers as :mod:`easiness.metrics` (Eq. 1 and 2 of arXiv:1911.10739, ties by lower index),
computed the way a page that must answer in a second needs them on an ImageNet-sized study
(N = 1.28M, 10 runs): one run's row at a time (never a whole ``[M, C, N]`` stack, nor an
``[M, N]`` float64 block), and easy/hard sets as boolean masks found with a partial sort in
O(N) instead of a full argsort, so a matching rate is one ``count_nonzero(a & b)``.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from easiness import layout, metrics
from easiness.store import StoreError, Study
from easiness.synthetic import MODE_NAMES

FLIPPED = "flipped label"
MAX_LOOKS = 64  # look codes a ground-truth view names (the synthetic dataset has 3); more is damage


def easiness_at(study: Study, model: str, k: int, *, run: int | None = None) -> np.ndarray:
    """Eq. 1 at checkpoint ``k`` (0-based): ``[N]`` float64, the mean loss over ``model``'s runs,
    or one run's loss when ``run`` (a position in the model's runs) is given.

    Runs are summed one row at a time in float64, in run order, then divided by M: the same
    operations, hence the same values, as :func:`easiness.metrics.easiness`. A NaN (a run that
    diverged) becomes +inf, the hardest value, where the metrics would refuse it: the app shows
    such a study rather than failing (the histogram's caption counts them).
    """
    stack = study.losses(model)
    m, c, n = stack.shape
    if not 0 <= k < c:
        raise ValueError(f"checkpoint {k} is out of range: {model} has {c} completed checkpoints")
    if run is not None:
        values = np.array(stack[run, k], dtype=np.float64)
    else:
        values = np.zeros(n, dtype=np.float64)
        for r in range(m):
            values += stack[r, k]
        values /= m
    values[np.isnan(values)] = np.inf
    return values


def lowest_mask(values: np.ndarray, count: int) -> np.ndarray:
    """``[N]`` bool: the ``count`` lowest values, ties taken by lower index (as a stable sort)."""
    kth = np.partition(values, count - 1)[count - 1]
    return _fill_ties(values < kth, values == kth, count)


def highest_mask(values: np.ndarray, count: int) -> np.ndarray:
    """``[N]`` bool: the ``count`` highest values, ties taken by lower index."""
    kth = np.partition(values, values.size - count)[values.size - count]
    return _fill_ties(values > kth, values == kth, count)


def _fill_ties(strict: np.ndarray, tied: np.ndarray, count: int) -> np.ndarray:
    """Add the lowest-index tied positions to ``strict`` until it holds ``count``."""
    need = count - int(np.count_nonzero(strict))
    strict[np.flatnonzero(tied)[:need]] = True
    return strict


def set_masks(values: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """The easy and hard sets (the ``fraction`` lowest and highest) as ``[N]`` bool masks."""
    size = metrics.set_size(values.size, fraction=fraction)
    return lowest_mask(values, size), highest_mask(values, size)


def ranked(values: np.ndarray, *, count: int, hardest: bool = False,
           members: np.ndarray | None = None) -> np.ndarray:
    """Indices of the ``count`` easiest (or hardest) examples, in rank order, ties by lower
    index; among ``members`` (example indices, e.g. one class) when given."""
    pool = values if members is None else values[members]
    count = min(count, pool.size)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    mask = highest_mask(pool, count) if hardest else lowest_mask(pool, count)
    picked = np.flatnonzero(mask)
    key = -pool[picked] if hardest else pool[picked]
    picked = picked[np.lexsort((picked, key))]
    return picked if members is None else members[picked]


def histogram(values: np.ndarray, *, bins: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Counts and edges of ``values``, on log-spaced bins when they span more than two decades
    (losses pile up near zero late in training); the flag says which. Values below the first
    log edge (zeros included) count in the first bin, infinite ones are left out."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    floor = max(high * 1e-6, 1e-12)
    log = high > 0 and high / max(low, floor) > 100
    if not log:
        return (*metrics.histogram(finite if finite.size else np.zeros(1), bins=bins), False)
    edges = np.geomspace(max(low, floor), high, bins + 1)
    counts, _ = np.histogram(np.clip(finite, edges[0], edges[-1]), bins=edges)
    return counts.astype(np.int64), edges, True


def spread(count: int, points: int) -> list[int]:
    """At most ``points`` checkpoint indices spread evenly over ``count``, first and last included."""
    if count <= points:
        return list(range(count))
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, max(points, 2))})


def matching_curves(study: Study, models: Sequence[str], ks: Sequence[int],
                    fraction: float) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Fig. 3: for every pair of ``models``, easy and hard matching rate at each checkpoint in
    ``ks``: ``{(a, b): {"easy": [K], "hard": [K]}}``. Each model's sets are computed once per
    checkpoint and dropped before the next (ImageNet: 2.5 MB of masks per model)."""
    pairs = list(itertools.combinations(models, 2))
    out = {pair: {"easy": np.zeros(len(ks)), "hard": np.zeros(len(ks))} for pair in pairs}
    for j, k in enumerate(ks):
        masks = {m: set_masks(easiness_at(study, m, k), fraction) for m in models}
        for a, b in pairs:
            out[(a, b)]["easy"][j] = rate(masks[a][0], masks[b][0])
            out[(a, b)]["hard"][j] = rate(masks[a][1], masks[b][1])
    return out


def rate(a: np.ndarray, b: np.ndarray) -> float:
    """Eq. 2 on two boolean masks: |A ∩ B| / max(|A|, |B|)."""
    return np.count_nonzero(a & b) / max(np.count_nonzero(a), np.count_nonzero(b), 1)


def beginning_end(study: Study, model: str, fraction: float) -> dict[str, float]:
    """Table 1: matching rate of the easy (hard) set at the first and at the last checkpoint."""
    last = len(study.checkpoints(model)) - 1
    first = set_masks(easiness_at(study, model, 0), fraction)
    end = set_masks(easiness_at(study, model, last), fraction)
    return {"easy": rate(first[0], end[0]), "hard": rate(first[1], end[1])}


def matrix(masks: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Pairwise rates of named (easy, hard) mask pairs: ``{"easy": [K, K], "hard": [K, K]}``."""
    names = list(masks)
    out = {"easy": np.eye(len(names)), "hard": np.eye(len(names))}
    for (i, a), (j, b) in itertools.combinations(enumerate(names), 2):
        for s, which in ((0, "easy"), (1, "hard")):
            out[which][i, j] = out[which][j, i] = rate(masks[a][s], masks[b][s])
    return out


def model_matrix(study: Study, models: Sequence[str], k: int, fraction: float) -> dict[str, np.ndarray]:
    """Matching rates between models' easy (hard) sets at checkpoint ``k``."""
    return matrix({m: set_masks(easiness_at(study, m, k), fraction) for m in models})


def run_matrix(study: Study, model: str, k: int, fraction: float) -> dict[str, np.ndarray]:
    """Matching rates between single runs' easy (hard) sets at ``k`` (each run its own easiness)."""
    runs = len(study.losses(model))
    return matrix({str(r): set_masks(easiness_at(study, model, k, run=r), fraction) for r in range(runs)})


def example_losses(study: Study, model: str, index: int) -> np.ndarray:
    """``[M, C]`` losses of one example in every run at every completed checkpoint.

    Read with one ``pread`` per value rather than through the memory map: a column touches one
    value per row, and on kernels that map whole large folios per page fault, reading it through
    a map puts up to 2 MB per row into the process's resident memory (3.7 GB for ImageNet).
    """
    stack = study.losses(model)
    m, c, n = stack.shape
    if not 0 <= index < n:
        raise ValueError(f"example {index} is out of range for {n} examples")
    folder = study.root / layout.MODELS_DIR / model
    return np.stack([_column(folder / layout.run_dirname(run) / layout.LOSSES_FILE, index, c, n)
                     for run in stack.runs]) if m else np.zeros((0, c))


def _column(path: Path, index: int, rows: int, n: int) -> np.ndarray:
    """``[rows]`` float64: element ``index`` of each of the first ``rows`` rows of a 2-D ``.npy``."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
        if fortran or len(shape) != 2 or shape[1] != n:
            raise ValueError(f"{path} is not a C-ordered [checkpoints, {n}] array")
        start, size = f.tell(), dtype.itemsize
        raw = b"".join(os.pread(f.fileno(), size, start + (k * n + index) * size) for k in range(rows))
    return np.frombuffer(raw, dtype=dtype).astype(np.float64)


def find_example(ids: np.ndarray, example_id: str) -> int | None:
    """The index of the example called ``example_id``, or None."""
    hits = np.flatnonzero(ids == example_id)
    return int(hits[0]) if hits.size else None


def ground_truth_groups(extras: Mapping[str, np.ndarray]) -> tuple[np.ndarray, list[str]] | None:
    """``([N] int group codes, group names)`` from a synthetic study's ``mode`` and ``flipped``
    extras (a flipped label is its own group, whatever its look); None without them; StoreError
    naming the file when they hold something else (a NaN or a huge code would index past the names)."""
    if "mode" not in extras:
        return None
    mode = _codes(np.asarray(extras["mode"]), "mode", MAX_LOOKS)
    names = [f"{MODE_NAMES[g]} look" if g < len(MODE_NAMES) else f"look {g}" for g in range(int(mode.max()) + 1)]
    if "flipped" in extras:
        mode = np.where(_codes(np.asarray(extras["flipped"]), "flipped", 2).astype(bool), len(names), mode)
        names.append(FLIPPED)
    return mode, names


def ground_truth_problem(extras: Mapping[str, np.ndarray]) -> str | None:
    """Why the study's ground truth cannot be shown; None when it can (or there is none)."""
    try:
        ground_truth_groups(extras)
    except StoreError as e:
        return str(e)
    return None


def _codes(values: np.ndarray, name: str, limit: int) -> np.ndarray:
    """``values`` as ``[N]`` int64 codes; StoreError unless they are whole numbers in [0, limit)."""
    ok = values.ndim == 1 and values.dtype.kind in "biuf"
    if ok and values.dtype.kind == "f":
        ok = bool(np.isfinite(values).all() and (values == np.round(values)).all())
    if ok and values.size:
        ok = 0 <= values.min() and values.max() < limit
    if not ok:
        raise StoreError(f"extras/{name}.npy holds {values.dtype} {values.shape}, not one code in 0..{limit - 1} "
                         "per example; the ground truth cannot be shown")
    return values.astype(np.int64)


def plan_conflicts(study: Study) -> list[str]:
    """One line per model whose runs planned other checkpoints within what they committed (one
    resumed with other epochs, say): Eq. 1 averages runs at the same T, so only the checkpoints
    every run shares are shown, and the line says where they part."""
    lines = []
    for model in study.models:
        runs = [m for m in study.runs(model) if m["done"]]
        for other in runs[1:]:
            shared = layout.common_count([runs[0], other])
            if shared < min(runs[0]["done"], other["done"]):
                lines.append(f"{model}: run {other['run']} planned other checkpoints than run {runs[0]['run']} "
                             f"from checkpoint {shared + 1} on; only the {shared} checkpoints its runs share "
                             "are shown")
                break
    return lines


def group_shares(codes: np.ndarray, groups: int, masks: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """Share of each group among all examples, in the easy set and in the hard set."""
    def share(selected: np.ndarray) -> np.ndarray:
        counts = np.bincount(selected, minlength=groups).astype(np.float64)
        return counts / max(counts.sum(), 1)

    return {"all": share(codes), "easy": share(codes[masks[0]]), "hard": share(codes[masks[1]])}


def group_means(study: Study, model: str, codes: np.ndarray, groups: int, ks: Sequence[int]) -> np.ndarray:
    """``[K, groups]`` mean easiness of each group at each checkpoint in ``ks``."""
    sizes = np.maximum(np.bincount(codes, minlength=groups), 1)
    return np.stack([np.bincount(codes, weights=easiness_at(study, model, k), minlength=groups) / sizes
                     for k in ks])
