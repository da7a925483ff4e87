"""The Streamlit app, page by page, through ``streamlit.testing.v1.AppTest``: every page on a
small fake study and on broken folders, shareable URLs (query parameters both ways), invalid
links, path traversal, a study still being written, and no TensorFlow in the app's process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from easiness import fake
from easiness.analysis import metrics
from easiness.store import Study
from easiness.ui import jobs
from easiness.ui import navigation, roots

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
STUDY_PAGES = ["runs", "examples", "averaged", "matching", "ground_truth"]
OUR_PAGES = ["start", "jobs", *STUDY_PAGES]
SPEC = fake.FakeSpec(n=240, classes=4, runs=3, checkpoints=5)  # models wrn16_4, densenet_bc100_k12


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A runs root with a good study, one still being written, one without images or ground
    truth, and every kind of broken folder."""
    root = tmp_path_factory.mktemp("runs")
    fake.write_fake_study(root / "fake", SPEC)
    fake.write_fake_study(root / "partial", fake.FakeSpec(n=120, classes=3, runs=2, checkpoints=5, done=2, seed=1))
    fake.write_fake_study(root / "plain", fake.FakeSpec(n=90, classes=3, runs=2, checkpoints=3, image_size=None,
                                                        ground_truth=False, models=("wrn16_4",), seed=2))
    for kind in fake.BROKEN:
        fake.write_broken(root, kind)
    (root / "notes").mkdir()  # a folder that is no study at all: not listed
    return root


@pytest.fixture
def use_root(monkeypatch):
    """Point the app at a runs root through $EASINESS_RUNS."""
    def use(path: Path) -> None:
        monkeypatch.setenv("EASINESS_RUNS", str(path))
    return use


def open_page(page: str, **params: str) -> AppTest:
    """The app after opening ``page`` with the given query parameters (as a shared link would)."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if page != "start":
        at.switch_page(f"pages/{page}.py")
    at.query_params.update(params)
    return at.run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning)


def page_text(at: AppTest) -> str:
    """Every text a reader sees on the page: titles, markdown, captions, notices, table cells."""
    parts = [e.value for kind in ("title", "subheader", "markdown", "caption", "info", "warning", "success")
             for e in getattr(at, kind)]
    parts += [" ".join(map(str, frame.value.astype(str).to_numpy().ravel())) for frame in at.dataframe]
    return " ".join(parts)


def charts(at: AppTest, *, top_level: bool = False) -> list[dict]:
    """The Vega-Lite specs of the page's charts (those outside any column with ``top_level``)."""
    nodes = at.main.children.values() if top_level else at.get("vega_lite_chart")
    return [json.loads(node.proto.spec) for node in nodes if getattr(node, "type", None) == "vega_lite_chart"]


def encodings(spec: dict) -> list[dict]:
    return [layer.get("encoding", {}) for layer in spec.get("layer", [spec])]


def order_losses(root: Path, model: str, order, *, checkpoint: int | None = None) -> None:
    """Give every run of ``model`` the losses ``order`` (at one checkpoint, or at all)."""
    for path in sorted((root / "models" / model).glob("run-*/losses.npy")):
        rows = np.load(path, mmap_mode="r+")
        rows[slice(None) if checkpoint is None else checkpoint] = np.asarray(order, dtype=rows.dtype)
        rows.flush()
        del rows


# ----------------------------------------------------------------------------------- every page


@pytest.mark.parametrize("page", OUR_PAGES)
def test_every_page_renders_on_a_fake_study(root, use_root, page):
    use_root(root)
    at = open_page(page, study="fake")
    no_errors(at)
    assert at.title, f"{page} shows no title"


def test_examples_page_shows_grids_histogram_and_class_mix(root, use_root):
    use_root(root)
    at = open_page("examples", study="fake", model="wrn16_4")
    no_errors(at)
    assert len(at.image) == 2  # one mosaic per grid, not one image per example
    assert len(at.dataframe) == 2
    assert at.dataframe[0].value["rank"].tolist()[:3] == [1, 2, 3]
    captions = " ".join(c.value for c in at.caption)
    assert "easy set: easiness ≤" in captions and "hard set: easiness ≥" in captions


