"""Issue 13 on the command line: every command (score, ablate, export, compare) ends bad input and
file system failures with exactly one line on stderr and exit status 2, touches nothing already
written, and states the M runs it averaged.

1. damaged or failed runs are refused by ablate, export and compare unless --skip-damaged;
2. unwritable places (a path through a file, /proc, a read-only or full disk), unreadable
   study.json / ablation.json / ablation.csv, FIFOs and file objects in messages: one line, and
   after a full disk the same command continues;
3. --list and --help answer without importing TensorFlow;
4. no TensorFlow start-up noise around that one line.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from easiness import ablate, compare, export, fake, score
from easiness.analysis import ablation
from easiness.store import atomic
from easiness import config as cfg
from easiness.store import create_study

REPO = Path(__file__).resolve().parents[1]
TINY = "synthetic:classes=3,per_class=16,test_per_class=4,size=16,seed=1"
MODEL = "wrn10_1"
N = 96


def folder_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def clean_env(**extra: str) -> dict[str, str]:
    """What a user's shell gives: no TF_CPP_MIN_LOG_LEVEL, nothing of pytest's."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "PYTHONPATH": str(REPO),
            "EASINESS_CACHE": os.environ.get("EASINESS_CACHE", "/tmp/easiness-test-cache"), **extra}


def run_module(module: str, *args: str, cwd: Path = REPO, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, cwd=cwd,
                          env=env or clean_env(), timeout=300)


