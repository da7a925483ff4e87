"""``python -m easiness.score``: train M runs of each model and record every example's loss.

With no arguments it runs the ``demo`` preset: the built-in synthetic dataset, two small CNNs,
4 runs each, into ``runs/synthetic``. Bad input ends with one line on stderr and exit status 2,
and so does a full or read-only disk met while training (the line names the file); an
interrupted or failed study continues from its last committed checkpoint when the same command
runs again. ``--list`` and ``--help`` answer without importing TensorFlow.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from easiness import config as cfg
from easiness.cli import OneLineParser, check_writable_place, import_tensorflow_quietly, run_command
from easiness.errors import EasinessError
from easiness.store.claims import STALE_AFTER
from easiness.store.status import StatusFile, check_status_file, interrupt_on_sigterm, run_job
from easiness.training import cluster
from easiness.training.study import default_out, refuse_all_failed, run_study


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.score",
                description="Train M runs of each model and record every training example's loss at "
                            "checkpoints; then print easiness, easy/hard sets and matching rates.",
                epilog="Options left unset take the preset's value; --list shows the presets and models.")
    p.add_argument("--preset", default="demo", help=f"starting configuration: {', '.join(cfg.PRESETS)} (default demo)")
    p.add_argument("--dataset", help="synthetic | folder:PATH (dir or .tar.gz) | tfds:NAME | npz:PATH")
    p.add_argument("--model", dest="models", action="extend", nargs="+", metavar="NAME",
                   help="model zoo names, or your own as MODULE:FUNCTION or FILE.py:FUNCTION, a function "
                        "build(num_classes, input_shape) returning a keras.Model of logits "
                        "(several: --model A B or --model A --model B)")
    p.add_argument("--name", help="the study's name for your own model (default: its function's name; "
                                  "with one MODULE:FUNCTION model)")
    p.add_argument("--runs", type=int, help="M, independent runs per model")
    p.add_argument("--epochs", type=int, help="training epochs per run")
    p.add_argument("--per-class", type=int, help="class-balanced subset: training examples per class")
    p.add_argument("--out", help="study folder (default: runs/<dataset>)")
    p.add_argument("--batch-size", type=int, help="examples per update")
    p.add_argument("--lr", type=float, help="initial learning rate")
    p.add_argument("--score-every", type=int, help="updates between checkpoints (0 = every epoch)")
    p.add_argument("--score-augment", action="store_true", default=None,
                   help="score with training augmentation (default: clean images)")
    p.add_argument("--score-batch-size", type=int, help="examples per scoring batch")
    p.add_argument("--seed", type=int, help="base seed; run m uses seed + m")
    p.add_argument("--fuse", type=int, help="runs trained together in one compiled step (0 = auto: 4 for "
                                            "CIFAR-sized images, 1 for larger ones)")
    p.add_argument("--precision", choices=("auto", "float32", "bfloat16"),
                   help="compute precision (auto: bfloat16 on GPUs, float32 on CPUs)")
    p.add_argument("--xla", choices=("auto", "on", "off"), help="XLA-compile the steps (auto: on GPUs only)")
    p.add_argument("--resident", choices=("auto", "on", "off"),
                   help="keep the training images in device memory (auto: on GPUs, for CIFAR-sized data)")
    p.add_argument("--loss-dtype", choices=("float32", "float16"), help="storage of the loss arrays")
    p.add_argument("--record", nargs="+", choices=("losses", *cfg.RECORDABLE), metavar="ARRAY",
                   help="per-example arrays to record at every checkpoint: losses (always) and any of "
                        f"{', '.join(cfg.RECORDABLE)} (default: all; they feed easiness.analysis.scores)")
    p.add_argument("--record-dtype", choices=("float32", "float16"),
                   help="storage of the recorded margins and EL2N (default float16)")
    p.add_argument("--image-size", type=int, help="resize folder images to this side")
    p.add_argument("--data-dir", help="tfds data_dir (ImageNet: where the manual download lies)")
    p.add_argument("--cpu-devices", type=int, default=0,
                   help="split the CPU into N logical devices and mirror over them (testing)")
    p.add_argument("--status-file", help="keep a JSON progress file here (for the app and scripts)")
    p.add_argument("--keep-state", action="store_true", help="keep each finished run's weights")
    p.add_argument("--claim-timeout", type=float, default=STALE_AFTER, metavar="SECONDS",
                   help="several workers on one --out: take over a run whose worker sent no heartbeat "
                        f"for this long (default {STALE_AFTER:.0f})")
    p.add_argument("--list", action="store_true", help="list presets and models, then exit")
    return p


def check_arguments(args: argparse.Namespace) -> None:
    """The options that are not part of a study's config: EasinessError (one line) when out of range."""
    if args.out is not None and not args.out.strip():
        raise EasinessError("--out must name a folder, got an empty path")
    if not 0 <= args.cpu_devices <= 64:
        raise EasinessError(f"--cpu-devices must be an integer from 0 to 64, got {args.cpu_devices}")


