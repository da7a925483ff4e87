"""The Ablation page in Streamlit's AppTest: an empty runs root, an ablation's chart and read-out,
the sidebar's study and model bound to the URL, and the form that starts `python -m easiness.ablate`
as a background job (jobs.start stubbed)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pyarrow as pa
import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from easiness.analysis import ablation, ablation_plan, ablation_view
from easiness.fake import FakeSpec, write_fake_study
from easiness.ui import jobs

REPO = Path(__file__).resolve().parents[1]
PAGE = str(REPO / "pages" / "ablation.py")
APP = str(REPO / "app.py")
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


def displayed(at: AppTest, index: int = 0):
    """What the table at ``index`` shows in its cells (the Styler's display values)."""
    styler = at.dataframe[index].proto.arrow_data.styler
    return pa.ipc.open_stream(styler.display_values).read_pandas()


def test_the_read_out_shows_every_row_and_note_and_no_none(root, monkeypatch):
    write_ablation(root / "demo-ablation")
    calls = []
    original = streamlit.dataframe
    monkeypatch.setattr(streamlit, "dataframe", lambda *a, **k: calls.append(k) or original(*a, **k))
    at = open_page()
    shown = displayed(at)
    table = at.dataframe[0].value
    assert math.isnan(table.loc[0, "vs random"])  # the full data has no random point to compare with
    assert shown.loc[0, "vs random"] == "" and "None" not in shown.to_string() and "nan" not in shown.to_string()
    assert shown.loc[1, "vs random"] == "+0.0200" and shown.loc[1, "removed"] == "10.0%"
    assert json.loads(at.dataframe[0].proto.columns)["note"]["width"] == "large"  # the notes are not cut
    assert calls[0]["height"] == "content" and len(table) == 9  # every row in view, stepwise included


def test_the_ablations_job_shows_as_on_the_jobs_page(root):
    write_ablation(root / "demo-ablation")
    folder = root / ".jobs" / "20260101-000000-abcdef"
    folder.mkdir(parents=True)
    args = ["--study", str(root / "demo"), "--model", "wrn10_1", "--out", str(root / "demo-ablation")]
    (folder / "job.json").write_text(json.dumps({"id": folder.name, "module": "easiness.ablate", "args": args,
                                                 "out": str(root / "demo-ablation"), "pid": 1, "created": 1.0}))
    (folder / "status.json").write_text(json.dumps({"state": "failed", "done": 3, "total": 9,
                                                    "message": "disk full"}))
    (folder / "log.txt").write_text("easy f=0.1 seed 0: epoch 1/3\n")
    at = open_page()
    assert any(folder.name in m.value and "failed" in m.value for m in at.markdown)  # the jobs page's row
    assert any(e.value == "disk full" for e in at.error)
    assert "command and log (paths relative to the runs root)" in [e.label for e in at.expander]
    assert any("python -m easiness.ablate --study demo" in c.value for c in at.code)  # no server paths


def test_the_x_axis_ticks_are_the_fractions_measured():
    rows = [point("full", 0.0, 0, 0.9)] + [point(s, f, 0, 0.8) for s in ("easy", "random") for f in (0.1, 0.3, 0.5)]
    spec = ablation_view.chart(ablation_view.aggregate(rows)).to_dict()
    axes = [layer["encoding"]["x"]["axis"] for layer in spec["layer"] if "x" in layer.get("encoding", {})]
    assert axes and all(a["values"] == [0.0, 0.1, 0.3, 0.5] and a["format"] == ".0%" for a in axes)
    odd = ablation_view.fraction_axis(ablation_view.aggregate([point("full", 0.0, 0, 0.9),
                                                                point("easy", 0.2, 0, 0.8, n=96)]))
    assert odd.to_dict() == {"format": ".1%", "values": [0.0, 0.1979]}  # 19 of 96 removed: 19.8%, not 20%


def test_a_link_keeps_its_study_and_model_in_the_sidebar_and_the_url(root, monkeypatch):
    for name in ("first", "second"):
        write_fake_study(root / name, FakeSpec(n=600, models=("wrn10_1", "wrn16_4"), runs=2, checkpoints=3))
    write_ablation(root / "a-first")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params.update(study="second", model="wrn16_4")
    at.run()
    assert not at.exception, at.exception
    assert [s.key for s in at.sidebar.selectbox] == ["study", "model"]
    assert (at.selectbox(key="study").value, at.selectbox(key="model").value) == ("second", "wrn16_4")
    assert (at.query_params["study"], at.query_params["model"]) == ("second", "wrn16_4")
    assert at.text_input[0].value == "second-ablation-wrn16_4"  # the form ablates the sidebar's choice
    at.selectbox(key="study").set_value("first").run()
    assert at.query_params["study"] == "first" and at.text_input[0].value.startswith("first-ablation-")


def test_the_app_keeps_study_and_model_in_the_url_on_the_ablation_page(root):
    for name in ("first", "second"):  # the link names the second: a dropped parameter would show the first
        write_fake_study(root / name, FakeSpec(n=600, models=("wrn10_1", "wrn16_4"), runs=2, checkpoints=3))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/ablation.py")
    at.query_params.update(study="second", model="wrn16_4")
    at.run()
    assert not at.exception, at.exception
    assert (at.selectbox(key="study").value, at.selectbox(key="model").value) == ("second", "wrn16_4")
    assert (at.query_params.get("study"), at.query_params.get("model")) == ("second", "wrn16_4")


def test_the_form_starts_the_ablation_cli_as_a_job(root, monkeypatch):
    write_fake_study(root / "study", FakeSpec(n=600, models=("wrn10_1",), runs=2, checkpoints=3))
    started = []
    monkeypatch.setattr(jobs, "start", lambda args, runs_root, **kw: started.append((args, runs_root, kw)) or "job-1")
    at = open_page()
    assert at.selectbox(key="study").value == "study" and at.query_params["study"] == "study"
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
    at.multiselect[0].set_value([])
    at.button[0].click().run()
    assert any("choose at least one strategy and one fraction" in e.value for e in at.error)


def test_the_form_checks_what_the_command_checks_and_builds_its_command_line(tmp_path):
    study = tmp_path / "study"
    write_fake_study(study, FakeSpec(n=600, models=("wrn10_1",), runs=2, checkpoints=3))
    request = ablation_plan.Request(study=study, model="wrn10_1", out=tmp_path / "out", strategies=("easy-topk",),
                                    fractions=(0.3,), seeds=2, epochs=4, balanced=True, score="el2n", checkpoint=2)
    args = ablation_plan.job_argv(request)
    assert args == ["--study", str(study), "--model", "wrn10_1", "--out", str(tmp_path / "out"), "--strategy",
                    "easy-topk", "--fractions", "0.3", "--seeds", "2", "--easy-weighting", "inverse", "--score", "el2n",
                    "--checkpoint", "2", "--epochs", "4", "--balanced"]
    from easiness import ablate  # the command reads its own command line back as the same request

    assert ablate.request_of(ablate.build_parser().parse_args(args)) == ablation_plan.Request(
        **{**vars(request), "strategies": ["easy-topk"], "fractions": [0.3], "out": str(tmp_path / "out"),
           "study": str(study)})
    with pytest.raises(ablation.AblationError, match="--checkpoint 9 is beyond"):
        ablation_plan.job_argv(ablation_plan.Request(study=study, model="wrn10_1", checkpoint=9))
    assert not (tmp_path / "out").exists()  # checking writes nothing
