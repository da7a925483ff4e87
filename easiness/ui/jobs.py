"""Jobs started from the app: ``python -m easiness.score`` (or ``easiness.ablate``) as separate
background processes.

A job is a folder ``<runs root>/.jobs/<id>/`` holding ``job.json`` (what was started, the pid),
``status.json`` (the CLI's progress, rewritten atomically by ``--status-file``) and ``log.txt``
(its output). The process runs in its own session (``start_new_session``), so it survives a page
reload and even a restart of the app; Cancel sends SIGTERM to its process group, which the CLI
turns into a clean stop with status "cancelled" (running the same command again resumes).

The command line is a list of arguments, never a shell string: a dataset spec typed in a form is
one argument, passed as ``--dataset=SPEC`` so that even a value starting with ``-`` stays a value.
The CLI runs in the runs root's parent folder, so relative dataset paths (``folder:../x``) and
the presets' paths resolve as they do when the CLI is run by hand from the repository.

Pure Python: no Streamlit, no TensorFlow (the CLI imports TensorFlow in its own process).
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from easiness.errors import EasinessError
from easiness.store import atomic
from easiness.store.claims import pid_alive
from easiness.store.layout import StoreError, read_json
from easiness.store.status import read_status

JOBS_DIR = ".jobs"
JOB_FILE = "job.json"
STATUS_FILE = "status.json"
LOG_FILE = "log.txt"
ACTIVE = ("starting", "running")
DEMO_ARGS = ("--preset", "demo", "--runs", "2", "--epochs", "2")  # a demo small enough for a first look
MODULES = ("easiness.score", "easiness.ablate")  # the CLIs a job may run (both take --status-file)
_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")
_MODEL = re.compile(r"[a-z][a-z0-9_]*")
_REPO = Path(__file__).resolve().parents[2]  # the folder holding the easiness package


class JobError(EasinessError):
    """A job that cannot be started, found or cancelled; the message is one line."""


@dataclasses.dataclass(frozen=True)
class Job:
    """One job as seen now: what was started and its derived state."""

    id: str
    module: str
    args: list[str]
    out: str | None
    pid: int
    created: float
    state: str  # starting, running, done, failed, cancelled, died
    done: int
    total: int
    progress: float
    message: str

    @property
    def active(self) -> bool:
        """Whether the job may still make progress."""
        return self.state in ACTIVE


def jobs_dir(runs_root: str | os.PathLike) -> Path:
    """``<runs root>/.jobs`` (hidden, so the study listing skips it)."""
    return Path(runs_root).resolve() / JOBS_DIR


def start(args: Sequence[str], runs_root: str | os.PathLike, *, module: str = "easiness.score") -> str:
    """Start ``python -m <module> *args`` in the background; the new job's id."""
    if module not in MODULES:
        raise JobError(f"unknown job module {module!r}; choose one of {', '.join(MODULES)}")
    argv = [_check_arg(a) for a in args]
    if any(a == "--status-file" or a.startswith("--status-file=") for a in argv):
        raise JobError("the job's --status-file is chosen by the app")
    root = Path(runs_root).resolve()
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    folder = jobs_dir(root) / job_id
    folder.mkdir(parents=True)
    command = [sys.executable, "-m", module, *argv, "--status-file", str(folder / STATUS_FILE)]
    with open(folder / LOG_FILE, "ab") as log:
        process = subprocess.Popen(command, cwd=root.parent, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True, env=_environment())
    atomic.write_json_atomic(folder / JOB_FILE, {
        "id": job_id, "module": module, "args": argv, "out": _out_of(argv), "pid": process.pid,
        "created": time.time(),
        "cwd": str(root.parent), "cancel_requested": False})
    return job_id


def _check_arg(arg: Any) -> str:
    """An argument as given, if it is a string a command line can carry."""
    if not isinstance(arg, str) or "\x00" in arg or "\n" in arg:
        raise JobError(f"invalid argument {arg!r}")
    return arg


