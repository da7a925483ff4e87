"""Scores against easiness (:mod:`easiness.analysis.agreement`), ``python -m easiness.compare`` and the
app's "Compare scores" page: hand-computed Spearman and matching rates, the id join and its
refusals, every kind of bad score file as one line and status 2, and shareable page URLs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from easiness.analysis import agreement, tables
from easiness import compare, fake
from easiness.errors import EasinessError
from easiness.store import Study, create_study
from easiness.ui import compare as compare_ui
from easiness.ui import examples as examples_ui
from easiness.ui import navigation

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
PLAN = [{"epoch": 1.0, "step": 10}, {"epoch": 2.0, "step": 20}]

# One model, 2 runs x 2 checkpoints x 5 examples; easiness at T=2: [1.0, 0.5, 3.0, 0.5, 2.0].
HAND = np.array([[[4, 4, 4, 4, 4], [1.0, 0.0, 2.0, 1.0, 2.0]],
                 [[4, 4, 4, 4, 4], [1.0, 1.0, 4.0, 0.0, 2.0]]])
EASINESS = np.array([1.0, 0.5, 3.0, 0.5, 2.0])
FOLDER_IDS = ["train/horse/0042.jpg", "train/cat/0042.jpg", "train/cat/0007.jpg", "train/dog/1.jpg",
              "train/dog/11.jpg"]


def hand_study(root: Path, ids=("a", "b", "c", "d", "e")) -> Path:
    """A study of one model ``m`` with the losses :data:`HAND`."""
    writer = create_study(root, dataset="hand", fingerprint="hand-" + root.name, ids=np.array(ids),
                          labels=np.array([0, 0, 1, 1, 1]), class_names=["cat", "dog"])
    for r, rows in enumerate(HAND):
        run = writer.run("m", r, config={"model": "m"}, seed=r, planned=PLAN)
        for k, row in enumerate(rows):
            run.write_row(k, row.astype(np.float32))
        run.commit(done=2)
        run.finish()
        run.close()
    return root


@pytest.fixture(scope="module")
def hand(tmp_path_factory) -> Path:
    return hand_study(tmp_path_factory.mktemp("hand") / "hand")


def csv(path: Path, ids, **columns) -> Path:
    pd.DataFrame({"id": list(ids), **columns}).to_csv(path, index=False)
    return path


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


# --------------------------------------------------------------------------- Spearman


def test_average_ranks_share_the_mean_position_of_ties():
    assert agreement.average_ranks(np.array([3.0, 1.0, 3.0, 2.0, 3.0])).tolist() == [4.0, 1.0, 4.0, 2.0, 4.0]
    assert agreement.average_ranks(np.array([0.5, 0.5])).tolist() == [1.5, 1.5]


def test_spearman_by_hand_with_ties():
    # ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4]: sum of products of deviations 4.5, sqrt(4.5 * 5)
    assert agreement.spearman(np.array([1.0, 2, 2, 3]), np.array([1.0, 3, 2, 4])) == pytest.approx(3 / np.sqrt(10))
    assert agreement.spearman(EASINESS, np.arange(5.0)) == pytest.approx(2 / np.sqrt(95))


def test_spearman_is_one_for_any_increasing_map_and_undefined_for_a_constant():
    x = np.random.default_rng(0).normal(size=50)
    assert agreement.spearman(x, np.exp(3 * x)) == pytest.approx(1.0)
    assert agreement.spearman(x, -x) == pytest.approx(-1.0)
    assert np.isnan(agreement.spearman(x, np.ones(50)))
    with pytest.raises(ValueError, match="NaN"):
        agreement.spearman(np.array([1.0, np.nan]), np.array([1.0, 2.0]))


def test_spearman_equals_scipy_on_random_ties():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = rng.integers(0, 6, 40).astype(float), rng.integers(0, 4, 40).astype(float)
        assert agreement.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic)


# --------------------------------------------------------------------------- agreement by hand


def test_a_score_equal_to_easiness_agrees_fully_and_its_negation_too_when_higher_is_easier():
    same = agreement.agreement(EASINESS, EASINESS.copy(), fraction=0.4)
    assert (same["spearman"], same["easy_matching"], same["hard_matching"]) == (pytest.approx(1.0), 1.0, 1.0)
    flipped = agreement.agreement(EASINESS, -EASINESS, fraction=0.4, higher_is_easier=True)
    assert flipped == same
    wrong_way = agreement.agreement(EASINESS, -EASINESS, fraction=0.4)
    assert wrong_way["spearman"] == pytest.approx(-1.0) and wrong_way["easy_matching"] == 0.0


def test_agreement_by_hand():
    # sets of 2: easiness easy {1, 3}, hard {2, 4}; score easy {0, 1}, hard {4, 3}
    result = agreement.agreement(EASINESS, np.arange(5.0) / 10, fraction=0.4)
    assert result == {"n": 5, "spearman": pytest.approx(2 / np.sqrt(95)), "easy_matching": 0.5,
                      "hard_matching": 0.5, "set_size": 2, "chance": 0.4}


# --------------------------------------------------------------------------- the join


def scores_of(ids, values) -> agreement.ScoreFile:
    return agreement.ScoreFile("s.csv", np.array(ids), {"s": np.asarray(values, dtype=float)}, ())


def test_exact_and_suffix_ids_join_on_part_boundaries():
    where, by_suffix = agreement.match_ids(np.array(FOLDER_IDS),
                                           np.array(["horse/0042.jpg", "train/cat/0007.jpg", "0007.jpg"[1:],
                                                     "1.jpg", "dog/11.jpg", "zebra/1.jpg"]))
    # "007.jpg" is no whole part of "0007.jpg", and "1.jpg" must not join "11.jpg"
    assert where.tolist() == [0, 2, -1, 3, 4, -1] and by_suffix == 3


def test_an_ambiguous_suffix_is_refused():
    with pytest.raises(EasinessError, match="score id '0042.jpg' ends 2 study ids \\('train/horse/0042.jpg', "
                                            "'train/cat/0042.jpg', ...\\)"):
        agreement.match_ids(np.array(FOLDER_IDS), np.array(["0042.jpg"]))


def test_two_score_ids_for_one_example_are_refused():
    with pytest.raises(EasinessError, match="'train/cat/0007.jpg' and 'cat/0007.jpg' both name"):
        agreement.join(np.array(FOLDER_IDS), scores_of(["train/cat/0007.jpg", "cat/0007.jpg"], [1, 2]))


def test_join_counts_what_does_not_join_and_drops_nan():
    column, joined = agreement.join(np.array(list("abcde")), scores_of(["e", "x", "a", "c", "y"],
                                                                       [5.0, 1.0, np.nan, 3.0, 2.0]))
    assert column == "s" and joined.index.tolist() == [2, 4] and joined.values.tolist() == [3.0, 5.0]
    assert (joined.rows, joined.nan_dropped, joined.unmatched, joined.unscored) == (5, 1, 2, 3)
    assert "joined 2 of 5 score rows; 2 score ids not in the study; 3 study examples without a score; " \
           "1 NaN scores dropped" == joined.summary()


def test_nothing_joining_is_refused():
    with pytest.raises(EasinessError, match="none of the 2 ids"):
        agreement.join(np.array(list("abc")), scores_of(["x", "y"], [1, 2]))


# --------------------------------------------------------------------------- score files


def test_every_format_and_both_npz_id_names_read_the_same(tmp_path):
    frame = pd.DataFrame({"id": ["a", "b"], "aum": [0.5, -1.0], "note": ["x", "y"], "flag": [True, False]})
    frame.to_csv(tmp_path / "s.csv", index=False)
    np.savez(tmp_path / "s.npz", ids=np.array([b"a", b"b"]), aum=np.array([0.5, -1.0]))
    read = [agreement.read_scores(tmp_path / "s.csv"), agreement.read_scores(tmp_path / "s.npz"),
            agreement.read_scores((tmp_path / "s.csv").read_bytes(), name="upload.csv")]
    if tables.parquet_engine():
        frame.to_parquet(tmp_path / "s.parquet")
        read.append(agreement.read_scores(tmp_path / "s.parquet"))
    for scores in read:
        assert scores.ids.tolist() == ["a", "b"] and scores.column(None) == ("aum", pytest.approx([0.5, -1.0]))
    assert read[0].other == ("note", "flag")  # a flag is no score


def test_a_parquet_score_file_without_an_engine_says_how_to_install_one(hand, tmp_path, capsys, monkeypatch):
    path = tmp_path / "s.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setattr(tables, "parquet_engine", lambda: None)
    assert compare.main([str(hand), "--scores", str(path)]) == 2
    assert "parquet needs pyarrow, which is not installed: pip install pyarrow" in one_line_error(capsys)


def test_numeric_looking_ids_stay_text(tmp_path):
    scores = agreement.read_scores(csv(tmp_path / "s.csv", ["007", "12"], s=[1.0, 2.0]))
    assert scores.ids.tolist() == ["007", "12"]


# --------------------------------------------------------------------------- the command


def test_the_command_prints_and_writes_json(hand, tmp_path, capsys):
    scores = csv(tmp_path / "conf.csv", ["a", "b", "c", "d", "e", "zz"], conf=[-1.0, -0.5, -3.0, -0.5, -2.0, 7.0])
    out = tmp_path / "r.json"
    assert compare.main([str(hand), "--scores", str(scores), "--higher-is-easier", "--fraction", "0.4",
                         "--json", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == ("scores: conf.csv, column 'conf' (higher = easier); joined 5 of 6 score rows; "
                          "1 score ids not in the study; 0 study examples without a score")
    assert printed[1].startswith("T=2 (epoch 2); easy/hard: the 40% lowest/highest among the 5 joined examples")
    assert printed[-1].split() == ["m", "5", "1.000", "1.000", "1.000"]
    result = json.loads(out.read_text())["m"]
    assert result["spearman"] == pytest.approx(1.0) and result["easy_matching"] == result["hard_matching"] == 1.0
    assert (result["n"], result["checkpoint"], result["higher_is_easier"], result["column"]) == (5, 2, True, "conf")
    assert result["unjoined"] == {"score_ids": 1, "study_examples": 0}


def test_the_command_by_hand_at_the_first_checkpoint(hand, tmp_path, capsys):
    scores = csv(tmp_path / "s.csv", list("abcde"), s=np.arange(5.0))
    out = tmp_path / "r.json"
    assert compare.main([str(hand), "--scores", str(scores), "--checkpoint", "2", "--fraction", "0.4",
                         "--json", str(out)]) == 0
    assert json.loads(out.read_text())["m"]["spearman"] == pytest.approx(2 / np.sqrt(95))
    assert compare.main([str(hand), "--scores", str(scores), "--checkpoint", "1", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["m"]["spearman"] is None  # easiness is constant at T=1: undefined


def test_folder_ids_join_by_class_and_file(tmp_path, capsys):
    study = hand_study(tmp_path / "folders", ids=FOLDER_IDS)
    scores = csv(tmp_path / "s.csv", ["horse/0042.jpg", "cat/0042.jpg", "cat/0007.jpg", "dog/1.jpg", "dog/11.jpg"],
                 s=EASINESS)
    assert compare.main([str(study), "--scores", str(scores)]) == 0
    assert "5 by id suffix" in capsys.readouterr().out
    ambiguous = csv(tmp_path / "a.csv", ["0042.jpg"], s=[1.0])
    assert compare.main([str(study), "--scores", str(ambiguous)]) == 2
    assert "ends 2 study ids" in one_line_error(capsys)


def write_bad(tmp_path: Path, kind: str) -> Path:
    """A score file with one defect."""
    files = {
        "empty": lambda p: p.write_text(""),
        "header only": lambda p: p.write_text("id,s\n"),
        "no id": lambda p: csv(p, ["a"], s=[1.0]).write_text("name,s\na,1\n"),
        "two scores": lambda p: csv(p, ["a", "b"], s=[1.0, 2.0], t=[3.0, 4.0]),
        "text only": lambda p: csv(p, ["a", "b"], note=["x", "y"]),
        "duplicate": lambda p: csv(p, ["a", "b", "a"], s=[1.0, 2.0, 3.0]),
        "no join": lambda p: csv(p, ["x", "y"], s=[1.0, 2.0]),
        "all nan": lambda p: csv(p, ["a", "b"], s=[np.nan, np.nan]),
        "binary": lambda p: p.write_bytes(b"\x00\xff\xfe" * 50),
        "unreadable": lambda p: (csv(p, ["a"], s=[1.0]), p.chmod(0)),
        "folder": lambda p: p.mkdir(),
        "empty npz": lambda p: p.write_bytes(b""),
        "pickled": lambda p: np.savez(p, id=np.array(["a"], dtype=object), s=np.ones(1)),
    }
    suffix = ".npz" if kind in ("binary", "empty npz", "pickled") else ".csv"
    path = tmp_path / f"{kind.replace(' ', '-')}{suffix}"
    files[kind](path)
    return path


@pytest.mark.parametrize("kind, message", [
    ("empty", "is empty"),
    ("header only", "has no rows"),
    ("no id", "has no id column (columns: name, s)"),
    ("two scores", "several numeric columns (s, t); choose one with --column"),
    ("text only", "no numeric score column"),
    ("duplicate", "repeats 1 ids (e.g. 'a')"),
    ("no join", "none of the 2 ids"),
    ("all nan", "column 's' of"),
    ("binary", "is not a readable .npz"),
    ("empty npz", "is empty"),
    ("pickled", "Object arrays cannot be loaded"),
    ("folder", "cannot read score file"),
    pytest.param("unreadable", "Permission denied",
                 marks=pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")),
])
def test_a_bad_score_file_is_one_line_and_status_2(hand, tmp_path, capsys, kind, message):
    out = tmp_path / "old.json"
    out.write_text("precious")
    assert compare.main([str(hand), "--scores", str(write_bad(tmp_path, kind)), "--json", str(out)]) == 2
    assert message in one_line_error(capsys)
    assert out.read_text() == "precious"


@pytest.mark.parametrize("args, message", [
    (["{tmp}", "--scores", "{scores}"], "it is not a study"),
    (["{study}", "--scores", "{tmp}/missing.csv"], "does not exist"),
    (["{study}", "--scores", "{tmp}/scores.txt"], "score files are .csv, .npz or .parquet"),
    (["{study}", "--scores", "{scores}", "--column", "zz"], "has no column 'zz'; numeric columns: s, t"),
    (["{study}", "--scores", "{scores}", "--column", "note"], "column 'note' of"),
    (["{study}", "--scores", "{scores}", "--column", "s", "--model", "x"], "unknown model 'x' in hand; models: m"),
    (["{study}", "--scores", "{scores}", "--column", "s", "--checkpoint", "3"], "checkpoint 3 is out of range"),
    (["{study}", "--scores", "{scores}", "--column", "s", "--json", "{tmp}/no/r.json"], "does not exist"),
    (["{study}", "--scores", "{scores}", "--fraction", "1"], "invalid fraction"),
    (["{study}"], "the following arguments are required: --scores"),
])
def test_bad_arguments_are_one_line_and_status_2(hand, tmp_path, capsys, args, message):
    scores = csv(tmp_path / "scores.csv", list("abcde"), s=np.arange(5.0), t=np.ones(5), note=list("vwxyz"))
    argv = [a.format(study=hand, tmp=tmp_path, scores=scores) for a in args]
    assert compare.main(argv) == 2
    assert message in one_line_error(capsys)


def test_the_module_as_a_process(hand, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    good = csv(tmp_path / "s.csv", list("abcde"), s=np.arange(5.0))
    bad = csv(tmp_path / "d.csv", ["a", "a"], s=[1.0, 2.0])
    runs = [subprocess.run([sys.executable, "-m", "easiness.compare", str(hand), "--scores", str(p)],
                           capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120) for p in (good, bad)]
    assert runs[0].returncode == 0 and runs[0].stderr == "" and runs[0].stdout.splitlines()[-1].startswith("m ")
    assert runs[1].returncode == 2 and runs[1].stdout == ""
    assert runs[1].stderr.count("\n") == 1 and "repeats 1 ids" in runs[1].stderr


# --------------------------------------------------------------------------- the app page


SPEC = fake.FakeSpec(n=240, classes=4, runs=2, checkpoints=4)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A runs root: a fake study holding its easiness table, a score file at the root, and a
    broken one; a second study without any score file."""
    root = tmp_path_factory.mktemp("runs")
    study = fake.write_fake_study(root / "fake", SPEC)
    frame = tables.easiness_table(Study.open(study), models=["wrn16_4"], checkpoint=1)
    frame[["id", "easiness_wrn16_4"]].rename(columns={"easiness_wrn16_4": "e"}).to_csv(study / "e.csv", index=False)
    pd.DataFrame({"id": frame["id"], "conf": -frame["easiness_wrn16_4"], "noise": np.arange(240.0)}).to_csv(
        root / "conf.csv", index=False)
    (root / "broken.csv").write_text("")
    (root / ".hidden.csv").write_text("id,s\nex-1,1\n")
    fake.write_fake_study(root / "bare", fake.FakeSpec(n=60, classes=2, runs=1, checkpoints=2, seed=3))
    return root


