"""easiness.analysis.ground_truth: the one grouping of a synthetic study's examples by appearance
mode and flipped label, which the terminal summary, ``python -m easiness.truth`` and the app share."""

from __future__ import annotations

import numpy as np
import pytest

from easiness import fake, truth
from easiness.analysis import ground_truth, metrics, report
from easiness.store import StoreError, Study

EXTRAS = {"mode": np.array([0, 1, 2, 0, 0, 2]), "flipped": np.array([0, 0, 1, 1, 0, 0])}


def test_each_mode_is_a_group_and_a_flipped_label_its_own():
    codes, names = ground_truth.groups(EXTRAS)
    assert names == ["majority mode", "negative mode", "small mode", "flipped label"]
    assert codes.tolist() == [0, 1, 3, 3, 0, 2]
    assert ground_truth.groups({}) is None


def test_minority_modes_merge_into_one_group():
    codes, names = ground_truth.groups(EXTRAS, merge_minorities=True)
    assert names == ["majority mode", "minority mode", "flipped label"]
    assert codes.tolist() == [0, 1, 2, 2, 0, 1]
    codes, names = ground_truth.groups({"mode": np.zeros(3, int)}, merge_minorities=True)  # no minority, no flips
    assert names == ["majority mode"] and codes.tolist() == [0, 0, 0]


@pytest.mark.parametrize("extras", [{"mode": np.array([0.0, np.nan])}, {"mode": np.array([0, 10**6])},
                                    {"mode": np.array([0, 1]), "flipped": np.array([0, 3])},
                                    {"mode": np.array([["a"]])}])
def test_damaged_extras_are_named_not_indexed(extras):
    with pytest.raises(StoreError, match="cannot be shown"):
        ground_truth.groups(extras)
    assert "extras/" in ground_truth.problem(extras)


def test_shares_sum_to_one():
    codes = np.array([0, 0, 1, 2, 2, 2])
    masks = (np.array([1, 1, 0, 0, 0, 0], bool), np.array([0, 0, 0, 1, 1, 0], bool))
    shares = ground_truth.shares(codes, 3, masks)
    np.testing.assert_allclose(shares["all"], [2 / 6, 1 / 6, 3 / 6])
    np.testing.assert_allclose(shares["easy"], [1, 0, 0])
    np.testing.assert_allclose(shares["hard"], [0, 0, 1])


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Study:
    root = tmp_path_factory.mktemp("gt") / "s"
    return Study.open(fake.write_fake_study(root, fake.FakeSpec(n=200, classes=4, runs=2, checkpoints=3)))


def test_the_summary_and_the_truth_command_group_as_the_library(study):
    codes, names = ground_truth.groups(study.extras, merge_minorities=True)
    mode, flipped = np.asarray(study.extras["mode"]), np.asarray(study.extras["flipped"], dtype=bool)
    masks = truth.groups(study)
    np.testing.assert_array_equal(masks["flipped"][0], flipped)
    np.testing.assert_array_equal(masks["minority"][0], ~flipped & (mode != 0))
    np.testing.assert_array_equal(masks["minority"][1], ~flipped & (mode == 0))
    text = report.summary(study)
    for model in study.models:
        values = metrics.easiness(study.losses(model))
        cells = "  ".join(f"{name} {values[codes == g].mean():.3f} (n={int(np.sum(codes == g))})"
                          for g, name in sorted(enumerate(names), key=lambda x: x[1]))
        assert f"  {model:20s} {cells}" in text.splitlines()


def test_the_summary_names_damaged_ground_truth_in_one_line(tmp_path):
    root = fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=40, classes=2, runs=1, checkpoints=2))
    np.save(root / "extras" / "mode.npy", np.full(40, 7.5))
    lines = [line for line in report.summary(Study.open(root)).splitlines() if line.startswith("ground truth")]
    assert len(lines) == 1 and "extras/mode.npy" in lines[0]