def _environment() -> dict[str, str]:
    """The CLI's environment: ours, with this package importable and unbuffered output."""
    path = os.pathsep.join(p for p in (str(_REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}


def _out_of(argv: Sequence[str]) -> str | None:
    """The value of ``--out`` in ``argv``, if any."""
    for i, arg in enumerate(argv):
        if arg.startswith("--out="):
            return arg.split("=", 1)[1]
        if arg == "--out" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def score_args(*, out: Path, preset: str = "demo", dataset: str = "", models: Sequence[str] = (),
               runs: int | None = None, epochs: int | None = None, per_class: int | None = None) -> list[str]:
    """The CLI arguments of a scoring form; empty fields keep the preset's values."""
    args = ["--preset", preset, "--out", str(out)]
    if dataset.strip():
        args.append(f"--dataset={dataset.strip()}")
    bad = [m for m in models if not _MODEL.fullmatch(m)]
    if bad:
        raise JobError(f"invalid model name {bad[0]!r}: use the zoo's names, e.g. wrn16_4")
    if models:
        args += ["--model", *models]
    for flag, value in (("--runs", runs), ("--epochs", epochs), ("--per-class", per_class)):
        if value:
            args += [flag, str(int(value))]
    return args


def list_jobs(runs_root: str | os.PathLike, *, limit: int = 50) -> list[Job]:
    """The newest ``limit`` jobs under the runs root, newest first; unreadable folders skipped."""
    folder = jobs_dir(runs_root)
    if not folder.is_dir():
        return []
    ids = sorted((p.name for p in folder.iterdir() if _ID.fullmatch(p.name)), reverse=True)
    found = (_load(folder / job_id) for job_id in ids[:limit])
    return [job for job in found if job is not None]


def get(job_id: str, runs_root: str | os.PathLike) -> Job:
    """The job ``job_id``; JobError if there is none."""
    job = _load(_folder(job_id, runs_root))
    if job is None:
        raise JobError(f"no job {job_id!r}")
    return job


def _folder(job_id: str, runs_root: str | os.PathLike) -> Path:
    """The folder of ``job_id``, after checking the id's form (ids never carry a path)."""
    if not isinstance(job_id, str) or not _ID.fullmatch(job_id):
        raise JobError(f"invalid job id {job_id!r}")
    return jobs_dir(runs_root) / job_id


def _load(folder: Path) -> Job | None:
    """The job in ``folder`` with its state derived now, or None if its job.json (or status.json)
    cannot be read as one: a damaged job folder hides that job, never the page listing jobs."""
    try:
        meta = read_json(folder / JOB_FILE, "job")
        pid = int(meta["pid"])
        status = read_status(folder / STATUS_FILE) if _regular(folder / STATUS_FILE) else None
        return _job(folder, meta, pid, status if isinstance(status, dict) else {}) if pid > 0 else None
    except (StoreError, KeyError, TypeError, ValueError):
        return None


def _job(folder: Path, meta: dict[str, Any], pid: int, status: dict[str, Any]) -> Job:
    """The :class:`Job` that ``job.json`` and ``status.json`` describe (ValueError or TypeError
    for fields of the wrong type)."""
    module = str(meta.get("module", "easiness.score"))
    state = _state(status.get("state"), alive(pid, module), bool(meta.get("cancel_requested")))
    message = status.get("message") or ""
    if state in ("died", "failed") and not message:
        message = last_line(folder / LOG_FILE)
    out = meta.get("out")
    return Job(id=folder.name, module=module, args=[str(a) for a in meta.get("args", [])],
               out=None if out is None else str(out), pid=pid, created=float(meta.get("created", 0)), state=state,
               done=int(status.get("done", 0)), total=int(status.get("total", 0)),
               progress=float(status.get("progress", 0.0)), message=str(message))


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file we may look at (a FIFO in its place would block a read
    forever)."""
    try:
        return path.is_file()
    except OSError:
        return False


def _state(reported: str | None, running: bool, cancel_requested: bool) -> str:
    """The job's state from what its status file says and whether its process still runs."""
    if reported in (None, *ACTIVE):
        if running:
            return reported or "starting"
        return "cancelled" if cancel_requested else "died"
    return reported if reported in ("done", "failed", "cancelled") else "died"


def alive(pid: int, module: str = "easiness.score") -> bool:
    """Whether process ``pid`` still runs ``python -m <module>`` (a zombie child is reaped, and a
    pid reused by another program does not count)."""
    return pid_alive(pid) and _runs_module(pid, module)


def _runs_module(pid: int, module: str) -> bool:
    """Whether ``pid``'s command line runs ``module`` (True where /proc is unavailable)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()
    except OSError:
        return True
    return module.encode() in cmdline.split(b"\x00")


def cancel(job_id: str, runs_root: str | os.PathLike) -> bool:
    """Ask job ``job_id`` to stop (SIGTERM to its process group); False if it was not running."""
    folder = _folder(job_id, runs_root)
    job = get(job_id, runs_root)
    if not job.active:
        return False
    meta = read_json(folder / JOB_FILE, "job")
    atomic.write_json_atomic(folder / JOB_FILE, {**meta, "cancel_requested": True})
    try:
        os.killpg(job.pid, signal.SIGTERM)  # start_new_session made the pid its group's id
    except ProcessLookupError:
        return False
    return True


def log_tail(job_id: str, runs_root: str | os.PathLike, *, lines: int = 20) -> str:
    """The last ``lines`` lines of the job's output."""
    path = _folder(job_id, runs_root) / LOG_FILE
    if not _regular(path):
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 64 * 1024))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def last_line(path: Path) -> str:
    """The last non-empty line of a log file ("" if none)."""
    if not _regular(path):
        return ""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 4096))
            lines = [line for line in f.read().decode("utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else ""