@pytest.mark.parametrize("percent", [5, 50])
def test_the_grids_follow_the_share_up_to_their_cap(root, use_root, percent):
    use_root(root)
    at = open_page("examples", study="fake", model="wrn16_4", frac=str(percent))
    no_errors(at)
    size = metrics.set_size(SPEC.n, fraction=percent / 100)
    shown = min(size, 48)
    assert [s.value for s in at.subheader][:2] == [f"Easiest {shown} of all classes", f"Hardest {shown} of all classes"]
    assert [len(at.dataframe[i].value) for i in range(2)] == [shown, shown]
    captions = " ".join(c.value for c in at.caption)
    if size > shown:  # the grid says why it shows fewer than the set holds
        assert f"holds {size:,} examples; a grid shows at most 48" in captions
    else:
        assert f"The whole easy set: the {percent}% easiest of all classes." in captions


def test_averaged_page_shows_three_images_with_their_contrast(root, use_root):
    use_root(root)
    at = open_page("averaged", study="fake", **{"class": "class-2"})
    no_errors(at)
    assert len(at.image) == 3
    text = " ".join(m.value for m in at.markdown)
    assert all(f"**{name}**" in text for name in ("easy", "random", "hard"))
    # the number is named for what it measures (it grows as an image gets less uniform) and explained
    values = {name: float(v) for name, v in re.findall(r"\*\*(easy|random|hard)\*\*.*?contrast \*\*([\d.]+)\*\*", text,
                                                       flags=re.S)}
    assert set(values) == {"easy", "random", "hard"} and "uniformity" not in page_text(at)
    caption = " ".join(c.value for c in at.caption)
    assert "standard deviation of the averaged image's grey level" in caption and "hard average the most uniform" in caption
    listed = re.search(r"from flattest to most contrasted: (\w+) < (\w+) < (\w+)", caption).groups()
    assert [values[name] for name in listed] == sorted(values.values())


def test_matching_page_has_table_1_and_run_stability(root, use_root):
    use_root(root)
    at = open_page("matching", study="fake", model="densenet_bc100_k12", t="5")
    no_errors(at)
    table = at.dataframe[0].value
    assert set(table["model"]) == {"wrn16_4", "densenet_bc100_k12"}
    assert table["chance"].tolist() == [pytest.approx(0.1)] * 2
    assert any("Mean over pairs of runs" in c.value for c in at.caption)


def test_fig_3_charts_are_full_width_with_the_legend_below(root, use_root):
    use_root(root)
    at = open_page("matching", study="fake")
    no_errors(at)
    fig3 = [spec for spec in charts(at, top_level=True)
            if any(e.get("y", {}).get("title") == "matching rate" for e in encodings(spec))]
    assert len(fig3) == 2  # easy and hard, stacked outside any column: each as wide as the page
    for spec in fig3:
        legend = next(e["color"]["legend"] for e in encodings(spec) if "color" in e)
        assert legend["orient"] == "bottom"


def test_a_rate_below_chance_comes_with_a_note(tmp_path, use_root):
    spec = fake.FakeSpec(n=120, classes=3, runs=2, checkpoints=3)
    for name, b_order in (("anti", np.arange(120)[::-1]), ("agree", np.arange(120))):
        root = fake.write_fake_study(tmp_path / name, spec)
        a, b = Study.open(root).models
        order_losses(root, a, np.arange(120))  # every run, every checkpoint: one ranking
        order_losses(root, b, b_order)  # "anti": b's easy set is a's hard set (rate 0, chance 0.1)
    use_root(tmp_path)
    at = open_page("matching", study="anti", t="1")
    no_errors(at)
    notes = [i.value for i in at.info if "below chance" in i.value]
    assert len(notes) == 2  # under Fig. 3 and under the matrices between models; not under Table 1 or the runs
    assert all("(0.100)" in n and "first checkpoint" in n and "not a bug" in n for n in notes)
    at = open_page("matching", study="agree", t="1")
    no_errors(at)
    assert not any("below chance" in i.value for i in at.info)


def test_ground_truth_page_needs_a_synthetic_study(root, use_root):
    use_root(root)
    at = open_page("ground_truth", study="fake")
    groups = at.dataframe[0].value["group"].tolist()
    assert groups == ["majority mode", "negative mode", "small mode", "flipped label"]  # the CLI's word
    assert "majority mode to be easy" in page_text(at) and "look" not in page_text(at)
    at = open_page("ground_truth", study="plain")
    no_errors(at)
    assert "no per-example ground truth" in at.info[0].value and "look" not in page_text(at)


