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

from easiness.analysis import checkpoints, distributions, ground_truth, metrics
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
        _, at = checkpoints.shared(study, [a, b])
        if not at[a]:
            lines.append(f"  {a + ' vs ' + b:44s} never scored at the same epoch")
            continue
        rates = metrics.matching_over_checkpoints(study.losses(a), study.losses(b), fraction=fraction,
                                                  checkpoints={"a": [at[a][0], at[a][-1]], "b": [at[b][0], at[b][-1]]})
        first = _rates(rates["easy"][0], rates["hard"][0], chance)
        last = _rates(rates["easy"][-1], rates["hard"][-1], chance)
        lines.append(f"  {a + ' vs ' + b:44s} {first:>17s}  {last:>16s}")
        shown += [rates[s][i] for s in ("easy", "hard") for i in (0, -1)]
    return lines + _key(shown, chance)


def matching_by_checkpoint(study: Study, names: list[str], *, fraction: float = FRACTION,
                           rows: int | None = 20) -> list[str]:
    """Fig. 3 as text: the easy / hard matching rate of every pair of ``names`` at the epochs all
    of them were scored (:func:`easiness.analysis.checkpoints.shared`), one row per epoch; at most
    ``rows`` rows (None: all), evenly spaced with the first and the last, and only those
    checkpoints are read."""
    names = [name for name in names if study.checkpoints(name)]
    if len(names) < 2:
        return []
    epochs, at = checkpoints.shared(study, names)
    if not epochs:
        return [f"matching rate between models over epochs (Fig. 3): {', '.join(names)} were never scored at the same epoch"]
    picks = list(range(len(epochs))) if rows is None else checkpoints.spread(len(epochs), rows)
    curves = metrics.matching_curves({name: study.losses(name) for name in names}, fraction=fraction,
                                     checkpoints={name: [at[name][j] for j in picks] for name in names})
    chance = _chance(study, fraction)
    labels = [f"{a} vs {b}" for a, b in curves]
    widths = [max(len(label), 11) for label in labels]
    shown_all = "" if len(picks) == len(epochs) else f"; {len(picks)} of {len(epochs)} shown"
    lines = [f"matching rate of easy / hard sets between models at each epoch all were scored "
             f"(Fig. 3; chance {chance:.2f}{shown_all}):",
             f"  {'epoch':>7s}  " + "  ".join(f"{label:>{w}s}" for label, w in zip(labels, widths))]
    shown = []
    for i, j in enumerate(picks):
        cells = [_rates(rates["easy"][i], rates["hard"][i], chance) for rates in curves.values()]
        shown += [rates[s][i] for rates in curves.values() for s in ("easy", "hard")]
        lines.append(f"  {epochs[j]:>7g}  " + "  ".join(f"{c:>{w}s}" for c, w in zip(cells, widths)))
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
