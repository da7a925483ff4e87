"""Numpy views of a study for the app that the numpy library does not already give: one model's
easiness at a checkpoint (a diverged run counts as hardest), checkpoints spread over training,
one example's losses in every run, and each ground-truth group's mean easiness over training
(no Streamlit, no TensorFlow).

Everything else the pages show comes straight from the library: easy/hard sets as masks, ranked
examples, matching rates, curves and matrices from :mod:`easiness.analysis.metrics` (the O(N)
paths an ImageNet-sized study needs), ground-truth groups from :mod:`easiness.analysis.ground_truth`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from easiness.analysis import metrics
from easiness.store import Study, layout


def easiness_at(study: Study, model: str, k: int, *, run: int | None = None) -> np.ndarray:
    """Eq. 1 at checkpoint ``k`` (0-based): ``[N]`` float64, the mean loss over ``model``'s runs,
    or one run's loss when ``run`` (a position in the model's runs) is given
    (:func:`easiness.analysis.metrics.easiness`). A NaN (a run that diverged) becomes +inf, the
    hardest value, where the set functions would refuse it: the app shows such a study rather
    than failing (the histogram's caption counts them)."""
    stack = study.losses(model)
    if not 0 <= k < stack.shape[1]:
        raise ValueError(f"checkpoint {k} is out of range: {model} has {stack.shape[1]} completed checkpoints")
    return metrics.easiness(stack, checkpoint=k, runs=None if run is None else [run], nan_hardest=True)


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


def group_means(study: Study, model: str, codes: np.ndarray, groups: int, ks: Sequence[int]) -> np.ndarray:
    """``[K, groups]`` mean easiness of each group at each checkpoint in ``ks``."""
    sizes = np.maximum(np.bincount(codes, minlength=groups), 1)
    return np.stack([np.bincount(codes, weights=easiness_at(study, model, k), minlength=groups) / sizes
                     for k in ks])
