"""Arrays recorded beside the losses (margins, EL2N): written row by row, read like the losses,
refused when a study lacks them, and never mixed on resume."""

from __future__ import annotations

import json

import numpy as np
import pytest

from easiness import store
from easiness.store.layout import StoreError

PLAN = [{"epoch": 1.0, "step": 5}, {"epoch": 2.0, "step": 10}]


def new_study(root, n=4):
    return store.create_study(root, dataset="toy", fingerprint="fp", ids=[f"i{k}" for k in range(n)],
                              labels=np.zeros(n, dtype=np.int32), class_names=["a"])


def run(writer, index=0, records=None):
    return writer.run("m", index, config={"lr": 0.1}, seed=index, planned=PLAN, records=records)


def test_recorded_rows_read_back_like_the_losses(tmp_path):
    writer = new_study(tmp_path / "s")
    r = run(writer, records={"margins": "float16", "el2n": "float32"})
    for k in range(2):
        r.write_row(k, np.full(4, k + 0.5), {"margins": np.arange(4.0) - k, "el2n": np.full(4, 0.25 * k)})
    r.commit(done=2)
    r.finish()
    study = store.Study.open(tmp_path / "s")
    assert study.recorded("m") == ["margins", "el2n"]
    margins = study.record("m", "margins")
    assert margins.shape == (1, 2, 4) and margins.dtype == np.float16
    np.testing.assert_array_equal(np.asarray(margins)[0, 1], [-1, 0, 1, 2])
    np.testing.assert_array_equal(np.asarray(study.record("m", "el2n"))[0, :, 0], [0.0, 0.25])


def test_a_study_without_records_says_how_to_get_them(tmp_path):
    r = run(new_study(tmp_path / "old"))
    r.write_row(0, np.ones(4))
    r.commit(done=1)
    study = store.Study.open(tmp_path / "old")
    assert study.recorded("m") == []
    with pytest.raises(StoreError, match="did not record margins .*score again into a new --out"):
        study.record("m", "margins")
    with pytest.raises(StoreError, match="unknown record 'logits'"):
        study.record("m", "logits")


@pytest.mark.parametrize("records, rows, message", [
    ({"margins": "float16"}, {}, "needs rows of losses and margins, got losses"),
    ({}, {"margins": np.zeros(4)}, "needs rows of losses and nothing else"),
    ({"margins": "float16"}, {"margins": np.zeros(3)}, r"margins must have shape \(4,\)"),
])
def test_rows_must_match_the_records(tmp_path, records, rows, message):
    r = run(new_study(tmp_path / "s"), records=records)
    with pytest.raises(StoreError, match=message):
        r.write_row(0, np.zeros(4), rows)


@pytest.mark.parametrize("records, message", [
    ({"logits": "float16"}, "unknown record 'logits'"),
    ({"margins": "int8"}, "dtype must be one of"),
])
def test_unknown_records_are_refused(tmp_path, records, message):
    with pytest.raises(StoreError, match=message):
        run(new_study(tmp_path / "s"), records=records)


def test_a_run_is_not_resumed_with_other_records(tmp_path):
    writer = new_study(tmp_path / "s")
    run(writer, records={"margins": "float16"})
    with pytest.raises(StoreError, match="different records"):
        run(writer, records={"margins": "float16", "el2n": "float16"})
    assert run(writer, records={"margins": "float16"}).records == {"margins": "float16"}


def test_an_old_manifest_without_the_field_resumes_without_records(tmp_path):
    writer = new_study(tmp_path / "s")
    run(writer)
    path = tmp_path / "s" / "models" / "m" / "run-000" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["records"]  # as written before records existed
    path.write_text(json.dumps(manifest))
    assert run(writer).records == {}


def test_a_damaged_record_file_makes_the_run_a_problem(tmp_path):
    writer = new_study(tmp_path / "s")
    r = run(writer, records={"el2n": "float16"})
    r.write_row(0, np.ones(4), {"el2n": np.ones(4)})
    r.commit(done=1)
    np.save(tmp_path / "s" / "models" / "m" / "run-000" / "el2n.npy", np.zeros((2, 3), dtype=np.float16))
    study = store.Study.open(tmp_path / "s")
    assert study.models == [] and "el2n.npy has shape (2, 3), expected (2, 4)" in study.problems[0]
