"""Claims on runs (easiness.store.claims) and concurrent creation of studies and runs (easiness.store.writer)."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import re
import socket
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from queue import Empty

import numpy as np
import pytest

from easiness.store.claims import ClaimLost, Claims, Owner, RunQueue, pid_alive
from easiness.errors import EasinessError
from easiness.store import StoreError, Study, create_study

REPO = Path(__file__).resolve().parents[1]
IDS = np.array([f"train/{i:03d}" for i in range(6)])
LABELS = np.array([0, 1, 0, 1, 0, 1])
PLAN = [{"epoch": 1.0, "step": 3}]


def other(host: str = "other-host", pid: int = 4242) -> Owner:
    """A worker that is not this process."""
    return Owner(host, pid, "pid:[1]", f"token-{host}-{pid}")


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lease(folder: Path, owner: Owner, *, heartbeat: float, generation: int = 0) -> Path:
    """A held lease file as a worker would leave it (e.g. one that crashed)."""
    path = folder / f"{generation:06d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"owner": vars(owner), "state": "held", "outcome": None, "acquired": "", "heartbeat": heartbeat}
    path.write_text(json.dumps(record))
    return path


def write_claim(study: Path, model: str, index: int, owner: Owner, *, heartbeat: float,
                generation: int = 0) -> Path:
    """A held claim on a run, written by hand."""
    folder = study / "claims" / model / f"run-{index:03d}"
    return write_lease(folder, owner, heartbeat=heartbeat, generation=generation)


def write_done_manifest(study: Path, model: str, index: int) -> None:
    path = study / "models" / model / f"run-{index:03d}" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"status": "done"}))


def generations(study: Path, model: str, index: int) -> list[dict]:
    folder = study / "claims" / model / f"run-{index:03d}"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("[0-9]*.json"))]


# ----------------------------------------------------------------------------- claiming


def test_a_claim_is_exclusive_until_released(tmp_path):
    mine, theirs = Claims(tmp_path), Claims(tmp_path, owner=other())
    claim = mine.try_claim("m", 0)
    assert claim is not None and claim.held and claim.generation == 0
    assert theirs.try_claim("m", 0) is None
    assert theirs.describe("m", 0) == f"claimed by {socket.gethostname()}:{os.getpid()}"
    assert mine.try_claim("m", 0) is None  # a second claim object of this very process waits too
    claim.release("finished")
    again = theirs.try_claim("m", 0)
    assert again is not None and again.generation == 1 and again.replaced is None  # released, not taken over
    history = generations(tmp_path, "m", 0)
    assert [g["state"] for g in history] == ["released", "held"] and history[0]["outcome"] == "finished"


def test_a_done_run_is_never_claimed(tmp_path):
    write_done_manifest(tmp_path, "m", 1)
    claims = Claims(tmp_path)
    assert claims.try_claim("m", 1) is None and claims.describe("m", 1) == "already done"
    assert not (tmp_path / "claims" / "m" / "run-001").exists()


def test_a_run_finished_while_being_claimed_is_let_go(tmp_path, monkeypatch):
    claims = Claims(tmp_path)
    answers = iter([False, True])  # not done when checked, done once claimed
    monkeypatch.setattr(claims, "is_done", lambda model, index: next(answers))
    assert claims.try_claim("m", 0) is None
    assert generations(tmp_path, "m", 0)[0]["state"] == "released"


def test_a_silent_claim_is_taken_over_and_its_holder_told(tmp_path):
    first = Claims(tmp_path, owner=other("host-a", 1)).try_claim("m", 0)
    write_claim(tmp_path, "m", 0, first.owner, heartbeat=time.time() - 601)  # no heartbeat for 10 minutes
    second = Claims(tmp_path, owner=other("host-b", 2)).try_claim("m", 0)
    assert second is not None and second.generation == 1 and second.replaced.label == "host-a:1"
    with pytest.raises(ClaimLost, match="m run 0: claim taken over by host-b:2"):
        first.heartbeat()
    first.release()  # the loser writes nothing more
    assert [g["owner"]["host"] for g in generations(tmp_path, "m", 0)] == ["host-a", "host-b"]


def test_a_dead_process_on_this_host_is_taken_over_at_once(tmp_path):
    here = Owner.this_process()
    write_claim(tmp_path, "m", 0, Owner(here.host, dead_pid(), here.pidns, "t"), heartbeat=time.time())
    write_claim(tmp_path, "m", 1, Owner("elsewhere", dead_pid(), here.pidns, "t"), heartbeat=time.time())
    claims = Claims(tmp_path)
    assert claims.try_claim("m", 0).generation == 1
    assert claims.try_claim("m", 1) is None  # another host's pid cannot be checked from here: wait
    assert claims.describe("m", 1).startswith("claimed by elsewhere:")


def test_an_exited_child_not_yet_waited_for_is_dead(tmp_path):
    """A zombie still answers signal 0; the one process-alive check (claims and app jobs) reaps it."""
    stat = Path("/proc/self/stat")
    if not stat.exists():
        pytest.skip("no /proc here")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 60
    while Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] != "Z":
        assert time.monotonic() < deadline, "the child did not exit"
        time.sleep(0.05)
    here = Owner.this_process()
    started = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    write_claim(tmp_path, "m", 0, Owner(here.host, proc.pid, here.pidns, "t", started=started), heartbeat=time.time())
    assert Claims(tmp_path).try_claim("m", 0).generation == 1  # taken over at once, not after stale_after
    assert pid_alive(proc.pid) is False and pid_alive(os.getpid()) is True
    assert not Path(f"/proc/{proc.pid}").exists()  # reaped


def test_a_reused_pid_does_not_keep_a_dead_claim_alive(tmp_path):
    here = Owner.this_process()
    if not here.started:
        pytest.skip("no /proc/<pid>/stat here")
    write_claim(tmp_path, "m", 0, Owner(here.host, os.getpid(), here.pidns, "t", started="1"), heartbeat=time.time())
    assert Claims(tmp_path).try_claim("m", 0).generation == 1  # our pid, but not the process that claimed


def test_an_unreadable_claim_counts_as_held_until_it_is_old(tmp_path):
    path = write_claim(tmp_path, "m", 0, other(), heartbeat=time.time())
    path.write_text('{"owner": {"ho')  # being written on a filesystem without hard links
    claims = Claims(tmp_path, stale_after=60)
    assert claims.try_claim("m", 0) is None and claims.describe("m", 0) == "claimed by an unknown worker"
    os.utime(path, (time.time() - 61, time.time() - 61))
    assert claims.try_claim("m", 0).generation == 1


def test_the_heartbeat_thread_keeps_a_claim_fresh(tmp_path):
    claim = Claims(tmp_path, stale_after=0.4).try_claim("m", 0)
    rival = Claims(tmp_path, owner=other(), stale_after=0.4)
    with claim:
        time.sleep(1.0)  # 2.5 timeouts, refreshed every 0.1 s
        assert rival.try_claim("m", 0) is None
    assert generations(tmp_path, "m", 0)[-1]["state"] == "released"
    assert rival.try_claim("m", 0) is not None


def test_a_filesystem_hiccup_does_not_stop_training(tmp_path, monkeypatch):
    claim = Claims(tmp_path).try_claim("m", 0)

    def unavailable(path, obj):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr("easiness.store.atomic.write_json_atomic", unavailable)
    claim.heartbeat()  # no exception: the next heartbeat tries again
    assert claim.held and claim.last_error.errno == 5
    claim.release()  # the claim is left to go stale
    assert generations(tmp_path, "m", 0)[0]["state"] == "held"


@pytest.mark.parametrize("seconds", [0, -1, float("nan")])
def test_a_timeout_must_be_positive(tmp_path, seconds):
    with pytest.raises(EasinessError, match="--claim-timeout must be a positive number of seconds"):
        Claims(tmp_path, stale_after=seconds)


def test_bad_claim_timeout_on_the_command_line_is_one_line(tmp_path, capsys):
    from easiness import score

    code = score.main(["--claim-timeout", "0", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "error: --claim-timeout must be a positive number of seconds, got 0.0"
    assert not (tmp_path / "s").exists()  # nothing written


# ----------------------------------------------------------------------------- races


def _race_takeover(study: str, host: str) -> bool:
    return Claims(study, owner=other(host, os.getpid())).try_claim("m", 0) is not None


def _race_create(root: str, fingerprint: str) -> tuple[str, int]:
    try:
        create_study(root, dataset="toy", fingerprint=fingerprint, ids=IDS, labels=LABELS, class_names=["a", "b"])
    except StoreError as e:
        return str(e), 0
    return "ok", os.stat(Path(root) / "study.json").st_ino


def _race_run(root: str) -> int:
    writer = create_study(root, dataset="toy", fingerprint="f", ids=IDS, labels=LABELS, class_names=["a", "b"])
    run = writer.run("m", 0, config={"lr": 0.1}, seed=0, planned=PLAN)
    run.write_row(0, np.arange(6, dtype=np.float32))  # every winner and loser can write its memory map
    return os.stat(run.path / "losses.npy").st_ino


def _racer(barrier, results, target, args) -> None:
    barrier.wait()
    results.put(target(*args))


def race(target, arguments: list[tuple]) -> list:
    """Run ``target(*args)`` in one fresh process per entry, all released at the same moment.

    The processes import only this module's imports (numpy, the store, the claims), never TensorFlow.
    """
    ctx = multiprocessing.get_context("spawn")  # why: never fork a test process that may hold TF threads
    barrier, results = ctx.Barrier(len(arguments)), ctx.Queue()
    procs = [ctx.Process(target=_racer, args=(barrier, results, target, args)) for args in arguments]
    main = sys.modules["__main__"]
    # why: spawn re-runs the parent's __main__ in each child; after the app tests that can be a
    # Streamlit page script, so the children start from a bare __main__ instead
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for p in procs:
            p.start()
    finally:
        sys.modules["__main__"] = main
    try:
        return [results.get(timeout=120) for _ in procs]
    except Empty:
        raise AssertionError(f"a racer gave no result; exit codes {[p.exitcode for p in procs]}") from None
    finally:
        for p in procs:
            p.join(timeout=10)


def test_threads_racing_for_one_stale_claim_have_one_winner(tmp_path):
    for generation in range(5):  # each round leaves a fresh stale claim for the next
        write_claim(tmp_path, "m", 0, other("crashed"), heartbeat=0.0, generation=generation)
        barrier, winners = threading.Barrier(12), []

        def contend(host: str) -> None:
            barrier.wait()
            claim = Claims(tmp_path, owner=other(host)).try_claim("m", 0)
            if claim is not None:
                winners.append(claim)

        threads = [threading.Thread(target=contend, args=(f"h{i}",)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(winners) == 1 and winners[0].generation == generation + 1
        (tmp_path / "claims" / "m" / "run-000" / f"{generation + 1:06d}.json").unlink()


def test_processes_racing_for_one_stale_claim_have_one_winner(tmp_path):
    write_claim(tmp_path, "m", 0, other("crashed"), heartbeat=0.0)
    assert sorted(race(_race_takeover, [(str(tmp_path), f"h{i}") for i in range(6)])) == [False] * 5 + [True]
    assert len(generations(tmp_path, "m", 0)) == 2


def test_processes_creating_one_study_at_once_write_it_once(tmp_path):
    root = tmp_path / "s"
    results = race(_race_create, [(str(root), "f")] * 4 + [(str(root), "g")] * 2)
    created = {inode for status, inode in results if status == "ok"}
    assert len(created) == 1  # every process that succeeded sees the one study.json ever written
    refused = [status for status, _ in results if status != "ok"]
    winner = Study.open(root).fingerprint
    assert len(refused) == (4 if winner == "g" else 2) and all("holds a study of toy" in r for r in refused)
    assert sorted(p.name for p in root.iterdir()) == ["ids.npy", "labels.npy", "study.json"]


def test_processes_creating_one_run_at_once_share_it(tmp_path):
    inodes = race(_race_run, [(str(tmp_path / "s"),)] * 4)
    assert len(set(inodes)) == 1  # one losses.npy: nobody's file was replaced under another's writes
    assert [p.name for p in (tmp_path / "s" / "models" / "m").iterdir()] == ["run-000"]  # no temp folders left
    assert Study.open(tmp_path / "s").problems == []


def test_a_crashed_creator_is_taken_over(tmp_path):
    root = tmp_path / "s"
    here = Owner.this_process()
    lease = root / ".easiness-creation-lease"
    write_lease(lease, Owner(here.host, dead_pid(), here.pidns, "t"), heartbeat=time.time())
    (root / ".easiness-creating").write_bytes(b"")  # it died while writing the arrays
    create_study(root, dataset="toy", fingerprint="f", ids=IDS, labels=LABELS, class_names=["a", "b"])
    assert Study.open(root).n == 6 and not lease.exists()


# ----------------------------------------------------------------------------- the worker's queue


def test_the_queue_claims_in_order_and_logs_what_it_skips(tmp_path):
    write_claim(tmp_path, "m", 1, other(), heartbeat=time.time())
    write_done_manifest(tmp_path, "m", 2)
    lines, skipped = [], []
    queue = RunQueue(Claims(tmp_path), [("m", i) for i in range(4)], log=lines.append,
                     on_skip=lambda model, index: skipped.append(index))
    taken = queue.take(2)
    assert [(c.model, c.index) for c in taken] == [("m", 0), ("m", 3)] and queue.take() == []
    assert lines == ["m run 1: claimed by other-host:4242, skipped", "m run 2: already done, skipped"]
    assert skipped == [1, 2]
    for claim in taken:
        with queue.training(claim):
            pass
    assert queue.summary() == (f"worker {queue.claims.owner.label} trained m run 0 (not started), m run 3 "
                               "(not started); skipped m run 1 (claimed by other-host:4242), m run 2 (already done)")


def test_a_lost_claim_stops_only_its_run(tmp_path):
    lines = []
    queue = RunQueue(Claims(tmp_path), [("m", 0), ("m", 1)], log=lines.append)
    claim = queue.take()[0]
    with queue.training(claim):
        write_claim(tmp_path, "m", 0, claim.owner, heartbeat=0.0)  # we were paused for long ...
        Claims(tmp_path, owner=other()).try_claim("m", 0)  # ... and another worker took over
        claim.heartbeat()  # what the trainer does after every epoch
        raise AssertionError("not reached")
    assert lines == ["m run 0: claim taken over by other-host:4242; stopped"]
    assert queue.trained == [("m", 0, "lost")] and queue.take()[0].index == 1


# ----------------------------------------------------------------------------- two workers, one study


WORKER = ["--dataset", "synthetic", "--per-class", "20", "--model", "wrn10_1", "--runs", "4", "--epochs", "1", "--fuse", "1",
          "--batch-size", "20", "--score-batch-size", "200"]


def start_worker(out: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "easiness.score", *WORKER, "--out", str(out)], cwd=REPO,
                            env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def create_worker_study(out: Path) -> None:
    """The study the workers open, created beforehand so that crashed claims can be planted in it."""
    from easiness import data, score  # imports TensorFlow
    from easiness.training.study import open_study

    config = score.resolve_config(score.build_parser().parse_args(WORKER))
    dataset = data.load(config.dataset, per_class=config.per_class, seed=config.seed, image_size=config.image_size)
    open_study(out, dataset)


@pytest.mark.slow
def test_two_workers_share_a_study_and_take_over_crashed_claims(tmp_path):
    out = tmp_path / "study"
    create_worker_study(out)
    here = Owner.this_process()
    write_claim(out, "wrn10_1", 2, other("gone-host"), heartbeat=time.time() - 3600)  # silent for an hour
    write_claim(out, "wrn10_1", 3, Owner(here.host, dead_pid(), here.pidns, "t"), heartbeat=time.time())
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [start_worker(out, log) for log in logs]
    assert [w.wait(timeout=300) for w in workers] == [0, 0], logs[0].read_text()[-2000:] + logs[1].read_text()[-2000:]

    trained = {}  # run -> the pid of the worker whose log says it trained it
    for worker, log in zip(workers, logs):
        for index in re.findall(r"wrn10_1 run (\d): done in", log.read_text()):
            assert index not in trained, f"run {index} trained twice"
            trained[index] = worker.pid
    assert sorted(trained) == ["0", "1", "2", "3"]
    text = logs[0].read_text() + logs[1].read_text()
    assert "run 2: took over the stale claim of gone-host:4242" in text and "run 3: took over the stale claim" in text

    study = Study.open(out)
    assert study.status == "done" and study.problems == []
    for manifest in study.runs("wrn10_1"):
        assert manifest["resumes"] == []  # created and finished by one worker, never resumed by another
        assert manifest["provenance"]["worker"] == f"{here.host}:{trained[str(manifest['run'])]}"
    losses = np.asarray(study.losses("wrn10_1")[:, :, :])
    assert losses.shape == (4, 1, 200) and np.isfinite(losses).all() and (losses > 0).all()


def test_a_lost_claim_among_several_is_handled_by_its_own_block(tmp_path):
    lines = []
    queue = RunQueue(Claims(tmp_path), [("m", 0), ("m", 1)], log=lines.append)
    first, second = queue.take(2)
    with contextlib.ExitStack() as held:  # how a trainer holds the runs it trains together
        held.enter_context(queue.training(first))
        held.enter_context(queue.training(second))
        write_claim(tmp_path, "m", 0, first.owner, heartbeat=0.0)
        Claims(tmp_path, owner=other()).try_claim("m", 0)
        first.heartbeat()
    assert lines == ["m run 0: claim taken over by other-host:4242; stopped"]
    assert sorted(queue.trained) == [("m", 0, "lost"), ("m", 1, "interrupted")]
