"""Claims: several processes, GPUs or hosts share one study folder and each train other runs.

The M runs of a study are independent, so ``python -m easiness.score`` started several times on
the same ``--out`` (one process per GPU, or one per host on a shared filesystem) spreads them:
a process trains a run only after claiming it, skips runs that another live process holds and
never claims a run whose manifest says "done". Stdlib and numpy only; never imports TensorFlow.

Layout, beside the run folders rather than inside them (a run folder appears complete by one
atomic rename, see :mod:`easiness.store.writer`, so nothing may exist there before it)::

    <study>/claims/<model>/run-NNN/000000.json   generation 0 of run NNN's claim
    <study>/claims/<model>/run-NNN/000001.json   generation 1: a takeover, or a later claim

Why generations rather than one claim file: claiming means creating the *next* generation file
exclusively, by ``os.link`` of a fully written temp file (the name appears with its whole content
or not at all; link fails with EEXIST if the name exists, atomically on local filesystems and on
NFS). Taking over a stale claim is the very same operation, so when several workers find one
stale claim, exactly one of them creates the next generation. Generation files are never deleted,
so a name once used can never be created again: a worker with an out-of-date view of the folder
(NFS caches directory listings) can fail to claim, never claim twice. The newest generation is the
claim; the older ones are its history (who trained the run, who took over from whom).

A claim file holds its owner (host, pid, PID namespace, a random token), its state ("held", or
"released" with an outcome) and a heartbeat, the holder's wall-clock time, rewritten by a thread
every ``stale_after / 4`` seconds while the run trains. A held claim becomes free when it is
stale: its heartbeat is older than ``stale_after`` seconds (default 10 minutes), or, seen from the
same host and PID namespace, its pid is no longer alive (a crash there is taken over at once).
Hosts must therefore keep their clocks in step to well within ``stale_after`` (NTP does).

Use (what ``python -m easiness.score`` does)::

    queue = RunQueue(Claims(study_dir, stale_after=600.0), [(model, m), ...], log=print)
    while taken := queue.take(k):          # up to k runs claimed, in candidate order
        with queue.training(taken[0]) as claim:   # heartbeats from a thread, released after
            ...train, calling claim.heartbeat() after each epoch (raises ClaimLost if taken over)
    print(queue.summary())

or one run at a time: ``claim = Claims(study_dir).try_claim(model, m)`` (None if done or held),
then ``with claim: ...``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import json
import os
import re
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from easiness.store import atomic
from easiness.errors import EasinessError
from easiness.logs import Log
from easiness.store.layout import CLAIMS_DIR, MANIFEST_FILE, MODELS_DIR, now_iso, read_json, run_dirname, validate_name

STALE_AFTER = 600.0  # seconds without a heartbeat before another host may take a claim over
_GENERATION = re.compile(r"(\d+)\.json")  # zero-padded to 6 digits, more past a million
_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}


def check_timeout(seconds: float) -> float:
    """The staleness timeout as a float; a one-line error unless it is a positive number."""
    if not float(seconds) > 0:
        raise EasinessError(f"--claim-timeout must be a positive number of seconds, got {seconds}")
    return float(seconds)


class ClaimLost(EasinessError):
    """Another worker took this claim over (ours went stale: a pause, a network partition)."""

    def __init__(self, message: str, lease: "Lease | None" = None) -> None:
        super().__init__(message)
        self.lease = lease  # which one was lost, when a worker holds several


@dataclasses.dataclass(frozen=True)
class Owner:
    """Who holds a claim: a process on a host, told apart from a reused pid by a random token."""

    host: str
    pid: int
    pidns: str = ""  # the PID namespace: containers on one host may share a hostname, not pids
    token: str = ""
    started: str = ""  # the process's start time (Linux clock ticks): tells a reused pid apart

    @classmethod
    def this_process(cls) -> "Owner":
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _pid_namespace(), secrets.token_hex(8), _process_start(pid))

    @property
    def label(self) -> str:
        """``host:pid``, for log lines."""
        return f"{self.host}:{self.pid}"

    def is_dead_seen_from(self, observer: "Owner") -> bool:
        """True when ``observer`` can see that this owner's process is gone (same host and PID
        namespace, pid not alive); False when it is alive or cannot be checked from there."""
        if (self.host, self.pidns) != (observer.host, observer.pidns):
            return False
        if not pid_alive(self.pid):
            return True
        return bool(self.started) and _process_start(self.pid) not in ("", self.started)  # pid reused


def _process_start(pid: int) -> str:
    """When process ``pid`` started (field 22 of /proc/<pid>/stat), or "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()  # why: the command name before ")" may hold spaces
    return fields[19] if len(fields) > 19 else ""


