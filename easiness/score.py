"""``python -m easiness.score``: train M runs of each model and record every example's loss.

With no arguments it runs the ``demo`` preset: the built-in synthetic dataset, two small CNNs,
4 runs each, into ``runs/synthetic``. Bad input ends with one line on stderr and exit status 2,
and so does a full or read-only disk met while training (the line names the file); an
interrupted or failed study continues from its last committed checkpoint when the same command
runs again. ``--list`` and ``--help`` answer without importing TensorFlow.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from easiness import cluster
from easiness import config as cfg
from easiness.claims import STALE_AFTER, Claims, RunQueue, check_timeout
from easiness.cli import OneLineParser, check_writable_place, import_tensorflow_quietly, run_command
from easiness.errors import EasinessError, JobFailed
from easiness.status import StatusFile, check_status_file, interrupt_on_sigterm, run_job, stop_if_terminated


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
                        f"{', '.join(cfg.RECORDABLE)} (default: all; they feed easiness.scores)")
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


def default_out(config: cfg.Config) -> Path:
    """runs/<dataset slug>[-pc<K>], e.g. runs/synthetic or runs/cifar10-jpeg-pc500."""
    spec = config.dataset.split(":", 1)[-1]
    stem = Path(spec).name or spec
    for suffix in (".tar.gz", ".tgz", ".tar", ".npz"):
        stem = stem.removesuffix(suffix)
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-") or "study"
    return Path("runs") / (slug + (f"-pc{config.per_class}" if config.per_class else ""))


def list_choices() -> str:
    """The presets and the zoo's names, from pure-Python tables: ``--list`` never imports TensorFlow."""
    from easiness import zoo_names

    lines = ["presets:"]
    lines += [f"  {name:15s} {p.description}\n  {'':15s} {p.command}  ({p.expected})" for name, p in cfg.PRESETS.items()]
    lines += ["models:", "  " + " ".join(zoo_names.PRESETS),
              "  and shapes " + ", ".join(zoo_names.SHAPE_FORMS)]
    return "\n".join(lines)


