"""The "Difficulty scores" page in AppTest (heat map, data map, stability, hardest examples, a
shared link's example and matrix, an old study's notice) and the numpy tables behind it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from easiness import fake
from easiness.analysis import stability
from easiness.store import Study
from easiness.analysis.study_scores import ScoreSet, compute
from easiness.ui import navigation, score_data

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("runs")
    fake.write_fake_study(root / "fake", fake.FakeSpec(n=240, classes=4, runs=4, checkpoints=5))
    fake.write_fake_study(root / "old", fake.FakeSpec(n=90, classes=3, runs=2, checkpoints=3, image_size=None,
                                                      models=("wrn16_4",), seed=2, records=False))
    fake.write_fake_study(root / "single", fake.FakeSpec(n=60, classes=3, runs=1, checkpoints=2,
                                                         models=("wrn16_4",), seed=3))
    return root


def open_page(root: Path, monkeypatch, **params: str) -> AppTest:
    monkeypatch.setenv("EASINESS_RUNS", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/scores.py")
    at.query_params.update(params)
    return at.run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_the_page_shows_every_view_of_a_study_with_margins(root, monkeypatch):
    at = open_page(root, monkeypatch, study="fake", model="wrn16_4")
    no_errors(at)
    assert not at.warning
    assert len(at.get("vega_lite_chart")) == 3  # heat map, data map, stability curves
    assert len(at.image) == len(stability.RANKINGS)  # one mosaic per score, side by side
    summary = at.dataframe[0].value
    assert summary["score"].tolist() == list(stability.RANKINGS) and (summary["M"] == 4).all()
    assert at.query_params["matrix"] == "spearman" and at.query_params["across"] == "hide"


def test_a_shared_link_opens_its_matrix_example_and_model_comparison(root, monkeypatch):
    at = open_page(root, monkeypatch, study="fake", model="wrn16_4", matrix="hard matching", example="ex-7",
                   across="show")
    no_errors(at)
    assert at.selectbox(key="matrix").value == "hard matching"
    assert at.text_input(key="example").value == "ex-7"
    card = next(d.value for d in at.dataframe if "harder than" in d.value.columns)
    assert card["score"].tolist()[:2] == ["easiness", "mean_loss"] and card["harder than"].between(0, 1).all()
    across = at.dataframe[-1].value
    assert list(across.columns) == ["score", "densenet_bc100_k12"] and across["densenet_bc100_k12"].between(-1, 1).all()
    assert "chance = 0.100" in " ".join(c.value for c in at.caption)


def test_an_invalid_link_falls_back_with_a_notice(root, monkeypatch):
    at = open_page(root, monkeypatch, study="fake", matrix="kendall", example="nope")
    no_errors(at)
    text = " ".join(w.value for w in at.warning)
    assert "'kendall'" in text and "'nope'" in text
    assert at.selectbox(key="matrix").value == "spearman"


def test_an_old_study_names_what_is_missing_and_shows_the_rest(root, monkeypatch):
    at = open_page(root, monkeypatch, study="old")
    no_errors(at)
    notice = " ".join(w.value for w in at.warning)
    assert "wrn16_4 did not record margins or el2n" in notice and "score it again into a new --out" in notice
    assert len(at.get("vega_lite_chart")) == 3
    assert at.dataframe[0].value["score"].tolist() == ["easiness", "mean_loss", "confidence", "variability"]
    assert "coloured by easiness" in " ".join(c.value for c in at.caption)


def test_a_single_run_says_stability_needs_two(root, monkeypatch):
    at = open_page(root, monkeypatch, study="single")
    no_errors(at)
    assert any("one run" in i.value for i in at.info)
    assert len(at.get("vega_lite_chart")) == 2


def test_the_page_is_registered_with_its_url_parameters():
    spec = next(s for s in navigation.PAGES if s.script == "pages/scores.py")
    assert spec.url_path == "scores" and {"t", "frac", "matrix", "example", "across"} <= set(spec.params)
    assert spec in navigation.available()


# --------------------------------------------------------------------------- the tables behind it


def made_up(mean: dict[str, np.ndarray], per_run: dict[str, np.ndarray] | None = None) -> ScoreSet:
    return ScoreSet(model="m", k=0, runs=(0, 1), mean=mean, per_run=per_run or {}, sample=None, left_out={})


def test_the_data_map_bins_every_example_and_draws_a_bounded_sample():
    rng = np.random.default_rng(0)
    n = 5_000
    result = made_up({"confidence": rng.random(n), "variability": rng.random(n) * 0.3,
                      "correctness": rng.random(n), "easiness": rng.random(n)})
    data = score_data.data_map(result, ids=np.arange(n).astype(str), labels=np.zeros(n, int), class_names=["a"],
                               points=300, bins=10)
    assert data["bins"]["examples"].sum() == n and len(data["bins"]) <= 100
    assert len(data["points"]) == 300 and data["colour"] == "correctness"
    first = data["points"].iloc[0]
    i = int(first["id"])
    assert first["confidence"] == result.mean["confidence"][i] and first["correctness"] == result.mean["correctness"][i]


def test_the_hardest_by_a_score_follow_its_orientation_and_break_ties_by_easiness():
    result = made_up({"easiness": np.array([0.1, 0.9, 0.5, 0.7, 0.3]),
                      "forgetting": np.array([2.0, 1.0, 2.0, 2.0, 0.0]),
                      "aum": np.array([1.0, -2.0, 0.5, -1.0, 3.0])})
    assert score_data.hardest(result, "forgetting", 2).tolist() == [3, 2]  # tied at 2: higher easiness first
    assert score_data.hardest(result, "aum", 3).tolist() == [1, 3, 2]  # lower margin = harder
    assert score_data.hardest(result, "aum", 9).tolist() == [1, 3, 2, 0, 4]


def test_one_examples_scores_say_how_many_it_is_harder_than():
    result = made_up({"easiness": np.array([0.1, 0.9, 0.5, 0.7]), "confidence": np.array([0.9, 0.2, 0.5, 0.4])})
    card = score_data.example_scores(result, 1)
    assert card["harder than"].tolist() == [0.75, 0.75] and card["value"].tolist() == [0.9, 0.2]


def test_matrix_frames_are_long_tables_of_every_pair():
    result = made_up({"easiness": np.arange(10.0), "aum": -np.arange(10.0), "never_learned": np.zeros(10)})
    frame, chance = score_data.matrix_frame(result, "spearman")
    assert len(frame) == 4 and chance is None and np.allclose(frame["value"], 1.0)
    frame, chance = score_data.matrix_frame(result, "easy matching", fraction=0.2)
    assert chance == pytest.approx(0.2) and np.allclose(frame["value"], 1.0)


def test_stability_frames_measure_predict_and_summarise():
    signal = np.random.default_rng(1).random(500)
    result = made_up({"easiness": signal}, {"easiness": np.tile(signal, (4, 1))})
    frames = score_data.stability_frames(result, splits=2)
    assert frames["measured"]["m"].tolist() == [1, 2] and np.allclose(frames["measured"]["rho"], 1.0)
    assert frames["predicted"]["n"].tolist() == list(range(1, 9))  # up to 2M when one run already suffices
    assert frames["summary"]["runs_needed"].tolist() == [1.0]


def test_the_page_scores_equal_the_library(root):
    study = Study.open(root / "fake")
    direct = compute(study, "wrn16_4", per_run=True, sample=score_data.sample(study.n, 100))
    assert direct.per_run["aum"].shape == (4, 100)
    table = pd.DataFrame(direct.mean)
    assert table["correctness"].between(0, 1).all() and (table["forgetting"] >= 0).all()