def test_runs_chart_tells_train_from_test_by_colour_and_line_style(root, use_root):
    use_root(root)
    at = open_page("runs", study="fake", model="wrn16_4")
    no_errors(at)
    (spec,) = charts(at)
    lines = next(e for e in encodings(spec) if "strokeDash" in e)
    assert lines["color"]["field"] == lines["strokeDash"]["field"] == "split"  # one legend: colour and dash
    colours, dashes = lines["color"]["scale"]["range"], lines["strokeDash"]["scale"]["range"]
    assert lines["color"]["scale"]["domain"] == ["train", "test"]
    assert colours[0] != colours[1] and dashes[0] != dashes[1]


def test_config_floats_are_shown_for_people_and_stored_exactly(tmp_path, use_root):
    root = fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=40, classes=2, runs=1, checkpoints=2,
                                                                models=("wrn16_4",)))
    manifest = root / "models" / "wrn16_4" / "run-000" / "manifest.json"
    stored = json.loads(manifest.read_text())
    stored["config"].update(lr_milestones=[0.5, 5 / 6], weight_decay=1e-4, lr=0.1, epochs=300)
    manifest.write_text(json.dumps(stored))
    use_root(tmp_path)
    at = open_page("runs", study="s")
    no_errors(at)
    shown = json.loads(at.json[0].value)
    assert shown["lr_milestones"] == [0.5, 0.833] and shown["weight_decay"] == 1e-4 and shown["lr"] == 0.1
    assert "0.8333333333333334" not in at.json[0].value
    assert json.loads(manifest.read_text())["config"]["lr_milestones"][1] == 5 / 6
    assert any("fractions of the 300 epochs (here 150, 250 epochs in)" in c.value for c in at.caption)


def test_page_text_never_describes_the_development_machine():
    own = [p for p in [*(REPO / "pages").glob("*.py"), *(REPO / "easiness" / "ui").glob("*.py")]
           if p.name not in ("job_views.py", "jobs.py", "ablation.py")]  # those three have other owners
    machine = re.compile(r"\b\d+\s+(?:CPU\s+)?cores?\b|\bCPU cores?\b|\bon (?:our|this|my) machine\b", re.I)
    found = [f"{p.name}: {m.group(0)}" for p in own for m in machine.finditer(p.read_text())]
    assert found == []


def test_study_without_images_shows_ids_and_labels(root, use_root):
    use_root(root)
    at = open_page("examples", study="plain")
    no_errors(at)
    assert not at.image and len(at.dataframe) == 2
    assert "stores no images" in at.info[0].value


def test_a_study_with_a_diverged_run_still_shows(tmp_path, use_root):
    fake.write_fake_study(tmp_path / "nan", fake.FakeSpec(n=80, classes=2, runs=2, checkpoints=2))
    rows = np.load(tmp_path / "nan" / "models" / "wrn16_4" / "run-000" / "losses.npy", mmap_mode="r+")
    rows[:, :5] = np.nan
    rows.flush()
    del rows
    use_root(tmp_path)
    for page in STUDY_PAGES:
        at = open_page(page, study="nan", model="wrn16_4")
        no_errors(at)
    at = open_page("examples", study="nan", model="wrn16_4")
    assert any("5 with an infinite or NaN loss" in c.value for c in at.caption)


# ----------------------------------------------------------------------------------- start page


def test_start_page_lists_every_study_with_status_and_reason(root, use_root):
    use_root(root)
    at = open_page("start")
    no_errors(at)
    table = at.dataframe[0].value.set_index("study")
    assert "notes" not in table.index
    assert table.loc["fake", "status"] == "done" and table.loc["fake", "checkpoints done"] == 5
    assert table.loc["partial", "status"] == "running" and table.loc["partial", "checkpoints done"] == 2
    assert "not valid JSON" in table.loc["corrupt", "problem"]
    assert "newer easiness" in table.loc["future", "problem"]
    assert "not a study" in table.loc["foreign", "problem"]
    assert "creation was interrupted" in table.loc["interrupted", "problem"]
    assert "no manifest yet" in table.loc["half-run", "problem"]
    assert str(root) not in " ".join(table["problem"])  # no server paths in a shared view
    assert {p.value for p in at.page_link} >= {"Explore fake", "Explore partial", "Explore plain"}


