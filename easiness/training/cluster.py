"""Multi-worker training: one study trained by several machines in lockstep (``TF_CONFIG``).

Set ``TF_CONFIG`` on every machine as TensorFlow defines it and start the same
``python -m easiness.score`` command on each; the trainer then runs under
``tf.distribute.MultiWorkerMirroredStrategy``: every update and every scoring pass is split over
the replicas of all workers, and the per-example losses are gathered so that the chief holds
every example's loss at every checkpoint. The chief (task ``chief``, or ``worker`` 0 when the
cluster has no chief) alone writes the study. The other workers hold a :class:`ShadowStudy`:
they read the committed state of the chief's study (to resume from the same epoch and weights,
so the study folder must be on a filesystem every worker sees) and write only to a scratch
folder of their own, removed at the end.

All workers train every run in the same order (:class:`LockstepQueue`); claims
(:mod:`easiness.store.claims`) are for independent processes, each training whole runs, and are not
used inside a cluster. Stdlib and numpy only; no TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from easiness.errors import EasinessError
from easiness.store.layout import MANIFEST_FILE, MODELS_DIR, STATE_DIR, read_json, run_dirname


@dataclasses.dataclass(frozen=True)
class Task:
    """This process's place in the cluster."""

    kind: str  # "chief" or "worker"
    index: int
    workers: int  # tasks that train: chief plus workers
    has_chief: bool = False  # the cluster names a chief task (else worker 0 is the chief)

    @property
    def is_chief(self) -> bool:
        return self.kind == "chief" or (self.kind == "worker" and self.index == 0 and not self.has_chief)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.index} of {self.workers}"


def task(environ: Mapping[str, str] | None = None) -> Task | None:
    """The task of this process when ``TF_CONFIG`` names a cluster of two or more workers, else None."""
    raw = (os.environ if environ is None else environ).get("TF_CONFIG", "").strip()
    if not raw:
        return None
    try:
        config = json.loads(raw)
        cluster, me = config.get("cluster", {}), config.get("task", {})
        workers = len(cluster.get("chief", [])) + len(cluster.get("worker", []))
        kind, index = str(me["type"]), int(me.get("index", 0))
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        raise EasinessError(f"TF_CONFIG is not a valid cluster description ({type(err).__name__}: {err})") from None
    if kind not in ("chief", "worker"):
        raise EasinessError(f"TF_CONFIG task type must be chief or worker, got {kind!r}")
    if len(cluster.get("chief", [])) > 1:
        raise EasinessError("TF_CONFIG names more than one chief")
    if not 0 <= index < len(cluster.get(kind, [])):
        raise EasinessError(f"TF_CONFIG task {kind} {index} is not in its cluster")
    return Task(kind, index, workers, has_chief=bool(cluster.get("chief"))) if workers > 1 else None


def local_cluster(ports: Sequence[int], index: int) -> str:
    """``TF_CONFIG`` for worker ``index`` of a cluster on this machine (tests and trials)."""
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def free_ports(count: int) -> list[int]:
    """``count`` TCP ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class ShadowRun:
    """A non-chief worker's stand-in for :class:`easiness.store.RunWriter`.

    It starts from the run's committed manifest in the chief's study (or a fresh one), keeps
    every later change in memory, writes no loss rows, and saves its training state under
    ``scratch``. ``resume_from`` is the chief's committed training state, if any.
    """

    def __init__(self, study: Path, model: str, index: int, *, seed: int, planned: Sequence[Mapping],
                 scratch: Path, records: Mapping[str, str] | None = None) -> None:
        path = study / MODELS_DIR / model / run_dirname(index)
        committed = read_json(path / MANIFEST_FILE, "run manifest") if (path / MANIFEST_FILE).exists() else None
        self.model, self.index, self.seed = model, index, seed
        self.manifest: dict[str, Any] = committed or {
            "run": index, "seed": seed, "planned": [dict(p) for p in planned], "history": [], "done": 0,
            "status": "created", "state": None, "records": dict(records or {})}
        state = self.manifest.get("state")
        self.resume_from = path / STATE_DIR / state if state else None
        self.state_dir = scratch / model / run_dirname(index)
        self.state_dir.mkdir(parents=True, exist_ok=True)

    @property
    def history(self) -> list[dict]:
        return list(self.manifest["history"])

    @property
    def status(self) -> str:
        return str(self.manifest["status"])

    @property
    def done(self) -> int:
        return int(self.manifest["done"])

    @property
    def records(self) -> dict[str, str]:
        """What the chief's run records, decided as the chief decides (a run committed before
        records existed has none), so both compile the same scoring step."""
        return dict(self.manifest.get("records", {}))

    def write_row(self, k: int, losses, records=None) -> None:
        """The chief writes the rows; nothing to do here."""

    def commit(self, *, done: int, history: Sequence[Mapping] | None = None, state: str | None = None) -> None:
        self.manifest.update(done=done, status="running")
        if history is not None:
            self.manifest["history"] = [dict(h) for h in history]

    def finish(self) -> None:
        self.manifest["status"] = "done"

    def fail(self, reason: str) -> None:
        self.manifest.update(status="failed", reason=reason)


class ShadowStudy:
    """A non-chief worker's stand-in for :class:`easiness.store.StudyWriter` (see :class:`ShadowRun`)."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root, self.scratch = Path(root), Path(scratch)

    def run(self, model: str, index: int, *, seed: int, planned: Sequence[Mapping],
            records: Mapping[str, str] | None = None, **_ignored) -> ShadowRun:
        return ShadowRun(self.root, model, index, seed=seed, planned=planned, scratch=self.scratch, records=records)


@dataclasses.dataclass
class _Turn:
    """A run's turn in a cluster: what a claim is to an independent worker, without a file."""

    model: str
    index: int
    owner: Any

    def heartbeat(self) -> None:
        """Nothing to refresh: no other process competes for the runs of a cluster."""


class LockstepQueue:
    """The runs of a cluster, in the same order on every worker (the interface of ``RunQueue``)."""

    def __init__(self, me: Task, candidates: Iterable[tuple[str, int]]) -> None:
        self.me = me
        self.label = me.label
        self._pending = list(candidates)
        self.trained: list[tuple[str, int]] = []

    def take(self, limit: int = 1) -> list[_Turn]:
        taken, self._pending = self._pending[:limit], self._pending[limit:]
        return [_Turn(model, index, self) for model, index in taken]

    @contextlib.contextmanager
    def training(self, turn: _Turn) -> Iterator[_Turn]:
        self.trained.append((turn.model, turn.index))  # on entry: the summary lists runs in order
        yield turn

    def summary(self) -> str:
        role = "chief, wrote the study" if self.me.is_chief else "wrote nothing to the study"
        runs = ", ".join(f"{m} run {i}" for m, i in self.trained) or "nothing"
        return f"{self.me.label} ({role}) trained {runs}"
