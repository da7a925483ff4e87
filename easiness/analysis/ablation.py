"""Dataset compression by easiness: which examples to remove, and what removing them is worth.

Kishida & Nakayama (arXiv:1911.10739), Fig. 4 and the text around it: normalise the easiness of
the training examples to sum to one, sample the examples to remove with those probabilities,
retrain on what is left and plot test accuracy against the removed fraction. Removing hard
examples hurts most, removing too many easy ones hurts too, and "stepwise" removal (10% of the
dataset at a time by the easy rule, easiness recomputed on what is left) beats random removal
(ImageNet, 30% removed: +1.1% top-1, "worth about 100k images").

Numpy and the standard library only (with the numpy-only :mod:`easiness.analysis.scores` and
:mod:`easiness.analysis.ranks`): no TensorFlow, so the app reads ablations in a second.
A request is checked into a plan in :mod:`easiness.analysis.ablation_plan` and its folder is
:mod:`easiness.analysis.ablation_folder`; retraining lives in :mod:`easiness.training.retrain`, running
the points in :mod:`easiness.training.ablation_run`, the command line in :mod:`easiness.ablate`.

**Other scores.** Every rule also removes by any difficulty score of :mod:`easiness.analysis.scores`
(``score``; EL2N, forgetting, AUM...). The rules weight non-negative values, higher = harder
(:func:`removal_values`): easiness is used exactly as it is (the paper's rule, on a loss); every
other score is rank-normalised, v_i = rank of its hardness / N in (0, 1] (ties share their mean
rank). Why ranks and not a shift: the scores live on unrelated scales (AUM is a signed logit
gap, forgetting a count, EL2N a norm in [0, sqrt(2)]), and a shift by the minimum would let one
outlier set how selective the draw is; on ranks every score is equally selective, and the
curves of different scores are comparable on one plot.

Strategies (``N`` training examples, removal values ``e`` of shape ``[N]``, low = easy):

* ``hard``   - the paper's rule: sampled without replacement with p_i = e_i / sum(e).
* ``easy``   - sampled without replacement with weights that fall with easiness; the paper does
  not say which. See :data:`EASY_WEIGHTINGS`; the default, ``inverse``, is w_i = 1 / (e_i + eps):
  the hard rule mirrored in log space (the odds of removing i rather than j are e_i/e_j for
  ``hard`` and e_j/e_i for ``easy``), so both rules are equally selective.
* ``random`` - uniform, without replacement.
* ``stepwise`` - ``step`` (10%) of the original N at a time by the easy rule, the remainder
  scored again (``rescore``), until the target fraction.
* ``easy-topk`` - deterministic: the k easiest go, the hardest are kept. This is how Data Diet
  (Paul et al. 2021, EL2N/GraNd) and forgetting-based pruning (Toneva et al. 2019) prune.
* ``hard-topk`` - deterministic: the k hardest go (e.g. to drop mislabelled examples).
  For both, ties (many unforgettable examples share a count of 0) are broken in a random order
  drawn from the seed; a score without ties gives the same subset for every seed.

"Without replacement with probabilities p" means successive draws, each from the remaining
examples with p renormalised; it is computed in one pass with the exponential-key method
(Efraimidis & Spirakis: key_i = log(u_i) / w_i, the k largest keys). One seed gives one key per
example, so the sample for 30% contains the sample for 10%: the curves over fractions share
their randomness (common random numbers) and differ less by chance.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from easiness.analysis import scores
from easiness.errors import EasinessError
from easiness.analysis.ranks import average_ranks

STRATEGIES = ("easy", "hard", "random", "stepwise")  # the paper's (the command's default)
TOPK = ("easy-topk", "hard-topk")  # deterministic pruning by a score (Data Diet, forgetting)
ALL_STRATEGIES = STRATEGIES + TOPK
SAMPLED = ("easy", "hard", "random")  # drawn in one go from one easiness vector
FULL = "full"  # the baseline point: nothing removed (fraction 0), one per seed
SCORE_FREE = (FULL, "random")  # points that no score chooses (shared by every score's curves)
DEFAULT_SCORE = "easiness"
DEFAULT_STEP = 0.1  # stepwise: share of the ORIGINAL dataset removed per step (paper: 10%)
INVERSE_EPS = 0.01  # easy "inverse" weighting: eps = INVERSE_EPS * mean(e)
_STREAMS = {"easy": 1, "hard": 2, "random": 3, "easy-topk": 4, "hard-topk": 5}  # independent random streams

FAILED = "failed"  # a point whose retraining loss became NaN or infinite (the trainer's word for a run too)
_OLD_STATUS = {"diverged": FAILED}  # what ablation.csv files of earlier versions say for the same event

COLUMNS = ("strategy", "target_fraction", "removed_fraction", "seed", "kept", "removed",
           "test_accuracy", "test_loss", "epochs", "seconds", "status", "kept_file", "score")


class AblationError(EasinessError):
    """Bad ablation input (a fraction out of range, an unreachable stepwise target...); one line."""


# --------------------------------------------------------------------------- weights


def _inverse(e: np.ndarray) -> np.ndarray:
    # eps keeps an example the networks fit perfectly (e = 0) finite: at most about 1/INVERSE_EPS
    # times as likely to go as an average example, so the draw never becomes deterministic.
    return 1.0 / (e + INVERSE_EPS * max(float(e.mean()), 1e-12))


def _exp(e: np.ndarray) -> np.ndarray:
    # A softmax of -e at the temperature mean(e): scale-free, and flat among the easy examples
    # (they go nearly uniformly), where "inverse" prefers the very easiest.
    return np.exp(-(e - e.min()) / max(float(e.mean()), 1e-12))


def _rank(e: np.ndarray) -> np.ndarray:
    # Linear in the easiness rank (easiest N, hardest 1, ties by index): ignores the loss scale.
    order = np.argsort(e, kind="stable")
    w = np.empty(e.size, dtype=np.float64)
    w[order] = np.arange(e.size, 0, -1, dtype=np.float64)
    return w


EASY_WEIGHTINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "inverse": _inverse,  # w = 1 / (e + 0.01 * mean(e)): the hard rule mirrored (default)
    "exp": _exp,  # w = exp(-e / mean(e))
    "rank": _rank,  # w = N - rank(e)
}


def removal_weights(easiness: Any, *, strategy: str, easy_weighting: str = "inverse") -> np.ndarray:
    """Unnormalised removal weights ``[N]`` float64 of one rule (``easy``, ``hard`` or ``random``).

    ``hard`` is exactly the paper's p = e / sum(e) up to the normalisation, which sampling does
    not need. An ``inf`` easiness (a probability that underflowed) is removed first by ``hard``.
    """
    e = _easiness(easiness)
    if strategy == "hard":
        return e.copy()
    if strategy == "random":
        return np.ones(e.size, dtype=np.float64)
    if strategy == "easy":
        return EASY_WEIGHTINGS[_weighting(easy_weighting)](np.where(np.isinf(e), np.finfo(float).max / 4, e))
    raise AblationError(f"unknown rule {strategy!r}; choose one of {', '.join(SAMPLED)}")


def _easiness(values: Any) -> np.ndarray:
    """A non-empty 1-D float64 array of non-negative values (cross-entropies), no NaN."""
    e = np.asarray(values, dtype=np.float64)
    if e.ndim != 1 or e.size == 0:
        raise AblationError(f"easiness must be a non-empty 1-D array, got shape {e.shape}")
    if np.isnan(e).any() or (e < 0).any():
        raise AblationError("easiness must be non-negative cross-entropies without NaN")
    return e


def _weighting(name: str) -> str:
    if name not in EASY_WEIGHTINGS:
        raise AblationError(f"unknown easy weighting {name!r}; choose one of {', '.join(EASY_WEIGHTINGS)}")
    return name


def removal_values(score: str, values: Any) -> np.ndarray:
    """``[N]`` non-negative float64 values, higher = harder, that the rules weight.

    ``easiness``: the values themselves (the paper's rule; an ``inf`` stays the hardest). Any
    other score of :mod:`easiness.analysis.scores`: rank of :func:`easiness.analysis.scores.hardness` / N, in
    (0, 1], ties sharing their mean rank (see the module docstring for why ranks).
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0 or np.isnan(v).any():
        raise AblationError(f"{score} must be a non-empty 1-D array without NaN, got shape {v.shape}")
    if score == DEFAULT_SCORE:
        return _easiness(v)
    try:
        hard = scores.hardness(score, v)
    except ValueError as e:
        raise AblationError(str(e)) from None
    return average_ranks(hard) / v.size


# --------------------------------------------------------------------------- sizes


def removal_count(n: int, fraction: float) -> int:
    """round(fraction * n), halves up (as :func:`easiness.analysis.metrics.set_size`, but 0 allowed)."""
    return math.floor(check_fraction(fraction) * n + 0.5)


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in the open interval (0, 1); AblationError otherwise."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise AblationError(f"a fraction must be a number in (0, 1), got {fraction!r}")
    if not 0.0 < float(fraction) < 1.0:
        raise AblationError(f"a fraction must lie strictly between 0 and 1, got {fraction:g}")
    return float(fraction)


def class_quotas(labels: np.ndarray, total: int, *, num_classes: int | None = None) -> np.ndarray:
    """``[C]`` examples to remove per class: ``total`` shared in proportion to the class sizes.

    Largest-remainder rounding (ties by lower class index), so the quotas sum to ``total``
    exactly and each is within one of ``total * N_c / N``.
    """
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_classes or 0)
    ideal = total * counts / counts.sum()
    quotas = np.floor(ideal + 1e-9).astype(np.int64)  # why 1e-9: 0.3 * 10 is 2.9999999999999996
    extra = total - int(quotas.sum())
    remainder = np.where(quotas < counts, ideal - quotas, -1.0)
    for c in np.lexsort((np.arange(counts.size), -remainder))[:max(extra, 0)]:
        quotas[c] += 1
    return quotas