def run_study(config: cfg.Config, *, out: Path, data_dir: str | None = None, cpu_devices: int = 0,
              keep_state: bool = False, log=print, status: StatusFile | None = None, dataset=None,
              claim_timeout: float = STALE_AFTER) -> Path:
    """Load the data, open (or resume) the study at ``out`` and train every missing run.

    ``dataset`` (an :class:`easiness.data.Dataset`) replaces loading ``config.dataset``, e.g. a
    subset of another study's data (stepwise ablation); its name and fingerprint are stored.
    Each run is trained only once claimed (:mod:`easiness.claims`), so several processes or hosts
    given the same ``out`` share the runs; ``claim_timeout``: seconds before a silent worker's
    claim is taken over. Under a ``TF_CONFIG`` cluster (:mod:`easiness.cluster`) all workers train
    every run together and the chief alone writes.
    """
    check_timeout(claim_timeout)  # why first: bad input fails before anything is written
    from easiness import data, train

    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")  # each run compiles its own steps; retracing notices are noise here
    if cpu_devices > 1:
        train.configure_cpu_devices(cpu_devices)
    me = cluster.task()
    strategy = train.make_strategy()  # why first: a multi-worker strategy must precede every other op
    config, sources = _resolve_models(config)  # validates names, imports specs before any data is loaded
    if dataset is None:
        dataset = data.load(config.dataset, per_class=config.per_class, seed=config.seed,
                            image_size=config.image_size, data_dir=data_dir)
    _probe_own_models(config, dataset)  # why before the study is opened: a bad model writes nothing
    test_n = 0 if dataset.test is None else len(dataset.test.ids)
    log(f"dataset {dataset.name}: {len(dataset.train.ids)} training and {test_n} test examples, "
        f"{len(dataset.class_names)} classes")
    resident = train.keep_on_device(config, strategy, dataset)  # why here: a bad --resident fails before writing
    scratch = None
    if me is not None and not me.is_chief:
        scratch = Path(tempfile.mkdtemp(prefix="easiness-worker-"))
        writer = cluster.ShadowStudy(out, scratch)
    else:
        writer = _open_study(out, dataset, data)
    where = f"{me.label}, " if me is not None else ""
    log(f"strategy {type(strategy).__name__} over {strategy.num_replicas_in_sync} replica(s); {where}study {out}")
    plan = train.plan_checkpoints(config, len(dataset.train.ids))
    if scratch is None:  # why: the chief (or a lone worker) alone knows the study on disk
        _refuse_damaged(out, config)
        _refuse_other_settings(writer, config, plan, out)
    status = status or StatusFile(None)
    status.update(state="running", total=len(config.models) * config.runs * config.epochs, out=str(out))
    size = train.fuse_size(config, dataset.image_shape)
    precision, jit = train.acceleration(config, strategy)
    log(f"{size} run(s) per compiled step, {precision} compute, XLA {'on' if jit else 'off'}, "
        f"training images {'in device memory' if resident else 'from the host pipeline'}")
    candidates = [(model, m) for model in config.models for m in range(config.runs)]
    if me is not None:  # a cluster trains every run in lockstep; claims are for independent workers
        queue = cluster.LockstepQueue(me, candidates)
    else:
        queue = RunQueue(Claims(out, stale_after=claim_timeout), candidates, log=log,
                         on_skip=lambda model, m: status.update(done=status.data["done"] + config.epochs))
    while taken := queue.take(size):
        for model, group in _by_model(taken):
            with contextlib.ExitStack() as held:
                for claim in group:
                    held.enter_context(queue.training(claim))
                _train_claimed(writer, config, model=model, claims=group, size=size, plan=plan, dataset=dataset,
                               strategy=strategy, keep_state=keep_state, log=log, status=status,
                               provenance={**_provenance(), **sources.get(model, {}), "precision": precision,
                                           "xla": jit})
    log(queue.summary())
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def _resolve_models(config: cfg.Config) -> tuple[cfg.Config, dict[str, dict]]:
    """Validate every model name and load the specs of your own models; returns the config with
    the spec of every registered model (those given by ``models.register`` too, so that a resumed
    run or an ablation can import it again) and, by model, the provenance of its code."""
    import dataclasses

    from easiness import models

    specs = dict(config.model_specs)
    sources = {}
    for name in config.models:
        spec = specs.get(name) or models.spec_of(name)
        if spec is not None:
            sources[name] = models.use_spec(name, spec).provenance()
            specs[name] = spec
        models.family(name)  # UnknownModelError (listing the valid names) for an unknown one
    return dataclasses.replace(config, model_specs=tuple(specs.items())), sources


def _probe_own_models(config: cfg.Config, dataset) -> None:
    """Build each model of your own once for this data: a wrong output fails here, in one line."""
    from easiness import models

    for name, spec in config.model_specs:
        models.build(name, num_classes=len(dataset.class_names), input_shape=dataset.image_shape, spec=spec)


def _refuse_damaged(out: Path, config: cfg.Config) -> None:
    """EasinessError naming the runs of this command that are damaged on disk (an unreadable
    manifest or losses): they are never skipped as done nor trained over; the user moves them aside."""
    from easiness import store
    from easiness.layout import run_dirname

    wanted = {f"{model}/{run_dirname(m)}" for model in config.models for m in range(config.runs)}
    damaged = [p for p in store.Study.open(out).problems
               if p.split(":", 1)[0] in wanted and "no manifest yet" not in p]
    if damaged:
        more = f" (and {len(damaged) - 1} more)" if len(damaged) > 1 else ""
        raise EasinessError(f"{out} holds a damaged run: {damaged[0]}{more}; move it aside (e.g. to another "
                            f"folder) and run again to train it anew")


def _refuse_other_settings(writer, config: cfg.Config, plan: list[dict], out: Path) -> None:
    """EasinessError naming the settings in which existing runs of ``out`` were made otherwise:
    a finished run is never reported as done for settings it was not made with."""
    for model in config.models:
        for m in range(config.runs):
            found = writer.differences(model, m, config=config.run_config(model), seed=config.seed + m,
                                       planned=plan, dtype=config.loss_dtype,
                                       records={name: config.record_dtype for name in config.record})
            if found:
                raise EasinessError(f"{out} holds {model} run {m} made with other settings: {', '.join(found)}; "
                                    f"use a new --out, or the settings it was made with")


