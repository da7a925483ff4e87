"""The easiness table (:mod:`easiness.analysis.tables`) and ``python -m easiness.export``: hand-computed
values, every format read back, the 1-based checkpoint, and bad input as one line and status 2
with an existing ``--out`` left untouched."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from easiness import export, fake
from easiness.analysis import metrics, scores, study_scores, tables
from easiness.errors import EasinessError
from easiness.store import Study, create_study
from easiness.ui import compute

REPO = Path(__file__).resolve().parents[1]
PLAN = [{"epoch": 1.0, "step": 10}, {"epoch": 2.0, "step": 20}]

# 2 runs x 2 checkpoints x 5 examples. At T=2 the easiness is the run mean:
# [1.0, 0.5, 3.0, 0.5, 2.0]: examples 1 and 3 tie (the lower index ranks first).
HAND = np.array([[[9, 9, 9, 9, 9], [1.0, 0.0, 2.0, 1.0, 2.0]],
                 [[9, 9, 9, 9, 9], [1.0, 1.0, 4.0, 0.0, 2.0]]])
HAND_IDS = ["a", "b", "c", "d", "e"]
HAND_LABELS = [0, 0, 1, 1, 1]


def hand_study(root: Path, losses: dict[str, np.ndarray], ids=HAND_IDS, labels=HAND_LABELS,
               classes=("cat", "dog")) -> Path:
    """A study whose ``[M, C, N]`` losses per model are given exactly."""
    writer = create_study(root, dataset="hand", fingerprint="hand-" + root.name, ids=np.array(ids),
                          labels=np.array(labels), class_names=list(classes))
    for model, stack in losses.items():
        for r, rows in enumerate(stack):
            run = writer.run(model, r, config={"model": model}, seed=r, planned=PLAN[:len(rows)])
            for k, row in enumerate(rows):
                run.write_row(k, np.asarray(row, dtype=np.float32))
            run.commit(done=len(rows))
            run.finish()
            run.close()
    return root


@pytest.fixture(scope="module")
def hand(tmp_path_factory) -> Path:
    return hand_study(tmp_path_factory.mktemp("hand") / "hand", {"m": HAND, "n": HAND[:, :, ::-1]})


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fake") / "fake"
    return fake.write_fake_study(root, fake.FakeSpec(n=200, classes=4, runs=2, checkpoints=3))


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


# --------------------------------------------------------------------------- the table, by hand


def test_easiness_rank_and_flags_by_hand(hand):
    frame = tables.easiness_table(Study.open(hand), models=["m"], fraction=0.4)
    assert frame.columns.tolist() == ["id", "label", "class", "easiness_m", "rank_m", "easy_m", "hard_m"]
    assert frame["id"].tolist() == HAND_IDS and frame["class"].tolist() == ["cat", "cat", "dog", "dog", "dog"]
    assert frame["easiness_m"].tolist() == [1.0, 0.5, 3.0, 0.5, 2.0]
    assert frame["rank_m"].tolist() == [3, 1, 5, 2, 4]  # the tie 1/3 goes to the lower index
    assert frame["easy_m"].tolist() == [False, True, False, True, False]  # 2 of 5
    assert frame["hard_m"].tolist() == [False, False, True, False, True]


def test_per_class_flags_and_the_first_checkpoint(hand):
    frame = tables.easiness_table(Study.open(hand), models=["m"], fraction=0.4, per_class=True)
    # cat: a 1.0, b 0.5 -> one each; dog: c 3.0, d 0.5, e 2.0 -> round(1.2) = 1 each
    assert frame["easy_m"].tolist() == [False, True, False, True, False]
    assert frame["hard_m"].tolist() == [True, False, True, False, False]
    first = tables.easiness_table(Study.open(hand), models=["m"], checkpoint=0)
    assert first["easiness_m"].tolist() == [9.0] * 5 and first["rank_m"].tolist() == [1, 2, 3, 4, 5]


def test_every_model_by_default_with_its_own_columns(hand):
    frame = tables.easiness_table(Study.open(hand))
    assert [c for c in frame.columns if c.endswith("_n")] == ["easiness_n", "rank_n", "easy_n", "hard_n"]
    assert frame["easiness_n"].tolist() == [2.0, 0.5, 3.0, 0.5, 1.0]


def test_a_new_score_column_is_one_builder(hand, monkeypatch):
    monkeypatch.setitem(tables.COLUMNS, "double", lambda s: 2 * s.easiness)
    frame = tables.easiness_table(Study.open(hand), models=["m"], columns=["double", "rank"])
    assert frame.columns.tolist() == ["id", "label", "class", "double_m", "rank_m"]
    assert frame["double_m"].tolist() == [2.0, 1.0, 6.0, 1.0, 4.0]


def test_a_diverged_run_ranks_hardest(tmp_path):
    losses = HAND.copy()
    losses[0, 1, 1] = np.nan
    frame = tables.easiness_table(Study.open(hand_study(tmp_path / "nan", {"m": losses})), fraction=0.2)
    assert frame["easiness_m"].iloc[1] == np.inf and frame["rank_m"].iloc[1] == 5
    assert frame["hard_m"].tolist() == [False, True, False, False, False]


@pytest.mark.parametrize("kwargs, message", [
    ({"models": ["nope"]}, "unknown model 'nope' in hand; models: m, n"),
    ({"checkpoint": 2}, "out of range"),
    ({"fraction": 1.0}, "fraction"),
    ({"columns": ["aum"]}, "unknown score column 'aum'"),
])
def test_bad_arguments_are_user_errors(hand, kwargs, message):
    with pytest.raises(EasinessError, match=message):
        tables.easiness_table(Study.open(hand), **kwargs)


# --------------------------------------------------------------------------- same numbers as elsewhere


def test_the_table_agrees_with_metrics_and_the_app(study):
    s = Study.open(study)
    frame = tables.easiness_table(s, checkpoint=1, fraction=0.1)
    for model in s.models:
        values = metrics.easiness(s.losses(model), checkpoint=1)
        np.testing.assert_array_equal(frame[f"easiness_{model}"], values)
        np.testing.assert_array_equal(frame[f"easiness_{model}"], compute.easiness_at(s, model, 1))
        easy, hard = metrics.easy_hard(values, fraction=0.1)
        assert set(np.flatnonzero(frame[f"easy_{model}"])) == set(easy.tolist())
        assert set(np.flatnonzero(frame[f"hard_{model}"])) == set(hard.tolist())
        np.testing.assert_array_equal(frame[f"easy_{model}"], frame[f"rank_{model}"] <= easy.size)
        assert sorted(frame[f"rank_{model}"]) == list(range(1, s.n + 1))


# --------------------------------------------------------------------------- the command


def read_back(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype={"id": str})
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    with np.load(path, allow_pickle=False) as z:  # never pickled objects
        return pd.DataFrame({k: z[k] for k in z.files})


@pytest.mark.parametrize("suffix", [".csv", ".npz", ".parquet"])
def test_every_format_reads_back_as_the_table(study, tmp_path, capsys, suffix):
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    out = tmp_path / f"scores{suffix}"
    assert export.main([str(study), "--out", str(out), "--checkpoint", "2"]) == 0
    expected = tables.easiness_table(Study.open(study), checkpoint=1, scores=None)  # every score by default
    got = read_back(out)
    assert got.columns.tolist() == expected.columns.tolist()
    for column in expected.columns:
        np.testing.assert_array_equal(np.asarray(got[column]).astype(str), np.asarray(expected[column]).astype(str))
    printed = capsys.readouterr().out.strip()
    assert printed.startswith(f"wrote {out} ({suffix[1:]}): 200 rows x 27 columns") and "T=2 (epoch 2)" in printed


def test_checkpoint_is_one_based_and_defaults_to_the_last(hand, tmp_path):
    assert export.main([str(hand), "--out", str(tmp_path / "t1.csv"), "--checkpoint", "1", "--model", "m"]) == 0
    assert export.main([str(hand), "--out", str(tmp_path / "last.csv"), "--model", "m"]) == 0
    assert pd.read_csv(tmp_path / "t1.csv")["easiness_m"].tolist() == [9.0] * 5
    assert pd.read_csv(tmp_path / "last.csv")["easiness_m"].tolist() == [1.0, 0.5, 3.0, 0.5, 2.0]


def test_format_flag_overrides_the_suffix_and_per_class_reaches_the_flags(hand, tmp_path):
    out = tmp_path / "table.data"
    assert export.main([str(hand), "--out", str(out), "--format", "csv", "--model", "m",
                        "--fraction", "0.4", "--per-class"]) == 0
    assert pd.read_csv(out)["hard_m"].tolist() == [True, False, True, False, False]


def test_a_second_export_replaces_the_file_whole(hand, tmp_path):
    out = tmp_path / "t.csv"
    out.write_text("x\n" * 10_000)
    assert export.main([str(hand), "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["t.csv"]  # no temp file left


# --------------------------------------------------------------------------- bad input


BAD = [
    (["{study}", "--model", "resnet9"], "unknown model 'resnet9' in fake; models: densenet_bc100_k12, wrn16_4"),
    (["{study}", "--checkpoint", "4"], "checkpoint 4 is out of range"),
    (["{study}", "--checkpoint", "0"], "checkpoint 0 is out of range"),
    (["{study}", "--format", "xlsx"], "invalid choice: 'xlsx'"),
    (["{study}", "--fraction", "0"], "invalid fraction '0'"),
    (["{tmp}", "--model", "m"], "it is not a study"),
    (["{tmp}/missing"], "has no study.json"),
]


@pytest.mark.parametrize("args, message", BAD)
def test_bad_input_is_one_line_status_2_and_keeps_the_old_file(study, tmp_path, capsys, args, message):
    out = tmp_path / "old.csv"
    out.write_text("precious\n")
    argv = [a.format(study=study, tmp=tmp_path) for a in args] + ["--out", str(out)]
    assert export.main(argv) == 2
    assert message in one_line_error(capsys)
    assert out.read_text() == "precious\n"


@pytest.mark.parametrize("out, message", [
    ("missing/t.csv", "does not exist; create it first"),
    ("t.xlsx", "cannot tell the format of 't.xlsx'"),
    (".", "is a folder"),
])
def test_a_bad_out_is_refused_before_reading(study, tmp_path, capsys, out, message):
    assert export.main([str(study), "--out", str(tmp_path / out)]) == 2
    assert message in one_line_error(capsys)
    assert not (tmp_path / "missing").exists()


def test_a_failed_write_keeps_the_old_file(study, tmp_path, capsys, monkeypatch):
    out = tmp_path / "old.csv"
    out.write_text("precious\n")

    def half_then_fail(frame, f):
        f.write(b"id,label\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setitem(tables._WRITERS, "csv", half_then_fail)
    assert export.main([str(study), "--out", str(out)]) == 2
    assert "No space left on device" in one_line_error(capsys)
    assert out.read_text() == "precious\n" and [p.name for p in tmp_path.iterdir()] == ["old.csv"]


def test_parquet_without_an_engine_says_how_to_install_it(study, tmp_path, capsys, monkeypatch):
    out = tmp_path / "old.parquet"
    out.write_bytes(b"precious")
    monkeypatch.setattr(tables, "parquet_engine", lambda: None)
    assert export.main([str(study), "--out", str(out)]) == 2
    assert "pip install pyarrow" in one_line_error(capsys)
    assert out.read_bytes() == b"precious"


def shadowed_env(tmp_path: Path) -> dict[str, str]:
    """PYTHONPATH where pyarrow and fastparquet fail to import and tensorflow is a marker."""
    for name in ("pyarrow", "fastparquet"):
        (tmp_path / name).mkdir(parents=True)
        (tmp_path / name / "__init__.py").write_text(f"raise ImportError('no {name} here')\n")
    (tmp_path / "tensorflow").mkdir()
    (tmp_path / "tensorflow" / "__init__.py").write_text("")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}


def test_the_module_as_a_process_without_pyarrow(study, tmp_path):
    env = shadowed_env(tmp_path / "shadow")
    out = tmp_path / "t.parquet"
    proc = subprocess.run([sys.executable, "-m", "easiness.export", str(study), "--out", str(out)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "parquet needs pyarrow" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()
    proc = subprocess.run([sys.executable, "-m", "easiness.export", str(study), "--out", str(tmp_path / "t.csv")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout.startswith("wrote ")


# --------------------------------------------------------------------------- difficulty scores


def test_every_score_the_runs_allow_is_a_column_by_default(study, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert export.main([str(study), "--out", str(out), "--model", "wrn16_4"]) == 0
    got = pd.read_csv(out)
    names = [n for n in scores.names() if n != "easiness"]  # easiness_<model> is there already, once
    assert got.columns.tolist() == ["id", "label", "class", *(f"{c}_wrn16_4" for c in tables.COLUMNS),
                                    *(f"{n}_wrn16_4" for n in names)]
    result = study_scores.compute(Study.open(study), "wrn16_4")
    for name in scores.names():
        np.testing.assert_allclose(got[f"{name}_wrn16_4"], result.mean[name], rtol=1e-12, err_msg=name)
    assert "note:" not in capsys.readouterr().out


def test_scores_chooses_the_columns_and_none_leaves_them_out(study, tmp_path):
    out = tmp_path / "some.csv"
    assert export.main([str(study), "--out", str(out), "--model", "wrn16_4", "--scores", "el2n", "easiness",
                        "forgetting"]) == 0
    assert pd.read_csv(out).columns.tolist()[-3:] == ["hard_wrn16_4", "el2n_wrn16_4", "forgetting_wrn16_4"]
    assert export.main([str(study), "--out", str(out), "--scores", "none"]) == 0
    assert len(pd.read_csv(out).columns) == 3 + 2 * len(tables.COLUMNS)


def test_an_old_study_exports_what_it_can_with_a_note(hand, tmp_path, capsys):
    out = tmp_path / "old.csv"
    assert export.main([str(hand), "--out", str(out), "--model", "m"]) == 0
    assert pd.read_csv(out).columns.tolist()[-3:] == ["mean_loss_m", "confidence_m", "variability_m"]
    printed = capsys.readouterr().out
    assert "note: m did not record margins or el2n, so correctness, forgetting, never_learned, aum, el2n are " \
           "left out (a study written before" in printed
    np.testing.assert_allclose(pd.read_csv(out)["mean_loss_m"], (HAND.mean(axis=0)).mean(axis=0))


@pytest.mark.parametrize("names, message", [
    (["aum"], "score aum needs margins, which m in hand did not record ("),
    (["el2n", "mean_loss"], "score el2n needs el2n, which m in hand did not record"),
    (["speed"], "unknown score 'speed'; choose from easiness, mean_loss, correctness"),
    (["none", "aum"], "unknown score 'none'"),
])
def test_asking_for_scores_an_old_study_lacks_is_one_line_status_2(hand, tmp_path, capsys, names, message):
    out = tmp_path / "old.csv"
    out.write_text("precious\n")
    assert export.main([str(hand), "--out", str(out), "--scores", *names]) == 2
    assert message in one_line_error(capsys)
    assert out.read_text() == "precious\n"
