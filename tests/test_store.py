"""Tests of the study store (easiness.store): writing, resuming, crash safety, reading, listing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from easiness.store import atomic
from easiness.errors import EasinessError
from easiness.store import SCHEMA_VERSION, RunStack, StoreError, Study, create_study, list_studies

REPO = Path(__file__).resolve().parents[1]
N = 4
IDS = np.array(["img-0", "img-1", "img-2", "img-3"])
LABELS = np.array([0, 1, 1, 0])
CLASSES = ["cat", "dog"]
PLAN = [{"epoch": 1.0, "step": 10}, {"epoch": 2.0, "step": 20}, {"epoch": 3.0, "step": 30}]
CONFIG = {"model": "tiny", "lr": 0.1, "epochs": 3}
ROWS = np.array([[2.0, 1.5, 0.25, 3.0], [1.0, 0.5, 0.125, 2.5], [0.5, 0.25, 0.0625, 2.0]])


def make_study(root: Path, *, fingerprint: str = "f" * 64, dataset: str = "toy", **kwargs):
    """A small study writer: 4 examples, 2 classes."""
    return create_study(root, dataset=dataset, fingerprint=fingerprint, ids=IDS, labels=LABELS,
                        class_names=CLASSES, **kwargs)


def open_run(writer, model: str = "tiny", index: int = 0, **overrides):
    """Run ``index`` of ``model`` with the standard config and plan unless overridden."""
    kwargs = {"config": CONFIG, "seed": 100 + index, "planned": PLAN, **overrides}
    return writer.run(model, index, **kwargs)


def commit_rows(run, rows: np.ndarray, *, done: int) -> None:
    """Write rows run.done..done-1 from ``rows`` and commit them."""
    for k in range(run.done, done):
        run.write_row(k, rows[k])
    run.commit(done=done, history=[{"epoch": e + 1} for e in range(done)], state=f"state-{done}")


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file under ``root``, to prove nothing was modified."""
    return {str(p.relative_to(root)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------- round trip


def test_round_trip_with_hand_values(tmp_path):
    images = np.arange(N * 2 * 2 * 3, dtype=np.uint8).reshape(N, 2, 2, 3)
    writer = make_study(tmp_path / "s", images=images, extras={"flipped": np.array([0, 1, 0, 1])})
    run = open_run(writer, provenance={"keras": "3.9"})
    assert (run.done, run.status, run.history) == (0, "created", [])
    assert run.state_dir.is_dir() and run.state_dir == run.path / "state"
    commit_rows(run, ROWS, done=2)
    assert (run.done, run.status, run.manifest["state"]) == (2, "running", "state-2")

    study = Study.open(tmp_path / "s")
    assert (study.dataset, study.fingerprint, study.n, study.num_classes) == ("toy", "f" * 64, N, 2)
    assert study.ids.tolist() == IDS.tolist() and study.class_names == CLASSES
    assert study.labels.tolist() == LABELS.tolist() and np.issubdtype(study.labels.dtype, np.integer)
    np.testing.assert_array_equal(study.images, images)
    assert study.extras["flipped"].tolist() == [0, 1, 0, 1]
    assert study.models == ["tiny"] and study.status == "running" and study.problems == []
    np.testing.assert_array_equal(np.asarray(study.losses("tiny")), ROWS[None, :2])
    assert study.checkpoints("tiny") == PLAN[:2]
    assert study.history("tiny") == [[{"epoch": 1}, {"epoch": 2}]]

    (manifest,) = study.runs("tiny")
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert (manifest["model"], manifest["run"], manifest["seed"]) == ("tiny", 0, 100)
    assert (manifest["status"], manifest["reason"], manifest["dtype"]) == ("running", None, "float32")
    assert manifest["config"] == CONFIG and manifest["planned"] == PLAN
    assert manifest["checkpoints"] == PLAN[:2] and manifest["done"] == 2
    assert manifest["dataset"] == {"name": "toy", "fingerprint": "f" * 64, "n": N}
    assert manifest["provenance"]["keras"] == "3.9"
    assert {"python", "numpy", "platform", "hostname", "git_commit"} <= set(manifest["provenance"])
    assert manifest["created"].endswith("+00:00") and manifest["updated"] >= manifest["created"]

    commit_rows(run, ROWS, done=3)
    run.finish()
    assert Study.open(tmp_path / "s").status == "done"


def test_study_json_is_written_last_and_lists_its_arrays(tmp_path):
    make_study(tmp_path / "s", extras={"mode": np.array([0, 0, 1, 1])})
    meta = json.loads((tmp_path / "s" / "study.json").read_text())
    assert meta["n"] == N and meta["extras"] == ["mode"] and meta["images"] is False
    assert meta["class_names"] == CLASSES and meta["num_classes"] == 2
    assert not (tmp_path / "s" / ".easiness-creating").exists()
    assert np.load(tmp_path / "s" / "labels.npy").dtype == np.int32


@pytest.mark.parametrize("ids", [IDS.astype(bytes), np.array([i.encode() for i in IDS], dtype=object)])
def test_bytes_ids_are_stored_as_text(tmp_path, ids):
    create_study(tmp_path / "s", dataset="toy", fingerprint="f", ids=ids, labels=LABELS, class_names=CLASSES)
    assert Study.open(tmp_path / "s").ids.tolist() == IDS.tolist()


def test_fail_records_one_line_reason_and_keeps_rows(tmp_path):
    run = open_run(make_study(tmp_path / "s"))
    commit_rows(run, ROWS, done=1)
    run.fail("non-finite loss\nat epoch 2")
    study = Study.open(tmp_path / "s")
    assert study.runs("tiny")[0]["reason"] == "non-finite loss at epoch 2"
    assert study.status == "failed" and study.losses("tiny").shape == (1, 1, N)


# ----------------------------------------------------------------------------- resume


def test_resume_keeps_committed_rows_and_refuses_rewriting_them(tmp_path):
    writer = make_study(tmp_path / "s")
    commit_rows(open_run(writer), ROWS, done=2)
    before = snapshot(tmp_path / "s")

    writer = make_study(tmp_path / "s")  # same fingerprint: reopened, arrays not rewritten
    after = snapshot(tmp_path / "s")
    assert {k: v for k, v in after.items() if "models" not in k} == \
           {k: v for k, v in before.items() if "models" not in k}
    run = open_run(writer)
    assert (run.done, run.status, run.manifest["state"]) == (2, "running", "state-2")
    assert run.history == [{"epoch": 1}, {"epoch": 2}]
    with pytest.raises(StoreError, match="committed"):
        run.write_row(1, np.zeros(N))
    with pytest.raises(StoreError, match="backwards"):
        run.commit(done=1)
    with pytest.raises(StoreError, match="never written"):
        run.commit(done=3)
    run.write_row(2, ROWS[2])
    run.commit(done=3)
    assert run.history == [{"epoch": 1}, {"epoch": 2}]  # kept when not given
    np.testing.assert_array_equal(np.asarray(Study.open(tmp_path / "s").losses("tiny"))[0], ROWS)


def test_an_open_study_shows_new_commits_and_damage(tmp_path):
    run = open_run(make_study(tmp_path / "s"))
    commit_rows(run, ROWS, done=1)
    study = Study.open(tmp_path / "s")  # the app keeps one Study open while training goes on
    assert study.losses("tiny").shape == (1, 1, N)
    commit_rows(run, ROWS, done=2)
    assert study.losses("tiny").shape == (1, 2, N) and study.checkpoints("tiny") == PLAN[:2]
    study.runs("tiny")[0]["history"].clear()  # a caller's copy, not the study's
    assert len(study.history("tiny")[0]) == 2
    (run.path / "losses.npy").unlink()
    assert study.models == [] and "losses.npy is missing" in study.problems[0]


def test_done_run_reopens_as_done(tmp_path):
    writer = make_study(tmp_path / "s")
    run = open_run(writer)
    commit_rows(run, ROWS, done=3)
    run.finish()
    again = open_run(make_study(tmp_path / "s"))
    assert (again.status, again.done) == ("done", 3)


@pytest.mark.parametrize("change", [
    {"config": {**CONFIG, "lr": 0.2}},
    {"planned": PLAN[:2]},
    {"planned": [{"epoch": 1.0, "step": 11}, *PLAN[1:]]},
    {"seed": 7},
    {"dtype": "float16"},
])
def test_resume_with_different_settings_is_refused(tmp_path, change):
    writer = make_study(tmp_path / "s")
    commit_rows(open_run(writer), ROWS, done=1)
    before = snapshot(tmp_path / "s")
    with pytest.raises(StoreError, match="different"):
        open_run(writer, **change)
    assert snapshot(tmp_path / "s") == before


def test_different_fingerprint_is_refused_with_nothing_modified(tmp_path):
    commit_rows(open_run(make_study(tmp_path / "s")), ROWS, done=1)
    before = snapshot(tmp_path / "s")
    with pytest.raises(StoreError) as info:
        make_study(tmp_path / "s", dataset="cifar10", fingerprint="0123456789abcdef" * 4)
    message = str(info.value)
    assert "holds a study of toy" in message and "not cifar10 (0123456789ab…)" in message
    assert "choose another --out" in message and "\n" not in message
    assert isinstance(info.value, EasinessError)
    assert snapshot(tmp_path / "s") == before


def test_non_empty_foreign_folder_is_refused_with_nothing_modified(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    before = snapshot(tmp_path / "s")
    with pytest.raises(StoreError, match="not empty and holds no study"):
        make_study(tmp_path / "s")
    assert snapshot(tmp_path / "s") == before
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="is a file"):
        make_study(tmp_path / "file")


def test_empty_existing_folder_is_used(tmp_path):
    (tmp_path / "s").mkdir()
    make_study(tmp_path / "s")
    assert Study.open(tmp_path / "s").status == "empty"


# ----------------------------------------------------------------------------- crash safety


def test_reader_sees_only_committed_checkpoints(tmp_path):
    run = open_run(make_study(tmp_path / "s"))
    commit_rows(run, ROWS, done=1)
    run.write_row(1, ROWS[1])
    run.write_row(2, ROWS[2])  # written in place but never committed
    study = Study.open(tmp_path / "s")
    assert study.losses("tiny").shape == (1, 1, N)
    np.testing.assert_array_equal(np.asarray(study.losses("tiny")), ROWS[None, :1])
    assert study.checkpoints("tiny") == PLAN[:1]


def test_kill_between_write_row_and_commit_leaves_previous_state(tmp_path):
    run = open_run(make_study(tmp_path / "s"))
    commit_rows(run, ROWS, done=1)
    run.write_row(1, np.full(N, 9.0))
    del run  # the process dies here: no commit
    study = Study.open(tmp_path / "s")
    assert study.runs("tiny")[0]["done"] == 1
    resumed = open_run(make_study(tmp_path / "s"))
    assert resumed.done == 1
    commit_rows(resumed, ROWS, done=2)  # the uncommitted row is simply rewritten
    np.testing.assert_array_equal(np.asarray(Study.open(tmp_path / "s").losses("tiny"))[0], ROWS[:2])


def test_kill_between_temp_write_and_replace_leaves_previous_state(tmp_path, monkeypatch):
    run = open_run(make_study(tmp_path / "s"))
    commit_rows(run, ROWS, done=1)
    manifest_before = (run.path / "manifest.json").read_bytes()

    def killed(src, dst):
        raise KeyboardInterrupt("killed before the rename")

    monkeypatch.setattr(atomic.os, "replace", killed)
    run.write_row(1, ROWS[1])
    with pytest.raises(KeyboardInterrupt):
        run.commit(done=2)
    monkeypatch.undo()
    assert (run.path / "manifest.json").read_bytes() == manifest_before
    assert not list(run.path.glob(".*.tmp"))  # an ordinary interruption leaves no litter
    # a hard kill would also leave the temp file behind: readers must ignore it
    (run.path / ".manifest.json.999.deadbeef.tmp").write_text('{"schema_version": 1, "trunc')
    (tmp_path / "s" / ".study.json.999.deadbeef.tmp").write_text("{")
    study = Study.open(tmp_path / "s")
    assert study.problems == [] and study.losses("tiny").shape == (1, 1, N)
    assert [s["status"] for s in list_studies(tmp_path)] == ["running"]


def test_interrupted_creation_is_recreated(tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    (root / ".easiness-creating").write_bytes(b"")
    np.save(root / "ids.npy", IDS[:2])  # killed while writing the arrays, before study.json
    with pytest.raises(StoreError, match="interrupted"):
        Study.open(root)
    make_study(root)
    assert Study.open(root).ids.tolist() == IDS.tolist()


def test_run_folder_without_manifest_is_a_problem_then_recreated(tmp_path):
    writer = make_study(tmp_path / "s")
    (tmp_path / "s" / "models" / "tiny" / "run-000").mkdir(parents=True)  # killed before its first commit
    study = Study.open(tmp_path / "s")
    assert study.models == [] and "no manifest" in study.problems[0]
    assert open_run(writer).done == 0
    assert Study.open(tmp_path / "s").problems == []


# ----------------------------------------------------------------------------- refusals on read


def test_unknown_schema_is_refused(tmp_path):
    commit_rows(open_run(make_study(tmp_path / "s")), ROWS, done=1)
    manifest_path = tmp_path / "s" / "models" / "tiny" / "run-000" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "schema_version": SCHEMA_VERSION + 1}))
    study = Study.open(tmp_path / "s")
    assert study.models == [] and "newer easiness" in study.problems[0]

    meta_path = tmp_path / "s" / "study.json"
    meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "schema_version": 99}))
    with pytest.raises(StoreError, match="written by a newer easiness"):
        Study.open(tmp_path / "s")


