"""``python -m easiness.compare STUDY --scores FILE``: does another per-example score (forgetting
events, EL2N, AUM, a confidence...) agree with easiness?

Per model: the examples joined, Spearman's rank correlation of easiness at T with the score, and
the matching rates of the easy and hard 10% sets with the score's two tails, all among the joined
examples only (the join rule and the definitions are in :mod:`easiness.analysis.agreement`). Easiness is
the mean over each model's M runs; M is printed and written to the JSON (``m``, ``runs``). A model
with a damaged (unreadable) or failed run is refused with one line naming the runs, unless
``--skip-damaged`` asks to average its other runs (:mod:`easiness.store.run_choice`, as export and
ablate do). Bad input, and a ``--json`` that cannot be written (a full or read-only disk), end
with one line on stderr and exit status 2. Numpy and pandas only; no TensorFlow.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from easiness.analysis import agreement, tables
from easiness.store import atomic, run_choice
from easiness.cli import OneLineParser, check_writable_place, run_command
from easiness.errors import EasinessError
from easiness.export import chosen_runs, fraction
from easiness.store import Study


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.compare",
                      description="Compare easiness with another per-example score: Spearman's rank "
                                  "correlation and the matching rates of the easy and hard tails.")
    p.add_argument("study", metavar="STUDY", help="study folder")
    p.add_argument("--scores", required=True, metavar="FILE",
                   help="CSV, NPZ or parquet keyed by 'id' (the study's ids, or their trailing class/file part)")
    p.add_argument("--column", help="the score column (default: the only numeric column besides id)")
    p.add_argument("--model", dest="models", action="extend", nargs="+", metavar="NAME",
                   help="models to compare (default: every model with a completed checkpoint)")
    p.add_argument("--checkpoint", type=int, metavar="T",
                   help="checkpoint T, 1-based like the app's t (default: the last one all models have)")
    p.add_argument("--higher-is-easier", action="store_true",
                   help="the score's high end is the easy one (default: low = easy, as easiness)")
    p.add_argument("--fraction", type=fraction, default=0.1,
                   help="share of the joined examples in each easy/hard set (default 0.1)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument(run_choice.OPTION, action="store_true", help=run_choice.HELP)
    return p


def run(args: argparse.Namespace) -> int:
    """Open, read, join, compare; print the table and write the JSON."""
    if args.json and not Path(args.json).parent.exists():  # why first: fail before any reading
        raise EasinessError(f"the folder {Path(args.json).parent} of --json does not exist")
    if args.json:
        check_writable_place(args.json, "--json", folder=False)
    study = Study.open(args.study)
    models, runs = chosen_runs(study, args.models, skip_damaged=args.skip_damaged)
    k = tables.checkpoint_index(study, models, args.checkpoint, runs)
    column, joined = agreement.join(study.ids, agreement.read_scores(args.scores), args.column)
    results = agreement.compare(study, joined, models=models, k=k, fraction=args.fraction,
                                higher_is_easier=args.higher_is_easier, runs=runs)
    for model, r in results.items():
        r.update(m=len(runs[model]), runs=list(runs[model]))
    epoch = tables.checkpoint_epoch(study, models[0], k, runs)
    print(report(results, joined, name=Path(args.scores).name, column=column, t=k + 1, epoch=epoch, args=args))
    if args.json:
        atomic.write_json_atomic(Path(args.json), to_json(results, joined, column=column, t=k + 1,
                                                          epoch=epoch, args=args))
    return 0


def report(results: dict[str, dict], joined: agreement.Joined, *, name: str, column: str, t: int,
           epoch: float, args: argparse.Namespace) -> str:
    """The printed summary: what joined, the sets compared, one line per model."""
    easier = "higher" if args.higher_is_easier else "lower"
    first = next(iter(results.values()))
    lines = [f"scores: {name}, column {column!r} ({easier} = easier); {joined.summary()}",
             f"T={t} (epoch {epoch:g}); easy/hard: the {args.fraction:.0%} lowest/highest among the "
             f"{joined.index.size:,} joined examples ({first['set_size']:,} each; chance {first['chance']:.3f})"
             + (f"; easiness averaged over {run_choice.describe({m: r['runs'] for m, r in results.items()})}"
                if "runs" in first else ""),
             f"{'model':24s} {'n':>9s} {'spearman':>9s} {'easy':>6s} {'hard':>6s}"]
    lines += [f"{model:24s} {r['n']:9,d} {r['spearman']:9.3f} {r['easy_matching']:6.3f} {r['hard_matching']:6.3f}"
              for model, r in results.items()]
    return "\n".join(lines)


def to_json(results: dict[str, dict], joined: agreement.Joined, *, column: str, t: int, epoch: float,
            args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """``{model: {"n", "spearman", "easy_matching", "hard_matching", ...}}``; NaN as null."""
    shared = {"checkpoint": t, "epoch": epoch, "scores": str(args.scores), "column": column,
              "higher_is_easier": bool(args.higher_is_easier), "fraction": args.fraction,
              "unjoined": {"score_ids": joined.unmatched, "study_examples": joined.unscored},
              "nan_dropped": joined.nan_dropped, "by_suffix": joined.by_suffix}
    return {model: {**{key: _finite(value) for key, value in r.items()}, **shared}
            for model, r in results.items()}


def _finite(value: Any) -> Any:
    """NaN (an undefined correlation) as None, so the JSON stays standard."""
    return None if isinstance(value, float) and math.isnan(value) else value


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv, run)


if __name__ == "__main__":
    sys.exit(main())