def _pid_namespace() -> str:
    """This process's PID namespace (Linux), or "" where there is no such notion."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (signal 0 probes, sends nothing).

    A child of ours that has exited is reaped here, so a finished job started by this process
    does not linger as a zombie that counts as alive. The one process-alive check of the package:
    claims ask it about a holder on the same host, the app about a job it started."""
    if pid <= 0:
        return True  # why: kill(0 or -1) would probe process groups; such a pid cannot be judged
    if _reaped(pid):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # why: EPERM means it exists but belongs to another user
        return True
    return True


def _reaped(pid: int) -> bool:
    """Whether ``pid`` is an exited child of this process, now reaped (False for any other pid)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False  # not our child (the app was restarted, or another worker's): ask the kernel instead
    except OSError:
        return False
    return done == pid


@dataclasses.dataclass(frozen=True)
class Holding:
    """The newest generation of a claim folder, as read from its file."""

    generation: int
    owner: Owner | None  # None while the file is unreadable (being written without hard links)
    state: str  # "held" or "released"
    heartbeat: float  # holder's time.time() at its last heartbeat

    @property
    def label(self) -> str:
        return self.owner.label if self.owner else "an unknown worker"

    def is_free(self, *, observer: Owner, stale_after: float) -> bool:
        """Released, or held by a worker that stopped heartbeating or died."""
        if self.state != "held" or time.time() - self.heartbeat > stale_after:
            return True
        return self.owner is not None and self.owner.is_dead_seen_from(observer)


class Lease:
    """Exclusive, expiring ownership of whatever one folder of generation files stands for.

    ``try_acquire`` takes it if free; ``with lease:`` keeps it alive from a thread and releases
    it on exit; ``heartbeat`` refreshes it and raises :class:`ClaimLost` once another worker took
    it over. :class:`Claim` is a lease on one run; :mod:`easiness.store.writer` uses one to let a single
    process create a study.
    """

    def __init__(self, folder: str | os.PathLike, *, name: str = "", owner: Owner | None = None,
                 stale_after: float = STALE_AFTER) -> None:
        self.folder = Path(folder)
        self.name = name or str(self.folder)
        self.owner = owner or Owner.this_process()
        self.stale_after = check_timeout(stale_after)
        self.generation: int | None = None
        self.replaced: Holding | None = None  # the stale claim this lease took over, if any
        self.last_error: OSError | None = None  # of the last heartbeat, if it could not write
        self._acquired = ""
        self._lost: ClaimLost | None = None
        self._lock = threading.Lock()  # why: the keep-alive thread and the trainer both heartbeat
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, generation={self.generation}, owner={self.owner.label})"

    @property
    def held(self) -> bool:
        return self.generation is not None and self._lost is None

    def current(self) -> Holding | None:
        """The newest generation in the folder, or None if nothing was ever claimed."""
        generations = _generations(self.folder)
        return _read_holding(self.folder, generations[-1]) if generations else None

    def try_acquire(self) -> bool:
        """Take the lease if it is free; whether this worker holds it now."""
        if self.generation is not None:
            return self.held
        holding = self.current()
        if holding is not None and not holding.is_free(observer=self.owner, stale_after=self.stale_after):
            return False
        generation = 0 if holding is None else holding.generation + 1
        self._acquired = now_iso()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not _create_exclusive(_path(self.folder, generation), self._record("held")):
                return False  # another worker created this generation first
        except FileNotFoundError:
            return False  # the folder was removed meanwhile (a finished creation lease): look again
        self.generation = generation
        self.replaced = holding if holding is not None and holding.state == "held" else None
        return True

    def heartbeat(self) -> None:
        """Refresh the heartbeat; ClaimLost if another worker has taken the lease over.

        A filesystem error (an NFS hiccup) is kept in ``last_error``, not raised: training goes
        on, the next heartbeat tries again, and others wait stale_after before taking over.
        """
        with self._lock:
            try:
                self._check_not_overtaken()
                atomic.write_json_atomic(_path(self.folder, self.generation), self._record("held"))
                self.last_error = None
            except OSError as e:
                self.last_error = e

    def release(self, outcome: str = "released") -> None:
        """Mark the lease released (free for the next worker), with ``outcome`` for the record."""
        self._stop_keeper()
        with self._lock:
            # why: a failed write (or a removed folder) leaves the claim to go stale: slower, not wrong
            with contextlib.suppress(OSError):
                if self.held and self._successor() is None:
                    atomic.write_json_atomic(_path(self.folder, self.generation), self._record("released", outcome))
            self.generation = None

    def __enter__(self) -> "Lease":
        if not self.held:
            raise EasinessError(f"{self.name}: enter a lease only after try_acquire succeeded")
        self._stop.clear()
        self._keeper = threading.Thread(target=self._keep_alive, name=f"heartbeat {self.name}", daemon=True)
        self._keeper.start()
        return self

    def __exit__(self, kind, error, tb) -> None:
        self.release("finished" if kind is None else f"stopped by {kind.__name__}")

    def _keep_alive(self) -> None:
        """Heartbeat every stale_after / 4 seconds until released or taken over."""
        while not self._stop.wait(self.stale_after / 4):
            try:
                self.heartbeat()
            except ClaimLost:
                return  # remembered: the trainer's next heartbeat() raises it

    def _stop_keeper(self) -> None:
        self._stop.set()
        if self._keeper is not None and self._keeper is not threading.current_thread():
            self._keeper.join()
        self._keeper = None

    def _check_not_overtaken(self) -> None:
        """Raise ClaimLost (remembered) if a newer generation exists or the lease is not held."""
        if self._lost is not None:
            raise self._lost
        if self.generation is None:
            raise EasinessError(f"{self.name} is not held by this worker")
        successor = self._successor()
        if successor is not None:
            self._lost = ClaimLost(f"{self.name}: claim taken over by {successor.label}", self)
            raise self._lost

    def _successor(self) -> Holding | None:
        """The generation after ours, if another worker created it."""
        path = _path(self.folder, self.generation + 1)
        return _read_holding(self.folder, self.generation + 1) if path.exists() else None

    def _record(self, state: str, outcome: str | None = None) -> dict[str, Any]:
        return {"owner": dataclasses.asdict(self.owner), "state": state, "outcome": outcome,
                "acquired": self._acquired, "heartbeat": time.time(), "heartbeat_at": now_iso()}


def _path(folder: Path, generation: int) -> Path:
    return folder / f"{generation:06d}.json"


def _generations(folder: Path) -> list[int]:
    """The generation numbers present in ``folder``, ascending (temp files are skipped)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(int(m.group(1)) for m in map(_GENERATION.fullmatch, names) if m)


