"""The app on damaged study folders (issue 13), through ``streamlit.testing.v1.AppTest``: every
page opened on every kind of :data:`easiness.fake.BROKEN` study shows a notice naming the problem,
never an exception, never a path of the server; a link falls back to a clean study; symlinks out
of the runs root are never followed; the job form accepts only what the command line would and
shows a failed job's error."""

from __future__ import annotations

import builtins
import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from easiness.analysis import ablation_view, stability
from easiness.data import spec as dataset_spec
from easiness import fake
from easiness.ui import jobs
from easiness.errors import EasinessError
from easiness.store import Study
from easiness.ui import navigation, roots

REPO = Path(__file__).resolve().parents[1]
STUDY_PAGES = ["runs", "examples", "averaged", "matching", "ground_truth", "scores", "compare"]
DAMAGED = [k for k in fake.BROKEN if k not in fake.UNREADABLE]  # readable studies with damage
CLEAN = "clean"  # the study a link to a damaged one falls back to (the first without a problem)
# what the notice of each kind says (the listing's reason, or the page's own notice)
REASON = {
    "foreign": "it is not a study", "interrupted": "creation was interrupted", "corrupt": "not valid JSON",
    "future": "newer easiness", "not-utf8": "not valid JSON", "no-ids": "ids.npy is missing",
    "short-ids": "expected 60 rows",
    "bad-labels": "labels.npy is unreadable", "labels-range": "outside 0..3", "no-images": "images.npy is missing",
    "images-dtype": "not uint8", "bad-extras": "flipped.npy is unreadable",
    "half-run": "no manifest yet", "truncated-losses": "losses.npy is truncated",
    "truncated-records": "margins.npy is truncated", "garbage-manifest": "not valid JSON",
    "losses-dtype": "losses.npy holds <U3", "unreadable": "Permission denied", "fifo": "not a regular file",
    "escape": "leads outside the runs root", "mode-values": "extras/mode.npy holds",
    "nan-losses": "NaN or infinite loss", "plans-differ": "planned other checkpoints",
}


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """A runs root holding a clean study, every kind of broken folder and a score file."""
    root = tmp_path_factory.mktemp("damage") / "runs"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "fsync", lambda fd: None)  # why: durability is not tested here, and 2,500 fsyncs take seconds
        fake.write_fake_study(root / CLEAN, fake.FakeSpec(n=30, classes=3, runs=1, checkpoints=1, image_size=4, seed=5,
                                                          models=("wrn16_4",)))  # small: cheap to draw, many times
        for kind in fake.BROKEN:
            fake.write_broken(root, kind)
    ids = [f"ex-{i}" for i in range(fake.BROKEN_SPEC.n)]
    (root / "scores.csv").write_text("id,score\n" + "".join(f"{x},{i % 17}\n" for i, x in enumerate(ids)))
    return root


@pytest.fixture(autouse=True)
def locked(root, monkeypatch):
    """Make the chmod 000 of the "unreadable" kind bite when the tests run as root (who may read
    anything): stat, list and open what it locked fail as they would for any other user."""
    if os.geteuid() != 0:
        return
    found = [str(p) for p in root.rglob("*") if p.stat().st_mode & 0o777 == 0]
    folders = [p for p in found if os.path.isdir(p)]
    files = set(found) - set(folders)

    def denied(path, *, inner_only: bool) -> bool:
        if isinstance(path, int):
            return False
        text = os.path.abspath(os.fsdecode(path))
        return any(text.startswith(d + os.sep) or (not inner_only and text == d) for d in folders) or (
            not inner_only and text in files)

    def guard(real, inner_only: bool):
        def call(path, *args, **kwargs):
            if denied(path, inner_only=inner_only):
                raise PermissionError(errno.EACCES, "Permission denied", os.fsdecode(path))
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "stat", guard(os.stat, True))
    for name in ("listdir", "scandir"):
        monkeypatch.setattr(os, name, guard(getattr(os, name), False))
    monkeypatch.setattr(builtins, "open", guard(builtins.open, False))


@pytest.fixture
def use(monkeypatch):
    """Point the app at a runs root."""
    def point(path: Path) -> None:
        monkeypatch.setenv("EASINESS_RUNS", str(path))
    return point


