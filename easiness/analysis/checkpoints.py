"""Which checkpoints of several models to compare, and how many of them to show (numpy only).

Models of one study may be scored at different moments: one every epoch, another every K updates
(``--score-every``), or for fewer epochs. Their k-th checkpoints then lie at different epochs, so
Fig. 3 compares them by epoch, at the epochs every model was scored (:func:`shared`), not by
index; where one checkpoint T is asked of every model, :func:`mismatch` says when it lies at
different epochs. :func:`spread` thins a long curve to a few evenly spaced points.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from easiness.store import Study

__all__ = ["mismatch", "shared", "spread"]

# Epochs are stored as floats (fractions of an epoch with --score-every); two checkpoints are at
# the same epoch when they agree to this many decimals.
EPOCH_DECIMALS = 6


def spread(count: int, points: int) -> list[int]:
    """At most ``points`` of the indices ``0..count-1``, evenly spaced, the first and the last
    always (one point: the last)."""
    if count <= 0 or points <= 0:
        return []
    if count <= points:
        return list(range(count))
    if points == 1:
        return [count - 1]
    return sorted({int(round(x)) for x in np.linspace(0, count - 1, points)})


def shared(study: Study, models: Sequence[str]) -> tuple[list[float], dict[str, list[int]]]:
    """The epochs at which every one of ``models`` has a completed checkpoint, ascending, and
    per model the index of its checkpoint at each of them (the per-model form
    :func:`easiness.analysis.metrics.matching_curves` takes)."""
    at = {model: {round(float(point["epoch"]), EPOCH_DECIMALS): k
                  for k, point in enumerate(study.checkpoints(model))} for model in models}
    epochs = sorted(set.intersection(*(set(by_epoch) for by_epoch in at.values()))) if at else []
    return epochs, {model: [at[model][e] for e in epochs] for model in models}


def mismatch(epochs: Mapping[str, float], t: int) -> str | None:
    """One line when the models' checkpoint ``t`` (1-based) lies at different ``epochs`` (model ->
    epoch), else None."""
    if len({round(float(e), EPOCH_DECIMALS) for e in epochs.values()}) <= 1:
        return None
    at = ", ".join(f"{model} epoch {float(e):g}" for model, e in epochs.items())
    return (f"checkpoint T = {t} lies at different epochs for these models ({at}): comparing them at T mixes "
            "moments of training (Fig. 3 compares models at the epochs all were scored)")