def _read_holding(folder: Path, generation: int) -> Holding:
    """A generation file as a Holding; one that cannot be parsed (yet) counts as held since its
    modification time, so it goes stale like any other."""
    path = _path(folder, generation)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        return Holding(generation, Owner(**record["owner"]), str(record["state"]), float(record["heartbeat"]))
    except FileNotFoundError:
        return Holding(generation, None, "held", time.time())  # why: vanished while read: look again later
    except (OSError, ValueError, KeyError, TypeError):
        return Holding(generation, None, "held", _mtime(path))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _create_exclusive(path: Path, record: dict[str, Any]) -> bool:
    """Create ``path`` holding ``record`` unless the name exists; whether this call created it.

    A hard link of a complete, fsynced temp file: atomic and exclusive on NFS too. A lost NFS
    reply can report EEXIST for a link that was in fact made; the temp file's link count tells.
    """
    data = atomic.dumps(record).encode("utf-8")
    tmp = atomic.temp_path(path)
    try:
        atomic.write_new_file(tmp, data)
        try:
            os.link(tmp, path)
            created = True
        except FileExistsError:
            created = tmp.stat().st_nlink > 1
        except OSError as e:
            if e.errno not in _NO_HARD_LINKS:
                raise
            created = _create_with_o_excl(path, data)
    finally:
        tmp.unlink(missing_ok=True)
    if created:
        atomic.fsync_dir(path.parent)
    return created


def _create_with_o_excl(path: Path, data: bytes) -> bool:
    """For filesystems without hard links: O_CREAT|O_EXCL (readers see an unparsable file for a
    moment, which counts as held)."""
    try:
        atomic.write_new_file(path, data)
    except FileExistsError:
        return False
    return True


class Claim(Lease):
    """The lease on one run of one model (see the module docstring for what it guarantees)."""

    def __init__(self, study_dir: str | os.PathLike, model: str, index: int, **kwargs: Any) -> None:
        self.model = validate_name(model, "model")
        self.index = int(index)
        folder = Path(study_dir) / CLAIMS_DIR / model / run_dirname(self.index)
        super().__init__(folder, name=f"{model} run {self.index}", **kwargs)


