"""The progress file of a long job, written atomically so a reader never sees half of it.

``python -m easiness.score --status-file PATH`` (and the ablation CLI) keep PATH up to date:
state, progress in epochs, the last message. The app reads it to show jobs that run as
separate processes; pure Python, no TensorFlow.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

from easiness.store.atomic import write_json_atomic
from easiness.errors import EasinessError

STATES = ("starting", "running", "done", "failed", "cancelled")


class StatusFile:
    """Accumulates a job's status and rewrites ``path`` atomically on every update."""

    def __init__(self, path: str | os.PathLike | None, *, total: int = 0, **fields: Any):
        self.path = Path(path) if path else None
        if self.path is not None:
            check_status_file(self.path)
        now = time.time()
        self.data: dict[str, Any] = {"state": "starting", "pid": os.getpid(), "started": now, "updated": now,
                                     "done": 0, "total": total, "progress": 0.0, "message": "", **fields}
        self._write()

    def update(self, **fields: Any) -> None:
        self.data.update(fields, updated=time.time())
        total = self.data.get("total") or 0
        self.data["progress"] = min(1.0, self.data["done"] / total) if total else 0.0
        self._write()

    def advance(self, message: str) -> None:
        """One unit of work (an epoch) finished."""
        self.update(state="running", done=self.data["done"] + 1, message=message)

    def _write(self) -> None:
        if self.path is not None:
            write_json_atomic(self.path, self.data)


def check_status_file(path: str | os.PathLike) -> None:
    """EasinessError (one line, nothing written) when ``--status-file`` cannot be written: its
    folder is missing, a part of its path is a file, it names a folder, or a read-only place."""
    from easiness.cli import check_writable_place

    path = Path(path)
    if not path.parent.exists():
        raise EasinessError(f"--status-file {path}: the folder {path.parent} does not exist")
    check_writable_place(path, "--status-file", folder=False)


def read_status(path: str | os.PathLike) -> dict[str, Any] | None:
    """The last status written at ``path``, or None if there is none (or it is unreadable)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


_TERMINATED: list[int] = []  # set by SIGTERM; long jobs check it again after every epoch


def interrupt_on_sigterm() -> None:
    """Treat SIGTERM (the app's Cancel) like Ctrl-C, so the status file ends "cancelled".

    The handler raises at once; if TensorFlow code swallows that exception, the flag still stops
    the job at the next :func:`stop_if_terminated`.
    """

    def handler(signum, frame):
        _TERMINATED.append(signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def stop_if_terminated() -> None:
    """Raise KeyboardInterrupt if SIGTERM arrived (call between units of work)."""
    if _TERMINATED:
        raise KeyboardInterrupt


def run_job(status: StatusFile, work: Callable[[], None], *, resume_hint: str) -> int:
    """Run ``work`` and keep the status file's final state true; the exit status.

    Done: 0. A user error or a file system error (a full or read-only disk): state "failed" (if
    the status file can still be written), re-raised for the caller's one-line message.
    Interrupted (Ctrl-C, SIGTERM): state "cancelled", ``resume_hint`` on stderr, 130.
    """
    try:
        work()
        status.update(state="done", message="finished")
        return 0
    except EasinessError as err:
        _last(status, state="failed", message=str(err))
        raise
    except OSError as err:  # a full or read-only disk: one line from the command, the study resumable
        from easiness.cli import os_error_line

        _last(status, state="failed", message=os_error_line(err))
        raise
    except KeyboardInterrupt:
        _last(status, state="cancelled", message="interrupted")
        print(f"interrupted: {resume_hint}", file=sys.stderr)
        return 130


def _last(status: StatusFile, **fields: Any) -> None:
    """The final status, if it can still be written (on a full disk it cannot: the command's
    own one-line error says why, and the app sees the process gone)."""
    with contextlib.suppress(OSError):
        status.update(**fields)