def stepwise_steps(fraction: float, *, step: float = DEFAULT_STEP) -> int:
    """How many ``step``-sized removals reach ``fraction``; AblationError if it is not a multiple."""
    fraction = check_fraction(fraction)
    if not 0.0 < step < 1.0:
        raise AblationError(f"the stepwise step must lie strictly between 0 and 1, got {step:g}")
    steps = round(fraction / step)
    if steps < 1 or abs(steps * step - fraction) > 1e-9:
        raise AblationError(f"stepwise removes {step:g} of the data per step, so it cannot reach "
                            f"{fraction:g}; use a multiple of {step:g}")
    return steps


def stepwise_counts(n: int, fraction: float, *, step: float = DEFAULT_STEP) -> list[int]:
    """Examples removed at each stepwise step: differences of round(j * step * n), j = 1..K,
    so the steps add up to exactly ``removal_count(n, fraction)``."""
    steps = stepwise_steps(fraction, step=step)
    totals = [0] + [removal_count(n, min(j * step, fraction)) for j in range(1, steps)] + [removal_count(n, fraction)]
    return [b - a for a, b in zip(totals, totals[1:])]


# --------------------------------------------------------------------------- sampling


def sample_removal(easiness: Any, *, fraction: float, strategy: str, seed: int,
                   labels: Any = None, balanced: bool = False, easy_weighting: str = "inverse",
                   rescore: Callable[[int, np.ndarray], np.ndarray] | None = None,
                   step: float = DEFAULT_STEP, chain_seed: int = 0) -> np.ndarray:
    """The examples to remove: exactly ``round(fraction * N)`` distinct indices, ascending.

    Args:
        easiness: ``[N]`` easiness of every training example (Eq. 1), low = easy.
        fraction: share of the N examples to remove, in (0, 1).
        strategy: ``easy``, ``hard``, ``random``, ``stepwise``, ``easy-topk`` or ``hard-topk``
            (see the module docstring).
        seed: the draw; the same arguments give the same indices.
        labels: ``[N]`` class labels, needed with ``balanced``.
        balanced: remove the same share of every class (largest-remainder quotas,
            :func:`class_quotas`), drawing within each class by the strategy's rule.
        easy_weighting: a key of :data:`EASY_WEIGHTINGS` (``easy`` and ``stepwise``).
        rescore: ``stepwise`` only: ``rescore(j, kept) -> [len(kept)]`` easiness of the examples
            ``kept`` (ascending indices into the N) after step ``j`` (1-based), from M new runs on
            them alone. Called for j = 1..K-1.
        step: ``stepwise`` only: share of the original N removed per step.
        chain_seed: ``stepwise`` only: the draw of steps 1..K-1, shared by every seed and fraction
            (each step costs M trainings, so the intermediate subsets are computed once and
            reused); ``seed`` draws the last step.

    Returns:
        ``[R]`` int64 indices into the N examples, ascending.
    """
    e = _easiness(easiness)
    check_fraction(fraction)
    if min(seed, chain_seed) < 0:
        raise AblationError(f"seeds must be >= 0, got {min(seed, chain_seed)}")
    classes = _check_labels(labels, e.size) if balanced else None
    if strategy == "stepwise":
        if rescore is None:
            raise AblationError("stepwise removal needs rescore(step, kept) to score what is left")
        return _stepwise(e, fraction=fraction, seed=seed, classes=classes, easy_weighting=easy_weighting,
                         rescore=rescore, step=step, chain_seed=chain_seed)
    count = removal_count(e.size, fraction)
    if strategy in TOPK:
        order = _topk_order(e, hardest=strategy == "hard-topk", seed=(seed, _STREAMS[strategy]))
        return _take(order, count, classes)
    if strategy not in SAMPLED:
        raise AblationError(f"unknown strategy {strategy!r}; choose one of {', '.join(ALL_STRATEGIES)}")
    weights = removal_weights(e, strategy=strategy, easy_weighting=easy_weighting)
    return _draw(weights, count, seed=(seed, _STREAMS[strategy]), classes=classes)