def open_page(page: str, **params: str) -> AppTest:
    """``page`` opened by a link with the given query parameters, through the app's frame. One
    script run where the name of the page's file is its URL path (Streamlit matches a page by its
    file name before the first run); two, through the start page, otherwise."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    script = f"pages/{page}.py"
    if page != "start":
        if not any(spec.script == script and spec.url_path == page for spec in navigation.PAGES):
            at.run()
        at.switch_page(script)
    at.query_params.update(params)
    return at.run()


def rendered(at: AppTest) -> str:
    """Everything the page drew, as text: every element's protobuf (markdown, captions, notices,
    help texts, code, JSON, the bytes of dataframes)."""
    out = []
    stack = [at._tree]
    while stack:
        node = stack.pop()
        if getattr(node, "proto", None) is not None:
            out.append(str(node.proto))
        stack.extend(getattr(node, "children", {}).values())
    return "\n".join(out)


def notices(at: AppTest) -> str:
    return " ".join(e.value for kind in (at.warning, at.error, at.info, at.caption) for e in kind)


def check(at: AppTest, root: Path, reason: str) -> None:
    """No exception, a notice with ``reason``, and no path of the test's folders anywhere."""
    assert not at.exception, [e.value for e in at.exception]
    assert reason in notices(at), notices(at)
    text = rendered(at)
    base = root.parent
    assert str(base) not in text and str(base.resolve()) not in text


# ----------------------------------------------------------------------------------- every page


@pytest.mark.parametrize("page", STUDY_PAGES)
def test_a_link_to_an_unreadable_study_falls_back_to_a_clean_one_and_says_why(root, use, page):
    use(root)
    for kind in fake.UNREADABLE:
        at = open_page(page, study=kind)
        check(at, root, REASON[kind])
        assert repr(kind) in notices(at)
        assert at.selectbox(key="study").value == CLEAN, kind


@pytest.mark.parametrize("kind", DAMAGED)
def test_every_page_shows_a_damaged_study_with_a_notice_naming_the_damage(root, use, kind):
    use(root)
    for page in STUDY_PAGES:
        at = open_page(page, study=kind, model=fake.BROKEN_SPEC.models[0])
        check(at, root, REASON[kind])
        assert at.selectbox(key="study").value == kind, page  # the study's other runs stay usable
    at = open_page("ablation", study=kind, model=fake.BROKEN_SPEC.models[0])
    check(at, root, REASON[kind])
    assert at.selectbox(key="study").value == kind


def test_the_start_and_ablation_pages_name_every_unreadable_study(root, use):
    use(root)
    at = open_page("start")
    table = at.dataframe[0].value.set_index("study")
    for kind in fake.BROKEN:
        if kind not in ("mode-values", "nan-losses", "plans-differ"):  # these read fine: the pages say so
            assert REASON[kind] in table.loc[kind, "problem"], kind
    check(at, root, "Studies under")
    at = open_page("ablation")
    for kind in fake.UNREADABLE:
        check(at, root, REASON[kind])
        assert f"{kind} (" in notices(at)
    assert at.selectbox(key="study").value == CLEAN


def test_the_scores_pages_compute_on_the_runs_that_remain(root, use):
    use(root)
    at = open_page("compare", study="truncated-losses", model="wrn16_4", scores="scores.csv")
    check(at, root, "losses.npy is truncated")
    assert at.dataframe[0].value["model"].tolist() == ["densenet_bc100_k12", "wrn16_4"]
    at = open_page("scores", study="truncated-records", model="densenet_bc100_k12")
    check(at, root, "el2n.npy is truncated")
    assert "has one run" in notices(at)  # run 1 alone recorded whole margins and EL2N
    assert len(at.image) == len(stability.RANKINGS)  # the hardest examples by each score, from that run


