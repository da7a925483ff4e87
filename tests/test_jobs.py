"""Background scoring jobs (``easiness.ui.jobs``): a real tiny ``python -m easiness.score`` run to
the end, a cancelled one, processes that die, arguments that are never shell-interpreted."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from easiness.ui import jobs
from easiness.store import Study

TINY = "synthetic:classes=3,per_class=32,test_per_class=8,seed=1"
FAST = ["--model", "wrn10_1", "--runs", "1", "--epochs", "1", "--batch-size", "16"]


def wait_for(root: Path, job_id: str, states: tuple[str, ...], timeout: float = 240) -> jobs.Job:
    """Poll the job until its state is one of ``states``."""
    deadline = time.monotonic() + timeout
    while True:
        job = jobs.get(job_id, root)
        if job.state in states or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def exits(pid: int, timeout: float = 60) -> bool:
    """Whether the job's process is gone (and reaped) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while jobs.alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.slow
def test_a_scoring_job_runs_to_the_end_and_its_study_appears(tmp_path):
    root = tmp_path / "runs"
    job_id = jobs.start(["--dataset", TINY, *FAST, "--out", str(root / "tiny")], root)
    assert [j.id for j in jobs.list_jobs(root)] == [job_id]
    job = wait_for(root, job_id, ("done", "failed", "died"))
    assert job.state == "done", jobs.log_tail(job_id, root)
    assert (job.done, job.total, job.progress) == (1, 1, 1.0)
    assert Study.open(root / "tiny").status == "done"
    assert "wrn10_1" in jobs.log_tail(job_id, root)
    assert jobs.cancel(job_id, root) is False  # done is final, whatever the process still does
    assert exits(job.pid)  # and the process is reaped, not left a zombie


@pytest.mark.slow
def test_a_cancelled_job_stops_cleanly_and_says_so(tmp_path):
    root = tmp_path / "runs"
    job_id = jobs.start(["--dataset", "synthetic:classes=3,per_class=200,test_per_class=8,seed=1",
                         "--model", "wrn10_1", "--runs", "1", "--epochs", "50", "--batch-size", "16",
                         "--out", str(root / "long")], root)
    assert wait_for(root, job_id, ("running", "done", "failed", "died")).state == "running"
    assert jobs.cancel(job_id, root) is True
    job = wait_for(root, job_id, ("cancelled", "done", "failed", "died"), timeout=60)
    assert job.state == "cancelled", jobs.log_tail(job_id, root)
    assert exits(job.pid)


def test_a_job_whose_process_is_gone_is_died(tmp_path):
    root = tmp_path / "runs"
    folder = root / ".jobs" / "20260101-000000-abcdef"
    folder.mkdir(parents=True)
    done = subprocess.run([sys.executable, "-c", "pass"])  # a pid that no longer runs
    pid = subprocess.Popen([sys.executable, "-c", "pass"]).pid
    time.sleep(0.5)
    (folder / "job.json").write_text(json.dumps({"id": folder.name, "args": [], "pid": pid, "created": 1.0}))
    (folder / "status.json").write_text(json.dumps({"state": "running", "done": 1, "total": 4}))
    (folder / "log.txt").write_text("epoch 1\nTraceback ...\nMemoryError\n")
    (job,) = jobs.list_jobs(root)
    assert done.returncode == 0 and job.state == "died" and job.message == "MemoryError"
    meta = json.loads((folder / "job.json").read_text())
    (folder / "job.json").write_text(json.dumps({**meta, "cancel_requested": True}))
    assert jobs.get(folder.name, root).state == "cancelled"


def test_a_pid_reused_by_another_program_is_not_the_job():
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert jobs.alive(other.pid, "easiness.score") is False
    finally:
        other.kill()
        other.wait()


def test_a_finished_status_wins(tmp_path):
    for reported, running, cancel, expected in [
        ("done", False, False, "done"), ("failed", False, False, "failed"), (None, True, False, "starting"),
        ("running", True, True, "running"), ("running", False, False, "died"), (None, False, True, "cancelled"),
        ("cancelled", False, True, "cancelled"), ("weird", False, False, "died"),
    ]:
        assert jobs._state(reported, running, cancel) == expected


def test_arguments_are_never_shell_interpreted(tmp_path):
    args = jobs.score_args(out=tmp_path / "s", dataset="synthetic; touch pwned", models=["wrn10_1"], runs=2)
    assert args == ["--preset", "demo", "--out", str(tmp_path / "s"), "--dataset=synthetic; touch pwned",
                    "--model", "wrn10_1", "--runs", "2"]
    assert jobs.score_args(out=tmp_path, dataset="--out=/elsewhere")[-1] == "--dataset=--out=/elsewhere"
    with pytest.raises(jobs.JobError, match="invalid model name"):
        jobs.score_args(out=tmp_path, models=["wrn10_1; rm -rf ~"])
    with pytest.raises(jobs.JobError, match="invalid argument"):
        jobs.start(["--dataset", "a\nb"], tmp_path)
    with pytest.raises(jobs.JobError, match="chosen by the app"):
        jobs.start(["--status-file", "/tmp/x"], tmp_path)
    with pytest.raises(jobs.JobError, match="unknown job module"):
        jobs.start([], tmp_path, module="os")


@pytest.mark.parametrize("job_id", ["../x", "..", "20260101-000000-ABCDEF", "", "20260101-000000-abcdef/.."])
def test_job_ids_are_checked(tmp_path, job_id):
    with pytest.raises(jobs.JobError):
        jobs.get(job_id, tmp_path)
    with pytest.raises(jobs.JobError):
        jobs.cancel(job_id, tmp_path)


@pytest.mark.slow
def test_a_bad_dataset_spec_fails_with_the_cli_message(tmp_path):
    root = tmp_path / "runs"
    job_id = jobs.start(["--dataset=synthetic; touch pwned", "--model", "wrn10_1", "--out", str(root / "x")], root)
    job = wait_for(root, job_id, ("done", "failed", "died", "cancelled"))
    assert job.state in ("failed", "died") and "synthetic" in (job.message + jobs.log_tail(job_id, root))
    assert not (root.parent / "pwned").exists() and not Path("pwned").exists()