@pytest.mark.parametrize("damage, reason", [
    (lambda r: (r / "study.json").write_text('{"schema_version": 1, "data'), "not valid JSON"),
    (lambda r: (r / "study.json").unlink(), "no study.json"),
    (lambda r: (r / "ids.npy").unlink(), "ids.npy is missing"),
    (lambda r: np.save(r / "ids.npy", IDS[:3]), "expected 4 rows"),
    (lambda r: (r / "labels.npy").write_bytes(b"garbage"), "labels.npy is unreadable"),
])
def test_damaged_study_is_refused_with_reason(tmp_path, damage, reason):
    make_study(tmp_path / "s")
    damage(tmp_path / "s")
    with pytest.raises(StoreError, match=reason) as info:
        Study.open(tmp_path / "s")
    assert "\n" not in str(info.value)


def test_damaged_runs_become_problems_not_crashes(tmp_path):
    writer = make_study(tmp_path / "s")
    for index in range(3):
        commit_rows(open_run(writer, index=index), ROWS, done=1)
    models = tmp_path / "s" / "models" / "tiny"
    (models / "run-001" / "manifest.json").write_text("{not json")
    (models / "run-002" / "losses.npy").unlink()
    study = Study.open(tmp_path / "s")
    assert [m["run"] for m in study.runs("tiny")] == [0]
    assert len(study.problems) == 2
    assert "run-001" in study.problems[0] and "not valid JSON" in study.problems[0]
    assert "run-002" in study.problems[1] and "losses.npy is missing" in study.problems[1]