@pytest.mark.parametrize("page", STUDY_PAGES)
def test_a_failure_no_check_foresaw_is_a_notice_not_a_traceback(tmp_path, use, monkeypatch, page):
    root = tmp_path / "runs"
    fake.write_fake_study(root / "s", fake.FakeSpec(n=30, classes=3, runs=2, checkpoints=2, seed=7))
    (root / "scores.csv").write_text("id,score\nex-1,1\nex-2,2\n")

    def changed_under_us(*args, **kwargs):  # a file replaced while the page reads it, say
        raise OSError(f"[Errno 5] Input/output error: '{root}/s/models/wrn16_4/run-000/losses.npy'")

    monkeypatch.setattr(Study, "losses", changed_under_us)
    use(root)
    at = open_page(page, study="s")
    check(at, root, "cannot be shown: OSError: [Errno 5] Input/output error: 's/models/wrn16_4/run-000/losses.npy'")


# ----------------------------------------------------------------------------------- symlinks


@pytest.mark.parametrize("what", ["study folder", "models folder", "run folder", "ids file", "losses file"])
def test_a_symlink_out_of_the_runs_root_is_never_read(tmp_path, what):
    outside, root = tmp_path / "outside", tmp_path / "runs"
    fake.write_fake_study(root / "s", fake.FakeSpec(n=40, classes=2, runs=2, checkpoints=2, models=("wrn16_4",)))
    source = {"study folder": root / "s", "models folder": root / "s" / "models",
              "run folder": root / "s" / "models" / "wrn16_4" / "run-001", "ids file": root / "s" / "ids.npy",
              "losses file": root / "s" / "models" / "wrn16_4" / "run-000" / "losses.npy"}[what]
    target = outside / source.name
    outside.mkdir()
    source.rename(target)
    source.symlink_to(target)
    (entry,) = roots.studies(root)
    assert "outside the runs root" in entry["problem"] and str(tmp_path) not in entry["problem"]
    if what in ("study folder", "ids file"):
        assert entry["status"] == "unreadable"
        return
    study = Study.open(root / "s", within=root)
    if what == "models folder":
        assert study.models == []
    else:
        assert [m["run"] for m in study.runs("wrn16_4")] == ([0] if what == "run folder" else [1])
    assert Study.open(root / "s").losses("wrn16_4").shape[0] == 2  # without a fence, links are followed


def test_links_inside_the_runs_root_are_followed(tmp_path):
    root = tmp_path / "runs"
    fake.write_fake_study(root / "elsewhere", fake.FakeSpec(n=40, classes=2, runs=1, checkpoints=2))
    (root / "alias").symlink_to(root / "elsewhere")
    (entry, _) = roots.studies(root)
    assert entry["name"] == "alias" and entry["problem"] is None


# ----------------------------------------------------------------------------------- no server paths


@pytest.mark.parametrize("text, shown", [
    ("{root}/s/ids.npy is missing", "s/ids.npy is missing"),
    ("leads outside {root} (a symlink)", "leads outside the runs root (a symlink)"),
    ('File "/usr/lib/python3/json/decoder.py", line 3', 'File "…/decoder.py", line 3'),
    ("folder:../data/x.tar and run-000/losses.npy at 3/4", "folder:../data/x.tar and run-000/losses.npy at 3/4"),
])
def test_messages_name_files_relative_to_the_runs_root(tmp_path, text, shown):
    assert roots.redact(text.format(root=tmp_path), tmp_path) == shown


def test_the_runs_page_shows_provenance_without_server_paths(tmp_path, use):
    root = tmp_path / "runs"
    fake.write_fake_study(root / "s", fake.FakeSpec(n=40, classes=2, runs=1, checkpoints=2, models=("wrn16_4",)))
    manifest = root / "s" / "models" / "wrn16_4" / "run-000" / "manifest.json"
    meta = json.loads(manifest.read_text())
    meta["provenance"]["argv"] = ["--out", str(root / "s"), "--dataset", f"folder:{tmp_path}/data"]
    meta["reason"] = f"failed reading {tmp_path}/data/cat/1.png"
    manifest.write_text(json.dumps(meta))
    use(root)
    at = open_page("runs", study="s")
    check(at, root, "study folder")
    assert "--out" in rendered(at) and "failed reading" in rendered(at)


# ----------------------------------------------------------------------------------- the job form


