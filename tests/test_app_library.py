"""The app's numpy/pandas library (``easiness.ui`` minus Streamlit, ``easiness.fake``): the app
shows the same numbers as ``easiness.metrics``, and study names from a URL never leave the root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from easiness import fake, metrics
from easiness.store import Study
from easiness.ui import compute, roots, tables


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Study:
    root = tmp_path_factory.mktemp("study") / "s"
    fake.write_fake_study(root, fake.FakeSpec(n=300, classes=5, runs=3, checkpoints=4, dtype="float16"))
    return Study.open(root)


# ------------------------------------------------------------------------- same numbers as metrics


def test_easiness_equals_metrics_bit_for_bit(study):
    for model in study.models:
        stack = study.losses(model)
        for k in range(stack.shape[1]):
            np.testing.assert_array_equal(compute.easiness_at(study, model, k), metrics.easiness(stack, checkpoint=k))


@pytest.mark.parametrize("seed", range(40))
def test_set_masks_and_ranking_follow_the_metrics_tie_rule(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, size=int(rng.integers(1, 60))).astype(float)  # many ties
    fraction = float(rng.uniform(0.02, 0.98))
    easy, hard = metrics.easy_hard(values, fraction=fraction)
    easy_mask, hard_mask = compute.set_masks(values, fraction)
    np.testing.assert_array_equal(np.flatnonzero(easy_mask), np.sort(easy))
    np.testing.assert_array_equal(np.flatnonzero(hard_mask), np.sort(hard))
    np.testing.assert_array_equal(compute.ranked(values, count=easy.size), easy)
    np.testing.assert_array_equal(compute.ranked(values, count=hard.size, hardest=True), hard)


def test_ranking_within_one_class_matches_per_class_sets():
    values = np.array([5.0, 1.0, 3.0, 1.0, 2.0, 0.5, 4.0, 2.0])
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    members = np.flatnonzero(labels == 0)  # values 5, 3, 2, 4 at 0, 2, 4, 6
    assert compute.ranked(values, count=2, members=members).tolist() == [4, 2]
    assert compute.ranked(values, count=3, hardest=True, members=members).tolist() == [0, 6, 2]
    assert compute.ranked(values, count=99, members=members).size == 4


def test_matching_views_equal_the_metrics(study):
    a, b = study.models
    ks = list(range(4))
    expected = metrics.matching_over_checkpoints(study.losses(a), study.losses(b), fraction=0.2)
    got = compute.matching_curves(study, [a, b], ks, 0.2)[(a, b)]
    np.testing.assert_allclose(got["easy"], expected["easy"])
    np.testing.assert_allclose(got["hard"], expected["hard"])
    assert compute.beginning_end(study, a, 0.1) == pytest.approx(metrics.beginning_end(study.losses(a), fraction=0.1))
    runs = metrics.between_runs(study.losses(b), fraction=0.1, checkpoint=2)
    mine = compute.run_matrix(study, b, 2, 0.1)
    np.testing.assert_allclose(mine["easy"], runs["easy"])
    np.testing.assert_allclose(mine["hard"], runs["hard"])
    matrix = compute.model_matrix(study, [a, b], 3, 0.1)
    assert matrix["easy"][0, 1] == pytest.approx(expected_rate(study, a, b, 3, 0.1, 0))


def expected_rate(study, a, b, k, fraction, which):
    sets_a = metrics.easy_hard(metrics.easiness(study.losses(a), checkpoint=k), fraction=fraction)
    sets_b = metrics.easy_hard(metrics.easiness(study.losses(b), checkpoint=k), fraction=fraction)
    return metrics.matching_rate(sets_a[which], sets_b[which])


def test_example_losses_are_read_without_the_memory_map(study):
    model = study.models[0]
    expected = np.asarray(study.losses(model)[:, :, 17], dtype=np.float64)
    np.testing.assert_array_equal(compute.example_losses(study, model, 17), expected)
    with pytest.raises(ValueError, match="out of range"):
        compute.example_losses(study, model, study.n)


def test_spread_keeps_first_and_last():
    assert compute.spread(3, 10) == [0, 1, 2]
    points = compute.spread(300, 25)
    assert points[0] == 0 and points[-1] == 299 and len(points) == 25 and points == sorted(set(points))


def test_ground_truth_groups_put_flipped_labels_apart():
    codes, names = compute.ground_truth_groups({"mode": np.array([0, 1, 2, 0]), "flipped": np.array([0, 0, 1, 1])})
    assert names == ["majority look", "negative look", "small look", "flipped label"]
    assert codes.tolist() == [0, 1, 3, 3]
    assert compute.ground_truth_groups({}) is None


def test_group_shares_sum_to_one():
    codes = np.array([0, 0, 1, 2, 2, 2])
    masks = (np.array([1, 1, 0, 0, 0, 0], bool), np.array([0, 0, 0, 1, 1, 0], bool))
    shares = compute.group_shares(codes, 3, masks)
    np.testing.assert_allclose(shares["all"], [2 / 6, 1 / 6, 3 / 6])
    np.testing.assert_allclose(shares["easy"], [1, 0, 0])
    np.testing.assert_allclose(shares["hard"], [0, 0, 1])


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


def test_histogram_goes_logarithmic_for_losses_spanning_decades():
    counts, edges, log = compute.histogram(np.array([0.0, 1e-4, 1e-3, 0.5, 3.0, np.inf]), bins=4)
    assert log and counts.sum() == 5 and edges[-1] == 3.0 and np.all(np.diff(np.log(edges)) > 0)
    counts, edges, log = compute.histogram(np.array([1.0, 2.0, 3.0]), bins=2)
    assert not log and counts.tolist() == [1, 2]


def test_a_diverged_run_ranks_hardest_instead_of_failing(tmp_path):
    study = Study.open(fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=50, classes=2, runs=2, checkpoints=2)))
    path = tmp_path / "s" / "models" / "wrn16_4" / "run-001" / "losses.npy"
    rows = np.load(path, mmap_mode="r+")
    rows[1, 7] = np.nan
    rows.flush()
    del rows
    values = compute.easiness_at(study, "wrn16_4", 1)
    assert values[7] == np.inf and np.isfinite(np.delete(values, 7)).all()
    assert compute.ranked(values, count=1, hardest=True).tolist() == [7]
