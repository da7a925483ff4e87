"""The short text summary that ends a scoring job (numpy only; the app shows the same numbers).

Per model: test accuracy over runs, the easiness range, and the class mix of the easy and hard
sets; then the matching rates between models at the first and the last checkpoint (Eq. 2,
Fig. 3) against chance, each model's easy and hard sets at the first checkpoint against the last
(Table 1), and, for the synthetic dataset, easiness by appearance mode and for flipped labels (the
ground truth behind the paper's bias hypothesis, grouped by :mod:`easiness.analysis.ground_truth`).
A rate below chance is marked ``*`` and explained in one line (:data:`BELOW_CHANCE`).
"""

from __future__ import annotations

import itertools

import numpy as np

from easiness.analysis import distributions, ground_truth, metrics
from easiness.store import StoreError, Study

FRACTION = 0.1  # the paper's easy/hard share
# What a matching rate below chance means; the app's matching page says the same.
BELOW_CHANCE = ("the two sets share fewer examples than random sets would; typically at the first checkpoint, when each "
                "model is sure of a different few classes, so their easy sets lie in different classes. A real "
                "measurement, not a bug.")


def summary(study: Study, *, fraction: float = FRACTION) -> str:
    """Multi-line summary of a study."""
    lines = [f"study {study.root}: {study.dataset}, N={study.n}, {study.num_classes} classes, status {study.status}"]
    usable = [m for m in study.models if study.checkpoints(m)]
    if not usable:
        return "\n".join(lines + ["no completed checkpoint yet"])
    lines += _model_table(study, usable, fraction)
    lines += _matching_table(study, usable, fraction)
    lines += _beginning_end(study, usable, fraction)
    lines += _ground_truth(study, usable)
    lines += [f"problem: {p}" for p in study.problems]
    return "\n".join(lines)


def _model_table(study: Study, names: list[str], fraction: float) -> list[str]:
    lines = [f"{'model':22s} {'runs':>4s}  {'test acc':>13s}  {'easiness range':>15s}  easy set / hard set: top classes"]
    for name in names:
        e = metrics.easiness(study.losses(name))
        easy, hard = metrics.easy_hard(e, fraction=fraction)
        lines.append(f"{name:22s} {len(study.losses(name)):>4d}  {_test_accuracy(study, name):>13s}  "
                     f"{e.min():6.3f} - {e.max():6.3f}  {_top_classes(study, easy)} / {_top_classes(study, hard)}")
    return lines


def _test_accuracy(study: Study, name: str) -> str:
    finals = [h[-1].get("test_accuracy") for h in study.history(name) if h]
    finals = [a for a in finals if a is not None]
    if not finals:
        return "n/a"
    return f"{np.mean(finals):.3f} ± {np.std(finals):.3f}"


def _top_classes(study: Study, indices: np.ndarray, k: int = 2) -> str:
    """The ``k`` classes with the largest share of the set; a class absent from it never."""
    counts = distributions.class_mix(indices, study.labels, num_classes=study.num_classes)
    order = [c for c in np.argsort(-counts, kind="stable")[:k] if counts[c] > 0]
    return ", ".join(f"{study.class_names[c]} {counts[c] / max(len(indices), 1):.0%}" for c in order)


def _chance(study: Study, fraction: float) -> float:
    size = metrics.set_size(study.n, fraction=fraction)
    return metrics.chance_matching_rate(size, size, study.n)


def _below(rate: float, chance: float) -> bool:
    """Whether ``rate`` reads below chance as printed (two decimals: no "0.10*" beside chance 0.10)."""
    return round(float(rate), 2) < round(chance, 2)


def _rates(easy: float, hard: float, chance: float) -> str:
    """"easy / hard", each marked ``*`` when below chance."""
    return " / ".join(f"{r:.2f}{'*' if _below(r, chance) else ''}" for r in (easy, hard))


def _key(rates: list[float], chance: float) -> list[str]:
    """The key to the ``*`` mark, when one of ``rates`` is below chance."""
    return [f"  * below chance ({chance:.2f}): {BELOW_CHANCE}"] if any(_below(r, chance) for r in rates) else []


def _matching_table(study: Study, names: list[str], fraction: float) -> list[str]:
    if len(names) < 2:
        return []
    chance = _chance(study, fraction)
    lines = [f"matching rate of easy / hard sets between models (chance {chance:.2f}):",
             f"  {'pair':44s} {'first checkpoint':>17s}  {'last checkpoint':>16s}"]
    shown = []
    for a, b in itertools.combinations(names, 2):
        rates = metrics.matching_over_checkpoints(study.losses(a), study.losses(b), fraction=fraction)
        first = _rates(rates["easy"][0], rates["hard"][0], chance)
        last = _rates(rates["easy"][-1], rates["hard"][-1], chance)
        lines.append(f"  {a + ' vs ' + b:44s} {first:>17s}  {last:>16s}")
        shown += [rates[s][i] for s in ("easy", "hard") for i in (0, -1)]
    return lines + _key(shown, chance)


def _beginning_end(study: Study, names: list[str], fraction: float) -> list[str]:
    """Table 1: each model's easy (hard) set at the first checkpoint against the last."""
    names = [name for name in names if len(study.checkpoints(name)) > 1]
    if not names:
        return []
    chance = _chance(study, fraction)
    lines = ["beginning vs end (Table 1): easy / hard set at the first checkpoint against the last:"]
    shown = []
    for name in names:
        rates = metrics.beginning_end(study.losses(name), fraction=fraction)
        lines.append(f"  {name:44s} {_rates(rates['easy'], rates['hard'], chance)}")
        shown += [rates["easy"], rates["hard"]]
    return lines + _key(shown, chance)


def _ground_truth(study: Study, names: list[str]) -> list[str]:
    """Mean easiness by majority mode, minority mode and flipped label, per model."""
    try:
        found = ground_truth.groups(study.extras, merge_minorities=True)
    except StoreError as e:
        return [f"ground truth: {e}"]
    if found is None:
        return []
    codes, group_names = found
    labels = np.asarray(group_names)[codes]
    lines = ["mean easiness by ground truth (synthetic bias; lower = easier):"]
    for name in names:
        rows = distributions.summary_by_group(metrics.easiness(study.losses(name)), labels)
        cells = "  ".join(f"{r['group']} {r['mean']:.3f} (n={r['count']})" for r in rows)
        lines.append(f"  {name:20s} {cells}")
    return lines
