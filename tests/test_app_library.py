"""The app's numpy/pandas library (``easiness.ui`` minus Streamlit, ``easiness.fake``): the app
shows the same numbers as ``easiness.analysis.metrics`` (whose sets, rankings and matching rates it
calls directly), and study names from a URL never leave the root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from easiness import fake
from easiness.analysis import metrics
from easiness.store import Study
from easiness.ui import compute, roots, tables


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Study:
    root = tmp_path_factory.mktemp("study") / "s"
    fake.write_fake_study(root, fake.FakeSpec(n=300, classes=5, runs=3, checkpoints=4, dtype="float16"))
    return Study.open(root)


# ------------------------------------------------------------------------- same numbers as metrics


def test_easiness_is_eq_1_bit_for_bit(study):
    for model in study.models:
        stack = study.losses(model)
        for k in range(stack.shape[1]):
            mean = np.asarray(stack[:, k], dtype=np.float64).mean(axis=0)
            np.testing.assert_array_equal(compute.easiness_at(study, model, k), mean)
            np.testing.assert_array_equal(compute.easiness_at(study, model, k, run=1), stack[1, k].astype(np.float64))
    with pytest.raises(ValueError, match="completed checkpoints"):
        compute.easiness_at(study, study.models[0], 4)


def test_example_losses_are_read_without_the_memory_map(study):
    model = study.models[0]
    expected = np.asarray(study.losses(model)[:, :, 17], dtype=np.float64)
    np.testing.assert_array_equal(compute.example_losses(study, model, 17), expected)
    with pytest.raises(ValueError, match="out of range"):
        compute.example_losses(study, model, study.n)


# ------------------------------------------------------------------------- tables


def test_tables_have_one_row_per_mark():
    losses = np.arange(6.0).reshape(2, 3)
    curve = tables.loss_curve(losses, [1.0, 2.0, 3.0], [4, 7])
    assert len(curve) == 9 and set(curve["run"]) == {"run 4", "run 7", "mean"}
    assert curve[curve["run"] == "mean"]["loss"].tolist() == [1.5, 2.5, 3.5]
    frame = tables.matrix(["a", "b"], np.array([[1.0, 0.3], [0.3, 1.0]]))
    assert frame["rate"].tolist() == [1.0, 0.3, 0.3, 1.0]
    assert tables.off_diagonal_mean(np.array([[1.0, 0.2], [0.4, 1.0]])) == pytest.approx(0.3)
    history = [[{"epoch": 1, "train_accuracy": 0.5, "test_accuracy": 0.4}], []]
    assert len(tables.accuracy(history, [0, 1])) == 2


# ------------------------------------------------------------------------- the runs root


def test_runs_root_precedence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert roots.runs_root([], {}) == tmp_path / "runs"
    assert roots.runs_root([], {"EASINESS_RUNS": "elsewhere"}) == tmp_path / "elsewhere"
    assert roots.runs_root(["--runs", "/data/r"], {"EASINESS_RUNS": "x"}) == Path("/data/r")
    assert roots.runs_root(["-q", "tests/test_app.py"], {}) == tmp_path / "runs"  # pytest's own arguments


@pytest.mark.parametrize("name", ["..", ".", "../x", "a/b", "/etc", ".jobs", "", "x\x00y", "a\\..\\b"])
def test_names_that_could_leave_the_root_are_refused(tmp_path, name):
    assert roots.inside(tmp_path, name) is None


def test_a_plain_name_stays_inside(tmp_path):
    assert roots.inside(tmp_path, "cifar10-cpu.v2") == tmp_path.resolve() / "cifar10-cpu.v2"
    (tmp_path / "out").symlink_to("/tmp")
    assert roots.inside(tmp_path, "out") is None


# ------------------------------------------------------------------------- the fake studies


def test_fake_studies_look_like_real_ones(study):
    assert study.status == "done" and study.models == ["densenet_bc100_k12", "wrn16_4"]
    assert study.losses("wrn16_4").shape == (3, 4, 300) and study.losses("wrn16_4").dtype == np.float16
    assert study.images.shape == (300, 8, 8, 3) and set(study.extras) == {"mode", "flipped"}
    e = compute.easiness_at(study, "wrn16_4", 3)
    mode, flipped = study.extras["mode"], study.extras["flipped"].astype(bool)
    assert e[flipped].mean() > e[~flipped & (mode > 0)].mean() > e[~flipped & (mode == 0)].mean()
    assert compute.easiness_at(study, "wrn16_4", 0).mean() > e.mean()  # losses fall over training


def test_a_partial_fake_study_is_running(tmp_path):
    study = Study.open(fake.write_fake_study(tmp_path / "p", fake.FakeSpec(done=2)))
    assert study.status == "running" and len(study.checkpoints("wrn16_4")) == 2


@pytest.mark.parametrize("kind", fake.BROKEN)
def test_broken_folders_are_listed_with_a_reason(tmp_path, kind):
    fake.write_broken(tmp_path, kind)
    (entry,) = roots.studies(tmp_path)
    if kind in ("mode-values", "nan-losses", "plans-differ") or (kind == "unreadable" and os.geteuid() == 0):
        assert entry["problem"] is None  # they read fine (root reads anything): the pages name the damage
    else:
        assert entry["problem"] and str(tmp_path) not in entry["problem"]
    assert entry["status"] == ("unreadable" if kind in fake.UNREADABLE else "done")


def test_a_diverged_run_ranks_hardest_instead_of_failing(tmp_path):
    study = Study.open(fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=50, classes=2, runs=2, checkpoints=2)))
    path = tmp_path / "s" / "models" / "wrn16_4" / "run-001" / "losses.npy"
    rows = np.load(path, mmap_mode="r+")
    rows[1, 7] = np.nan
    rows.flush()
    del rows
    values = compute.easiness_at(study, "wrn16_4", 1)
    assert values[7] == np.inf and np.isfinite(np.delete(values, 7)).all()
    assert metrics.ranked(values, count=1, hardest=True).tolist() == [7]