def open_page(root: Path, monkeypatch, **params: str) -> AppTest:
    monkeypatch.setenv("EASINESS_RUNS", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/compare.py")
    at.query_params.update(params)
    return at.run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_the_page_is_registered_with_its_url_params():
    spec = next(s for s in navigation.PAGES if s.script == "pages/compare.py")
    assert spec.url_path == "compare" and {"study", "model", "t", "scores", "column", "easier"} <= set(spec.params)
    assert spec in navigation.available()


def test_score_files_are_listed_from_the_study_and_the_root_only(root):
    names = compare_ui.score_files(root, Study.open(root / "fake"))
    assert names == ["fake/e.csv", "broken.csv", "conf.csv"]
    assert compare_ui.score_path(root, "../conf.csv", names) is None
    assert compare_ui.score_path(root, "conf.csv", names) == (root / "conf.csv").resolve()


def test_a_shared_url_opens_the_comparison_it_names(root, monkeypatch):
    at = open_page(root, monkeypatch, study="fake", model="wrn16_4", scores="conf.csv", column="conf",
                   easier="higher", t="2")
    no_errors(at)
    assert at.selectbox(key="scores").value == "conf.csv" and at.selectbox(key="column").value == "conf"
    assert at.selectbox(key="easier").value == "higher" and at.slider(key="t").value == 2
    table = at.dataframe[0].value.set_index("model")
    assert table.loc["wrn16_4", "spearman"] == pytest.approx(1.0)  # conf = -easiness at T=2
    assert table.loc["wrn16_4", "easy matching"] == 1.0 and table.loc["wrn16_4", "chance"] == pytest.approx(0.1)
    assert not at.warning
    assert {k: at.query_params[k] for k in ("scores", "column", "easier", "t")} == {
        "scores": "conf.csv", "column": "conf", "easier": "higher", "t": "2"}
    assert len(at.get("vega_lite_chart")) == 2  # the scatter and the Spearman curve


def test_changing_the_column_and_the_easy_end_changes_url_and_numbers(root, monkeypatch):
    at = open_page(root, monkeypatch, study="fake", model="wrn16_4", scores="conf.csv", t="2")
    at.selectbox(key="column").select("conf").run()
    assert at.dataframe[0].value.set_index("model").loc["wrn16_4", "spearman"] == pytest.approx(-1.0)
    at.selectbox(key="easier").select("higher").run()
    no_errors(at)
    assert at.query_params["easier"] == "higher" and at.query_params["column"] == "conf"
    assert at.dataframe[0].value.set_index("model").loc["wrn16_4", "spearman"] == pytest.approx(1.0)


def test_the_page_matches_the_command(root, monkeypatch, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert compare.main([str(root / "fake"), "--scores", str(root / "fake" / "e.csv"), "--json", str(out)]) == 0
    expected = json.loads(out.read_text())
    at = open_page(root, monkeypatch, study="fake", scores="fake/e.csv")
    table = at.dataframe[0].value.set_index("model")
    for model, numbers in expected.items():
        for key, column in (("spearman", "spearman"), ("easy_matching", "easy matching"), ("n", "n")):
            assert table.loc[model, column] == pytest.approx(numbers[key])


@pytest.mark.parametrize("name", ["../conf.csv", "/etc/passwd", ".hidden.csv", "fake/../conf.csv"])
def test_a_score_file_outside_the_listing_falls_back_with_a_notice(root, monkeypatch, name):
    at = open_page(root, monkeypatch, study="fake", scores=name)
    assert not at.exception
    assert repr(name) in " ".join(w.value for w in at.warning)
    assert at.selectbox(key="scores").value == "fake/e.csv"


def test_a_broken_score_file_is_one_error_line(root, monkeypatch):
    at = open_page(root, monkeypatch, study="fake", scores="broken.csv")
    assert not at.exception
    assert [e.value for e in at.error] == [f"score file broken.csv is empty"]


def test_without_score_files_the_page_explains_where_to_put_them(tmp_path, monkeypatch):
    fake.write_fake_study(tmp_path / "bare", fake.FakeSpec(n=60, classes=2, runs=1, checkpoints=2, seed=3))
    at = open_page(tmp_path, monkeypatch, study="bare")
    no_errors(at)
    assert "No score file yet" in at.info[0].value and "scores" not in at.query_params


def test_the_page_survives_a_root_of_broken_folders(tmp_path, monkeypatch):
    for kind in fake.BROKEN:
        fake.write_broken(tmp_path, kind)
    (tmp_path / "s.csv").write_text("id,s\nex-1,1\n")
    at = open_page(tmp_path, monkeypatch, study="corrupt", scores="s.csv", column="nope", t="9")
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="study").value == "mode-values" and at.selectbox(key="scores").value == "s.csv"
    assert "joined 1 of 1 score rows" in " ".join(c.value for c in at.caption)


def test_other_pages_drop_the_compare_params(root, monkeypatch):
    at = open_page(root, monkeypatch, study="fake", scores="conf.csv", column="conf")
    at.switch_page("pages/matching.py").run()
    assert not at.exception and "scores" not in at.query_params and "column" not in at.query_params


# --------------------------------------------------------------------------- the examples download


def test_the_examples_page_offers_the_full_table(root, monkeypatch):
    if not examples_ui.deferred_downloads():
        pytest.skip("this Streamlit takes no callable data: the prepared download is tested below")
    monkeypatch.setenv("EASINESS_RUNS", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/examples.py")
    at.query_params.update(study="fake", model="wrn16_4", t="3")
    at.run()
    assert not at.exception
    button, = at.get("download_button")
    assert button.label == "Download all 240 examples (CSV)"
    assert button.proto.deferred_file_id  # built on click, not on every rerun


def test_an_older_streamlit_prepares_the_download_on_request(root, monkeypatch):
    monkeypatch.setattr(examples_ui, "deferred_downloads", lambda: False)
    monkeypatch.setenv("EASINESS_RUNS", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/examples.py")
    at.query_params.update(study="fake", model="wrn16_4", t="3")
    at.run()
    assert not at.get("download_button")  # nothing built on an ordinary rerun
    at.button(key="download-prepare").click().run()
    assert not at.exception and at.get("download_button")[0].label == "Download all 240 examples (CSV)"
    at.slider(key="t").set_value(2).run()
    assert not at.get("download_button")  # the file of T=3 is not offered for T=2


def test_the_download_is_the_export_table(root):
    study = Study.open(root / "fake")
    data = examples_ui.table_csv(study, ("wrn16_4", "densenet_bc100_k12"), 2, 0.1)
    got = pd.read_csv(pd.io.common.BytesIO(data), dtype={"id": str})
    expected = tables.easiness_table(study, models=["wrn16_4", "densenet_bc100_k12"], checkpoint=2)
    assert len(got) == study.n and got.columns.tolist() == expected.columns.tolist()
    np.testing.assert_allclose(got["easiness_wrn16_4"], expected["easiness_wrn16_4"])
    assert got["easy_densenet_bc100_k12"].tolist() == expected["easy_densenet_bc100_k12"].tolist()