@pytest.mark.parametrize("spec, reason", [
    ("cifar10", "unknown dataset spec"), ("folder:", "unknown dataset spec"), ("tfds:../etc", "unknown dataset spec"),
    ("synthetic:classes=50", "classes must be 2..10"), ("synthetic:colour=red", "bad synthetic option"),
    ("synthetic:flip=lots", "needs a float"), ("folder:data/missing", "neither a folder nor"),
    ("npz:data/images", "not an .npz archive"), ("npz:data/fake.npz", "not an .npz archive"),
    ("-x", "unknown dataset spec"),
])
def test_the_job_form_refuses_a_dataset_the_command_line_would(tmp_path, use, monkeypatch, spec, reason):
    started = []
    monkeypatch.setattr(jobs, "start", lambda args, root, **kw: started.append(args) or "20260101-000000-abcdef")
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "fake.npz").write_text("not a zip")
    use(tmp_path / "runs")
    at = open_page("jobs")
    at.text_input[1].set_value(spec)
    at.button[0].click().run()
    assert not started and reason in at.error[0].value
    assert str(tmp_path) not in rendered(at)


@pytest.mark.parametrize("spec", ["", "synthetic", "synthetic:classes=5,flip=0.02", "tfds:cifar10",
                                  "tfds:imagenet2012:5.1.0", "folder:data/images", "folder:data/set.tar.gz",
                                  "npz:data/set.npz"])
def test_dataset_specs_the_command_line_accepts_pass(tmp_path, spec):
    (tmp_path / "data" / "images").mkdir(parents=True)
    (tmp_path / "data" / "set.tar.gz").write_bytes(b"")
    np.savez(tmp_path / "data" / "set.npz", x=np.zeros(1))
    assert dataset_spec.check(f"  {spec} ", base=tmp_path) == spec
    with pytest.raises(EasinessError, match="relative paths start from"):
        dataset_spec.check("folder:data/images", base=tmp_path / "data")


def test_a_failed_job_shows_its_one_line_error(tmp_path, use):
    root = tmp_path / "runs"
    folder = jobs.jobs_dir(root) / "20260101-000000-abcdef"
    folder.mkdir(parents=True)
    gone = 2**22 + 1  # above Linux's largest pid: a process that no longer runs
    (folder / "job.json").write_text(json.dumps({"id": folder.name, "module": "easiness.score", "pid": gone,
                                                 "args": ["--out", str(root / "x")], "out": str(root / "x"),
                                                 "created": 0}))
    (folder / "status.json").write_text(json.dumps({"state": "failed", "message": f"npz file {tmp_path}/d.npz "
                                                                                  "does not exist"}))
    (folder / "log.txt").write_text(f"Traceback\n  File \"{tmp_path}/x.py\"\nEasinessError: no\n")
    use(root)
    at = open_page("jobs")
    assert not at.exception and at.error[0].value == "npz file …/d.npz does not exist"
    assert str(tmp_path) not in rendered(at)


def test_damaged_job_files_hide_that_job_not_the_page(tmp_path, use):
    root = tmp_path / "runs"
    damage = {"20260101-000000-00000a": {"job.json": "[1]"},
              "20260101-000000-00000b": {"job.json": '{"pid": 5, "created": "yesterday"}'},
              "20260101-000000-00000c": {"job.json": '{"pid": 0}'},  # pid 0 would be the app's own group
              "20260101-000000-00000d": {"job.json": '{"pid": 4194305, "args": ["--out", "x"]}', "status.json": "[]",
                                         "log.txt": None}}
    for job_id, files in damage.items():
        (jobs.jobs_dir(root) / job_id).mkdir(parents=True)
        for name, text in files.items():
            path = jobs.jobs_dir(root) / job_id / name
            if text is None:
                os.mkfifo(path)  # a read would block forever
            else:
                path.write_text(text)
    assert [j.id for j in jobs.list_jobs(root)] == ["20260101-000000-00000d"]
    use(root)
    at = open_page("jobs")
    assert not at.exception and "It ended without a message" in at.error[0].value


# ----------------------------------------------------------------------------------- ablations


def test_a_damaged_ablation_is_named_not_drawn(tmp_path, use):
    root = tmp_path / "runs"
    (root / "broken").mkdir(parents=True)
    (root / "broken" / ablation_view.JSON_FILE).write_text("[1, 2]")
    use(root)
    at = open_page("ablation", ablation="broken")
    check(at, root, "broken, which cannot be read (ValueError: ablation.json is not a JSON object)")