def _check_labels(labels: Any, n: int) -> np.ndarray:
    if labels is None:
        raise AblationError("class-balanced removal needs the class labels")
    arr = np.asarray(labels)
    if arr.shape != (n,) or arr.dtype.kind not in "iu" or (arr.size and arr.min() < 0):
        raise AblationError(f"labels must be {n} non-negative integers, got {arr.dtype} {arr.shape}")
    return arr.astype(np.int64)


def _draw(weights: np.ndarray, count: int, *, seed: tuple[int, ...], classes: np.ndarray | None) -> np.ndarray:
    """``count`` indices drawn without replacement with probabilities proportional to ``weights``
    (successive draws), per class when ``classes`` is given; ascending."""
    return _take(_key_order(weights, seed), count, classes)


def _take(order: np.ndarray, count: int, classes: np.ndarray | None) -> np.ndarray:
    """The first ``count`` of ``order`` (all N indices, first to go first), or each class's
    largest-remainder quota of them when ``classes`` is given; ascending."""
    if classes is None:
        return np.sort(order[:count])
    quotas = class_quotas(classes, count)
    ranked_classes = classes[order]
    picked = [order[ranked_classes == c][:q] for c, q in enumerate(quotas) if q]
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, dtype=np.int64)


def _topk_order(values: np.ndarray, *, hardest: bool, seed: tuple[int, ...]) -> np.ndarray:
    """All N indices, easiest first (hardest first with ``hardest``), ties in a seeded random order."""
    ties = np.random.default_rng(list(seed)).random(values.size)
    return np.lexsort((ties, -values if hardest else values))


