"""Per-example loss recording: scatter batches of (index, loss) into one dense row.

The example index travels with every batch, so the order in which batches arrive (shuffled,
sharded over replicas, uneven last batch) never decides where a loss lands. Numpy only.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import numpy as np


class Scored(NamedTuple):
    """One scoring pass of one run: losses [N] float32, the accuracy, and the other per-example
    arrays recorded with the losses (name -> [N] float32, e.g. margins and EL2N; may be empty)."""

    losses: np.ndarray
    accuracy: float
    records: dict[str, np.ndarray]


class LossRecorder:
    """Collects one scoring pass: ``update(indices, losses)`` per batch, then ``flush()``.

    Vectorised scatter (no per-example Python loop); the indices of the whole pass are checked
    once at the end so that every example is recorded exactly once.
    """

    def __init__(self, n: int):
        self.n = n
        self._row = np.full(n, np.nan, dtype=np.float32)
        self._correct = np.zeros(n, dtype=bool)
        self._records: dict[str, np.ndarray] = {}
        self._seen: list[np.ndarray] = []

    def update(self, indices: np.ndarray, losses: np.ndarray, correct: np.ndarray | None = None,
               records: Mapping[str, np.ndarray] | None = None) -> None:
        """Record a batch. indices: [B] int; losses: [B] float; correct: [B] bool (optional);
        records: name -> [B] float of the other arrays scored with the losses (optional)."""
        indices = np.asarray(indices, dtype=np.int64)
        self._row[indices] = losses
        if correct is not None:
            self._correct[indices] = correct
        for name, values in (records or {}).items():
            if name not in self._records:
                self._records[name] = np.full(self.n, np.nan, dtype=np.float32)
            self._records[name][indices] = values
        self._seen.append(indices)

    def flush(self) -> Scored:
        """Return the pass (losses [N] float32, accuracy, records) and reset; raise if an example
        was missed or doubled."""
        seen = np.concatenate(self._seen) if self._seen else np.zeros(0, dtype=np.int64)
        counts = np.bincount(seen, minlength=self.n)
        if counts.size != self.n or counts.min() != 1 or counts.max() != 1:
            missing, doubled = int((counts == 0).sum()), int((counts > 1).sum())
            raise RuntimeError(f"scoring pass covered the examples unevenly: {missing} missing, {doubled} repeated")
        scored = Scored(self._row, float(self._correct.mean()), self._records)
        self.__init__(self.n)
        return scored