def test_unknown_model_and_run_are_refused(tmp_path):
    commit_rows(open_run(make_study(tmp_path / "s")), ROWS, done=1)
    study = Study.open(tmp_path / "s")
    with pytest.raises(StoreError, match="models: tiny"):
        study.losses("resnet")
    with pytest.raises(StoreError, match="no readable run 5"):
        study.losses("tiny", runs=[5])


# ----------------------------------------------------------------------------- list_studies


def test_list_studies_with_good_half_written_and_foreign_folders(tmp_path):
    good = make_study(tmp_path / "good")
    commit_rows(open_run(good, index=0), ROWS, done=2)
    commit_rows(open_run(good, index=1), ROWS, done=1)
    open_run(good, "other")
    half = tmp_path / "half"
    half.mkdir()
    (half / ".easiness-creating").write_bytes(b"")
    make_study(tmp_path / "corrupt")
    (tmp_path / "corrupt" / "study.json").write_text("{")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("x")
    (tmp_path / "loose-file.txt").write_text("x")

    rows = {r["name"]: r for r in list_studies(tmp_path)}
    assert sorted(rows) == ["corrupt", "good", "half"]
    assert rows["good"] == {"path": str(tmp_path / "good"), "name": "good", "dataset": "toy",
                            "models": ["other", "tiny"], "runs": 3, "checkpoints": 0,
                            "status": "running", "problem": None}
    assert rows["half"]["status"] == "unreadable" and "interrupted" in rows["half"]["problem"]
    assert rows["corrupt"]["status"] == "unreadable" and "not valid JSON" in rows["corrupt"]["problem"]
    assert list_studies(tmp_path / "missing") == []