def _key_order(weights: np.ndarray, seed: tuple[int, ...]) -> np.ndarray:
    """All N indices in the order successive weighted draws would take them (exponential keys)."""
    rng = np.random.default_rng(list(seed))
    u = 1.0 - rng.random(weights.size)  # (0, 1]: log(u) is finite
    with np.errstate(divide="ignore", invalid="ignore"):
        keys = np.log(u) / weights  # w = 0 -> -inf (never before a positive weight); w = inf -> 0
    keys = np.where(np.isnan(keys), -np.inf, keys)
    return np.lexsort((np.arange(weights.size), -u, -keys))  # ties (w = 0 or inf) in random order


def _stepwise(e: np.ndarray, *, fraction: float, seed: int, classes: np.ndarray | None, easy_weighting: str,
              rescore: Callable[[int, np.ndarray], np.ndarray], step: float, chain_seed: int) -> np.ndarray:
    """Steps of the easy rule, each scored again on what is left; returns all removed indices."""
    counts = stepwise_counts(e.size, fraction, step=step)
    kept = np.arange(e.size)
    current = e
    for j, count in enumerate(counts, start=1):
        last = j == len(counts)
        draw_seed = (seed if last else chain_seed, _STREAMS["easy"], j)
        weights = removal_weights(current, strategy="easy", easy_weighting=easy_weighting)
        gone = _draw(weights, count, seed=draw_seed, classes=None if classes is None else classes[kept])
        kept = np.delete(kept, gone)
        if not last:
            current = _easiness(rescore(j, kept))
            if current.shape != kept.shape:
                raise AblationError(f"rescore returned {current.size} values for {kept.size} kept examples")
    return np.setdiff1d(np.arange(e.size), kept)


