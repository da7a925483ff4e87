"""Every common per-example difficulty score, from the arrays one study records.

Numpy only. Shapes: ``M`` runs, ``C`` checkpoints, ``N`` training examples. The inputs are what a
study records at every checkpoint of every run, ``[M, C, N]`` each (an ndarray or a lazy reader
such as :class:`easiness.store.runstack.RunStack`, read one checkpoint at a time, so an ImageNet-sized
study streams through a few ``[M, N]`` accumulators):

- ``losses``: the cross-entropy ``-log p_y`` of the true class y;
- ``margins``: the true-class logit minus the largest other logit (the example is classified
  correctly when its margin is > 0);
- ``el2n``: the error norm ``||softmax(z) - onehot(y)||_2``.

The scores, each computed per run from the checkpoints ``0..T`` and then averaged over the runs
(``direction``: which end is hard):

========== ========================================================================= ===========
name       definition (per run, over checkpoints 0..T)                                hard when
========== ========================================================================= ===========
easiness   the loss at T (Kishida & Nakayama 2019, Eq. 1)                             higher
mean_loss  mean loss: learning speed (Jiang et al. 2021, a C-score proxy)              higher
correctness mean of [margin > 0]: cumulative accuracy, the C-score proxy of Jiang et  lower
           al. 2021 and data maps' correctness (Swayamdipta et al. 2020)
forgetting forgetting events: correct at checkpoint k-1, incorrect at k (Toneva et al. higher
           2019); an example never correct up to T counts C_T, more than any count
aum        mean margin: area under the margin (Pleiss et al. 2020)                     lower
el2n       the error norm at an early checkpoint, by default the one nearest 10% of   higher
           training (Paul et al. 2021, "Deep learning on a data diet")
confidence mean true-class probability exp(-loss) (data maps, Swayamdipta et al.)     lower
variability standard deviation of the true-class probability (data maps); high means  higher
           "ambiguous", not simply hard: both easy and hard-to-learn examples are low
never_learned share of runs in which the example was never correct up to T (a flag    higher
           beside forgetting, not a ranking of its own)
========== ========================================================================= ===========

Granularity: Toneva et al. count forgetting events at every presentation of an example (every
update that sees it); a study sees an example at its checkpoints, by default once per epoch, so
counts here are per checkpoint: fewer, and missing flips between checkpoints. ``--score-every
K`` records checkpoints every K updates for finer steps.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

__all__ = ["SCORES", "Score", "early_checkpoint", "hardness", "names", "needs", "per_run"]


@dataclasses.dataclass(frozen=True)
class Score:
    """What a score is: one line, where it comes from, which arrays it needs, which end is hard."""

    description: str
    citation: str
    needs: tuple[str, ...]  # recorded arrays beside losses: "margins", "el2n"
    hard_when: str  # "higher" or "lower"


SCORES: dict[str, Score] = {
    "easiness": Score("mean loss over runs at checkpoint T (Eq. 1)", "Kishida & Nakayama 2019", (), "higher"),
    "mean_loss": Score("mean loss over checkpoints up to T: learning speed", "Jiang et al. 2021", (), "higher"),
    "correctness": Score("share of checkpoints up to T classified correctly: C-score proxy, data-map correctness",
                         "Jiang et al. 2021; Swayamdipta et al. 2020", ("margins",), "lower"),
    "forgetting": Score("correct-to-incorrect transitions between checkpoints (never learned: C_T)",
                        "Toneva et al. 2019", ("margins",), "higher"),
    "never_learned": Score("share of runs never correct up to T", "Toneva et al. 2019", ("margins",), "higher"),
    "aum": Score("mean margin (true logit minus the largest other) up to T: area under the margin",
                 "Pleiss et al. 2020", ("margins",), "lower"),
    "el2n": Score("||softmax - onehot||_2 at an early checkpoint (default ~10% of training)",
                  "Paul et al. 2021", ("el2n",), "higher"),
    "confidence": Score("mean true-class probability up to T (data maps)", "Swayamdipta et al. 2020", (), "lower"),
    "variability": Score("std of the true-class probability up to T (data maps; high = ambiguous)",
                         "Swayamdipta et al. 2020", (), "higher"),
}


def names() -> list[str]:
    """The score names, in the table's order."""
    return list(SCORES)


def needs(name: str) -> tuple[str, ...]:
    """The recorded arrays beside the losses that score ``name`` needs; ValueError listing the
    valid names for an unknown one."""
    return _score(name).needs


def _score(name: str) -> Score:
    if name not in SCORES:
        raise ValueError(f"unknown score {name!r}; choose one of {', '.join(SCORES)}")
    return SCORES[name]


