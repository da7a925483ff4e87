"""``python -m easiness.export STUDY --out FILE``: every training example's easiness, rank and
easy/hard flags at checkpoint T, and its other difficulty scores (mean loss, correctness,
forgetting, AUM, EL2N, data-map confidence and variability: :mod:`easiness.scores`), one row per
example, as CSV, NPZ or parquet.

``--scores NAME ...`` chooses the difficulty scores (default: every one the study's runs allow;
``--scores none`` for the easiness columns only). Scores needing margins or EL2N that an older
study did not record are left out with a note by default, and refused (one line, exit 2) when
named.

The table is :func:`easiness.tables.easiness_table` (the app's download holds its easiness
columns). The
file is written atomically: a failure leaves an existing ``--out`` as it was. Bad input ends with
one line on stderr and exit status 2. Numpy and pandas only; no TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from easiness import scores, study_scores, tables
from easiness.cli import OneLineParser, run_command
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
    return p


def chosen_scores(names: Sequence[str] | None) -> list[str] | None:
    """``--scores`` as :func:`easiness.tables.easiness_table` takes it: None (all the runs
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
    wanted = chosen_scores(args.scores)
    study = Study.open(args.study)
    models = tables.check_models(study, args.models)
    k = tables.checkpoint_index(study, models, args.checkpoint)
    frame = tables.easiness_table(study, models=models, checkpoint=k, fraction=args.fraction,
                                  per_class=args.per_class, scores=wanted)
    tables.write_table(frame, out, fmt)
    for note in frame.attrs["notes"]:
        print(f"note: {note}")
    epoch = study.checkpoints(models[0])[k]["epoch"]
    scope = "per class" if args.per_class else "overall"
    print(f"wrote {out} ({fmt}): {tables.describe(frame, models)} at T={k + 1} (epoch {epoch:g}); "
          f"easy/hard = the {args.fraction:.0%} lowest/highest easiness {scope}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(build_parser(), argv, export)


if __name__ == "__main__":
    sys.exit(main())