def kept_indices(n: int, removed: Any) -> np.ndarray:
    """``[n - R]`` ascending indices not in ``removed``."""
    return np.setdiff1d(np.arange(n), np.asarray(removed, dtype=np.int64))


# --------------------------------------------------------------------------- rows (ablation.csv)


def fraction_label(fraction: float) -> str:
    """A fraction as it appears in file names and the CSV: ``0.3``, ``0.25``, ``0``."""
    return f"{round(float(fraction), 6):g}"


def point_score(strategy: str, score: str = DEFAULT_SCORE) -> str:
    """The score a point of ``strategy`` removes by: "" for ``full`` and ``random`` (no score
    chooses them, so every score's curves share them)."""
    return "" if strategy in SCORE_FREE else score


def curve(strategy: str, score: str = DEFAULT_SCORE) -> str:
    """The curve a point belongs to: ``easy`` ... for easiness (as before scores existed),
    ``easy-topk by el2n`` for another score, ``full`` and ``random`` for every score."""
    used = point_score(strategy, score)
    return strategy if used in ("", DEFAULT_SCORE) else f"{strategy} by {used}"


def point_name(strategy: str, fraction: float, seed: int, score: str = DEFAULT_SCORE) -> str:
    """The stem of a point's kept-id files: ``<strategy>_f<fraction>_s<seed>`` by easiness,
    ``<strategy>-by-<score>_f<fraction>_s<seed>`` by another score."""
    return f"{curve(strategy, score).replace(' ', '-')}_f{fraction_label(fraction)}_s{seed}"


def point_key(strategy: str, fraction: float, seed: int, score: str = DEFAULT_SCORE) -> tuple[str, str, int]:
    """What identifies a point across runs of the CLI (resume skips points already recorded):
    its curve, fraction and seed."""
    return (curve(strategy, score), fraction_label(fraction), int(seed))


def row_key(row: Mapping[str, Any]) -> tuple[str, str, int]:
    """:func:`point_key` of a row of ``ablation.csv``."""
    return point_key(row["strategy"], row["target_fraction"], row["seed"], row.get("score") or DEFAULT_SCORE)


