"""``python -m easiness.export STUDY --out FILE``: every training example's easiness, rank and
easy/hard flags at checkpoint T, and its other difficulty scores (mean loss, correctness,
forgetting, AUM, EL2N, data-map confidence and variability: :mod:`easiness.analysis.scores`), one row per
example, as CSV, NPZ or parquet.

``--scores NAME ...`` chooses the difficulty scores (default: every one the study's runs allow;
``--scores none`` for the easiness columns only). Scores needing margins or EL2N that an older
study did not record are left out with a note by default, and refused (one line, exit 2) when
named.

Easiness is the mean over each model's M runs, and M is printed. A model with a damaged
(unreadable) or failed run is refused with one line naming the runs, unless ``--skip-damaged``
asks to average its other runs (:mod:`easiness.store.run_choice`, the rule ablate and compare follow too).

The table is :func:`easiness.analysis.tables.easiness_table` (the app's download holds its easiness
columns). The file is written atomically: a failure (a full or read-only disk too) leaves an
existing ``--out`` as it was. Bad input ends with one line on stderr and exit status 2. Numpy and
pandas only; no TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from easiness.store import run_choice
from easiness.analysis import scores, study_scores, tables
from easiness.cli import OneLineParser, check_writable_place, run_command
from easiness.errors import EasinessError
from easiness.store import Study


def fraction(text: str) -> float:
    """argparse type: a share in (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid fraction {text!r}: give a number in (0, 1)") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"invalid fraction {text!r}: give a number in (0, 1)")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.export",
                      description="Write every training example's easiness (Eq. 1), rank and easy/hard "
                                  "flags at checkpoint T, one row per example.")
    p.add_argument("study", metavar="STUDY", help="study folder")
    p.add_argument("--model", dest="models", action="extend", nargs="+", metavar="NAME",
                   help="models to include (default: every model with a completed checkpoint)")
    p.add_argument("--checkpoint", type=int, metavar="T",
                   help="checkpoint T, 1-based like the app's t (default: the last one all models have)")
    p.add_argument("--format", choices=tables.FORMATS, help="file format (default: from the --out suffix)")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write (.csv, .npz or .parquet)")
    p.add_argument("--fraction", type=fraction, default=0.1,
                   help="share of the easy and of the hard set (default 0.1, the paper's)")
    p.add_argument("--per-class", action="store_true", help="easy/hard flags: the fraction of each class")
    p.add_argument("--scores", nargs="+", metavar="NAME",
                   help=f"difficulty scores to add as <score>_<model> columns: any of {', '.join(scores.names())}, "
                        "or none (default: every score the runs allow)")
    p.add_argument(run_choice.OPTION, action="store_true", help=run_choice.HELP)
    return p


def chosen_scores(names: Sequence[str] | None) -> list[str] | None:
    """``--scores`` as :func:`easiness.analysis.tables.easiness_table` takes it: None (all the runs
    allow), [] for ``none``, else the checked names."""
    if names is None:
        return None
    if list(names) == ["none"]:
        return []
    return study_scores.check_names(names)


def export(args: argparse.Namespace) -> int:
    """Check the destination, build the table, write it and say what was written."""
    out = Path(args.out)
    fmt = tables.check_destination(out, args.format)  # why first: a bad --out fails before minutes of reading
    check_writable_place(out, "--out", folder=False)
    wanted = chosen_scores(args.scores)
    study = Study.open(args.study)
    models, runs = chosen_runs(study, args.models, skip_damaged=args.skip_damaged)
    k = tables.checkpoint_index(study, models, args.checkpoint, runs)
    frame = tables.easiness_table(study, models=models, checkpoint=k, fraction=args.fraction,
                                  per_class=args.per_class, scores=wanted, runs=runs)
    tables.write_table(frame, out, fmt)
    for note in frame.attrs["notes"]:
        print(f"note: {note}")
    epoch = tables.checkpoint_epoch(study, models[0], k, runs)
    scope = "per class" if args.per_class else "overall"
    print(f"wrote {out} ({fmt}): {tables.describe(frame, models)} at T={k + 1} (epoch {epoch:g}), "
          f"easiness averaged over {run_choice.describe(runs)}; "
          f"easy/hard = the {args.fraction:.0%} lowest/highest easiness {scope}")
    return 0


def chosen_runs(study: Study, models: Sequence[str] | None, *, skip_damaged: bool,
                ) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    """The models to use (``models``, default every scored one) and, by model, the runs averaged
    (:mod:`easiness.store.run_choice`): EasinessError naming damaged or failed runs unless
    ``skip_damaged``, in which case each model left out runs is named in a ``note:`` line. Without
    ``models``, every model with a run folder is checked, so no damaged model drops out unsaid."""
    if models and any(m not in study.models and not run_choice.damaged(study, m) for m in models):
        tables.check_models(study, models)  # why: an unknown name gets the message listing the valid ones
    asked = list(dict.fromkeys(models)) if models else run_choice.models_with_runs(study)
    choices = []
    for model in asked:
        try:
            choices.append(run_choice.choose(study, model, skip_damaged=skip_damaged))
        except EasinessError:
            if models or not skip_damaged:
                raise
            print(f"note: {model} left out: every run of it is damaged or failed")
    for choice in choices:
        if choice.note():
            print(f"note: {choice.note()}")
    runs = {c.model: c.runs for c in choices}
    if models:
        return tables.check_models(study, models), runs
    usable = [m for m in tables.check_models(study, None) if m in runs]
    if not usable:
        raise EasinessError(f"every model of {study.root} with a completed checkpoint has only damaged or failed runs")
    return usable, {m: runs[m] for m in usable}


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv, export)


if __name__ == "__main__":
    sys.exit(main())