def resolve_config(args: argparse.Namespace) -> cfg.Config:
    """The preset named by --preset with the flags given on the command line applied."""
    base = cfg.preset(args.preset).config
    names, specs = model_names(args.models, args.name)
    overrides = {"dataset": args.dataset, "models": names, "model_specs": specs,
                 "runs": args.runs, "epochs": args.epochs, "per_class": args.per_class,
                 "batch_size": args.batch_size, "lr": args.lr, "score_every": args.score_every,
                 "score_augment": args.score_augment, "score_batch_size": args.score_batch_size,
                 "seed": args.seed, "loss_dtype": args.loss_dtype, "image_size": args.image_size,
                 "fuse": args.fuse, "precision": args.precision, "xla": args.xla,
                 "resident": args.resident, "record_dtype": args.record_dtype,
                 "record": None if args.record is None else tuple(n for n in cfg.RECORDABLE if n in args.record)}
    return cfg.with_overrides(base, overrides)


def model_names(given: Sequence[str] | None, name: str | None,
                ) -> tuple[tuple[str, ...] | None, tuple[tuple[str, str], ...] | None]:
    """The study's model names for ``--model`` values and the (name, spec) pairs of your own
    models; a spec is imported here, so a bad one fails before any data is read."""
    if name is not None and sum(":" in g for g in given or ()) != 1:
        raise EasinessError("--name names your own model: give it with exactly one --model MODULE:FUNCTION")
    if not given:
        return None, None
    names, specs = [], []
    for value in given:
        if ":" not in value:  # a zoo name, validated with the others before any data is loaded
            names.append(value)
            continue
        from easiness import models  # why here: only user code needs the zoo (and TensorFlow) this early

        spec = models.user.normalise(value)
        own = name or models.user.split(spec)[1]
        models.use_spec(own, spec)
        names.append(own)
        specs.append((own, spec))
    return tuple(names), tuple(specs)


def list_choices() -> str:
    """The presets and the zoo's names, from pure-Python tables: ``--list`` never imports TensorFlow."""
    from easiness.training import zoo_names

    lines = ["presets:"]
    lines += [f"  {name:15s} {p.description}\n  {'':15s} {p.command}  ({p.expected})" for name, p in cfg.PRESETS.items()]
    lines += ["models:", "  " + " ".join(zoo_names.PRESETS),
              "  and shapes " + ", ".join(zoo_names.SHAPE_FORMS)]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        if args.list:
            print(list_choices())
            return 0
        check_arguments(args)
        if args.status_file:
            check_status_file(args.status_file)  # why before TensorFlow loads: a bad path fails in a second
        import_tensorflow_quietly()
        config = resolve_config(args)
        out = Path(args.out) if args.out is not None else default_out(config)
        check_writable_place(out, "--out", folder=True)  # why before any data: a path through a file, a read-only disk
        interrupt_on_sigterm()
        status = StatusFile(args.status_file, out=str(out), command=["easiness.score", *(argv or sys.argv[1:])])
        return _run_and_report(config, out, args, status)

    return run_command(build_parser(), argv, body)


def _run_and_report(config: cfg.Config, out: Path, args: argparse.Namespace, status: StatusFile) -> int:
    """Run the study and print the summary; the status file ends done, failed or cancelled."""

    def work() -> None:
        run_study(config, out=out, data_dir=args.data_dir, cpu_devices=args.cpu_devices,
                  keep_state=args.keep_state, status=status, claim_timeout=args.claim_timeout)
        from easiness.analysis import report
        from easiness import store

        me = cluster.task()
        if me is None or me.is_chief:  # why: the chief alone knows when the study is complete
            study = store.Study.open(out)
            print(report.summary(study))
            refuse_all_failed(study, config)
            keep_scores(study)

    return run_job(status, work, resume_hint="run the same command again to continue from the last checkpoint")


def keep_scores(study) -> None:
    """Compute the Scores page's view of every finished model once, so the app opens it at once
    (:mod:`easiness.analysis.score_cache`); a model with unfinished runs is left to the page."""
    import time

    from easiness.analysis import score_cache

    for model in [m for m in study.models if score_cache.keepable(study, m)]:
        started = time.perf_counter()
        try:
            score_cache.page_view(study, model)
        except EasinessError as e:  # why: the training is done and kept; the page computes on view
            print(f"note: the scores of {model} were not kept for the app: {e}")
            continue
        took = time.perf_counter() - started
        print(f"{model}: every score at T = {len(study.checkpoints(model))} kept for the app's Scores page"
              + (f" ({took:.0f} s)" if took >= 1 else ""))


if __name__ == "__main__":
    sys.exit(main())