def _by_model(claims: Sequence) -> list[tuple[str, list]]:
    """Claimed runs grouped by model, in order: only runs of one model can share a compiled step."""
    groups: dict[str, list] = {}
    for claim in claims:
        groups.setdefault(claim.model, []).append(claim)
    return list(groups.items())


def _open_study(out: Path, dataset, data):
    from easiness import store

    return store.create_study(out, dataset=dataset.name, fingerprint=data.fingerprint(dataset),
                              ids=dataset.train.ids, labels=dataset.train.labels,
                              class_names=dataset.class_names, images=dataset.train.images,
                              extras=dataset.extras)


def _train_claimed(writer, config: cfg.Config, *, model: str, claims: Sequence, size: int, plan, dataset,
                   strategy, keep_state, log, status: StatusFile, provenance: dict) -> None:
    """Train the claimed runs of ``model`` that are not done yet, up to ``size`` in one compiled step."""
    from easiness import train

    claim_of, runs = {}, []
    for claim in claims:
        run = writer.run(model, claim.index, config=config.run_config(model), seed=config.seed + claim.index,
                         planned=plan, dtype=config.loss_dtype,
                         provenance={**provenance, "worker": claim.owner.label},
                         records={name: config.record_dtype for name in config.record})
        if run.status == "done":
            log(f"{model} run {claim.index}: already done, skipped")
            status.update(done=status.data["done"] + config.epochs)
            continue
        if run.history:
            log(f"{model} run {claim.index}: resuming after epoch {len(run.history)}/{config.epochs}")
            status.update(done=status.data["done"] + len(run.history))
        claim_of[run.index] = claim
        runs.append(run)

    def on_epoch(run, record: dict) -> None:
        stop_if_terminated()
        claim_of[run.index].heartbeat()  # why: raises ClaimLost if another worker took this run over meanwhile
        status.advance(f"{model} run {run.index}: epoch {record['epoch']}/{config.epochs}, "
                       f"test accuracy {record.get('test_accuracy')}")

    for group in train.fusable_groups(runs, size):
        started = time.perf_counter()
        results = train.train_runs(dataset=dataset, config=config, model_name=model, runs=group, strategy=strategy,
                                   log=log, keep_state=keep_state, on_epoch=on_epoch)
        for run, result in zip(group, results):
            if result != "done":  # a failed run skips its remaining epochs
                status.update(done=status.data["done"] + config.epochs - len(run.history))
            log(f"{model} run {run.index}: {result} in {time.perf_counter() - started:.0f}s")


def _provenance() -> dict:
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__, "argv": sys.argv[1:]}


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


def _fail_if_every_run_failed(study, config: cfg.Config) -> None:
    """JobFailed (exit status 1, one line) when every run this command asked for failed."""
    asked = [(model, m) for model in config.models for m in study.runs(model) if m["run"] < config.runs]
    failed = [(model, m) for model, m in asked if m["status"] == "failed"]
    if asked and len(failed) == len(asked):
        model, first = failed[0]
        raise JobFailed(f"all {len(failed)} runs failed (first: {model} run {first['run']}: {first.get('reason')})")


def _run_and_report(config: cfg.Config, out: Path, args: argparse.Namespace, status: StatusFile) -> int:
    """Run the study and print the summary; the status file ends done, failed or cancelled."""

    def work() -> None:
        run_study(config, out=out, data_dir=args.data_dir, cpu_devices=args.cpu_devices,
                  keep_state=args.keep_state, status=status, claim_timeout=args.claim_timeout)
        from easiness import report, store

        me = cluster.task()
        if me is None or me.is_chief:  # why: the chief alone knows when the study is complete
            study = store.Study.open(out)
            print(report.summary(study))
            _fail_if_every_run_failed(study, config)

    return run_job(status, work, resume_hint="run the same command again to continue from the last checkpoint")


if __name__ == "__main__":
    sys.exit(main())