def hardness(name: str, values: np.ndarray) -> np.ndarray:
    """``values`` of score ``name`` oriented so that higher = harder (for ranking and pruning)."""
    values = np.asarray(values, dtype=np.float64)
    return values if _score(name).hard_when == "higher" else -values


def early_checkpoint(count: int, *, fraction: float = 0.1) -> int:
    """The 0-based checkpoint nearest ``fraction`` of a run's ``count`` checkpoints (EL2N's
    "early in training"; Paul et al. use about 10%): ceil(fraction * count) - 1, at least 0."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive integer, got {count!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    return max(0, math.ceil(fraction * count - 1e-9) - 1)


def per_run(losses: Any, margins: Any = None, el2n: Any = None, *, at: int = -1,
            early: int | None = None) -> dict[str, np.ndarray]:
    """Every score that the given arrays allow, per run: name -> ``[M, N]`` float64.

    Args:
        losses: [M, C, N] per-example cross-entropy.
        margins: [M, C, N] margins, or None (then correctness, forgetting, never_learned and aum
            are left out).
        el2n: [M, C, N] error norms, or None (then el2n is left out).
        at: the checkpoint T, Python-style; the scores use checkpoints 0..T.
        early: the checkpoint of EL2N, Python-style (default :func:`early_checkpoint` of C).

    Average over the runs (axis 0) for the scores of the M-run study.
    """
    shape = _shape(losses, "losses")
    for name, array in (("margins", margins), ("el2n", el2n)):
        if array is not None and _shape(array, name) != shape:
            raise ValueError(f"{name} has shape {_shape(array, name)}, but losses {shape}")
    t = _checkpoint(at, shape[1], "at")
    running = _Running(shape[0], shape[2], with_margins=margins is not None)
    for k in range(t + 1):
        running.add(_read(losses, k), None if margins is None else _read(margins, k))
    out = running.scores(_read(losses, t))
    if el2n is not None:
        k = early_checkpoint(shape[1]) if early is None else _checkpoint(early, shape[1], "early")
        out["el2n"] = _read(el2n, k)
    return out


class _Running:
    """Accumulators over checkpoints 0..T, ``[M, N]`` each; one checkpoint is added at a time."""

    def __init__(self, m: int, n: int, *, with_margins: bool) -> None:
        self.count = 0
        self.loss = np.zeros((m, n))
        self.prob = np.zeros((m, n))
        self.prob_sq = np.zeros((m, n))
        self.margins = with_margins
        if with_margins:
            self.margin = np.zeros((m, n))
            self.correct = np.zeros((m, n))
            self.forgotten = np.zeros((m, n))
            self.ever = np.zeros((m, n), dtype=bool)
            self.before: np.ndarray | None = None

    def add(self, loss: np.ndarray, margin: np.ndarray | None) -> None:
        """Checkpoint k's ``[M, N]`` losses (and margins)."""
        self.count += 1
        self.loss += loss
        p = np.exp(-loss)  # the true-class probability: the loss is -log p_y
        self.prob += p
        self.prob_sq += p * p
        if margin is not None:
            now = margin > 0
            self.margin += margin
            self.correct += now
            if self.before is not None:
                self.forgotten += self.before & ~now
            self.ever |= now
            self.before = now

    def scores(self, last_loss: np.ndarray) -> dict[str, np.ndarray]:
        """The scores of the checkpoints added so far (T = the last one)."""
        mean_p = self.prob / self.count
        out = {"easiness": last_loss.astype(np.float64), "mean_loss": self.loss / self.count,
               "confidence": mean_p,
               "variability": np.sqrt(np.maximum(self.prob_sq / self.count - mean_p * mean_p, 0.0))}
        if self.margins:
            out["correctness"] = self.correct / self.count
            out["forgetting"] = np.where(self.ever, self.forgotten, float(self.count))
            out["never_learned"] = (~self.ever).astype(np.float64)
            out["aum"] = self.margin / self.count
        return out


def _shape(array: Any, name: str) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in getattr(array, "shape", ()))
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{name} must have shape [M, C, N] with M, C, N >= 1, got {shape}")
    return shape  # type: ignore[return-value]


def _checkpoint(value: int, count: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not -count <= value < count:
        raise ValueError(f"{name} must be a checkpoint index in [{-count}, {count}), got {value!r}")
    return int(value) % count


def _read(array: Any, k: int) -> np.ndarray:
    """Checkpoint ``k`` of an ``[M, C, N]`` array as float64 ``[M, N]``; NaN refused."""
    block = np.asarray(array[:, k], dtype=np.float64)
    if np.isnan(block).any():
        raise ValueError(f"checkpoint {k} holds NaN values")
    return block
