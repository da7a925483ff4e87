"""`python -m easiness.score`: the public surface, bad input, resume and the summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from easiness import Study, score
from easiness.analysis import metrics

REPO = Path(__file__).resolve().parents[1]
TINY = "synthetic:classes=3,per_class=32,test_per_class=8,seed=1"
FAST = ["--runs", "2", "--epochs", "2", "--batch-size", "16", "--score-batch-size", "48"]


def run_cli(*args: str, cwd: Path = REPO, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "easiness.score", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=timeout)


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("args, message", [
    (["--model", "nosuchnet"], "unknown model 'nosuchnet'; choose one of alexnet"),
    (["--dataset", "ftp:cifar"], "synthetic"),
    (["--runs", "0"], "--runs must be an integer from 1"),
    (["--epochs", "-1"], "--epochs must be an integer from 1"),
    (["--per-class", "0"], "--per-class must be an integer from 1"),
    (["--preset", "huge"], "unknown preset 'huge'; choose one of"),
    (["--dataset", "folder:does/not/exist"], "does/not/exist"),
    (["--model", "wrn11_1"], "invalid model 'wrn11_1'"),
    (["--runs", "many"], "invalid int value"),
])
def test_bad_input_is_one_line_and_exit_status_2(tmp_path, capsys, args, message):
    code = score.main([*args, "--out", str(tmp_path / "study")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert message in err
    assert not (tmp_path / "study").exists()


def test_per_class_larger_than_a_class_is_refused(tmp_path, capsys):
    code = score.main(["--dataset", TINY, "--per-class", "1000", "--out", str(tmp_path / "s")])
    assert code == 2 and "1000" in capsys.readouterr().err


@pytest.mark.slow
def test_score_end_to_end_resume_and_refuse_other_dataset(tmp_path):
    out = tmp_path / "study"
    status = tmp_path / "status.json"
    done = run_cli("--dataset", TINY, "--model", "wrn10_1", "--model", "densenet_bc40_k12", *FAST, "--out", str(out),
                   "--status-file", str(status))
    assert done.returncode == 0, done.stderr[-2000:]
    final = json.loads(status.read_text())
    assert final["state"] == "done" and final["done"] == final["total"] == 8
    assert "matching rate of easy / hard sets between models (chance 0.10)" in done.stdout
    assert "majority mode" in done.stdout and "flipped label" in done.stdout
    assert done.stdout.count("kept for the app's Scores page") == 2
    assert (out / ".easiness-cache" / "scores" / "wrn10_1.npz").is_file()

    study = Study.open(out)
    assert study.models == ["densenet_bc40_k12", "wrn10_1"] and study.status == "done"
    losses = study.losses("wrn10_1")
    assert losses.shape == (2, 2, 96) and len(study.checkpoints("wrn10_1")) == 2
    e = metrics.easiness(losses, checkpoint=-1)
    easy, hard = metrics.easy_hard(e, fraction=0.1)
    assert len(easy) == len(hard) == 10 and e[easy].max() <= e[hard].min()
    assert study.ids[0].startswith("train/") and study.class_names == ["disc", "square", "triangle"]

    before = snapshot(out)
    again = run_cli("--dataset", TINY, "--model", "wrn10_1", "densenet_bc40_k12", *FAST, "--out", str(out))
    assert again.returncode == 0 and again.stdout.count("already done, skipped") == 4
    assert snapshot(out) == before  # a finished study is not touched

    other = run_cli("--dataset", TINY.replace("seed=1", "seed=2"), "--model", "wrn10_1", *FAST, "--out", str(out))
    assert other.returncode == 2 and "holds a study of" in other.stderr
    assert "Traceback" not in other.stderr and snapshot(out) == before


@pytest.mark.slow
def test_mirrored_cli_over_two_logical_cpus(tmp_path):
    out = tmp_path / "mirrored"
    done = run_cli("--dataset", TINY, "--model", "wrn10_1", "--runs", "1", "--epochs", "1", "--batch-size", "16",
                   "--score-batch-size", "13", "--cpu-devices", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "strategy: mirrored over 2 CPUs;" in done.stdout and "1 run(s) per compiled step" in done.stdout
    losses = np.asarray(Study.open(out).losses("wrn10_1"))
    assert losses.shape == (1, 1, 96) and np.isfinite(losses).all()


def test_default_out_names_the_dataset_and_subset():
    from easiness import config as cfg
    from easiness.training.study import default_out

    assert default_out(cfg.Config()) == Path("runs/synthetic")
    tar = cfg.Config(dataset="folder:../shared/datasets/cifar10-jpeg.tar.gz", per_class=500)
    assert default_out(tar) == Path("runs/cifar10-jpeg-pc500")
    assert default_out(cfg.Config(dataset="tfds:cifar10")) == Path("runs/cifar10")
    assert default_out(cfg.Config(dataset="npz:data/faces.npz")) == Path("runs/faces")
    # the built-in data keeps its name before its options
    assert default_out(cfg.Config(dataset="synthetic:per_class=50")) == Path("runs/synthetic-per_class-50")
    assert default_out(cfg.Config(dataset="synthetic:classes=3,seed=1")) == Path("runs/synthetic-classes-3-seed-1")


@pytest.mark.slow
def test_a_single_run_names_its_device_and_trains_one_run_per_step(tmp_path):
    done = run_cli("--dataset", TINY, "--model", "wrn10_1", "--runs", "1", "--epochs", "1", "--batch-size", "16",
                   "--score-batch-size", "48", "--out", str(tmp_path / "one"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "strategy: one device (CPU);" in done.stdout and "Strategy" not in done.stdout
    assert "1 run(s) per compiled step" in done.stdout and "4 run(s)" not in done.stdout


def test_status_file_tracks_progress_and_final_state(tmp_path):
    from easiness.store.status import StatusFile, read_status

    path = tmp_path / "status.json"
    status = StatusFile(path, total=4, out="x")
    assert read_status(path)["state"] == "starting"
    status.advance("epoch 1")
    status.advance("epoch 2")
    seen = read_status(path)
    assert seen["state"] == "running" and seen["done"] == 2 and seen["progress"] == pytest.approx(0.5)
    status.update(state="done")
    assert read_status(path)["state"] == "done" and read_status(tmp_path / "missing.json") is None
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temp files left behind


@pytest.mark.slow
def test_sigterm_cancels_and_the_same_command_resumes(tmp_path):
    import signal
    import time

    out, status = tmp_path / "study", tmp_path / "status.json"
    args = ["-m", "easiness.score", "--dataset", "synthetic:classes=3,per_class=100,test_per_class=8,seed=1",
            "--model", "wrn10_1", "--runs", "1", "--epochs", "8", "--batch-size", "16", "--out", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, *args, "--status-file", str(status)], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and (json.loads(status.read_text()) if status.exists() else {}).get("done", 0) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "run the same command again" in err
    assert json.loads(status.read_text())["state"] == "cancelled"
    committed = len(Study.open(out).checkpoints("wrn10_1"))
    assert 2 <= committed < 8

    again = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming after epoch {committed}/8" in again.stdout
    study = Study.open(out)
    assert len(study.checkpoints("wrn10_1")) == 8 and study.status == "done"
    assert [h["epoch"] for h in study.history("wrn10_1")[0]] == list(range(1, 9))


@pytest.mark.parametrize("args, message", [
    (["--seed", "4294967296"], "--seed must be an integer from 0 to 4294967292, got 4294967296"),
    (["--seed", "-1"], "--seed must be an integer from 0 to 4294967292, got -1"),
    (["--image-size", "0"], "--image-size must be an integer from 8 to 4096, got 0"),
    (["--image-size", "-3"], "--image-size must be an integer from 8 to 4096, got -3"),
    (["--cpu-devices", "-1"], "--cpu-devices must be an integer from 0 to 64, got -1"),
    (["--out", ""], "--out must name a folder, got an empty path"),
    (["--lr", "inf"], "--lr must be a finite number, got inf"),
    (["--status-file", "{tmp}/missing/status.json"],
     "--status-file {tmp}/missing/status.json: the folder {tmp}/missing does not exist"),
])
def test_out_of_range_options_are_one_line_and_write_nothing(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    args = [a.format(tmp=tmp_path) for a in args]
    assert score.main(["--runs", "4", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {message.format(tmp=tmp_path)}"]
    assert list(tmp_path.iterdir()) == []


def test_a_study_json_that_is_not_utf8_is_one_line(tmp_path, capsys):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "study.json").write_bytes(b'{"schema_version": 1, "dataset": "\xff\xfe"}')
    before = (tmp_path / "s" / "study.json").read_bytes()
    assert score.main(["--runs", "1", "--epochs", "1", "--per-class", "13", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not valid JSON" in err[0] and "study.json" in err[0]
    assert (tmp_path / "s" / "study.json").read_bytes() == before


def test_output_piped_into_a_reader_that_stops_is_no_error(tmp_path):
    """`python -m easiness.score --list | true`: the closed pipe is neither an error line nor a traceback."""
    done = subprocess.run(f"{sys.executable} -m easiness.score --list | true; echo rc=${{PIPESTATUS[0]}}",
                          shell=True, executable="/bin/bash", capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}, timeout=120)
    assert done.stdout.strip() == "rc=0" and done.stderr == "", done.stderr
