"""easiness.analysis.stability on hand-made arrays with known answers: oriented rank correlations between
scores, tail matching, Spearman-Brown, split-half reliability over runs, agreement across models."""

from __future__ import annotations

import math

import numpy as np
import pytest

from easiness.analysis import metrics, stability
from easiness.analysis.ranks import spearman, spearman_matrix

# Five examples, example 4 hardest by every score (each in its own orientation).
EASINESS = np.array([0.1, 0.2, 0.3, 0.4, 2.0])
VALUES = {
    "easiness": EASINESS,
    "confidence": np.array([0.95, 0.9, 0.8, 0.7, 0.1]),  # lower = harder: the same order
    "aum": np.array([3.0, 2.0, 1.0, 0.5, -1.0]),  # lower = harder: the same order
    "mean_loss": np.array([2.0, 0.4, 0.3, 0.2, 0.1]),  # higher = harder: the reverse order
    "never_learned": np.array([0.0, 0.0, 0.0, 0.0, 1.0]),  # a flag: left out
}


def test_scores_are_oriented_so_plus_one_means_the_same_order():
    names, rho = stability.correlations(VALUES)
    assert names == ["easiness", "mean_loss", "aum", "confidence"]  # RANKINGS order, no never_learned
    np.testing.assert_allclose(rho[0, [2, 3]], [1.0, 1.0])
    np.testing.assert_allclose(rho[0, 1], -1.0)
    np.testing.assert_allclose(np.diag(rho), 1.0)


def test_a_constant_score_has_no_correlation():
    names, rho = stability.correlations({"easiness": EASINESS, "forgetting": np.zeros(5)})
    assert math.isnan(rho[0, 1]) and math.isnan(rho[1, 1]) and rho[0, 0] == pytest.approx(1.0)


def test_spearman_matrix_equals_pairwise_spearman_with_ties():
    rng = np.random.default_rng(3)
    rows = rng.integers(0, 4, size=(3, 40)).astype(float)
    matrix = spearman_matrix(rows)
    for i in range(3):
        for j in range(3):
            assert matrix[i, j] == pytest.approx(spearman(rows[i], rows[j]))


def test_tail_matching_by_hand():
    # Ten examples, sets of 2. easiness: easy {0, 1}, hard {9, 8}. aum (lower = harder) is
    # easiness reversed except that examples 1 and 8 swap: easy {0, 8}, hard {9, 1}.
    e = np.arange(10.0)
    aum = -e.copy()
    aum[[1, 8]] = aum[[8, 1]]
    out = stability.tail_matching({"easiness": e, "aum": aum}, fraction=0.2)
    assert out["names"] == ["easiness", "aum"] and out["set_size"] == 2
    assert out["easy"][0, 1] == 0.5 and out["hard"][0, 1] == 0.5 and out["easy"][0, 0] == 1.0
    assert out["chance"] == pytest.approx(0.2)


@pytest.mark.parametrize("rho, k, expected", [(0.5, 2, 2 / 3), (0.5, 1, 0.5), (0.6, 3, 1.8 / 2.2), (0.0, 5, 0.0),
                                              (1.0, 4, 1.0), (0.8, 0.5, 0.4 / 0.6)])
def test_spearman_brown_by_hand(rho, k, expected):
    assert stability.spearman_brown(rho, k) == pytest.approx(expected)


@pytest.mark.parametrize("rho, m, expected", [
    (0.5, 1, 9),  # k = 0.9 * 0.5 / (0.5 * 0.1) = 9
    (0.5, 2, 18),
    (0.9, 1, 1), (0.95, 3, 2),  # 0.9 * 0.05 / (0.95 * 0.1) * 3 = 1.42 -> 2
    (1.0, 5, 1), (0.0, 1, math.inf), (-0.2, 2, math.inf),
])
def test_runs_needed_inverts_spearman_brown(rho, m, expected):
    assert stability.runs_needed(rho, m) == expected
    if math.isfinite(expected) and expected > 1:
        assert stability.spearman_brown(rho, expected / m) >= 0.9 - 1e-12
        assert stability.spearman_brown(rho, (expected - 1) / m) < 0.9