class Claims:
    """The claims of one study folder, taken on behalf of one worker (``owner``)."""

    def __init__(self, study_dir: str | os.PathLike, *, owner: Owner | None = None,
                 stale_after: float = STALE_AFTER) -> None:
        self.root = Path(study_dir)
        self.owner = owner or Owner.this_process()
        self.stale_after = check_timeout(stale_after)

    def claim(self, model: str, index: int) -> Claim:
        """The (not yet acquired) claim object of a run."""
        return Claim(self.root, model, index, owner=self.owner, stale_after=self.stale_after)

    def try_claim(self, model: str, index: int) -> Claim | None:
        """The run's claim, now held by this worker; None if the run is done or held by another
        live worker."""
        if self.is_done(model, index):
            return None
        claim = self.claim(model, index)
        if not claim.try_acquire():
            return None
        if self.is_done(model, index):  # why: it may have finished between the check and the claim
            claim.release("already done")
            return None
        return claim

    def is_done(self, model: str, index: int) -> bool:
        """Whether the run's committed manifest says "done"."""
        path = self.root / MODELS_DIR / model / run_dirname(index) / MANIFEST_FILE
        return path.exists() and read_json(path, "run manifest").get("status") == "done"

    def describe(self, model: str, index: int) -> str:
        """Why the run is not free, for a log line: "already done", "claimed by host:pid"."""
        if self.is_done(model, index):
            return "already done"
        holding = self.claim(model, index).current()
        return f"claimed by {holding.label if holding else 'another worker'}"


class RunQueue:
    """The runs one worker trains: the candidates in order, each trained only once claimed.

    ``take(k)`` claims the next (up to) k free runs, logging each one skipped, so a trainer that
    trains several runs at once asks for several; ``training(claim)`` holds one while it trains;
    ``summary()`` says what this worker did.
    """

    def __init__(self, claims: Claims, candidates: Iterable[tuple[str, int]], *,
                 log: Log = print,
                 on_skip: Callable[[str, int], None] | None = None) -> None:
        self.claims = claims
        self.log = log
        self.on_skip = on_skip
        self._pending = list(candidates)
        self._rank = {c: k for k, c in enumerate(self._pending)}  # why: runs trained together end in any order
        self.trained: list[tuple[str, int, str]] = []  # model, index, outcome
        self.skipped: list[tuple[str, int, str]] = []  # model, index, why

    def take(self, limit: int = 1) -> list[Claim]:
        """Claim the next up to ``limit`` runs in candidate order; [] once none is left."""
        taken: list[Claim] = []
        while self._pending and len(taken) < limit:
            model, index = self._pending.pop(0)
            claim = self.claims.try_claim(model, index)
            if claim is None:
                self._skip(model, index)
                continue
            if claim.replaced is not None:
                self.log(f"{model} run {index}: took over the stale claim of {claim.replaced.label}")
            taken.append(claim)
        return taken

    @contextlib.contextmanager
    def training(self, claim: Claim) -> Iterator[Claim]:
        """Hold ``claim`` (heartbeats from a thread) while the body trains its run; release it
        after. This claim's ClaimLost raised inside ends the body with a log line; the worker
        goes on with its other runs."""
        outcome = "interrupted"
        try:
            with claim:
                yield claim
                outcome = self._run_status(claim)
        except ClaimLost as lost:
            if lost.lease is not claim:
                raise  # another claim's: let the block holding that one handle it
            outcome = "lost"
            self.log(f"{lost}; stopped")
        finally:
            self.trained.append((claim.model, claim.index, outcome))

    def summary(self) -> str:
        """One line: what this worker trained and what it skipped, and why."""
        ordered = sorted(self.trained, key=lambda t: self._rank.get((t[0], t[1]), len(self._rank)))
        trained = ", ".join(f"{m} run {i} ({outcome})" for m, i, outcome in ordered) or "nothing"
        line = f"worker {self.claims.owner.label} trained {trained}"
        if self.skipped:
            line += "; skipped " + ", ".join(f"{m} run {i} ({why})" for m, i, why in self.skipped)
        return line

    def _skip(self, model: str, index: int) -> None:
        why = self.claims.describe(model, index)
        self.skipped.append((model, index, why))
        self.log(f"{model} run {index}: {why}, skipped")
        if self.on_skip is not None:
            self.on_skip(model, index)

    def _run_status(self, claim: Claim) -> str:
        path = self.claims.root / MODELS_DIR / claim.model / run_dirname(claim.index) / MANIFEST_FILE
        return str(read_json(path, "run manifest").get("status")) if path.exists() else "not started"
