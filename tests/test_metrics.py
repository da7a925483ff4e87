"""easiness.analysis.metrics on small hand-computed fixtures (Eq. 1, Eq. 2, Fig. 3, Table 1).

Fixture A: M=2 runs, C=3 checkpoints, N=10 examples; integer losses so every mean is exact.
With fraction=0.3 every easy/hard set holds 3 examples.

    checkpoint 0: run0 = 1..10, run1 = [3,2,1,4,5,6,7,10,9,8]
                  easiness = [2,2,2,4,5,6,7,9,9,9] -> easy [0,1,2], hard [7,8,9] (ties by index)
    checkpoint 1: both runs = 10..1 -> easy [9,8,7], hard [0,1,2]
    checkpoint 2: run0 = 1..10, run1 = [1,4,13,0,13,2,7,2,3,10]
                  easiness = [1,3,8,2,9,4,7,5,6,10] -> easy [0,3,1], hard [9,4,2]

Fixture B: M=1, C=2, N=10.
    checkpoint 0: [5,1,2,6,7,8,9,3,4,10] -> easy [1,2,7], hard [9,6,5]
    checkpoint 1: 1..10                  -> easy [0,1,2], hard [9,8,7]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from easiness.analysis import distributions, metrics

REPO = Path(__file__).resolve().parents[1]

A = np.array(
    [
        [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
         [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
        [[3, 2, 1, 4, 5, 6, 7, 10, 9, 8], [10, 9, 8, 7, 6, 5, 4, 3, 2, 1],
         [1, 4, 13, 0, 13, 2, 7, 2, 3, 10]],
    ],
    dtype=np.float32,
)
B = np.array([[[5, 1, 2, 6, 7, 8, 9, 3, 4, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]]], dtype=np.float16)
E_END = np.array([1, 3, 8, 2, 9, 4, 7, 5, 6, 10], dtype=np.float64)
LABELS = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])


class LazyLosses:
    """Stands in for the study reader: only ``losses[:, k]`` and ``losses[m]`` are allowed."""

    def __init__(self, arr: np.ndarray):
        self._arr = arr
        self.shape = arr.shape
        self.reads: list[int] = []

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._arr[key].copy()
        if (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)
                and isinstance(key[1], (int, np.integer)) and 0 <= key[1] < self.shape[1]):
            self.reads.append(int(key[1]))
            return self._arr[:, key[1]].copy()
        raise AssertionError(f"unsupported lazy read {key!r}")

    def __array__(self, *args, **kwargs):
        raise AssertionError("the whole loss array was materialised")

    def __iter__(self):
        raise AssertionError("the whole loss array was iterated")


# --------------------------------------------------------------------------- Eq. 1


def test_easiness_is_mean_over_runs_at_checkpoint():
    np.testing.assert_array_equal(metrics.easiness(A), E_END)
    np.testing.assert_array_equal(metrics.easiness(A, checkpoint=0), [2, 2, 2, 4, 5, 6, 7, 9, 9, 9])
    np.testing.assert_array_equal(metrics.easiness(A, checkpoint=0, runs=[1]), A[1, 0])
    out = metrics.easiness(B, checkpoint=1)
    assert out.dtype == np.float64 and out.shape == (10,)


def test_easiness_reads_one_checkpoint_of_a_lazy_reader():
    lazy = LazyLosses(A)
    np.testing.assert_array_equal(metrics.easiness(lazy, checkpoint=-1), E_END)
    np.testing.assert_array_equal(metrics.easiness(lazy, checkpoint=0, runs=[1, 0]),
                                  [2, 2, 2, 4, 5, 6, 7, 9, 9, 9])
    assert lazy.reads == [2, 0]


@pytest.mark.parametrize("kwargs", [{"checkpoint": 3}, {"checkpoint": -4}, {"checkpoint": 1.0},
                                    {"runs": [0, 0]}, {"runs": []}, {"runs": [2]}])
def test_easiness_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        metrics.easiness(A, **kwargs)


@pytest.mark.parametrize("bad", [A[0], np.zeros((2, 0, 3)), [[1.0]]])
def test_easiness_rejects_bad_shapes(bad):
    with pytest.raises(ValueError):
        metrics.easiness(bad)


# --------------------------------------------------------------------------- easy and hard sets


def test_easy_hard_exact_sets_and_order():
    easy, hard = metrics.easy_hard(E_END, fraction=0.3)
    np.testing.assert_array_equal(easy, [0, 3, 1])
    np.testing.assert_array_equal(hard, [9, 4, 2])
    assert easy.dtype == np.int64 and hard.dtype == np.int64


def test_easy_hard_breaks_ties_by_index():
    easy, hard = metrics.easy_hard(metrics.easiness(A, checkpoint=0), fraction=0.3)
    np.testing.assert_array_equal(easy, [0, 1, 2])
    np.testing.assert_array_equal(hard, [7, 8, 9])
    easy, hard = metrics.easy_hard(np.zeros(4), fraction=0.5)
    np.testing.assert_array_equal(easy, [0, 1])
    np.testing.assert_array_equal(hard, [0, 1])


def test_easy_hard_puts_inf_last():
    easy, hard = metrics.easy_hard(np.array([np.inf, 1.0, 2.0, 3.0]), fraction=0.25)
    np.testing.assert_array_equal(easy, [1])
    np.testing.assert_array_equal(hard, [0])


@pytest.mark.parametrize("n, fraction, size", [(10, 0.1, 1), (10, 0.25, 3), (10, 0.01, 1),
                                               (5000, 0.1, 500), (50000, 0.1, 5000)])
def test_set_size_rounds_half_up_and_keeps_one(n, fraction, size):
    assert metrics.set_size(n, fraction=fraction) == size
    easy, hard = metrics.easy_hard(np.arange(n, dtype=float), fraction=fraction)
    assert easy.size == hard.size == size


def test_easy_hard_per_class():
    easy, hard = metrics.easy_hard(E_END, fraction=0.4, labels=LABELS, per_class=True)
    # class 0 = examples 0,2,4,6,8 (easiness 1,8,9,7,6); class 1 = 1,3,5,7,9 (3,2,4,5,10)
    np.testing.assert_array_equal(easy, [0, 8, 3, 1])
    np.testing.assert_array_equal(hard, [4, 2, 9, 7])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, float("nan"), True])
def test_easy_hard_rejects_fraction_outside_open_unit_interval(fraction):
    with pytest.raises(ValueError):
        metrics.easy_hard(E_END, fraction=fraction)


@pytest.mark.parametrize("kwargs", [
    {"easiness": np.array([1.0, np.nan])},
    {"easiness": np.zeros((2, 2))},
    {"easiness": np.zeros(0)},
    {"easiness": E_END, "per_class": True},
    {"easiness": E_END, "per_class": True, "labels": LABELS[:9]},
    {"easiness": E_END, "per_class": True, "labels": LABELS.astype(float)},
])
def test_easy_hard_rejects_bad_inputs(kwargs):
    with pytest.raises(ValueError):
        metrics.easy_hard(**kwargs)


# --------------------------------------------------------------------------- Eq. 2


@pytest.mark.parametrize("a, b, rate", [
    ([1, 2, 3], [3, 2, 9], 2 / 3),
    ([1, 2, 3, 4], [1, 2], 0.5),
    ([1, 1, 2], [2, 2], 0.5),
    (np.array([7]), np.array([7], dtype=np.uint32), 1.0),
    ([1, 2], [], 0.0),
    ([], [5], 0.0),
])
def test_matching_rate(a, b, rate):
    assert metrics.matching_rate(a, b) == pytest.approx(rate)
    assert metrics.matching_rate(b, a) == pytest.approx(rate)


@pytest.mark.parametrize("a, b, rate", [
    ({1, 2, 3}, [3, 2, 9], 2 / 3),
    (frozenset({1, 2, 3, 4}), (1, 2), 0.5),
    ({np.int64(7)}, frozenset({7}), 1.0),
    ({1, 2}, set(), 0.0),
    ({5: "a", 6: "b"}.keys(), np.array([6]), 0.5),
    ((i for i in (1, 2, 3)), range(2, 4), 2 / 3),
])
def test_matching_rate_accepts_sets_and_other_collections(a, b, rate):
    assert metrics.matching_rate(a, b) == pytest.approx(rate)


def test_matching_rate_of_sets_equals_that_of_arrays():
    rng = np.random.default_rng(3)
    a, b = rng.choice(50, 10, replace=False), rng.choice(50, 12, replace=False)
    assert metrics.matching_rate(set(a.tolist()), frozenset(b.tolist())) == metrics.matching_rate(a, b)


@pytest.mark.parametrize("a, b", [([], []), ([0.5, 1.0], [1]), (np.zeros(0, int), []), (set(), frozenset()),
                                  ({0.5, 1.5}, [1]), ({"a", "b"}, [1])])
def test_matching_rate_rejects_empty_or_non_integer(a, b):
    with pytest.raises(ValueError):
        metrics.matching_rate(a, b)


def test_chance_matching_rate():
    assert metrics.chance_matching_rate(1000, 1000, 10000) == pytest.approx(0.1)
    assert metrics.chance_matching_rate(10, 5, 100) == pytest.approx(0.05)
    assert metrics.chance_matching_rate(0, 5, 100) == 0.0


def test_chance_matching_rate_matches_simulation():
    rng = np.random.default_rng(0)
    rates = [metrics.matching_rate(rng.choice(1000, 100, replace=False),
                                   rng.choice(1000, 50, replace=False)) for _ in range(400)]
    assert np.mean(rates) == pytest.approx(metrics.chance_matching_rate(100, 50, 1000), abs=0.005)


@pytest.mark.parametrize("args", [(0, 0, 10), (11, 1, 10), (1, 1, 0), (-1, 1, 10), (1.5, 1, 10)])
def test_chance_matching_rate_rejects_bad_sizes(args):
    with pytest.raises(ValueError):
        metrics.chance_matching_rate(*args)


def test_matching_matrix():
    names, mat = metrics.matching_matrix({"b": [1, 2, 3], "a": [0, 1, 2], "c": np.array([7, 8, 9])})
    assert names == ["b", "a", "c"]
    np.testing.assert_allclose(mat, [[1, 2 / 3, 0], [2 / 3, 1, 0], [0, 0, 1]])


@pytest.mark.parametrize("sets", [{}, {"a": [1], "b": []}])
def test_matching_matrix_rejects_empty(sets):
    with pytest.raises(ValueError):
        metrics.matching_matrix(sets)


# --------------------------------------------------------------------------- Fig. 3, Table 1


def test_matching_over_checkpoints_uses_common_checkpoints():
    out = metrics.matching_over_checkpoints(A, B, fraction=0.3)
    assert set(out) == {"easy", "hard"}
    np.testing.assert_allclose(out["easy"], [2 / 3, 0.0])
    np.testing.assert_allclose(out["hard"], [1 / 3, 0.0])
    swapped = metrics.matching_over_checkpoints(B, A, fraction=0.3)
    np.testing.assert_allclose(swapped["easy"], out["easy"])


def test_matching_over_checkpoints_selected_and_negative_checkpoints():
    # -1 is the last *common* checkpoint (1), not A's last checkpoint (2).
    out = metrics.matching_over_checkpoints(A, B, fraction=0.3, checkpoints=[-1, 0])
    np.testing.assert_allclose(out["easy"], [0.0, 2 / 3])
    np.testing.assert_allclose(out["hard"], [0.0, 1 / 3])
    with pytest.raises(ValueError):
        metrics.matching_over_checkpoints(A, B, fraction=0.3, checkpoints=[2])


def test_matching_over_checkpoints_reads_each_checkpoint_once():
    lazy_a, lazy_b = LazyLosses(A), LazyLosses(B)
    out = metrics.matching_over_checkpoints(lazy_a, lazy_b, fraction=0.3)
    np.testing.assert_allclose(out["easy"], [2 / 3, 0.0])
    assert lazy_a.reads == [0, 1] and lazy_b.reads == [0, 1]


def test_matching_over_checkpoints_rejects_mismatched_examples():
    with pytest.raises(ValueError):
        metrics.matching_over_checkpoints(A, B[:, :, :9])
    with pytest.raises(ValueError):
        metrics.matching_over_checkpoints(A, B, fraction=1.0)


def test_beginning_end_table1():
    out = metrics.beginning_end(A, fraction=0.3)
    assert out == pytest.approx({"easy": 2 / 3, "hard": 1 / 3})
    lazy = LazyLosses(A)
    assert metrics.beginning_end(lazy, fraction=0.3, begin=1, end=1) == {"easy": 1.0, "hard": 1.0}
    assert metrics.beginning_end(lazy, fraction=0.3, begin=0, end=1) == {"easy": 0.0, "hard": 0.0}
    assert lazy.reads == [1, 1, 0, 1]
    with pytest.raises(ValueError):
        metrics.beginning_end(A, end=3)


def test_between_runs():
    out = metrics.between_runs(A, fraction=0.3)
    # run0 at the end: easy [0,1,2], hard [9,8,7]; run1: easy [3,0,5], hard [2,4,9]
    np.testing.assert_allclose(out["easy"], [[1, 1 / 3], [1 / 3, 1]])
    np.testing.assert_allclose(out["hard"], [[1, 1 / 3], [1 / 3, 1]])
    same = metrics.between_runs(LazyLosses(A), fraction=0.3, checkpoint=1)
    np.testing.assert_array_equal(same["easy"], np.ones((2, 2)))


def test_matching_curves_of_several_models_equal_each_pair():
    c = A[::-1].copy()  # a third model: the runs of A swapped (same easiness)
    lazies = {"a": LazyLosses(A), "b": LazyLosses(B), "c": LazyLosses(c)}
    out = metrics.matching_curves(lazies, fraction=0.3)
    assert list(out) == [("a", "b"), ("a", "c"), ("b", "c")]
    for (x, y), curve in out.items():
        expected = metrics.matching_over_checkpoints({"a": A, "b": B, "c": c}[x], {"a": A, "b": B, "c": c}[y],
                                                     fraction=0.3)
        np.testing.assert_array_equal(curve["easy"], expected["easy"][:2])  # B has 2 checkpoints: all share 2
        np.testing.assert_array_equal(curve["hard"], expected["hard"][:2])
    np.testing.assert_array_equal(out[("a", "c")]["easy"], [1.0, 1.0])
    assert all(lazy.reads == [0, 1] for lazy in lazies.values())  # each model's sets once per checkpoint
    assert metrics.matching_curves({"a": A}) == {}
    with pytest.raises(ValueError, match="different examples"):
        metrics.matching_curves({"a": A, "b": B[:, :, :9]})


def test_a_nan_is_refused_or_ranked_hardest():
    losses = A.copy()
    losses[0, 0, 0] = np.nan  # run 0 diverged on example 0 at checkpoint 0
    assert np.isnan(metrics.easiness(losses, checkpoint=0)[0])
    assert metrics.easiness(losses, checkpoint=0, nan_hardest=True)[0] == np.inf
    with pytest.raises(ValueError, match="contain NaN"):
        metrics.matching_over_checkpoints(losses, B, fraction=0.3)
    with pytest.raises(ValueError, match="contain NaN"):
        metrics.between_runs(losses, fraction=0.3, checkpoint=0)
    # ranked hardest, example 0 joins the hard set at checkpoint 0 ([0, 7, 8] instead of [7, 8, 9]) and so
    # meets the hard set [0, 1, 2] of checkpoint 1, which A's own hard set never does
    assert metrics.beginning_end(A, fraction=0.3, end=1) == {"easy": 0.0, "hard": 0.0}
    table = metrics.beginning_end(losses, fraction=0.3, end=1, nan_hardest=True)
    assert table == pytest.approx({"easy": 0.0, "hard": 1 / 3})
    runs = metrics.between_runs(losses, fraction=0.3, checkpoint=0, nan_hardest=True)
    assert runs["hard"][0, 1] == pytest.approx(2 / 3)  # run 0 hard {0, 9, 8}, run 1 hard {7, 8, 9}


def test_easiness_is_bit_for_bit_the_float64_mean_of_float16_losses():
    rng = np.random.default_rng(0)
    losses = rng.gamma(1.0, 2.0, size=(10, 2, 500)).astype(np.float16)
    for k in range(2):
        expected = losses[:, k].astype(np.float64).mean(axis=0)
        np.testing.assert_array_equal(metrics.easiness(losses, checkpoint=k), expected)
        np.testing.assert_array_equal(metrics.easiness(losses, checkpoint=k, runs=[7, 2]),
                                      losses[[7, 2], k].astype(np.float64).mean(axis=0))


# --------------------------------------------------------------------------- sets as masks


@pytest.mark.parametrize("seed", range(30))
def test_masks_and_ranking_follow_the_easy_hard_tie_rule(seed):
    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, size=int(rng.integers(1, 60))).astype(float)  # many ties
    fraction = float(rng.uniform(0.02, 0.98))
    easy, hard = metrics.easy_hard(values, fraction=fraction)
    easy_mask, hard_mask = metrics.easy_hard_masks(values, fraction=fraction)
    np.testing.assert_array_equal(np.flatnonzero(easy_mask), np.sort(easy))
    np.testing.assert_array_equal(np.flatnonzero(hard_mask), np.sort(hard))
    np.testing.assert_array_equal(metrics.ranked(values, count=easy.size), easy)
    np.testing.assert_array_equal(metrics.ranked(values, count=hard.size, hardest=True), hard)
    # the stable sort the sets are defined by
    np.testing.assert_array_equal(easy, np.argsort(values, kind="stable")[:easy.size])
    np.testing.assert_array_equal(hard, np.argsort(-values, kind="stable")[:hard.size])


def test_ranking_within_one_class():
    values = np.array([5.0, 1.0, 3.0, 1.0, 2.0, 0.5, 4.0, 2.0])
    members = np.flatnonzero(LABELS[:8] == 0)  # values 5, 3, 2, 4 at 0, 2, 4, 6
    assert metrics.ranked(values, count=2, members=members).tolist() == [4, 2]
    assert metrics.ranked(values, count=3, hardest=True, members=members).tolist() == [0, 6, 2]
    assert metrics.ranked(values, count=99, members=members).size == 4
    assert metrics.ranked(values, count=0).size == 0
    assert metrics.ranked(np.array([1.0, np.inf, 2.0]), count=1, hardest=True).tolist() == [1]
    for bad in ({"count": -1}, {"count": 1.5}, {"count": 1, "members": [8]}):
        with pytest.raises(ValueError):
            metrics.ranked(values, **bad)


def test_mask_matching_rate_and_matrices():
    a = np.array([1, 1, 1, 0, 0, 0], bool)
    b = np.array([0, 1, 1, 1, 0, 0], bool)
    assert metrics.mask_matching_rate(a, b) == pytest.approx(2 / 3)
    assert metrics.mask_matching_rate(a, np.zeros(6, bool)) == 0.0
    out = metrics.mask_matching_matrices({"x": (a, ~a), "y": (b, ~b)})
    np.testing.assert_allclose(out["easy"], [[1, 2 / 3], [2 / 3, 1]])
    np.testing.assert_allclose(out["hard"], [[1, 2 / 3], [2 / 3, 1]])
    sets = {"x": np.flatnonzero(a), "y": np.flatnonzero(b)}
    assert metrics.matching_matrix(sets)[1][0, 1] == out["easy"][0, 1]  # the same Eq. 2 on index sets


def test_display_histogram_goes_logarithmic_for_losses_spanning_decades():
    counts, edges, log = distributions.display_histogram(np.array([0.0, 1e-4, 1e-3, 0.5, 3.0, np.inf]), bins=4)
    assert log and counts.sum() == 5 and edges[-1] == 3.0 and np.all(np.diff(np.log(edges)) > 0)
    counts, edges, log = distributions.display_histogram(np.array([1.0, 2.0, 3.0]), bins=2)
    assert not log and counts.tolist() == [1, 2]
    np.testing.assert_array_equal(edges, distributions.histogram(np.array([1.0, 2.0, 3.0]), bins=2)[1])


# --------------------------------------------------------------------------- chart helpers


def test_class_mix():
    counts = distributions.class_mix([0, 8, 3, 1], LABELS, num_classes=3)
    np.testing.assert_array_equal(counts, [2, 2, 0])
    assert counts.dtype == np.int64
    np.testing.assert_array_equal(distributions.class_mix([], LABELS, num_classes=2), [0, 0])


@pytest.mark.parametrize("indices, labels, num_classes", [
    ([10], LABELS, 2), ([-1], LABELS, 2), ([0], LABELS, 1), ([0], LABELS, 0), ([0.0], LABELS, 2),
])
def test_class_mix_rejects_bad_inputs(indices, labels, num_classes):
    with pytest.raises(ValueError):
        distributions.class_mix(indices, labels, num_classes=num_classes)


def test_thresholds():
    assert distributions.thresholds(E_END, fraction=0.3) == (3.0, 8.0)
    assert distributions.thresholds(E_END) == (1.0, 10.0)
    with pytest.raises(ValueError):
        distributions.thresholds(E_END, fraction=0.0)


def test_histogram():
    counts, edges = distributions.histogram(np.array([0, 0, 1, 2, 3, 4.0]), bins=4)
    np.testing.assert_array_equal(counts, [2, 1, 1, 2])
    np.testing.assert_array_equal(edges, [0, 1, 2, 3, 4])
    counts, _ = distributions.histogram(E_END)
    assert counts.shape == (50,) and counts.sum() == 10


@pytest.mark.parametrize("values, bins", [(E_END, 0), (E_END, 2.5), (np.array([1.0, np.inf]), 4)])
def test_histogram_rejects_bad_inputs(values, bins):
    with pytest.raises(ValueError):
        distributions.histogram(values, bins=bins)


def test_summary_by_group():
    rows = distributions.summary_by_group(E_END[:6], ["b", "a", "b", "a", "b", "a"])
    # a: examples 1,3,5 -> 3,2,4; b: examples 0,2,4 -> 1,8,9
    assert rows == [
        {"group": "a", "count": 3, "mean": 3.0, "median": 3.0},
        {"group": "b", "count": 3, "mean": 6.0, "median": 8.0},
    ]
    assert type(rows[0]["group"]) is str
    rows = distributions.summary_by_group(E_END, LABELS == 1)
    assert [r["group"] for r in rows] == [False, True] and type(rows[0]["group"]) is bool
    with pytest.raises(ValueError):
        distributions.summary_by_group(E_END, LABELS[:5])


# --------------------------------------------------------------------------- import hygiene
