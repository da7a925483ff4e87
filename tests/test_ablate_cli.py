"""`python -m easiness.ablate`: bad input, an end-to-end ablation on tiny synthetic data, resume
after a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from easiness import Study, ablate
from easiness import config as cfg
from easiness.analysis import ablation, ablation_plan
from easiness.store import create_study

REPO = Path(__file__).resolve().parents[1]
TINY = "synthetic:classes=3,per_class=32,test_per_class=8,seed=1"
MODEL = "wrn10_1"


def write_study(root: Path, *, n: int = 96, runs: int = 2, checkpoints: int = 2, finished: bool = True,
                batch_size: int = 16) -> Path:
    """A study folder as the scorer leaves it, with made-up losses (no training)."""
    rng = np.random.default_rng(0)
    config = cfg.Config(dataset=TINY, models=(MODEL,), runs=runs, epochs=checkpoints, batch_size=batch_size)
    writer = create_study(root, dataset=TINY, fingerprint="f" * 64, ids=np.array([f"train/{i:06d}" for i in range(n)]),
                          labels=np.arange(n) % 3, class_names=["disc", "square", "triangle"])
    plan = [{"epoch": float(k + 1), "step": (k + 1) * (n // batch_size)} for k in range(checkpoints)]
    for m in range(runs):
        run = writer.run(MODEL, m, config=config.run_config(MODEL), seed=m, planned=plan)
        for k in range(checkpoints):
            run.write_row(k, rng.gamma(0.5, 1.0, n).astype(np.float32))
        run.commit(done=checkpoints, history=[{"epoch": k + 1} for k in range(checkpoints)])
        if finished:
            run.finish()
        run.close()
    return root


def run_cli(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "easiness.ablate", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def made_up(tmp_path_factory) -> Path:
    return write_study(tmp_path_factory.mktemp("made-up") / "study")


@pytest.mark.parametrize("args, message", [
    (["--fractions", "0"], "strictly between 0 and 1, got 0"),
    (["--fractions", "0.2", "1.0"], "strictly between 0 and 1, got 1"),
    (["--fractions", "-0.1"], "strictly between 0 and 1"),
    (["--model", "resnet50"], "no model 'resnet50'"),
    (["--checkpoint", "3"], "--checkpoint 3 is beyond the 2 recorded checkpoints"),
    (["--checkpoint", "0"], "--checkpoint 0 is beyond"),
    (["--strategy", "stepwise", "--fractions", "0.25"], "cannot reach 0.25"),
    (["--fractions", "0.9"], "fewer than the batch size 16"),
    (["--seeds", "0"], "--seeds must be from 1"),
    (["--chain-seed", "-1"], "--chain-seed must be >= 0"),
    (["--epochs", "0"], "--epochs must be an integer from 1"),
    (["--strategy", "stepwise", "--step", "1.5", "--fractions", "0.2"], "step must lie strictly between 0 and 1"),
    (["--strategy", "median"], "invalid choice: 'median'"),
    (["--easy-weighting", "sqrt"], "invalid choice: 'sqrt'"),
    (["--fractions", "a"], "invalid float value"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(made_up, tmp_path, capsys, args, message):
    argv = ["--study", str(made_up), "--model", MODEL, *args]  # a repeated option: the last one counts
    out, status = tmp_path / "ablation", tmp_path / "status.json"
    code = ablate.main([*argv, "--out", str(out), "--status-file", str(status)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    assert message in err
    assert not out.exists() and not status.exists()


def test_a_study_still_being_written_is_refused(tmp_path, capsys):
    study = write_study(tmp_path / "busy", finished=False)
    code = ablate.main(["--study", str(study), "--model", MODEL, "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and "still being written" in err and not (tmp_path / "out").exists()


def test_a_folder_that_is_no_study_is_refused(tmp_path, capsys):
    code = ablate.main(["--study", str(tmp_path), "--model", MODEL, "--out", str(tmp_path / "out")])
    assert code == 2 and "is not a study" in capsys.readouterr().err


def test_data_that_is_not_the_studys_is_refused(made_up, tmp_path, capsys):
    # The made-up study's fingerprint is not that of the TINY data it names.
    code = ablate.main(["--study", str(made_up), "--model", MODEL, "--fractions", "0.2", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and "fingerprint differs" in err and not (tmp_path / "o").exists()


def test_an_out_folder_with_other_settings_or_other_files_is_refused(made_up, tmp_path, capsys):
    out = tmp_path / "ablation"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    argv = ["--study", str(made_up), "--model", MODEL, "--out", str(out)]
    assert ablate.main(argv) == 2 and "holds no ablation" in capsys.readouterr().err
    (out / "notes.txt").unlink()
    (out / "ablation.json").write_text(json.dumps({"settings": {"model": MODEL, "checkpoint": 1}}))
    assert ablate.main(argv) == 2 and "other settings (" in capsys.readouterr().err


def test_truncated_schedule_keeps_the_milestone_epochs():
    full = cfg.Config(epochs=300)
    short = ablation_plan.truncated(full, epochs=200)
    assert short.epochs == 200 and short.score_every == 0
    assert [cfg.lr_at(short, e) for e in (149, 150, 199)] == [cfg.lr_at(full, e) for e in (149, 150, 199)]
    three = ablation_plan.truncated(cfg.Config(epochs=3), epochs=2)  # 3 epochs decay once, at epoch 2
    assert [cfg.lr_at(three, e) for e in range(2)] == [0.1, 0.1]


def test_config_from_run_reads_the_manifest_config():
    run = cfg.Config(dataset=TINY, epochs=5, batch_size=16, lr=0.05).run_config(MODEL)
    config = ablation_plan.config_from_run(json.loads(json.dumps(run)), epochs=2, seed=7)
    assert config.epochs == 2 and config.batch_size == 16 and config.lr == 0.05 and config.seed == 7
    assert config.models == (MODEL,) and config.lr_milestones == cfg.CIFAR_MILESTONES


# --------------------------------------------------------------------------- training (slow)


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory) -> Path:
    """A real study of the tiny synthetic data: 2 runs x 2 epochs of wrn10_1 (about 10 s)."""
    out = tmp_path_factory.mktemp("tiny") / "study"
    done = subprocess.run([sys.executable, "-m", "easiness.score", "--dataset", TINY, "--model", MODEL, "--runs", "2",
                           "--epochs", "2", "--batch-size", "16", "--score-batch-size", "48", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_end_to_end_ablation_then_nothing_is_recomputed(tiny_study, tmp_path):
    out, status = tmp_path / "ablation", tmp_path / "status.json"
    args = ["--study", str(tiny_study), "--model", MODEL, "--fractions", "0.2", "--seeds", "1",
            "--out", str(out)]
    done = run_cli(*args, "--status-file", str(status))
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(status.read_text())["state"] == "done"

    rows = ablation.parse_rows((out / "ablation.csv").read_text())
    assert set(ablation.COLUMNS) <= set((out / "ablation.csv").read_text().splitlines()[0].split(","))
    assert sorted((r["strategy"], r["target_fraction"]) for r in rows) == [
        ("easy", 0.2), ("full", 0.0), ("hard", 0.2), ("random", 0.2), ("stepwise", 0.2)]
    study = Study.open(tiny_study)
    for r in rows:
        assert 0.0 <= r["test_accuracy"] <= 1.0 and r["status"] == "done"
        ids = (out / r["kept_file"]).read_text().split()
        kept = np.load(out / r["kept_file"].replace(".txt", ".npy"))
        assert ids == study.ids[kept].tolist() and len(ids) == r["kept"] == 96 - r["removed"]
        assert r["removed"] == (0 if r["strategy"] == "full" else 19)  # round(0.2 * 96)
        assert r["removed_fraction"] == pytest.approx(r["removed"] / 96, abs=1e-6)

    step = Study.open(out / "stepwise" / "step-01")  # a normal study of the 86 examples left after 10%
    assert step.n == 86 and step.status == "done" and len(step.runs(MODEL)) == 2
    assert len(step.checkpoints(MODEL)) == 2  # scored up to the same T (epoch 2)
    meta = json.loads((out / "ablation.json").read_text())
    assert meta["settings"]["model"] == MODEL and meta["costs"]["scoring"] == 2 * 12 * 16
    assert {r["strategy"] for r in meta["readout"]} == {"full", "easy", "hard", "random", "stepwise"}
    assert "break-even trainings" in done.stdout

    before = snapshot(out)
    again = run_cli(*args)
    assert again.returncode == 0 and "0 points to train, 5 already done" in again.stdout
    assert snapshot(out) == before  # finished points are never recomputed

    more = run_cli(*args[:-4], "--strategy", "random", "--fractions", "0.2", "--seeds", "2", "--out", str(out))
    assert more.returncode == 0 and "2 points to train, 2 already done" in more.stdout
    assert len(ablation.parse_rows((out / "ablation.csv").read_text())) == 7


@pytest.mark.slow
def test_a_killed_ablation_continues_where_it_stopped(tiny_study, tmp_path):
    out, status = tmp_path / "ablation", tmp_path / "status.json"
    args = ["-m", "easiness.ablate", "--study", str(tiny_study), "--model", MODEL, "--strategy", "random",
            "--fractions", "0.2", "0.4", "--seeds", "1", "--epochs", "1", "--out", str(out)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, *args, "--status-file", str(status)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    csv = out / "ablation.csv"
    deadline = time.time() + 300
    while time.time() < deadline and not (csv.exists() and len(csv.read_text().splitlines()) >= 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # a hard kill, no clean-up
    proc.wait(timeout=60)
    first = ablation.parse_rows(csv.read_text())
    assert 1 <= len(first) < 3 and first[0]["strategy"] == "full"

    resumed = subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"{3 - len(first)} points to train, {len(first)} already done" in resumed.stdout
    rows = ablation.parse_rows(csv.read_text())
    assert [ablation.point_key(r["strategy"], r["target_fraction"], r["seed"]) for r in rows] == [
        ("full", "0", 0), ("random", "0.2", 0), ("random", "0.4", 0)]
    assert rows[:len(first)] == first  # what was finished before the kill is kept as it was


def test_stepwise_studies_follow_the_studys_schedule_whatever_the_retraining_epochs(tmp_path):
    study = write_study(tmp_path / "study", checkpoints=3)
    args = ablate.build_parser().parse_args(["--study", str(study), "--model", MODEL, "--checkpoint", "2",
                                             "--epochs", "10"])
    plan = ablation_plan.resolve(ablate.request_of(args))
    assert plan.retrain.epochs == 10 and plan.rescore.epochs == 2 and plan.rescore.runs == 2
    study_config = cfg.Config(epochs=3)  # the made-up study trained 3 epochs: lr 0.1, 0.1, 0.01
    assert [cfg.lr_at(plan.rescore, e) for e in range(2)] == [cfg.lr_at(study_config, e) for e in range(2)]
    assert plan.out == tmp_path / "study-ablation-wrn10_1"
