"""`easiness.analysis.ablation`: removal sampling semantics, stepwise chains, the read-out and its ledger,
all on small fixed vectors (numpy only, no training)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from easiness.analysis import ablation
from easiness.analysis.ablation import AblationError

REPO = Path(__file__).resolve().parents[1]
# A skewed easiness vector like a real one: most examples easy, a tail of hard ones.
E = np.random.default_rng(7).gamma(0.5, 1.0, size=400)


@pytest.mark.parametrize("strategy", ablation.SAMPLED)
@pytest.mark.parametrize("fraction, count", [(0.1, 40), (0.3, 120), (0.5, 200), (0.0013, 1), (0.001, 0)])
def test_exact_size_distinct_sorted_and_deterministic(strategy, fraction, count):
    removed = ablation.sample_removal(E, fraction=fraction, strategy=strategy, seed=3)
    assert removed.dtype == np.int64 and removed.size == count
    assert np.unique(removed).size == count and np.all(np.diff(removed) > 0)
    again = ablation.sample_removal(E, fraction=fraction, strategy=strategy, seed=3)
    np.testing.assert_array_equal(removed, again)
    if count > 10:
        other = ablation.sample_removal(E, fraction=fraction, strategy=strategy, seed=4)
        assert not np.array_equal(removed, other)


def test_round_half_up_sizes():
    assert ablation.removal_count(10, 0.25) == 3  # 2.5 -> 3 (not banker's 2)
    assert ablation.removal_count(95, 0.3) == 29  # 28.5 -> 29
    assert len(ablation.sample_removal(np.ones(10), fraction=0.25, strategy="random", seed=0)) == 3


@pytest.mark.parametrize("weighting", list(ablation.EASY_WEIGHTINGS))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_easiness_of_the_removed_is_ordered_easy_random_hard(weighting, seed):
    means = {s: E[ablation.sample_removal(E, fraction=0.3, strategy=s, seed=seed, easy_weighting=weighting)].mean()
             for s in ablation.SAMPLED}
    assert means["easy"] < means["random"] < means["hard"]
    assert means["easy"] < E.mean() < means["hard"]


def test_hard_follows_the_papers_probabilities():
    # One removal from e = [1, 2, 3, 4]: p = e / sum(e) = [0.1, 0.2, 0.3, 0.4] exactly.
    e = np.array([1.0, 2.0, 3.0, 4.0])
    picks = [ablation.sample_removal(e, fraction=0.25, strategy="hard", seed=s)[0] for s in range(4000)]
    shares = np.bincount(picks, minlength=4) / 4000
    np.testing.assert_allclose(shares, e / e.sum(), atol=0.025)


def test_hard_second_draw_is_from_the_renormalised_rest():
    # Successive draws without replacement: P(first two = {2, 3}) = .3*.4/.7 + .4*.3/.6 = 0.3714...
    e = np.array([1.0, 2.0, 3.0, 4.0])
    pairs = [tuple(ablation.sample_removal(e, fraction=0.5, strategy="hard", seed=s)) for s in range(4000)]
    share = sum(p == (2, 3) for p in pairs) / 4000
    assert share == pytest.approx(0.3 * 0.4 / 0.7 + 0.4 * 0.3 / 0.6, abs=0.03)


def test_easy_inverse_weighting_mirrors_the_hard_rule():
    e = np.array([1.0, 2.0, 4.0, 8.0])
    picks = [ablation.sample_removal(e, fraction=0.25, strategy="easy", seed=s)[0] for s in range(4000)]
    w = 1 / (e + ablation.INVERSE_EPS * e.mean())
    np.testing.assert_allclose(np.bincount(picks, minlength=4) / 4000, w / w.sum(), atol=0.025)


def test_random_is_uniform():
    picks = [ablation.sample_removal(np.arange(1.0, 5.0), fraction=0.25, strategy="random", seed=s)[0]
             for s in range(4000)]
    np.testing.assert_allclose(np.bincount(picks, minlength=4) / 4000, 0.25, atol=0.025)


@pytest.mark.parametrize("strategy", ablation.SAMPLED)
def test_one_seed_gives_nested_samples_over_fractions(strategy):
    small = ablation.sample_removal(E, fraction=0.1, strategy=strategy, seed=5)
    large = ablation.sample_removal(E, fraction=0.3, strategy=strategy, seed=5)
    assert np.isin(small, large).all()


def test_zero_and_infinite_easiness():
    e = np.array([0.0, 0.0, 1.0, 2.0, np.inf, 0.5])
    hard = ablation.sample_removal(e, fraction=0.5, strategy="hard", seed=0)  # 3 of 6
    assert 4 in hard and not {0, 1} & set(hard.tolist())  # inf first, zero weight never before positive
    easy = ablation.sample_removal(e, fraction=0.5, strategy="easy", seed=0)
    assert 4 not in easy and easy.size == 3


@pytest.mark.parametrize("strategy", ablation.SAMPLED)
def test_class_balanced_removes_the_same_share_of_every_class(strategy):
    labels = np.repeat([0, 1, 2], [200, 120, 80])
    e = E + 3.0 * (labels == 2)  # class 2 is all hard: unbalanced hard removal would take it first
    removed = ablation.sample_removal(e, fraction=0.3, strategy=strategy, seed=0, labels=labels, balanced=True)
    assert removed.size == 120 and np.unique(removed).size == 120
    np.testing.assert_array_equal(np.bincount(labels[removed], minlength=3), [60, 36, 24])


def test_class_quotas_sum_exactly_by_largest_remainder():
    labels = np.repeat([0, 1, 2], [5, 3, 2])
    np.testing.assert_array_equal(ablation.class_quotas(labels, 5), [3, 1, 1])  # ideal 2.5, 1.5, 1.0
    assert ablation.class_quotas(np.repeat([0, 1, 2], [7, 7, 7]), 10).sum() == 10
    np.testing.assert_array_equal(ablation.class_quotas(np.repeat([0, 1], [10, 10]), 6), [3, 3])


def test_balanced_needs_labels():
    with pytest.raises(AblationError, match="labels"):
        ablation.sample_removal(E, fraction=0.1, strategy="easy", seed=0, balanced=True)


# --------------------------------------------------------------------------- stepwise


class Rescorer:
    """A stand-in for M new runs: the easiness of what is left is the original one, doubled."""

    def __init__(self, e: np.ndarray):
        self.e, self.calls = e, []

    def __call__(self, step: int, kept: np.ndarray) -> np.ndarray:
        self.calls.append((step, kept.copy()))
        return 2.0 * self.e[kept]


def test_stepwise_removes_ten_percent_per_step_and_rescores_between():
    rescore = Rescorer(E)
    removed = ablation.sample_removal(E, fraction=0.3, strategy="stepwise", seed=0, rescore=rescore)
    assert removed.size == 120 and np.unique(removed).size == 120
    assert [(s, k.size) for s, k in rescore.calls] == [(1, 360), (2, 320)]
    assert np.isin(rescore.calls[1][1], rescore.calls[0][1]).all()  # each step removes from what is left
    assert E[removed].mean() < E.mean()


def test_stepwise_chain_is_shared_by_seeds_and_fractions():
    first, second, longer = Rescorer(E), Rescorer(E), Rescorer(E)
    a = ablation.sample_removal(E, fraction=0.3, strategy="stepwise", seed=0, rescore=first)
    b = ablation.sample_removal(E, fraction=0.3, strategy="stepwise", seed=1, rescore=second)
    ablation.sample_removal(E, fraction=0.5, strategy="stepwise", seed=2, rescore=longer)
    for (s1, k1), (s2, k2), (s3, k3) in zip(first.calls, second.calls, longer.calls):
        assert s1 == s2 == s3 and np.array_equal(k1, k2) and np.array_equal(k1, k3)
    assert len(longer.calls) == 4 and not np.array_equal(a, b)  # the last step is the seed's own


def test_stepwise_counts_add_up_exactly():
    assert ablation.stepwise_counts(1000, 0.3) == [100, 100, 100]
    assert ablation.stepwise_counts(95, 0.5) == [10, 9, 10, 9, 10]
    assert sum(ablation.stepwise_counts(95, 0.5)) == ablation.removal_count(95, 0.5)
    assert ablation.stepwise_counts(100, 0.4, step=0.2) == [20, 20]


@pytest.mark.parametrize("fraction", [0.25, 0.05, 0.35])
def test_stepwise_target_not_reachable_in_steps_is_refused(fraction):
    with pytest.raises(AblationError, match="cannot reach"):
        ablation.sample_removal(E, fraction=fraction, strategy="stepwise", seed=0, rescore=Rescorer(E))


def test_stepwise_balanced_keeps_classes_balanced_at_every_step():
    labels = np.arange(400) % 4
    rescore = Rescorer(E)
    removed = ablation.sample_removal(E, fraction=0.2, strategy="stepwise", seed=0, labels=labels,
                                      balanced=True, rescore=rescore)
    np.testing.assert_array_equal(np.bincount(labels[removed]), [20, 20, 20, 20])
    np.testing.assert_array_equal(np.bincount(labels[rescore.calls[0][1]]), [90, 90, 90, 90])


def test_stepwise_needs_a_rescorer():
    with pytest.raises(AblationError, match="rescore"):
        ablation.sample_removal(E, fraction=0.2, strategy="stepwise", seed=0)


@pytest.mark.parametrize("kwargs, message", [
    ({"fraction": 0.0}, "strictly between 0 and 1"),
    ({"fraction": 1.0}, "strictly between 0 and 1"),
    ({"fraction": 1.5}, "strictly between 0 and 1"),
    ({"fraction": float("nan")}, "strictly between 0 and 1"),
    ({"strategy": "median"}, "unknown strategy 'median'"),
    ({"easy_weighting": "sqrt"}, "unknown easy weighting 'sqrt'"),
])
def test_bad_arguments_are_one_line_errors(kwargs, message):
    args = {"fraction": 0.2, "strategy": "easy", "seed": 0, **kwargs}
    with pytest.raises(AblationError, match=message) as info:
        ablation.sample_removal(E, **args)
    assert "\n" not in str(info.value)


def test_bad_easiness_is_refused():
    for bad in (np.array([1.0, np.nan]), np.array([1.0, -0.1]), np.zeros((2, 2)), np.zeros(0)):
        with pytest.raises(AblationError):
            ablation.sample_removal(bad, fraction=0.5, strategy="hard", seed=0)


# --------------------------------------------------------------------------- rows and read-out


def row(strategy, fraction, seed, accuracy, kept, n=100):
    return {"strategy": strategy, "target_fraction": fraction, "removed_fraction": (n - kept) / n, "seed": seed,
            "kept": kept, "removed": n - kept, "test_accuracy": accuracy, "test_loss": 0.5, "epochs": 2,
            "seconds": 1.0, "status": "done", "kept_file": f"kept/{ablation.point_name(strategy, fraction, seed)}.txt"}


ROWS = [row("full", 0.0, 0, 0.90, 100), row("full", 0.0, 1, 0.92, 100),
        row("random", 0.2, 0, 0.86, 80), row("random", 0.2, 1, 0.88, 80),
        row("random", 0.4, 0, 0.80, 60), row("random", 0.4, 1, 0.80, 60),
        row("easy", 0.2, 0, 0.89, 80), row("easy", 0.2, 1, 0.89, 80),
        row("hard", 0.2, 0, 0.70, 80), row("hard", 0.2, 1, float("nan"), 80),
        row("stepwise", 0.4, 0, 0.95, 60)]


def test_rows_round_trip_through_csv_text():
    text = ablation.format_rows(ROWS)
    assert text.splitlines()[0] == ",".join(ablation.COLUMNS)
    back = ablation.parse_rows(text)
    assert [r["strategy"] for r in back] == [r["strategy"] for r in ROWS]
    assert back[2]["target_fraction"] == 0.2 and back[2]["kept"] == 80 and back[2]["test_accuracy"] == 0.86
    assert math.isnan(back[9]["test_accuracy"]) and back[0]["kept_file"] == "kept/full_f0_s0.txt"


def test_a_failed_point_is_failed_in_old_files_too_and_the_read_out_counts_it():
    failed = {**ROWS[9], "status": ablation.FAILED}
    assert ablation.parse_rows(ablation.format_rows([failed]))[0]["status"] == "failed"
    old = ablation.format_rows([failed]).replace(",failed,", ",diverged,")  # what earlier versions wrote
    assert ",diverged," in old and ablation.parse_rows(old)[0]["status"] == "failed"
    out = {(r["strategy"], r["target_fraction"]): r for r in ablation.readout(ablation.summarise(ROWS))}
    assert out[("hard", 0.2)]["note"].endswith("1 of 2 seeds failed (NaN or infinite loss)")
    assert "failed" not in out[("easy", 0.2)]["note"]
    every = [row("full", 0.0, 0, 0.9, 100), row("random", 0.2, 0, 0.8, 80), row("hard", 0.2, 0, math.nan, 80)]
    hard = next(r for r in ablation.readout(ablation.summarise(every)) if r["strategy"] == "hard")
    assert hard["note"] == "1 of 1 seeds failed (NaN or infinite loss)"  # not "needs two random points"


def test_summarise_means_and_std_over_seeds():
    summary = {(s["strategy"], s["target_fraction"]): s for s in ablation.summarise(ROWS)}
    full = summary[("full", 0.0)]
    assert full["accuracy_mean"] == pytest.approx(0.91) and full["accuracy_std"] == pytest.approx(np.std([0.9, 0.92], ddof=1))
    hard = summary[("hard", 0.2)]
    assert hard["points"] == 2 and hard["seeds"] == 1 and hard["accuracy_mean"] == pytest.approx(0.70)
    assert summary[("stepwise", 0.4)]["accuracy_std"] == 0.0


def test_random_equivalent_interpolates_the_random_curve():
    kept, curve = ablation.random_curve(ablation.summarise(ROWS))
    np.testing.assert_allclose(kept, [60, 80, 100])
    np.testing.assert_allclose(curve, [0.80, 0.87, 0.91])
    value, note = ablation.random_equivalent(0.89, kept=kept, curve=curve)
    assert value == pytest.approx(90.0) and note == ""  # halfway between 80 (0.87) and 100 (0.91)
    assert ablation.random_equivalent(0.80, kept=kept, curve=curve)[0] == pytest.approx(60.0)
    assert math.isnan(ablation.random_equivalent(0.95, kept=kept, curve=curve)[0])
    assert "below" in ablation.random_equivalent(0.70, kept=kept, curve=curve)[1]


def test_random_curve_is_made_monotone():
    rows = [row("full", 0.0, 0, 0.80, 100), row("random", 0.2, 0, 0.85, 80), row("random", 0.4, 0, 0.70, 60)]
    kept, curve = ablation.random_curve(ablation.summarise(rows))
    np.testing.assert_allclose(curve, [0.70, 0.85, 0.85])


def test_readout_worth_vs_random_and_cost_ledger():
    costs = {"scoring": 4 * 300, "stepwise": [4 * 2 * 90, 4 * 2 * 80, 4 * 2 * 70], "epochs": 3, "step": 0.1, "n": 100}
    out = {(r["strategy"], r["target_fraction"]): r for r in ablation.readout(ablation.summarise(ROWS), costs=costs)}
    easy = out[("easy", 0.2)]
    assert easy["vs_random"] == pytest.approx(0.02) and easy["worth"] == pytest.approx(10.0)
    assert easy["scoring_cost"] == 1200 and easy["saved_per_training"] == 60
    assert easy["break_even"] == pytest.approx(20.0)
    step = out[("stepwise", 0.4)]
    assert step["scoring_cost"] == 1200 + 720 + 640 + 560  # steps 1..3 scored, the 4th only drawn
    assert math.isnan(step["worth"]) and "above" in step["note"]
    assert out[("random", 0.2)]["scoring_cost"] == 0 and math.isnan(out[("random", 0.2)]["worth"])
    assert out[("full", 0.0)]["note"] == "the baseline" and out[("random", 0.2)]["vs_random"] == 0.0


def test_point_names_and_keys():
    assert ablation.point_name("easy", 0.3, 2) == "easy_f0.3_s2"
    assert ablation.point_name("full", 0.0, 0) == "full_f0_s0"
    assert ablation.point_key("easy", 0.30000000000000004, 1) == ablation.point_key("easy", 0.3, 1)


def test_negative_seeds_are_refused_and_the_text_read_out_has_every_point():
    with pytest.raises(AblationError, match="seeds must be >= 0"):
        ablation.sample_removal(E, fraction=0.2, strategy="random", seed=-1)
    costs = {"scoring": 1200, "stepwise": [720, 640, 560], "epochs": 3, "step": 0.1, "n": 100}
    text = ablation.format_readout(ablation.readout(ablation.summarise(ROWS), costs=costs))
    lines = text.splitlines()
    assert len(lines) == 1 + 6 and "break-even trainings" in lines[0]
    easy = next(line for line in lines if line.startswith("easy"))
    assert "0.8900 ± 0.0000 (2)" in easy and "+0.0200" in easy and "+10" in easy and "20.0" in easy