# ----------------------------------------------------------------------------- RunStack


def test_common_checkpoints_are_the_minimum_over_runs(tmp_path):
    writer = make_study(tmp_path / "s")
    commit_rows(open_run(writer, index=0), ROWS, done=3)
    commit_rows(open_run(writer, index=1), ROWS * 2, done=1)
    open_run(writer, index=2).fail("crashed at once")  # failed with zero rows: left out
    study = Study.open(tmp_path / "s")
    stack = study.losses("tiny")
    assert stack.shape == (2, 1, N) and stack.runs == [0, 1]
    np.testing.assert_array_equal(stack[:, 0], [ROWS[0], ROWS[0] * 2])
    assert study.checkpoints("tiny") == PLAN[:1]
    assert study.losses("tiny", runs=[0]).shape == (1, 3, N)
    assert study.losses("tiny", runs=[1, 0]).runs == [1, 0]


def test_different_plans_line_up_only_on_their_common_prefix(tmp_path):
    writer = make_study(tmp_path / "s")
    commit_rows(open_run(writer, index=0), ROWS, done=3)
    other = [PLAN[0], {"epoch": 2.5, "step": 25}, PLAN[2]]
    commit_rows(open_run(writer, index=1, planned=other), ROWS, done=3)
    assert Study.open(tmp_path / "s").losses("tiny").shape == (2, 1, N)


