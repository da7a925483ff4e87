"""Which difficulty score finds what the ground truth says is hard? Numpy and pandas only.

A study of the built-in synthetic data stores, per example, its appearance ``mode`` (0 = the
majority mode of its class, 1 and 2 = two minority modes) and whether its label was ``flipped``
(:mod:`easiness.data.synthetic`; grouped by :mod:`easiness.analysis.ground_truth`). For every score of :mod:`easiness.analysis.scores`, oriented so that higher =
harder (:func:`easiness.analysis.scores.hardness`), this module measures how well it separates

- flipped labels from all other examples, and
- correctly labelled minority-mode examples from correctly labelled majority-mode ones,

by the area under the ROC curve (AUROC: the probability that a random positive ranks harder than a
random negative, ties counting half; 0.5 = chance, 1 = perfect) and by the share of positives in the
score's hard 10%. ``python -m easiness.truth STUDY [--model NAME] [--checkpoint T]`` prints the table.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

import numpy as np
import pandas as pd

from easiness.analysis import ground_truth, ranks, scores
from easiness.cli import OneLineParser, run_command
from easiness.errors import EasinessError
from easiness.store import Study


def groups(study: Study) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The two questions as (positives, negatives) boolean masks ``[N]``, from the study's
    ground-truth groups (:func:`easiness.analysis.ground_truth.groups`); EasinessError for a
    study without the synthetic ground truth (``mode`` and ``flipped`` extras)."""
    found = ground_truth.groups(study.extras, merge_minorities=True) if "flipped" in study.extras else None
    if found is None:
        raise EasinessError(f"{study.root.name} has no ground truth (the mode and flipped extras of a synthetic study)")
    codes, names = found
    flipped = codes == names.index(ground_truth.FLIPPED)
    minority = codes == (names.index(ground_truth.MINORITY) if ground_truth.MINORITY in names else -1)
    majority = codes == names.index(ground_truth.MAJORITY)
    return {"flipped": (flipped, ~flipped), "minority": (minority, majority)}


def auroc(hardness: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """P(a random positive is harder than a random negative), ties half (Mann-Whitney U / n+ n-)."""
    values = np.concatenate([hardness[positive], hardness[negative]])
    n_pos, n_neg = int(positive.sum()), int(negative.sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    rank_sum = ranks.average_ranks(values)[:n_pos].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def hard_share(hardness: np.ndarray, positive: np.ndarray, *, fraction: float = 0.1) -> float:
    """The share of positives among the ``fraction`` hardest examples (ties by lower index)."""
    k = max(1, int(np.floor(fraction * hardness.size + 0.5)))
    hardest = np.argsort(-hardness, kind="stable")[:k]
    return float(positive[hardest].mean())


def truth_table(table: pd.DataFrame, masks: dict[str, tuple[np.ndarray, np.ndarray]]) -> pd.DataFrame:
    """One row per score column of ``table`` (a :func:`easiness.scores_table` frame): AUROC and
    hard-10% share for each question of ``masks``, best flipped-label AUROC first."""
    rows = []
    for name in [c for c in table.columns if c in scores.SCORES and c != "never_learned"]:
        hard = scores.hardness(name, table[name].to_numpy())
        row = {"score": name}
        for question, (positive, negative) in masks.items():
            row[f"auroc_{question}"] = auroc(hard, positive, negative)
            row[f"hard10_{question}"] = hard_share(hard, positive)
        rows.append(row)
    return pd.DataFrame(rows).sort_values("auroc_flipped", ascending=False, ignore_index=True)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.truth",
                      description="How well each difficulty score finds the flipped labels and the minority "
                                  "modes of a synthetic study (AUROC, share of the hard 10%).")
    p.add_argument("study", help="a study of the synthetic dataset")
    p.add_argument("--model", action="append", help="model(s) (default: every model)")
    p.add_argument("--checkpoint", type=int, help="T, 1-based (default: the last)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        from easiness.analysis.study_scores import scores_table

        study = Study.open(args.study)
        masks = groups(study)
        for model in args.model or study.models:
            at = -1 if args.checkpoint is None else args.checkpoint - 1
            table = scores_table(study, model, at=at)
            positives = {q: int(m[0].sum()) for q, m in masks.items()}
            print(f"{model}: flipped labels n={positives['flipped']}, minority modes n={positives['minority']}"
                  f" (AUROC: 0.5 = chance, 1 = perfect; hard10: share of the hard 10%)")
            print(truth_table(table, masks).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        return 0

    return run_command(build_parser(), argv, body)


if __name__ == "__main__":
    sys.exit(main())
