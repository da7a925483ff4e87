"""The short text summary that ends a scoring job (numpy only; the app shows the same numbers).

Per model: test accuracy over runs, the easiness range, and the class mix of the easy and hard
sets; then the matching rates between models at the first and the last checkpoint (Eq. 2,
Fig. 3) against chance, each model's easy and hard sets at the first checkpoint against the last
(Table 1), and, for the synthetic dataset, easiness by appearance mode and for flipped labels (the
ground truth behind the paper's bias hypothesis).
"""

from __future__ import annotations

import itertools

import numpy as np

from easiness import metrics
from easiness.store import Study

FRACTION = 0.1  # the paper's easy/hard share


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
    counts = metrics.class_mix(indices, study.labels, num_classes=study.num_classes)
    order = np.argsort(-counts, kind="stable")[:k]
    return ", ".join(f"{study.class_names[c]} {counts[c] / max(len(indices), 1):.0%}" for c in order)


def _matching_table(study: Study, names: list[str], fraction: float) -> list[str]:
    if len(names) < 2:
        return []
    chance = metrics.chance_matching_rate(*(2 * [max(1, round(fraction * study.n))]), study.n)
    lines = [f"matching rate of easy / hard sets between models (chance {chance:.2f}):",
             f"  {'pair':44s} {'first checkpoint':>17s}  {'last checkpoint':>16s}"]
    for a, b in itertools.combinations(names, 2):
        rates = metrics.matching_over_checkpoints(study.losses(a), study.losses(b), fraction=fraction)
        first = f"{rates['easy'][0]:.2f} / {rates['hard'][0]:.2f}"
        last = f"{rates['easy'][-1]:.2f} / {rates['hard'][-1]:.2f}"
        lines.append(f"  {a + ' vs ' + b:44s} {first:>17s}  {last:>16s}")
    return lines


def _beginning_end(study: Study, names: list[str], fraction: float) -> list[str]:
    """Table 1: each model's easy (hard) set at the first checkpoint against the last."""
    names = [name for name in names if len(study.checkpoints(name)) > 1]
    if not names:
        return []
    lines = ["beginning vs end (Table 1): easy / hard set at the first checkpoint against the last:"]
    for name in names:
        rates = metrics.beginning_end(study.losses(name), fraction=fraction)
        lines.append(f"  {name:44s} {rates['easy']:.2f} / {rates['hard']:.2f}")
    return lines


def _ground_truth(study: Study, names: list[str]) -> list[str]:
    extras = study.extras
    if "mode" not in extras:
        return []
    mode = np.asarray(extras["mode"])
    flipped = np.asarray(extras.get("flipped", np.zeros(study.n, dtype=bool)), dtype=bool)
    group = np.where(flipped, "flipped label", np.where(mode == 0, "majority mode", "minority mode"))
    lines = ["mean easiness by ground truth (synthetic bias; lower = easier):"]
    for name in names:
        rows = metrics.summary_by_group(metrics.easiness(study.losses(name)), group)
        cells = "  ".join(f"{r['group']} {r['mean']:.3f} (n={r['count']})" for r in rows)
        lines.append(f"  {name:20s} {cells}")
    return lines
