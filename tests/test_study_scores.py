"""easiness.analysis.study_scores: every score of a model from a study on disk, streamed in blocks, equal to
easiness.analysis.scores on the same arrays; old studies leave scores out with a note, never crash."""

from __future__ import annotations

import math

import numpy as np
import pytest

import easiness
from easiness import fake
from easiness.analysis import scores, study_scores
from easiness.analysis.ranks import spearman
from easiness.errors import EasinessError
from easiness.store import Study, create_study
from easiness.analysis.study_scores import ScoreUnavailable

# Two runs, four checkpoints, three examples (run 0 as in tests/test_scores.py, run 1 reversed).
MARGINS = np.array([[1.0, 2.0, -1.0], [2.0, -1.0, -2.0], [3.0, 1.0, -0.5], [4.0, -3.0, 0.0]])
LOSSES = np.array([[0.5, 0.2, 2.0], [0.3, 1.5, 2.5], [0.1, 0.4, 1.0], [0.05, 2.0, 0.9]])
EL2N = np.array([[0.7, 0.1, 1.2], [0.4, 0.9, 1.3], [0.2, 0.3, 1.0], [0.1, 1.0, 0.9]])
RUNS = {"losses": np.stack([LOSSES, LOSSES[:, ::-1]]), "margins": np.stack([MARGINS, MARGINS[:, ::-1]]),
        "el2n": np.stack([EL2N, EL2N[:, ::-1]])}


def write(root, arrays=RUNS, *, records=("margins", "el2n")) -> Study:
    """A study of the hand-made arrays: [M, C, N] each, float32 on disk."""
    m, c, n = arrays["losses"].shape
    writer = create_study(root, dataset="hand", fingerprint="fp", ids=[f"x{i}" for i in range(n)],
                          labels=np.arange(n) % 2, class_names=["a", "b"])
    plan = [{"epoch": float(k + 1), "step": k + 1} for k in range(c)]
    for r in range(m):
        run = writer.run("net", r, config={}, seed=r, planned=plan, records={a: "float32" for a in records})
        for k in range(c):
            run.write_row(k, arrays["losses"][r, k], {a: arrays[a][r, k] for a in records})
        run.commit(done=c)
        run.finish()
    return Study.open(root)


@pytest.fixture
def study(tmp_path) -> Study:
    return write(tmp_path / "s")


def expected(at=-1, early=None):
    t = at % 4
    out = scores.per_run(RUNS["losses"], RUNS["margins"], RUNS["el2n"], at=t,
                         early=scores.early_checkpoint(t + 1) if early is None else early)
    return {k: v.mean(axis=0) for k, v in out.items()}


def test_the_table_is_the_run_mean_of_every_score_keyed_by_id(study):
    frame = easiness.scores_table(study, "net")
    assert frame["id"].tolist() == ["x0", "x1", "x2"] and frame["class"].tolist() == ["a", "b", "a"]
    assert list(frame.columns[3:]) == scores.names() and frame.attrs["note"] is None
    for name, values in expected().items():
        np.testing.assert_allclose(frame[name], values, err_msg=name)
    np.testing.assert_allclose(frame["easiness"], [(0.05 + 0.9) / 2, 2.0, (0.9 + 0.05) / 2])
    np.testing.assert_allclose(frame["forgetting"], [(0 + 4) / 2, 2, (4 + 0) / 2])  # never learned: C_T = 4


def test_per_run_columns_hold_each_run(study):
    frame = study_scores.scores_table(study, "net", per_run=True, names=["aum", "easiness"])
    assert list(frame.columns[3:]) == ["aum", "easiness", "aum_run0", "aum_run1", "easiness_run0", "easiness_run1"]
    np.testing.assert_allclose(frame["aum_run0"], [2.5, -0.25, -0.875])
    np.testing.assert_allclose(frame["aum_run1"], [-0.875, -0.25, 2.5])


def test_blocks_give_the_same_numbers_as_one_pass(study):
    whole = study_scores.compute(study, "net", per_run=True)
    tiny = study_scores.compute(study, "net", per_run=True, block=2)
    for name in whole.names:
        np.testing.assert_array_equal(whole.mean[name], tiny.mean[name])
        np.testing.assert_array_equal(whole.per_run[name], tiny.per_run[name])


def test_a_sample_keeps_per_run_values_of_those_examples_only(study):
    result = study_scores.compute(study, "net", per_run=True, sample=[2, 0], block=2)
    assert result.sample.tolist() == [0, 2] and result.per_run["easiness"].shape == (2, 2)
    np.testing.assert_allclose(result.per_run["easiness"], [[0.05, 0.9], [0.9, 0.05]])
    assert result.mean["easiness"].shape == (3,)