def test_empty_root_offers_the_demo_study(tmp_path, use_root, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "start", lambda args, root, **kw: started.append((list(args), root)) or "id")
    use_root(tmp_path)
    at = open_page("start")
    no_errors(at)
    button = next(b for b in at.button if b.label == "Create the demo study")
    button.click().run()
    (args, where), = started
    assert args[:2] == ["--preset", "demo"] and Path(args[args.index("--out") + 1]).parent == tmp_path
    assert Path(where) == tmp_path


def test_a_root_of_only_broken_folders_lists_them_and_offers_the_demo(tmp_path, use_root):
    fake.write_broken(tmp_path, "corrupt")
    use_root(tmp_path)
    at = open_page("start")
    no_errors(at)
    assert at.dataframe[0].value["study"].tolist() == ["corrupt"]
    assert [b.label for b in at.button] == ["Create the demo study"]


def test_the_job_form_starts_the_cli_with_its_fields(tmp_path, use_root, monkeypatch):
    started = []
    monkeypatch.setattr(jobs, "start", lambda args, root, **kw: started.append(list(args)) or "20260101-000000-abcdef")
    (tmp_path / "shared" / "datasets").mkdir(parents=True)  # relative dataset paths start from the root's parent
    (tmp_path / "shared" / "datasets" / "cifar10-jpeg.tar.gz").write_bytes(b"")
    use_root(tmp_path / "runs")
    at = open_page("jobs")
    at.text_input[0].set_value("../escape")
    at.button[0].click().run()  # the form's submit button
    assert not started and "one folder name" in at.error[0].value
    at.text_input[0].set_value("cifar-small")
    at.text_input[1].set_value("folder:shared/datasets/cifar10-jpeg.tar.gz")
    at.selectbox[0].select("cifar10-cpu")
    at.number_input[0].set_value(2)
    at.button[0].click().run()
    assert started == [["--preset", "cifar10-cpu", "--out", str(tmp_path.resolve() / "runs" / "cifar-small"),
                        "--dataset=folder:shared/datasets/cifar10-jpeg.tar.gz", "--runs", "2"]]
    assert "Started job" in at.success[0].value


@pytest.mark.parametrize("page", OUR_PAGES)
def test_every_page_survives_a_root_of_broken_folders(root, use_root, page):
    use_root(root)  # every kind of broken folder is there (tests/test_app_damage.py opens each)
    at = open_page(page, study="corrupt", model="x", t="1")
    assert not at.exception, [e.value for e in at.exception]
    if page in STUDY_PAGES:  # the first readable study the listing finds no problem with
        assert at.selectbox(key="study").value == roots.default_study(roots.studies(root)) == "fake"


@pytest.mark.parametrize("page", STUDY_PAGES)
def test_study_pages_without_any_study_point_to_the_start_page(tmp_path, use_root, page):
    use_root(tmp_path)
    at = open_page(page)
    no_errors(at)
    assert "No readable study" in at.info[0].value


# ----------------------------------------------------------------------------------- shared URLs


def test_a_shared_url_opens_the_view_it_names(root, use_root):
    use_root(root)
    at = open_page("examples", study="fake", model="densenet_bc100_k12", t="3", frac="20", **{"class": "class-1"})
    no_errors(at)
    assert at.selectbox(key="study").value == "fake"
    assert at.selectbox(key="model").value == "densenet_bc100_k12"
    assert at.slider(key="t").value == 3 and at.slider(key="frac").value == 20
    assert at.selectbox(key="class").value == "class-1"
    in_class = int(np.count_nonzero(np.asarray(Study.open(root / "fake").labels) == 1))
    assert f"Easiest {metrics.set_size(in_class, fraction=0.2)} of class class-1" in [s.value for s in at.subheader]
    assert not at.warning
    assert at.query_params == {"study": "fake", "model": "densenet_bc100_k12", "t": "3", "frac": "20",
                               "class": "class-1"}