def write_study(root: Path, *, runs: int = 3, checkpoints: int = 2) -> Path:
    """A finished study of made-up losses (no training), shaped as the scorer leaves it."""
    rng = np.random.default_rng(0)
    config = cfg.Config(dataset=TINY, models=(MODEL,), runs=runs, epochs=checkpoints, batch_size=16)
    writer = create_study(root, dataset=TINY, fingerprint="f" * 64, ids=np.array([f"train/{i:06d}" for i in range(N)]),
                          labels=np.arange(N) % 3, class_names=["disc", "square", "triangle"])
    plan = [{"epoch": float(k + 1), "step": (k + 1) * (N // 16)} for k in range(checkpoints)]
    for m in range(runs):
        run = writer.run(MODEL, m, config=config.run_config(MODEL), seed=m, planned=plan)
        for k in range(checkpoints):
            run.write_row(k, rng.gamma(0.5, 1.0, N).astype(np.float32))
        run.commit(done=checkpoints, history=[{"epoch": k + 1} for k in range(checkpoints)])
        run.finish()
    return root


@pytest.fixture(scope="module")
def healthy(tmp_path_factory) -> Path:
    return write_study(tmp_path_factory.mktemp("healthy") / "study")


@pytest.fixture(scope="module")
def score_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("scores") / "scores.csv"
    path.write_text("id,s\n" + "".join(f"train/{i:06d},{(i * 7) % 11}\n" for i in range(N)))
    return path


def damage(study: Path, kind: str, run: int = 1) -> None:
    folder = study / "models" / MODEL / f"run-{run:03d}"
    if kind == "truncated losses":
        (folder / "losses.npy").write_bytes((folder / "losses.npy").read_bytes()[:100])
    elif kind == "garbage manifest":
        (folder / "manifest.json").write_text("{garbage")
    elif kind == "failed run":
        manifest = json.loads((folder / "manifest.json").read_text())
        (folder / "manifest.json").write_text(json.dumps({**manifest, "status": "failed",
                                                          "reason": "non-finite per-example loss at checkpoint 2"}))
    else:
        raise ValueError(kind)


@pytest.fixture
def no_training(monkeypatch):
    """ablate without TensorFlow: every point 'trains' in no time with a made-up accuracy."""
    def point(self, strategy, fraction, seed):
        removed = 0 if strategy == ablation.FULL else ablation.removal_count(self.n, fraction)
        return {"strategy": strategy, "target_fraction": fraction, "removed_fraction": removed / self.n,
                "seed": seed, "kept": self.n - removed, "removed": removed, "test_accuracy": 0.5, "test_loss": 1.0,
                "epochs": 1, "seconds": 0.0, "status": "done", "kept_file": "",
                "score": ablation.point_score(strategy, self.plan.score)}

    monkeypatch.setattr(ablate.Ablation, "_point", point)
    monkeypatch.setattr(ablate, "load_data", lambda plan, data_dir: None)
    monkeypatch.setattr(ablate, "import_tensorflow_quietly", lambda: None)


ABLATE = ["--model", MODEL, "--strategy", "random", "--fractions", "0.2", "--seeds", "1"]


# --------------------------------------------------------------------------- 1. damaged or failed runs

def command(cli: str, study: Path, tmp: Path, scores: Path, *extra: str) -> tuple[int, Path]:
    """Run ``cli`` on ``study``; its exit status and what it writes."""
    if cli == "ablate":
        out = tmp / "ablation"
        return ablate.main(["--study", str(study), *ABLATE, "--out", str(out), *extra]), out
    if cli == "export":
        out = tmp / "table.csv"
        return export.main([str(study), "--out", str(out), *extra]), out
    out = tmp / "agreement.json"
    return compare.main([str(study), "--scores", str(scores), "--json", str(out), *extra]), out


@pytest.mark.parametrize("cli", ["ablate", "export", "compare"])
@pytest.mark.parametrize("kind", ["truncated losses", "garbage manifest", "failed run"])
def test_damaged_or_failed_runs_are_refused_unless_skipped_and_m_is_stated(healthy, score_file, tmp_path, capsys,
                                                                            no_training, cli, kind):
    study = tmp_path / "study"
    shutil.copytree(healthy, study)
    damage(study, kind)
    before = folder_hash(study)
    code, out = command(cli, study, tmp_path, score_file)
    line = one_line(capsys)
    assert code == 2 and f"damaged or failed runs of {MODEL}: run 1" in line and "--skip-damaged" in line, line
    assert "average the other 2 run(s)" in line and not out.exists() and folder_hash(study) == before

    code, out = command(cli, study, tmp_path, score_file, "--skip-damaged")
    printed = capsys.readouterr().out
    assert code == 0 and f"note: {MODEL}: M=2 (left out: run 1: " in printed, printed
    if cli == "ablate":
        meta = json.loads((out / "ablation.json").read_text())
        assert (meta["m"], meta["runs"], meta["settings"]["runs"]) == (2, [0, 2], [0, 2])
        assert meta["left_out"][0].startswith("run 1: ") and "easiness over M=2 runs 0, 2" in printed
    elif cli == "export":
        assert "easiness averaged over M=2 runs" in printed
    else:
        result = json.loads(out.read_text())[MODEL]
        assert (result["m"], result["runs"]) == (2, [0, 2]) and "easiness averaged over M=2 runs" in printed
    assert folder_hash(study) == before


@pytest.mark.parametrize("cli", ["ablate", "export", "compare"])
def test_a_healthy_study_states_m_too(healthy, score_file, tmp_path, capsys, no_training, cli):
    code, out = command(cli, healthy, tmp_path, score_file)
    printed = capsys.readouterr().out
    assert code == 0 and "left out: run" not in printed and "M=3 runs" in printed, printed
    if cli == "ablate":
        assert json.loads((out / "ablation.json").read_text())["m"] == 3


def test_a_damaged_run_in_a_subprocess_is_one_line_and_no_noise(healthy, tmp_path):
    study = tmp_path / "study"
    shutil.copytree(healthy, study)
    damage(study, "garbage manifest", run=2)
    done = run_module("easiness.ablate", "--study", str(study), *ABLATE, "--out", str(tmp_path / "a"))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"error: {study} has damaged or failed runs of {MODEL}: run 2: {study}/models/{MODEL}/run-002/manifest.json "
        f"is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1)); the run "
        f"manifest is corrupt; move the damaged ones aside, or give --skip-damaged to average the other 2 run(s)"]


# --------------------------------------------------------------------------- 2. one line, nothing lost

def place(kind: str, tmp: Path, name: str) -> str:
    if kind == "through a file":
        (tmp / "plain").write_text("a file, not a folder")
        return str(tmp / "plain" / name)
    if kind == "in /proc":  # root may write almost anywhere, but not a new file in /proc
        return f"/proc/{name}"
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["through a file", "in /proc"])
@pytest.mark.parametrize("cli", ["ablate --out", "ablate --status-file", "export --out", "compare --json",
                                 "score --out", "score --status-file"])
def test_an_unwritable_place_is_one_line_naming_it(healthy, score_file, tmp_path, capsys, monkeypatch, no_training,
                                                   cli, kind):
    monkeypatch.chdir(tmp_path)
    before = folder_hash(healthy)
    target = place(kind, tmp_path, "x.json" if cli.endswith(("--json", "--status-file")) else "out.csv")
    name, option = cli.split()
    if name == "ablate":
        argv = ["--study", str(healthy), *ABLATE, "--out", str(tmp_path / "a")]
        code = ablate.main([*argv, option, target])
    elif name == "export":
        code = export.main([str(healthy), option, target])
    elif name == "compare":
        code = compare.main([str(healthy), "--scores", str(score_file), option, target])
    else:
        argv = ["--dataset", TINY, "--model", MODEL, "--runs", "1", "--epochs", "1", "--batch-size", "16"]
        code = score.main([*argv, *(["--out", str(tmp_path / "s")] if option != "--out" else []), option, target])
    line = one_line(capsys)
    if kind == "through a file":
        assert code == 2 and f"{tmp_path / 'plain'} is a file, not a folder" in line, line
    else:  # root gets as far as writing; anyone else is told /proc is not writable
        assert code == 2 and (f"cannot use {target}: No such file or directory" in line
                              or f"cannot write {target} (No such file or directory)" in line
                              or "/proc is not writable" in line), line
    assert folder_hash(healthy) == before
    assert sorted(p.name for p in tmp_path.iterdir()) in ([], ["plain"])  # nothing written anywhere


def erofs_at(monkeypatch, name: str) -> None:
    """Every atomic write of a file called ``name`` fails as on a read-only file system."""
    real = atomic.write_new_file

    def write(path, data):
        if atomic.target_name(str(path)).endswith(name):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(path, data)

    monkeypatch.setattr(atomic, "write_new_file", write)


@pytest.mark.parametrize("cli, name", [("export", "old.csv"), ("compare", "old.json"), ("ablate", "ablation.json")])
def test_a_read_only_file_system_is_one_line_and_keeps_the_old_file(healthy, score_file, tmp_path, capsys,
                                                                     monkeypatch, no_training, cli, name):
    old = tmp_path / name
    if cli == "ablate":
        assert ablate.main(["--study", str(healthy), *ABLATE, "--out", str(tmp_path)]) == 0
        capsys.readouterr()
    else:
        old.write_text("precious\n")
    before = folder_hash(tmp_path)
    erofs_at(monkeypatch, name)
    if cli == "export":
        code = export.main([str(healthy), "--out", str(old)])
    elif cli == "compare":
        code = compare.main([str(healthy), "--scores", str(score_file), "--json", str(old)])
    else:
        code = ablate.main(["--study", str(healthy), *ABLATE, "--out", str(tmp_path)])
    line = one_line(capsys)
    assert code == 2 and str(old) in line and "Read-only file system" in line and ".tmp" not in line, line
    assert folder_hash(tmp_path) == before


def test_a_full_disk_during_an_ablation_is_one_line_and_the_same_command_continues(healthy, tmp_path, capsys,
                                                                                   monkeypatch, no_training):
    out, status = tmp_path / "ablation", tmp_path / "status.json"
    argv = ["--study", str(healthy), *ABLATE, "--out", str(out), "--status-file", str(status)]
    real, csv_writes = atomic.write_new_file, []

    def full(path, data):
        if atomic.target_name(str(path)).endswith("ablation.csv"):
            csv_writes.append(path)
            if len(csv_writes) == 2:
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(atomic, "write_new_file", full)
    assert ablate.main(argv) == 2
    line = one_line(capsys)
    assert line == (f"error: cannot write {out / 'ablation.csv'}: No space left on device; the disk is full: "
                    f"free space and run the same command again to continue")
    assert [r["strategy"] for r in ablation.parse_rows((out / "ablation.csv").read_text())] == ["full"]
    assert json.loads(status.read_text())["state"] == "failed"
    assert not [p for p in out.rglob("*") if atomic.is_temp_name(p.name)]

    monkeypatch.setattr(atomic, "write_new_file", real)
    assert ablate.main(argv) == 0
    assert "1 points to train, 1 already done" in capsys.readouterr().out
    assert len(ablation.parse_rows((out / "ablation.csv").read_text())) == 2


SCORE = ["--dataset", TINY, "--model", MODEL, "--runs", "1", "--epochs", "2", "--batch-size", "16",
         "--score-batch-size", "48"]


@pytest.mark.slow
def test_a_full_disk_at_a_commit_is_one_line_and_the_same_command_resumes(tmp_path, capsys, monkeypatch):
    out = tmp_path / "study"
    real, manifests = atomic.write_new_file, []

    def full(path, data):
        if atomic.target_name(str(path)).endswith("manifest.json"):
            manifests.append(path)
            if len(manifests) == 3:  # created, epoch 1 committed, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, data)

    monkeypatch.setattr(atomic, "write_new_file", full)
    assert score.main([*SCORE, "--out", str(out)]) == 2
    line = one_line(capsys)
    assert f"cannot write {out}/models/{MODEL}/run-000/manifest.json: No space left on device" in line, line
    monkeypatch.setattr(atomic, "write_new_file", real)
    assert score.main([*SCORE, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{MODEL} run 0: resuming after epoch 1/2" in printed and "status done" in printed


FULL_AT_ROW = """
import errno, sys
from easiness.store import atomic
from easiness import score
real, rows = atomic.pwrite_all, []
def full(fd, data, offset):
    rows.append(offset)
    if len(rows) > 3:  # losses, margins, el2n of checkpoint 1; then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")
    return real(fd, data, offset)
atomic.pwrite_all = full
sys.exit(score.main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_full_disk_writing_losses_in_a_real_process_is_one_line_and_resumes(tmp_path):
    """A clean environment, TensorFlow loaded and training: stderr is the one line, nothing else."""
    out = tmp_path / "study"
    args = [*SCORE, "--out", str(out), "--status-file", str(tmp_path / "status.json")]
    failed = subprocess.run([sys.executable, "-c", FULL_AT_ROW, *args], capture_output=True, text=True,
                            cwd=tmp_path, env=clean_env(), timeout=600)
    assert failed.returncode == 2, failed.stderr[-3000:]
    assert failed.stderr.splitlines() == [
        f"error: cannot write {out}/models/{MODEL}/run-000/losses.npy: No space left on device; the disk is full: "
        f"free space and run the same command again to continue"]
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "failed"

    again = run_module("easiness.score", *args, cwd=tmp_path)
    assert again.returncode == 0 and again.stderr == "", again.stderr[-3000:]
    assert f"{MODEL} run 0: resuming after epoch 1/2" in again.stdout


def test_a_state_write_failure_of_tensorflow_becomes_an_os_error_naming_the_path(tmp_path):
    import tensorflow as tf

    from easiness.training import train

    class Full:
        def write(self, path):
            raise tf.errors.ResourceExhaustedError(None, None, f"{path}.index; No space left on device")

    with pytest.raises(OSError) as err:
        train.write_state(Full(), tmp_path / "epoch-00002")
    assert err.value.errno == errno.ENOSPC and err.value.filename == str(tmp_path / "epoch-00002")


NOT_UTF8 = b'{"schema_version": 1, "dataset": "\xff\xfe"}'


@pytest.mark.parametrize("cli", ["ablate", "export", "compare"])
@pytest.mark.parametrize("content, message", [
    (NOT_UTF8, "study.json is not valid JSON ('utf-8' codec can't decode"),
    (b"{garbage", "study.json is not valid JSON (Expecting property name"),
    (b"[1, 2]", "study.json is not a JSON object"),
])
def test_an_unreadable_study_json_is_one_line(healthy, score_file, tmp_path, capsys, no_training, cli, content,
                                              message):
    study = tmp_path / "study"
    shutil.copytree(healthy, study)
    (study / "study.json").write_bytes(content)
    before = folder_hash(study)
    code, out = command(cli, study, tmp_path, score_file)
    assert code == 2 and message in one_line(capsys) and not out.exists() and folder_hash(study) == before


@pytest.mark.parametrize("file, content, message", [
    ("ablation.json", b"[1, 2]", "ablation.json: not an ablation.json of this tool"),
    ("ablation.json", b'{"settings": []}', "ablation.json: not an ablation.json of this tool"),
    ("ablation.json", b'{"settings": "\xff"}', "ablation.json: 'utf-8' codec can't decode"),
    ("ablation.csv", b"strategy,target_fraction,seed\nfull,abc,0\n", "ablation.csv (could not convert string"),
    ("ablation.csv", b"strategy,seed\n\xff,1\n", "ablation.csv ('utf-8' codec can't decode"),
])
def test_an_unreadable_ablation_folder_is_one_line(healthy, tmp_path, capsys, no_training, file, content, message):
    out = tmp_path / "ablation"
    assert ablate.main(["--study", str(healthy), *ABLATE, "--out", str(out)]) == 0
    capsys.readouterr()
    (out / file).write_bytes(content)
    before = folder_hash(out)
    assert ablate.main(["--study", str(healthy), *ABLATE, "--out", str(out)]) == 2
    assert message in one_line(capsys)
    assert folder_hash(out) == before


def test_fifos_are_refused_not_waited_on(healthy, tmp_path):
    """A FIFO as the score file, a run's manifest or its losses: one line, in seconds."""
    fifo = tmp_path / "scores.csv"
    os.mkfifo(fifo)
    done = run_module("easiness.compare", str(healthy), "--scores", str(fifo))
    assert done.returncode == 2 and done.stderr == f"error: score file {fifo} is not a regular file\n"
    for name in ("manifest.json", "losses.npy"):
        study = tmp_path / name
        shutil.copytree(healthy, study)
        (study / "models" / MODEL / "run-001" / name).unlink()
        os.mkfifo(study / "models" / MODEL / "run-001" / name)
        done = run_module("easiness.export", str(study), "--out", str(tmp_path / f"{name}.csv"))
        assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
        assert "run 1: " in done.stderr and "not a regular file" in done.stderr


def test_an_undecodable_image_is_named_not_a_bytesio():
    from easiness.data import DataError
    from easiness.data.folders import _decode

    with pytest.raises(DataError) as err:
        _decode(b"not an image", "train/cat/1.png", "folder:x", None)
    assert str(err.value) == "cannot decode image train/cat/1.png in folder:x: cannot identify image file train/cat/1.png"


@pytest.mark.parametrize("seed", ["-1", "-5"])
def test_a_negative_seed_with_npz_data_is_one_line(tmp_path, capsys, monkeypatch, seed):
    monkeypatch.chdir(tmp_path)
    np.savez(tmp_path / "d.npz", x=np.zeros((8, 16, 16, 3), np.uint8), y=np.arange(8) % 2)
    before = folder_hash(tmp_path)
    assert score.main(["--dataset", "npz:d.npz", "--seed", seed, "--runs", "1", "--epochs", "1"]) == 2
    assert one_line(capsys) == f"error: --seed must be an integer from 0 to 4294967295, got {seed}"
    assert folder_hash(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


# --------------------------------------------------------------------------- 3. --list and --help without TensorFlow

NO_TENSORFLOW = """
import contextlib, io, sys
from easiness import ablate, compare, export, fake, score
with contextlib.redirect_stdout(io.StringIO()) as out:
    assert score.main(["--list"]) == 0
    for cli in (score, ablate, export, compare, fake):
        try:
            assert cli.main(["--help"]) == 0
        except SystemExit as exit_:
            assert exit_.code == 0
assert "wrn10_1" in out.getvalue() and "resnext{depth}_{cardinality}x{width}d" in out.getvalue()
heavy = sorted(m for m in ("tensorflow", "keras", "tensorflow_datasets") if m in sys.modules)
print(heavy)
"""


def test_list_and_help_answer_without_tensorflow():
    done = subprocess.run([sys.executable, "-c", NO_TENSORFLOW], capture_output=True, text=True, cwd=REPO,
                          env=clean_env(), timeout=300)
    assert done.returncode == 0 and done.stderr == "", done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_the_tensorflow_free_zoo_table_is_the_zoos():
    from easiness import models
    from easiness.training import zoo_names

    assert list(zoo_names.PRESETS) == sorted(models._PRESETS)
    assert list(zoo_names.SHAPE_FORMS) == [form for _, form, _ in models._SHAPES]


# --------------------------------------------------------------------------- 4. no TensorFlow noise

def test_an_error_after_tensorflow_loaded_is_the_only_line_unless_logs_are_asked(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 not really")
    args = ["--dataset", "npz:bad.npz", "--runs", "1", "--epochs", "1", "--out", "s"]
    quiet = run_module("easiness.score", *args, cwd=tmp_path)
    assert quiet.returncode == 2 and quiet.stderr.splitlines() == [
        "error: cannot read bad.npz: not an .npz archive (save it with numpy.savez)"], quiet.stderr
    loud = run_module("easiness.score", *args, cwd=tmp_path, env=clean_env(EASINESS_TF_LOGS="1"))
    assert loud.returncode == 2 and loud.stderr.splitlines()[-1] == quiet.stderr.strip()
    assert not (tmp_path / "s").exists()


@pytest.mark.parametrize("make, message", [
    (lambda tmp: (tmp / "afile").write_text("x") and tmp / "afile" / "study", "Not a directory"),
    (lambda tmp: fake.write_fake_study(tmp / "other", fake.FakeSpec(n=30, classes=2, runs=1, checkpoints=1))
     or tmp / "other", "holds a study of"),
])
def test_fake_refuses_a_bad_out_in_one_line(tmp_path, capsys, make, message):
    out = make(tmp_path)
    assert fake.main(["--out", str(out), "--preset", "tiny"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