def format_rows(rows: Iterable[Mapping[str, Any]]) -> str:
    """``ablation.csv``'s text: the :data:`COLUMNS` header and one line per point."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(k, row.get(k)) for k in COLUMNS})
    return out.getvalue()


def _cell(key: str, value: Any) -> str:
    if value is None:
        return ""
    if key in ("target_fraction",):
        return fraction_label(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def parse_rows(text: str) -> list[dict[str, Any]]:
    """The rows of ``ablation.csv``'s text, typed (fractions and accuracies float, counts int)."""
    rows = []
    for raw in csv.DictReader(io.StringIO(text)):
        row: dict[str, Any] = dict(raw)
        for key in ("target_fraction", "removed_fraction", "test_accuracy", "test_loss", "seconds"):
            row[key] = float(raw[key]) if raw.get(key) not in (None, "") else math.nan
        for key in ("seed", "kept", "removed", "epochs"):
            row[key] = int(raw[key]) if raw.get(key) not in (None, "") else 0
        row["score"] = point_score(row["strategy"], raw.get("score") or DEFAULT_SCORE)  # older files: easiness
        row["status"] = _OLD_STATUS.get(row.get("status"), row.get("status"))
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- read-out


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One entry per (curve, target fraction): mean and std (over seeds) of test accuracy,
    mean kept count and removed fraction, number of seeds; sorted by curve then fraction.

    The ``full`` baseline (fraction 0) is its own strategy here. Failed points (their loss became
    NaN or infinite: NaN accuracy) count in ``points`` but not in ``seeds`` nor the mean. ``curve`` is :func:`curve` (the strategy, plus
    ``by <score>`` for scores other than easiness); ``score`` is "" for full and random.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row_key(row)[:2], []).append(row)
    out = []
    for (name, label), members in sorted(groups.items(), key=lambda kv: (kv[0][0], float(kv[0][1]))):
        acc = np.array([m["test_accuracy"] for m in members], dtype=np.float64)
        ok = acc[~np.isnan(acc)]
        strategy = members[0]["strategy"]
        out.append({"strategy": strategy, "curve": name,
                    "score": point_score(strategy, members[0].get("score") or DEFAULT_SCORE),
                    "target_fraction": float(label), "points": len(members),
                    "seeds": int(ok.size),
                    "removed_fraction": float(np.mean([m["removed_fraction"] for m in members])),
                    "kept": float(np.mean([m["kept"] for m in members])),
                    "removed": float(np.mean([m["removed"] for m in members])),
                    "accuracy_mean": float(ok.mean()) if ok.size else math.nan,
                    "accuracy_std": float(ok.std(ddof=1)) if ok.size > 1 else 0.0 if ok.size else math.nan})
    return out