def test_changing_a_widget_changes_the_url(root, use_root):
    use_root(root)
    at = open_page("examples", study="fake")
    assert at.query_params["t"] == "5" and at.query_params["class"] == "all classes"  # defaults are explicit
    at.slider(key="t").set_value(2).run()
    at.selectbox(key="class").select("class-3").run()
    at.selectbox(key="model").select("densenet_bc100_k12").run()
    no_errors(at)
    assert (at.query_params["t"], at.query_params["class"], at.query_params["model"]) == (
        "2", "class-3", "densenet_bc100_k12")


def test_invalid_url_values_fall_back_with_a_notice(root, use_root):
    use_root(root)
    at = open_page("examples", study="fake", model="nosuchnet", t="999", frac="abc", **{"class": "unicorn"})
    no_errors(at)
    text = warnings(at)
    for asked in ("'nosuchnet'", "'999'", "'abc'", "'unicorn'"):
        assert asked in text
    assert at.slider(key="t").value == 5 and at.slider(key="frac").value == 10
    assert at.query_params["t"] == "5" and at.query_params["model"] == "densenet_bc100_k12"


@pytest.mark.parametrize("name", ["../../etc", "..", "/etc", "fake/../plain", ".jobs", "corrupt", "notes"])
def test_a_study_param_outside_the_listing_is_refused(root, use_root, name):
    use_root(root)
    at = open_page("runs", study=name)
    no_errors(at)
    assert repr(name) in warnings(at)
    assert at.selectbox(key="study").value == "fake"  # the first readable study


def test_a_symlink_leading_out_of_the_root_is_listed_but_never_opened(tmp_path, use_root):
    outside = tmp_path / "elsewhere"
    fake.write_fake_study(outside / "secret", fake.FakeSpec(n=60, classes=2, runs=1, checkpoints=2))
    root = tmp_path / "runs"
    root.mkdir()
    (root / "link").symlink_to(outside / "secret")
    use_root(root)
    at = open_page("start")
    table = at.dataframe[0].value.set_index("study")
    assert table.loc["link", "status"] == "unreadable" and "outside the runs root" in table.loc["link", "problem"]
    at = open_page("runs", study="link")
    assert "No readable study" in at.info[0].value


def test_a_study_being_written_shows_its_completed_checkpoints(root, use_root):
    use_root(root)
    at = open_page("examples", study="partial", t="5")
    no_errors(at)
    assert at.slider(key="t").max == 2 and at.slider(key="t").value == 2
    assert "'5'" in warnings(at)


def test_an_example_is_looked_up_by_id(root, use_root):
    use_root(root)
    at = open_page("examples", study="fake", example="ex-17")
    no_errors(at)
    assert any("**ex-17**" in m.value for m in at.markdown)
    assert at.query_params["example"] == "ex-17"
    at = open_page("examples", study="fake", example="nope")
    assert "'nope'" in warnings(at) and "example" not in at.query_params


def test_page_links_carry_only_the_params_of_their_page(root, use_root):
    use_root(root)
    at = open_page("examples", study="fake", example="ex-3", t="2")
    at.switch_page("pages/matching.py").run()
    no_errors(at)
    assert "example" not in at.query_params and "class" not in at.query_params
    assert at.query_params["t"] == "2" and at.query_params["study"] == "fake"


def test_navigation_registers_every_page_script():
    scripts = {spec.script for spec in navigation.PAGES}
    assert {f"pages/{p}.py" for p in OUR_PAGES} <= scripts
    assert all((REPO / s).is_file() for s in {spec.script for spec in navigation.available()})


# ----------------------------------------------------------------------------------- no TensorFlow


NO_TF_SCRIPT = """
import json, os, sys
from streamlit.testing.v1 import AppTest
from easiness.ui import navigation
at = AppTest.from_file(sys.argv[1], default_timeout=60)
at.run()
failures = [e.value for e in at.exception]
for spec in navigation.available()[1:]:
    at.switch_page(spec.script)
    at.run()
    failures += [f"{spec.script}: {e.value}" for e in at.exception]
heavy = [m for m in ("tensorflow", "keras", "tensorflow_datasets", "models") if m in sys.modules]
print(json.dumps({"failures": failures, "heavy": heavy}))
"""


def test_the_app_never_imports_tensorflow(root):
    env = {**os.environ, "EASINESS_RUNS": str(root), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", NO_TF_SCRIPT, APP], capture_output=True, text=True, env=env,
                         cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"failures": [], "heavy": []}
