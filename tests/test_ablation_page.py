"""The Ablation page in Streamlit's AppTest: an empty runs root, an ablation's chart and read-out,
and the form that starts `python -m easiness.ablate` as a background job (jobs.start stubbed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from easiness import ablation, ablation_view, jobs
from easiness.fake import FakeSpec, write_fake_study

REPO = Path(__file__).resolve().parents[1]
PAGE = str(REPO / "pages" / "ablation.py")
TIMEOUT = 30  # AppTest's default of 3 s is too short on a busy 2-core machine


def point(strategy: str, fraction: float, seed: int, accuracy: float, n: int = 600) -> dict:
    removed = ablation.removal_count(n, fraction) if fraction else 0
    return {"strategy": strategy, "target_fraction": fraction, "removed_fraction": removed / n, "seed": seed,
            "kept": n - removed, "removed": removed, "test_accuracy": accuracy, "test_loss": 0.4, "epochs": 3,
            "seconds": 2.0, "status": "done", "kept_file": f"kept/{ablation.point_name(strategy, fraction, seed)}.txt"}


def write_ablation(folder: Path) -> None:
    """An ablation folder as the CLI leaves it: 2 seeds, 4 strategies at 10% and 30%."""
    accuracy = {"easy": 0.88, "hard": 0.80, "random": 0.86, "stepwise": 0.89}
    rows = [point("full", 0.0, s, 0.90 + 0.01 * s) for s in (0, 1)]
    rows += [point(k, f, s, a - f / 10 + 0.005 * s) for s in (0, 1) for f in (0.1, 0.3) for k, a in accuracy.items()]
    folder.mkdir(parents=True)
    (folder / "ablation.csv").write_text(ablation.format_rows(rows))
    meta = {"schema_version": 1, "study": "runs/demo", "settings": {"model": "wrn10_1", "checkpoint": 3,
            "balanced": False, "easy_weighting": "inverse", "retrain": {"epochs": 3}},
            "requested": {"strategies": list(accuracy), "fractions": [0.1, 0.3], "seeds": [0, 1]},
            "costs": {"scoring": 4 * 3 * 600, "stepwise": [4 * 3 * 540, 4 * 3 * 480], "epochs": 3, "step": 0.1, "n": 600}}
    (folder / "ablation.json").write_text(json.dumps(meta))


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    monkeypatch.setenv("EASINESS_RUNS", str(runs))
    return runs


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def test_an_empty_runs_root_explains_what_to_do(root):
    at = open_page()
    texts = [i.value for i in at.info]
    assert any("No ablation under" in t for t in texts)
    assert any("needs a finished study" in t for t in texts)


def test_an_ablation_shows_its_curves_read_out_and_ledger(root):
    write_ablation(root / "demo-ablation")
    at = open_page()
    assert at.selectbox(key="ablation").value == "demo-ablation"
    assert at.query_params["ablation"] == "demo-ablation"
    assert len(at.get("vega_lite_chart")) == 1
    table = at.dataframe[0].value
    assert list(table["strategy"][:3]) == ["full", "easy", "easy"] and len(table) == 9
    assert table.loc[table["strategy"] == "easy", "vs random"].round(4).tolist() == [0.02, 0.02]
    captions = " ".join(c.value for c in at.caption)
    assert "wrn10_1 · T = 3" in captions and "18 of 18 points done" in captions
    assert "break-even" in captions


def test_the_chart_data_starts_every_curve_at_the_full_data():
    rows = [point("full", 0.0, 0, 0.9), point("easy", 0.3, 0, 0.85), point("random", 0.3, 0, 0.8)]
    frame = ablation_view.aggregate(rows)
    assert sorted(frame[frame["removed_fraction"] == 0]["strategy"]) == ["easy", "full", "random"]
    assert ablation_view.chart(frame).to_dict()["layer"]  # a valid Vega-Lite spec


def test_a_link_to_a_missing_ablation_falls_back_with_a_notice(root):
    write_ablation(root / "demo-ablation")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["ablation"] = "nope"
    at.run()
    assert not at.exception and at.selectbox(key="ablation").value == "demo-ablation"
    assert any("nope" in w.value for w in at.warning)


def test_the_form_starts_the_ablation_cli_as_a_job(root, monkeypatch):
    write_fake_study(root / "study", FakeSpec(n=600, models=("wrn10_1",), runs=2, checkpoints=3))
    started = []
    monkeypatch.setattr(jobs, "start", lambda args, runs_root, **kw: started.append((args, runs_root, kw)) or "job-1")
    at = open_page()
    assert at.selectbox(key="ablate_study").value == "study"
    at.button[0].click().run()  # the form's Start, with its defaults
    assert not at.exception and not at.error, [e.value for e in at.error]
    (args, runs_root, kw), = started
    assert kw == {"module": "easiness.ablate"} and Path(runs_root) == root
    assert args[:6] == ["--study", str(root / "study"), "--model", "wrn10_1", "--out", str(root / "study-ablation-wrn10_1")]
    assert args[args.index("--fractions") + 1:args.index("--seeds")] == ["0.1", "0.3", "0.5"]
    assert args[args.index("--strategy") + 1:args.index("--fractions")] == list(ablation.STRATEGIES)


def test_the_form_reports_bad_input_in_place(root, monkeypatch):
    write_fake_study(root / "study", FakeSpec(n=240, models=("wrn10_1",), runs=2, checkpoints=3))
    monkeypatch.setattr(jobs, "start", lambda *a, **k: pytest.fail("no job may start"))
    at = open_page()
    at.text_input[0].set_value("bad/name")  # a form's values reach the script with its submit
    at.button[0].click().run()
    assert any("one folder name" in e.value for e in at.error)
    at.text_input[0].set_value("ok-name")
    at.button[0].click().run()  # 240 examples minus half leaves 120 < the default batch of 128
    assert any("fewer than the batch size" in e.value for e in at.error)