def test_scores_stop_at_t_and_el2n_is_early_in_those_checkpoints(study):
    frame = study_scores.scores_table(study, "net", at=1)
    np.testing.assert_allclose(frame["easiness"], [(0.3 + 2.5) / 2, 1.5, (2.5 + 0.3) / 2])
    np.testing.assert_allclose(frame["el2n"], expected(at=1, early=0)["el2n"])  # ceil(0.1 * 2) - 1 = 0


def test_runs_can_be_chosen(study):
    frame = study_scores.scores_table(study, "net", runs=[1], names=["easiness"])
    np.testing.assert_allclose(frame["easiness"], [0.9, 2.0, 0.05])


def test_an_old_study_leaves_scores_out_with_a_note(tmp_path):
    old = write(tmp_path / "old", records=())
    frame = study_scores.scores_table(old, "net")
    assert list(frame.columns[3:]) == ["easiness", "mean_loss", "confidence", "variability"]
    note = frame.attrs["note"]
    assert note.startswith("net did not record margins or el2n, so correctness, forgetting, never_learned, "
                           "aum, el2n are left out (")
    assert "score it again into a new --out" in note
    assert study_scores.available(old, "net") == ["easiness", "mean_loss", "confidence", "variability"]


def test_only_el2n_recorded_keeps_el2n(tmp_path):
    some = write(tmp_path / "some", records=("el2n",))
    assert study_scores.lacking(some, "net") == {n: ("margins",) for n in ("correctness", "forgetting",
                                                                            "never_learned", "aum")}
    assert "el2n" in study_scores.scores_table(some, "net").columns


@pytest.mark.parametrize("names, error, message", [
    (["aum"], ScoreUnavailable, r"^score aum needs margins, which net in old did not record \(.*new --out"),
    (["el2n"], ScoreUnavailable, "score el2n needs el2n, which net"),
    (["speed"], EasinessError, "unknown score 'speed'; choose from easiness, mean_loss"),
    ([], EasinessError, "unknown score ''"),
])
def test_asking_for_what_an_old_study_cannot_give_is_one_line(tmp_path, names, error, message):
    old = write(tmp_path / "old", records=())
    with pytest.raises(error, match=message) as info:
        study_scores.compute(old, "net", names=names)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"at": 4}, "checkpoint index 4 is out of range for 4"),
    ({"at": -5}, "out of range"),
    ({"runs": [7]}, "no readable run 7"),
    ({"per_run": True, "sample": [3]}, r"sample must hold example indices in \[0, 3\)"),
])
def test_bad_arguments_are_user_errors(study, kwargs, message):
    with pytest.raises(EasinessError, match=message):
        study_scores.compute(study, "net", **kwargs)


def test_a_diverged_run_ranks_hardest_instead_of_failing(tmp_path):
    arrays = {k: v.copy() for k, v in RUNS.items()}
    arrays["losses"][1, 2:, 0] = np.nan  # run 1 diverged for example 0
    arrays["margins"][1, 2:, 0] = np.nan
    arrays["el2n"][1, :, 0] = np.nan
    frame = study_scores.scores_table(write(tmp_path / "nan", arrays), "net")
    assert frame["easiness"][0] == math.inf and frame["mean_loss"][0] == math.inf
    assert frame["aum"][0] == -math.inf and frame["el2n"][0] == pytest.approx((0.7 + math.sqrt(2)) / 2)
    assert not frame[scores.names()].isna().any().any()


def test_a_fake_study_records_plausible_margins_and_el2n(tmp_path):
    fake.write_fake_study(tmp_path / "f", fake.FakeSpec(n=400, runs=2, checkpoints=6))
    study = Study.open(tmp_path / "f")
    assert study.recorded("wrn16_4") == ["margins", "el2n"]
    losses = np.asarray(study.losses("wrn16_4"), dtype=np.float64)
    margins = np.asarray(study.record("wrn16_4", "margins"), dtype=np.float64)
    el2n = np.asarray(study.record("wrn16_4", "el2n"), dtype=np.float64)
    assert ((el2n >= 0) & (el2n <= math.sqrt(2) + 1e-6)).all()
    easy = losses < 0.1
    assert (margins[easy] > 0).mean() > 0.99 and (margins[losses > 2.0] < 0).all()
    assert spearman(losses[0, -1], margins[0, -1]) < -0.9  # margins fall as the loss grows
    assert spearman(losses[0, -1], el2n[0, -1]) > 0.9  # the error norm grows with it
    frame = study_scores.scores_table(study, "wrn16_4")
    assert frame[["easiness", "aum"]].corr(method="spearman").iloc[0, 1] < -0.8


def test_a_fake_study_without_records_is_an_old_study(tmp_path):
    fake.write_fake_study(tmp_path / "f", fake.FakeSpec(n=60, runs=1, checkpoints=2, records=False))
    assert Study.open(tmp_path / "f").recorded("wrn16_4") == []