def make_stack(tmp_path) -> RunStack:
    """A 3-run x 3-checkpoint x 4-example stack of distinct values."""
    writer = make_study(tmp_path / "s")
    for index in range(3):
        commit_rows(open_run(writer, index=index), ROWS + 10 * index, done=3)
    return Study.open(tmp_path / "s").losses("tiny")


KEYS = [
    0, -1, (1,), (slice(None), 0), (slice(None), -1), (1, 2), (-2, 0), (slice(None), slice(0, 2)),
    (slice(None), 1, [0, 3]), (slice(None), slice(None), 2), (slice(None), slice(None), [2, 1]),
    (slice(1, None), 0), (slice(None, None, -1), 1, 3), ([2, 0], 1), ([0, 2],), (np.array([1, 1]), 0, 0),
    (np.array([True, False, True]), 0), (Ellipsis, 1), (0, Ellipsis, 2), (0, slice(None), [1, 3]),
    (0, [0, 2], [1, 3]), (slice(None), [0, 2], [1, 3]), (slice(None), 0, np.array([True, False, True, False])),
    ([1, 0], slice(None), 2), (slice(None), [[0, 1], [2, 2]]), (1, slice(None), slice(None)), slice(0, 0),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_runstack_indexing_equals_the_materialised_array(tmp_path, key):
    stack = make_stack(tmp_path)
    full = np.asarray(stack)
    assert full.shape == stack.shape == (3, 3, N) and stack.ndim == 3 and len(stack) == 3
    got = stack[key]
    assert got.shape == full[key].shape and got.dtype == stack.dtype
    np.testing.assert_array_equal(got, full[key])


def test_runstack_materialises_and_refuses_ambiguous_keys(tmp_path):
    stack = make_stack(tmp_path)
    np.testing.assert_array_equal(np.asarray(stack)[2], ROWS + 20)
    assert np.asarray(stack, dtype=np.float64).dtype == np.float64
    with pytest.raises(IndexError):
        stack[[0, 1], 0, [1, 2]]
    with pytest.raises(IndexError):
        stack[3]
    with pytest.raises(IndexError):
        stack[:, None]
    with pytest.raises(ValueError):
        stack.__array__(copy=False)


def test_runstack_views_are_read_only(tmp_path):
    view = make_stack(tmp_path)[0]
    with pytest.raises(ValueError):
        view[0, 0] = 1.0


def test_float16_losses(tmp_path):
    writer = make_study(tmp_path / "s")
    run = open_run(writer, dtype="float16")
    commit_rows(run, ROWS + 1 / 3, done=2)
    assert np.load(run.path / "losses.npy", mmap_mode="r").dtype == np.float16
    stack = Study.open(tmp_path / "s").losses("tiny")
    assert stack.dtype == np.float16 and stack[:, 1].dtype == np.float16
    np.testing.assert_array_equal(np.asarray(stack)[0], (ROWS[:2] + 1 / 3).astype(np.float16))


def test_empty_model_selection_gives_an_empty_stack(tmp_path):
    open_run(make_study(tmp_path / "s")).fail("crashed at once")
    stack = Study.open(tmp_path / "s").losses("tiny")
    assert stack.shape == (0, 0, N) and np.asarray(stack).shape == (0, 0, N)
    assert Study.open(tmp_path / "s").checkpoints("tiny") == []


# ----------------------------------------------------------------------------- input checks


@pytest.mark.parametrize("call, reason", [
    (lambda w: w.run("bad/name", 0, config=CONFIG, seed=1, planned=PLAN), "invalid model name"),
    (lambda w: w.run("..", 0, config=CONFIG, seed=1, planned=PLAN), "invalid model name"),
    (lambda w: w.run("m", 0, config=CONFIG, seed=1, planned=PLAN[::-1]), "steps must increase"),
    (lambda w: w.run("m", 0, config=CONFIG, seed=1, planned=[]), "at least one"),
    (lambda w: w.run("m", 0, config=CONFIG, seed=1, planned=[{"epoch": 1}]), "planned"),
    (lambda w: w.run("m", 0, config={"f": object()}, seed=1, planned=PLAN), "JSON"),
    (lambda w: w.run("m", 0, config=CONFIG, seed=1, planned=PLAN, dtype="float64"), "dtype"),
    (lambda w: open_run(w).write_row(3, np.zeros(N)), "beyond the plan"),
    (lambda w: open_run(w).write_row(0, np.zeros(N + 1)), "shape"),
    (lambda w: open_run(w).finish(), "cannot finish"),
])
def test_bad_writer_calls_raise_store_error(tmp_path, call, reason):
    with pytest.raises(StoreError, match=reason):
        call(make_study(tmp_path / "s"))


@pytest.mark.parametrize("kwargs, reason", [
    ({"ids": np.array(["a", "a", "b", "c"])}, "not unique"),
    ({"labels": np.array([0, 1, 2, 0])}, r"\[0, 2\)"),
    ({"labels": np.array([0.0, 1.0, 1.0, 0.0])}, "integers"),
    ({"images": np.zeros((N, 2, 2), np.uint8)}, "images"),
    ({"extras": {"bad name": np.zeros(N)}}, "invalid extra name"),
    ({"extras": {"mode": np.zeros(N - 1)}}, "length 4"),
])
def test_bad_study_arrays_raise_store_error_and_write_nothing(tmp_path, kwargs, reason):
    args = {"dataset": "toy", "fingerprint": "f", "ids": IDS, "labels": LABELS, "class_names": CLASSES}
    with pytest.raises(StoreError, match=reason):
        create_study(tmp_path / "s", **{**args, **kwargs})
    assert not (tmp_path / "s").exists()


def test_numpy_values_in_history_are_stored_as_json(tmp_path):
    run = open_run(make_study(tmp_path / "s"))
    run.write_row(0, ROWS[0])
    run.commit(done=1, history=[{"epoch": np.int64(1), "train_accuracy": np.float32(0.5)}])
    assert Study.open(tmp_path / "s").history("tiny") == [[{"epoch": 1, "train_accuracy": 0.5}]]


# ----------------------------------------------------------------------------- no TensorFlow
