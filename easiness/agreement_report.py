"""``python -m easiness.agreement_report STUDY``: how the difficulty scores agree, how many runs each
needs, and whether models agree on each, printed (the Scores page shows the same as charts).

Per model at checkpoint T (default the last): Spearman's rho between every pair of ranking scores
(oriented so +1 = the same order from easy to hard; :func:`easiness.analysis.stability.correlations`), and
each score's split-half reliability with the runs needed for rho = 0.9 (Spearman-Brown,
:func:`easiness.analysis.stability.stability`); then, for every pair of models, rho between their values
of each score (:func:`easiness.analysis.stability.across_models`). Numpy and pandas only.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Sequence

import pandas as pd

from easiness.analysis import stability
from easiness.cli import OneLineParser, run_command
from easiness.store import Study


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.agreement_report",
                      description="Agreement between difficulty scores, runs needed for a stable ranking, "
                                  "and agreement between models, printed.")
    p.add_argument("study", help="a study folder")
    p.add_argument("--model", action="append", help="model(s) (default: every model)")
    p.add_argument("--checkpoint", type=int, help="T, 1-based (default: the last)")
    return p


def model_report(study: Study, model: str, at: int) -> tuple[list[str], dict]:
    """The printed lines of one model, and its run-averaged scores (for the model pairs)."""
    from easiness.analysis.study_scores import compute

    scored = compute(study, model, at=at, per_run=True)
    names, matrix = stability.correlations(scored.mean)
    table = pd.DataFrame(matrix, index=names, columns=names)
    readout = pd.DataFrame(stability.stability(scored.per_run)["summary"])
    lines = [f"{model}: {len(scored.runs)} runs, T = checkpoint {scored.k + 1}",
             "Spearman rho between scores (+1 = same order from easy to hard):",
             table.to_string(float_format=lambda v: f"{v:.2f}"),
             "split-half reliability (rho between two averages of m runs) and runs needed for rho = 0.9:",
             readout[["score", "runs", "m", "rho", "rho_all", "runs_needed"]].to_string(
                 index=False, float_format=lambda v: f"{v:.2f}")]
    return lines, scored.mean


def main(argv: Sequence[str] | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        study = Study.open(args.study)
        at = -1 if args.checkpoint is None else args.checkpoint - 1
        means = {}
        for model in args.model or study.models:
            lines, means[model] = model_report(study, model, at)
            print("\n".join(lines) + "\n")
        for a, b in itertools.combinations(means, 2):
            rhos = stability.across_models(means[a], means[b])
            print(f"{a} vs {b}, Spearman rho per score: " + ", ".join(f"{k} {v:.2f}" for k, v in rhos.items()))
        return 0

    return run_command(build_parser(), argv, body)


if __name__ == "__main__":
    sys.exit(main())
