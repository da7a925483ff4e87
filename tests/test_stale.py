"""A finished study rerun with other settings is refused, naming them: never "already done" for
settings it was not made with. Settings that do not change results do not count."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from easiness import score

TINY = "synthetic:classes=3,per_class=16,test_per_class=4,size=16,seed=1"
MADE = ["--dataset", TINY, "--model", "wrn10_1", "--runs", "2", "--epochs", "1", "--batch-size", "16",
        "--score-batch-size", "48"]


def folder_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stale") / "study"
    assert score.main([*MADE, "--out", str(out)]) == 0
    return out


def with_option(option: str, value: str | None) -> list[str]:
    args = list(MADE)
    if option in args:
        at = args.index(option)
        args[at + 1] = value
        return args
    return [*args, option] if value is None else [*args, option, value]


@pytest.mark.parametrize("option, value, named", [
    ("--epochs", "2", "epochs 1 (now 2)"),
    ("--batch-size", "8", "batch_size 16 (now 8)"),
    ("--lr", "0.05", "lr 0.1 (now 0.05)"),
    ("--seed", "3", "seed 0 (now 3)"),
    ("--score-every", "2", "score_every 0 (now 2)"),
    ("--score-augment", None, "score_augment False (now True)"),
    ("--loss-dtype", "float16", "loss_dtype float32 (now float16)"),
    ("--record", "losses", "record margins+el2n (now losses)"),
])
def test_a_finished_study_rerun_with_other_settings_is_refused(study, capsys, option, value, named):
    before = folder_hash(study)
    assert score.main([*with_option(option, value), "--out", str(study)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "made with other settings" in err[0] and named in err[0], err
    assert folder_hash(study) == before


def test_settings_that_do_not_change_results_do_not_count(study, capsys, tmp_path):
    before = folder_hash(study)
    assert score.main([*MADE, "--out", str(study), "--status-file", str(tmp_path / "s.json"),
                       "--claim-timeout", "90"]) == 0
    assert "already done, skipped" in capsys.readouterr().out
    assert folder_hash(study) == before


@pytest.mark.parametrize("damage", ["truncated losses", "garbage manifest"])
def test_a_damaged_run_is_named_and_neither_skipped_nor_trained_over(study, tmp_path, capsys, damage):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(study, copy)
    run = copy / "models" / "wrn10_1" / "run-001"
    if damage == "truncated losses":
        (run / "losses.npy").write_bytes((run / "losses.npy").read_bytes()[:100])
    else:
        (run / "manifest.json").write_text("{garbage")
    before = folder_hash(copy)
    assert score.main([*MADE, "--out", str(copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holds a damaged run: wrn10_1/run-001" in err[0] and "move it aside" in err[0], err
    assert folder_hash(copy) == before


def test_a_command_whose_runs_all_failed_exits_non_zero(tmp_path, capsys):
    """--lr 1e30 diverges every run: the summary is printed, then one line, exit status 1."""
    assert score.main([*with_option("--epochs", "1"), "--lr", "1e30", "--out", str(tmp_path / "s")]) == 1
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: all 2 runs failed (first: wrn10_1 run 0: non-finite"), err
    assert "status failed" in captured.out
