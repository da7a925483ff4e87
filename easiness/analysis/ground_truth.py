"""The ground truth of a synthetic study as groups of examples (numpy only).

A study of the built-in synthetic data (:mod:`easiness.data.synthetic`) stores, per example, its
appearance ``mode`` (0 = the majority mode of its class, 1 and 2 = the two minority modes,
"negative" and "small") and whether its label was ``flipped``. The paper's bias hypothesis
(Kishida & Nakayama, arXiv:1911.10739, Sec. 5) predicts majority-mode examples easy and
minority-mode ones hard; a flipped label is hard whatever its mode.

:func:`groups` is the one place that turns those extras into groups: the terminal summary
(:mod:`easiness.analysis.report`), the app's ground-truth page and ``python -m easiness.truth``
all use it.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from easiness.data.synthetic import MODE_NAMES
from easiness.store import StoreError

__all__ = ["FLIPPED", "MAJORITY", "MINORITY", "groups", "problem", "shares"]

MAJORITY = "majority mode"
MINORITY = "minority mode"  # every minority mode together (merge_minorities=True)
FLIPPED = "flipped label"
MAX_MODES = 64  # mode codes a group may name (the synthetic dataset has 3); more is damage


def groups(extras: Mapping[str, np.ndarray], *, merge_minorities: bool = False) -> tuple[np.ndarray, list[str]] | None:
    """``([N] int64 group codes, group names)`` from a synthetic study's ``extras``.

    Groups, in code order: each mode present up to the highest code ("majority mode",
    "negative mode", "small mode"; with ``merge_minorities`` "majority mode" and "minority
    mode"), then "flipped label" when the study has the ``flipped`` extra: a flipped label is
    its own group, whatever its mode. None for a study without the ``mode`` extra. StoreError
    naming the file when an extra holds something else (a NaN or a huge code would index past
    the names)."""
    if "mode" not in extras:
        return None
    codes = _codes(np.asarray(extras["mode"]), "mode", MAX_MODES)
    top = int(codes.max()) + 1 if codes.size else 1
    if merge_minorities:
        codes = np.minimum(codes, 1)
        names = [MAJORITY, MINORITY][:min(top, 2)]
    else:
        names = [f"{MODE_NAMES[g]} mode" if g < len(MODE_NAMES) else f"mode {g}" for g in range(top)]
    if "flipped" in extras:
        flipped = _codes(np.asarray(extras["flipped"]), "flipped", 2).astype(bool)
        codes = np.where(flipped, len(names), codes)
        names.append(FLIPPED)
    return codes, names


def problem(extras: Mapping[str, np.ndarray]) -> str | None:
    """Why the study's ground truth cannot be shown; None when it can (or there is none)."""
    try:
        groups(extras)
    except StoreError as e:
        return str(e)
    return None


def shares(codes: np.ndarray, count: int, masks: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """Share of each of ``count`` groups among all examples, in the easy set and in the hard
    set (``masks``: ``[N]`` bool each): ``{"all", "easy", "hard"}`` -> ``[count]``."""
    def share(selected: np.ndarray) -> np.ndarray:
        counts = np.bincount(selected, minlength=count).astype(np.float64)
        return counts / max(counts.sum(), 1)

    return {"all": share(codes), "easy": share(codes[masks[0]]), "hard": share(codes[masks[1]])}


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