def test_runs_needed_of_nan_is_nan_and_bad_targets_are_refused():
    assert math.isnan(stability.runs_needed(math.nan, 2))
    with pytest.raises(ValueError, match="target must lie in"):
        stability.runs_needed(0.5, 1, target=1.0)
    with pytest.raises(ValueError, match="k must be > 0"):
        stability.spearman_brown(0.5, 0)


def test_identical_runs_are_perfectly_stable_and_need_one_run():
    runs = np.tile(np.random.default_rng(0).random(50), (6, 1))
    out = stability.stability({"easiness": runs})
    assert [p["m"] for p in out["curve"]] == [1, 2, 3]
    assert all(p["rho"] == pytest.approx(1.0) and p["std"] == pytest.approx(0.0) for p in out["curve"])
    summary, = out["summary"]
    assert summary["runs_needed"] == 1 and summary["rho_all"] == pytest.approx(1.0) and summary["m"] == 3


def test_pure_noise_is_unstable_at_every_size():
    runs = np.random.default_rng(1).standard_normal((8, 20_000))
    curve = stability.split_half(runs, splits=4)
    assert [p["m"] for p in curve] == [1, 2, 3, 4]
    assert all(abs(p["rho"]) < 0.03 for p in curve)
    assert stability.stability({"aum": runs}, splits=2)["summary"][0]["runs_needed"] > 100


def test_signal_plus_noise_follows_spearman_brown():
    # Per run: signal + noise of equal variance. Pearson between m-run averages: m / (m + 1);
    # Spearman of a bivariate normal with Pearson r: (6 / pi) arcsin(r / 2).
    rng = np.random.default_rng(2)
    signal = rng.standard_normal(40_000)
    runs = signal + rng.standard_normal((8, signal.size))
    curve = stability.split_half(runs, splits=3)
    for p in curve:
        r = p["m"] / (p["m"] + 1)
        assert p["rho"] == pytest.approx(6 / math.pi * math.asin(r / 2), abs=0.02), p
    summary = stability.stability({"easiness": runs}, splits=3)["summary"][0]
    assert summary["runs_needed"] == pytest.approx(stability.runs_needed(curve[-1]["rho"], 4))
    assert 8 <= summary["runs_needed"] <= 11  # Pearson would say 9 runs for 0.9


def test_one_run_has_no_halves():
    out = stability.stability({"el2n": np.arange(10.0)[None]})
    assert out["curve"] == [] and math.isnan(out["summary"][0]["runs_needed"])
    assert "one run" in out["summary"][0]["note"]


def test_predicted_curve_passes_through_the_measured_point():
    points = stability.predicted(0.5, 2, [1, 2, 4])
    assert [p["n"] for p in points] == [1, 2, 4]
    assert points[1]["rho"] == pytest.approx(0.5) and points[2]["rho"] == pytest.approx(2 / 3)


def test_across_models_per_score():
    a = {"easiness": EASINESS, "aum": VALUES["aum"], "forgetting": np.arange(5.0)}
    b = {"easiness": EASINESS ** 2, "aum": -VALUES["aum"]}
    out = stability.across_models(a, b)
    assert out == {"easiness": pytest.approx(1.0), "aum": pytest.approx(-1.0)}


@pytest.mark.parametrize("call, message", [
    (lambda: stability.correlations({"easiness": np.array([1.0, np.nan])}), "without NaN"),
    (lambda: stability.correlations({"easiness": np.zeros((2, 2))}), "1-D array"),
    (lambda: stability.correlations({"easiness": np.ones(3), "aum": np.ones(4)}), "same length"),
    (lambda: stability.split_half(np.ones(4)), r"per_run must be \[M, N\]"),
    (lambda: stability.split_half(np.ones((2, 3)), splits=0), "splits must be >= 1"),
])
def test_bad_input_is_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("seed", range(4))
def test_tail_masks_are_the_metrics_sets(seed):

    values = np.random.default_rng(seed).integers(0, 6, 200).astype(float)  # many ties
    easy, hard = metrics.easy_hard(values, fraction=0.1)
    assert np.flatnonzero(metrics.tail_mask(values, 20, highest=False)).tolist() == sorted(easy.tolist())
    assert np.flatnonzero(metrics.tail_mask(values, 20, highest=True)).tolist() == sorted(hard.tolist())
