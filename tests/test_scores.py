"""The difficulty scores of :mod:`easiness.analysis.scores` on small hand-made arrays with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from easiness.analysis import scores

# One run (M = 1), four checkpoints, three examples.
#   example 0: correct from the start, never forgotten
#   example 1: correct, wrong, correct, wrong: forgotten twice
#   example 2: never correct
MARGINS = np.array([[[1.0, 2.0, -1.0], [2.0, -1.0, -2.0], [3.0, 1.0, -0.5], [4.0, -3.0, 0.0]]])
LOSSES = np.array([[[0.5, 0.2, 2.0], [0.3, 1.5, 2.5], [0.1, 0.4, 1.0], [0.05, 2.0, 0.9]]])
EL2N = np.array([[[0.7, 0.1, 1.2], [0.4, 0.9, 1.3], [0.2, 0.3, 1.0], [0.1, 1.0, 0.9]]])


def test_each_score_on_a_hand_made_run():
    out = scores.per_run(LOSSES, MARGINS, EL2N)
    np.testing.assert_allclose(out["easiness"], [[0.05, 2.0, 0.9]])
    np.testing.assert_allclose(out["mean_loss"], [[0.2375, 1.025, 1.6]])
    np.testing.assert_allclose(out["correctness"], [[1.0, 0.5, 0.0]])
    np.testing.assert_allclose(out["forgetting"], [[0.0, 2.0, 4.0]])  # never learned: C_T = 4
    np.testing.assert_allclose(out["never_learned"], [[0.0, 0.0, 1.0]])
    np.testing.assert_allclose(out["aum"], [[2.5, -0.25, -0.875]])
    np.testing.assert_allclose(out["el2n"], [[0.7, 0.1, 1.2]])  # ceil(0.1 * 4) - 1 = checkpoint 0
    p = np.exp(-LOSSES[0])
    np.testing.assert_allclose(out["confidence"], [p.mean(axis=0)])
    np.testing.assert_allclose(out["variability"], [p.std(axis=0)])


def test_a_margin_of_exactly_zero_is_not_correct():
    """margin = 0 is a tie between the true class and another: not classified correctly."""
    out = scores.per_run(np.ones((1, 2, 1)), np.array([[[1.0], [0.0]]]))
    assert out["forgetting"][0, 0] == 1 and out["correctness"][0, 0] == 0.5


def test_scores_stop_at_checkpoint_t():
    out = scores.per_run(LOSSES, MARGINS, at=1)
    np.testing.assert_allclose(out["easiness"], [[0.3, 1.5, 2.5]])
    np.testing.assert_allclose(out["forgetting"], [[0.0, 1.0, 2.0]])  # never learned by T: C_T = 2
    np.testing.assert_allclose(out["aum"], [[1.5, 0.5, -1.5]])
    assert scores.per_run(LOSSES, MARGINS, at=-1)["forgetting"].tolist() == [[0.0, 2.0, 4.0]]


def test_scores_are_per_run_and_average_over_runs():
    two = np.concatenate([LOSSES, LOSSES[:, :, ::-1]])
    out = scores.per_run(two)
    assert out["easiness"].shape == (2, 3)
    np.testing.assert_allclose(out["easiness"].mean(axis=0), [(0.05 + 0.9) / 2, 2.0, (0.9 + 0.05) / 2])


def test_without_margins_or_el2n_those_scores_are_left_out():
    assert set(scores.per_run(LOSSES)) == {"easiness", "mean_loss", "confidence", "variability"}
    assert "el2n" in scores.per_run(LOSSES, el2n=EL2N) and "aum" not in scores.per_run(LOSSES, el2n=EL2N)


@pytest.mark.parametrize("count, expected", [(1, 0), (3, 0), (10, 0), (11, 1), (20, 1), (300, 29)])
def test_early_checkpoint_is_the_one_nearest_ten_percent(count, expected):
    assert scores.early_checkpoint(count) == expected


def test_early_can_be_chosen():
    assert scores.per_run(LOSSES, el2n=EL2N, early=2)["el2n"].tolist() == [[0.2, 0.3, 1.0]]


def test_hardness_orients_every_score_so_that_higher_is_harder():
    out = {k: v[0] for k, v in scores.per_run(LOSSES, MARGINS, EL2N).items()}
    for name in ("mean_loss", "correctness", "forgetting", "aum", "confidence", "never_learned"):
        hard = scores.hardness(name, out[name])
        assert np.argmax(hard) == 2 and np.argmin(hard) == 0, name  # example 2 hardest, 0 easiest


@pytest.mark.parametrize("call, message", [
    (lambda: scores.per_run(LOSSES, MARGINS[:, :2]), "margins has shape"),
    (lambda: scores.per_run(LOSSES[0]), r"must have shape \[M, C, N\]"),
    (lambda: scores.per_run(LOSSES, at=4), "at must be a checkpoint index"),
    (lambda: scores.per_run(LOSSES, el2n=EL2N, early=-5), "early must be a checkpoint index"),
    (lambda: scores.per_run(np.full((1, 1, 2), math.nan)), "NaN"),
    (lambda: scores.hardness("speed", np.zeros(2)), "unknown score 'speed'; choose one of easiness"),
    (lambda: scores.needs("nope"), "unknown score"),
    (lambda: scores.early_checkpoint(0), "positive integer"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_needs_names_the_recorded_arrays():
    assert scores.needs("aum") == ("margins",) and scores.needs("el2n") == ("el2n",) and scores.needs("easiness") == ()
    assert scores.names()[0] == "easiness" and len(scores.names()) == 9
