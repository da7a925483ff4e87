"""``python -m easiness.ablate``: drop easy, hard, random or stepwise fractions of a study's
training set, retrain on the rest, and record test accuracy (Fig. 4 of arXiv:1911.10739).

    python -m easiness.ablate --study runs/synthetic --model wrn10_1 \\
        --strategy easy hard random stepwise --fractions 0.1 0.3 0.5 --seeds 3
    python -m easiness.ablate --study runs/synthetic --model wrn10_1 --out runs/synthetic-ablation-wrn10_1 \\
        --score el2n --strategy easy-topk --fractions 0.1 0.3 0.5 --seeds 3

Easiness comes from the study's finished runs of ``--model`` at checkpoint ``--checkpoint`` (T,
1-based; default the last); see :mod:`easiness.analysis.ablation` for the sampling rules. ``--score``
removes by another difficulty score of :mod:`easiness.analysis.scores` at the same T instead (EL2N,
forgetting, AUM...; rank-normalised for the weighted rules, see :mod:`easiness.analysis.ablation`), and
``--strategy easy-topk`` prunes its k easiest deterministically, as Data Diet and forgetting
pruning do. The score is recorded with every point, so several commands into one ``--out``
(easiness stepwise, EL2N top-k, forgetting top-k) share the full-data and random points and the
app plots their curves together. A score needing margins or EL2N that the study did not record
is refused with one line saying how to get them. Every point
(strategy, fraction, seed) retrains ``--model`` from scratch on the kept examples with the
study's own training configuration (``--epochs`` overrides the number of epochs; the learning
rate schedule scales with it) and tests it on the study's full test split. One ``full`` point per
seed (nothing removed) starts every curve.

Output folder (``--out``): see :mod:`easiness.analysis.ablation_folder`.

Stepwise scores what is left after each step with M new runs (M = the runs averaged) trained to
the epoch of T (rounded up to a whole epoch) with the study's learning-rate schedule, recording
the margins or EL2N the score needs; those subsets are drawn once (``--chain-seed``) and reused
by every seed and fraction.

Easiness is averaged over the model's M finished runs; M and the runs are printed and kept in
ablation.json (``m``, ``runs``). A model with a damaged (unreadable) or failed run is refused with
one line naming the runs, unless ``--skip-damaged`` asks to average its other runs; the same holds
for the runs of the stepwise intermediate studies (:mod:`easiness.store.run_choice`; export and compare
follow the same rule).

Killed and started again with the same settings, it skips the points already in ablation.csv and
the intermediate studies already finished (an unfinished one resumes from its last epoch).
Bad input ends with one line on stderr, exit status 2, and nothing written; so does a full or
read-only disk met while writing (nothing already written is lost: the same command continues).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from typing import Sequence

from easiness.analysis import ablation, scores
from easiness.analysis.ablation_folder import CSV_FILE
from easiness.analysis.ablation_plan import (  # noqa: F401  (config_from_run: still importable from here)
    DEFAULT_EASY_WEIGHTING, DEFAULT_FRACTIONS, DEFAULT_SEEDS, Request, check_out, config_from_run, resolve,
)
from easiness.cli import OneLineParser, import_tensorflow_quietly, run_command
from easiness.store import run_choice
from easiness.store.status import StatusFile, check_status_file, interrupt_on_sigterm, run_job
from easiness.training.ablation_run import Ablation, load_data


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.ablate",
                description="Remove easy, hard, random or stepwise fractions of a study's training set, "
                            "retrain on the rest and record test accuracy (Fig. 4 of arXiv:1911.10739).")
    p.add_argument("--study", required=True, help="the study folder whose easiness chooses the examples")
    p.add_argument("--model", required=True, help="the study's model: its easiness, and the model retrained")
    p.add_argument("--strategy", dest="strategies", nargs="+", choices=ablation.ALL_STRATEGIES,
                   default=list(ablation.STRATEGIES),
                   help="removal rules (default: the paper's easy hard random stepwise; easy-topk / hard-topk "
                        "remove the k easiest / hardest deterministically)")
    p.add_argument("--score", default=ablation.DEFAULT_SCORE, metavar="NAME",
                   help=f"the score that chooses the examples: {', '.join(scores.names())} (default easiness)")
    p.add_argument("--fractions", nargs="+", type=float, default=list(DEFAULT_FRACTIONS),
                   help="shares of the training set to remove, each in (0, 1) (default 0.1 0.3 0.5)")
    p.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, help="seeds 0..S-1 per point (default 3)")
    p.add_argument("--checkpoint", type=int, help="T: the study's checkpoint, 1-based (default: the last)")
    p.add_argument("--epochs", type=int, help="retraining epochs (default: the study's)")
    p.add_argument("--balanced", action="store_true", help="remove the same share of every class")
    p.add_argument("--easy-weighting", choices=list(ablation.EASY_WEIGHTINGS), default=DEFAULT_EASY_WEIGHTING,
                   help="how 'easy' turns easiness into removal weights (default inverse: 1/(e+eps))")
    p.add_argument("--step", type=float, default=ablation.DEFAULT_STEP,
                   help="stepwise: share of the original data removed per step (default 0.1)")
    p.add_argument("--chain-seed", type=int, default=0, help="stepwise: seed of the shared intermediate steps")
    p.add_argument("--dataset", help="load the data from this spec instead of the study's (same fingerprint)")
    p.add_argument("--data-dir", help="tfds data_dir")
    p.add_argument("--out", help="ablation folder (default: <study>-ablation-<model> next to the study)")
    p.add_argument("--status-file", help="keep a JSON progress file here (for the app and scripts)")
    p.add_argument(run_choice.OPTION, action="store_true", help=run_choice.HELP)
    return p


def request_of(args: argparse.Namespace) -> Request:
    """The parsed options as a :class:`~easiness.analysis.ablation_plan.Request`."""
    return Request(**{f.name: getattr(args, f.name) for f in dataclasses.fields(Request)})


def main(argv: Sequence[str] | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        if args.status_file:
            check_status_file(args.status_file)  # why first: one line before the study is read or TF loads
        plan = resolve(request_of(args))
        check_out(plan)
        job = Ablation(plan)
        if job.pending():  # why: a finished ablation reports without loading data (and TensorFlow)
            import_tensorflow_quietly()
            job.dataset = load_data(plan, data_dir=args.data_dir)
        interrupt_on_sigterm()
        job.status = StatusFile(args.status_file, out=str(plan.out),
                                command=["easiness.ablate", *(sys.argv[1:] if argv is None else argv)])
        return _run(job)

    return run_command(build_parser(), argv, body)


def _run(job: Ablation) -> int:
    """Run the ablation and print the read-out; the status file ends done, failed or cancelled."""
    plan = job.plan

    def work() -> None:
        started = time.perf_counter()
        pending = len(job.pending())
        if plan.left_out:
            print(f"note: {plan.model}: M={len(plan.runs)} (left out: {'; '.join(plan.left_out)})")
        print(f"{plan.headline()}: {pending} points to train, {len(job.points()) - pending} already done")
        job.run()
        print(ablation.format_readout(job.readout()))
        print(f"finished in {time.perf_counter() - started:.0f}s; results in {plan.out / CSV_FILE}")

    return run_job(job.status, work, resume_hint="run the same command again to continue with the next point")


if __name__ == "__main__":
    sys.exit(main())