def random_curve(summary: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    """The random baseline as (kept counts ``[P]`` ascending, accuracy ``[P]``), the ``full``
    point included, made non-decreasing (running maximum): more random data never hurts in
    expectation, and a monotone curve has one inverse."""
    points = sorted((s["kept"], s["accuracy_mean"]) for s in summary
                    if s["strategy"] in ("random", FULL) and not math.isnan(s["accuracy_mean"]))
    kept = np.array([p[0] for p in points], dtype=np.float64)
    acc = np.maximum.accumulate(np.array([p[1] for p in points], dtype=np.float64)) if points else np.zeros(0)
    return kept, acc


def random_equivalent(accuracy: float, *, kept: np.ndarray, curve: np.ndarray) -> tuple[float, str]:
    """How many randomly kept examples reach ``accuracy`` on the random curve (linear
    interpolation of its inverse), and a note; NaN with the reason outside the curve's range."""
    if kept.size < 2 or math.isnan(accuracy):
        return math.nan, "the random curve needs at least two points"
    if accuracy > curve[-1]:
        return math.nan, "above every random point (the full data included)"
    if accuracy < curve[0]:
        return math.nan, "below the smallest random subset"
    i = int(np.searchsorted(curve, accuracy, side="left"))  # first point reaching the accuracy
    if i == 0 or curve[i] == accuracy:
        return float(kept[i]), ""
    share = (accuracy - curve[i - 1]) / (curve[i] - curve[i - 1])
    return float(kept[i - 1] + share * (kept[i] - kept[i - 1])), ""


def readout(summary: Sequence[Mapping[str, Any]], *, costs: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """The paper's read-out for every strategy and fraction (the random curve as the yardstick).

    Per entry of :func:`summarise` (``full`` and ``random`` included, for the table):

    * ``vs_random``: accuracy minus random's at the same target fraction (paper: +1.1% top-1);
    * ``random_equivalent``: randomly kept examples that reach the same accuracy, and ``worth``
      = that minus the examples this strategy kept (positive: worth that many extra examples;
      paper: "about 100k images");
    * ``note``: why ``worth`` is missing, and how many seeds failed (their loss diverged);
    * with ``costs`` (:func:`cost_ledger`'s inputs): ``scoring_cost`` in example-passes spent
      on easiness, ``saved_per_training`` = retraining epochs x removed examples, and
      ``break_even`` = trainings on the subset that pay for the scoring.
    """
    kept, curve = random_curve(summary)
    randoms = {fraction_label(s["target_fraction"]): s["accuracy_mean"] for s in summary if s["strategy"] == "random"}
    out = []
    for s in summary:
        if s["strategy"] in (FULL, "random"):  # the yardstick itself: nothing to compare
            equivalent, note = math.nan, "the baseline" if s["strategy"] == FULL else "the yardstick"
        elif s["seeds"] == 0:
            equivalent, note = math.nan, ""
        else:
            equivalent, note = random_equivalent(s["accuracy_mean"], kept=kept, curve=curve)
        base = randoms.get(fraction_label(s["target_fraction"]), math.nan)
        entry = {**s, "vs_random": s["accuracy_mean"] - base, "random_equivalent": equivalent,
                 "worth": equivalent - s["kept"], "note": "; ".join(filter(None, [note, _failed_note(s)]))}
        if costs is not None:
            entry.update(cost_ledger(s["strategy"], s["target_fraction"], s["removed"], costs))
        out.append(entry)
    return out


def _failed_note(entry: Mapping[str, Any]) -> str:
    """"1 of 3 seeds failed (NaN or infinite loss)" when some of the entry's points failed."""
    failed = entry["points"] - entry["seeds"]
    return f"{failed} of {entry['points']} seeds {FAILED} (NaN or infinite loss)" if failed else ""


def cost_ledger(strategy: str, fraction: float, removed: float, costs: Mapping[str, Any]) -> dict[str, float]:
    """Training spent on scoring against training saved by the smaller dataset, in example-passes.

    costs: ``scoring`` (the study's M runs up to T: M x updates x batch size), ``stepwise``
    (per intermediate study, in step order: M x epochs x its examples), ``epochs`` (per
    retraining), ``step`` (stepwise step). Random removal needs no scoring.
    """
    if strategy in (FULL, "random"):
        spent = 0.0
    elif strategy == "stepwise":
        steps = stepwise_steps(fraction, step=costs["step"])
        spent = float(costs["scoring"]) + float(sum(costs["stepwise"][:steps - 1]))
    else:
        spent = float(costs["scoring"])
    saved = float(costs["epochs"]) * float(removed)
    return {"scoring_cost": spent, "saved_per_training": saved,
            "break_even": spent / saved if saved > 0 else math.nan}


def format_readout(entries: Sequence[Mapping[str, Any]]) -> str:
    """:func:`readout` as a text table (the CLI's closing summary)."""
    width = max([9, *(len(r.get("curve", r["strategy"])) for r in entries)])
    lines = [f"{'strategy':{width}s} {'removed':>7s}  {'test accuracy':>20s}  {'vs random':>9s}  "
             f"{'worth (examples)':>16s}  {'break-even trainings':>20s}"]
    for r in entries:
        worth = "n/a" if math.isnan(r["worth"]) else f"{r['worth']:+.0f}"
        vs = "" if math.isnan(r["vs_random"]) else f"{r['vs_random']:+.4f}"
        even = "" if not r.get("scoring_cost") or math.isnan(r["break_even"]) else f"{r['break_even']:.1f}"
        accuracy = f"{r['accuracy_mean']:.4f} ± {r['accuracy_std']:.4f} ({r['seeds']})"
        name = r.get("curve", r["strategy"])
        lines.append(f"{name:{width}s} {r['removed_fraction']:7.3f}  {accuracy:>20s}  {vs:>9s}  {worth:>16s}  {even:>20s}")
    return "\n".join(lines)
