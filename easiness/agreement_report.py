"""``python -m easiness.agreement_report STUDY``: how the difficulty scores agree, how many runs each
needs, and whether models agree on each, printed (the Scores page shows the same as charts).

Per model at checkpoint T (default the last): Spearman's rho between every pair of ranking scores
(oriented so +1 = the same order from easy to hard; :func:`easiness.analysis.stability.correlations`), and
each score's split-half reliability with the runs needed for rho = 0.9 (Spearman-Brown,
:func:`easiness.analysis.stability.stability`); then, for every pair of models, rho between their values
of each score (:func:`easiness.analysis.stability.across_models`); last, Fig. 3: the matching rate of
the models' easy and hard sets at each checkpoint (:func:`easiness.analysis.report.matching_by_checkpoint`,
at most 20 checkpoints unless ``--all-checkpoints``). Numpy and pandas only.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Sequence

import pandas as pd

from easiness.analysis import report, stability
from easiness.cli import OneLineParser, run_command
from easiness.errors import EasinessError
from easiness.store import Study


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.agreement_report",
                      description="Agreement between difficulty scores, runs needed for a stable ranking, "
                                  "agreement between models, and their easy/hard matching rates over "
                                  "checkpoints (Fig. 3), printed.")
    p.add_argument("study", help="a study folder")
    p.add_argument("--model", action="append", help="model(s) (default: every model)")
    p.add_argument("--checkpoint", type=int, help="T, 1-based (default: the last)")
    p.add_argument("--all-checkpoints", action="store_true",
                   help="Fig. 3 at every checkpoint (default: at most 20, evenly spaced)")
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
        models = args.model or [m for m in study.models if study.checkpoints(m)]
        if not args.model:
            for model in sorted(set(study.models) - set(models)):
                print(f"{model}: no completed checkpoint yet, left out\n")
        if not models:
            raise EasinessError(f"no model in {args.study} has a completed checkpoint yet")
        for model in models:
            lines, means[model] = model_report(study, model, at)
            print("\n".join(lines) + "\n")
        for a, b in itertools.combinations(means, 2):
            rhos = stability.across_models(means[a], means[b])
            print(f"{a} vs {b}, Spearman rho per score: " + ", ".join(f"{k} {v:.2f}" for k, v in rhos.items()))
        fig3 = report.matching_by_checkpoint(study, list(means), rows=None if args.all_checkpoints else 20)
        if fig3:
            print("\n" + "\n".join(fig3))
        return 0

    return run_command(build_parser(), argv, body)


if __name__ == "__main__":
    sys.exit(main())
