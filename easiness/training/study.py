"""A study: M runs of every model trained into one folder, each example's loss at every checkpoint.

:func:`run_study` is what ``python -m easiness.score`` runs (and the stepwise ablation, on each
intermediate subset): load the data, open or resume the study folder, refuse runs made with other
settings, and train every missing run, several fused into one compiled step, each only once
claimed (:mod:`easiness.store.claims`) so that several processes or hosts can share one folder.

Importing this module does not import TensorFlow (``--help`` and ``--list`` answer at once);
:func:`run_study` imports it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from easiness import config as cfg
from easiness.errors import EasinessError, JobFailed
from easiness.logs import Log
from easiness.store.claims import STALE_AFTER, Claims, RunQueue, check_timeout
from easiness.store.status import StatusFile, stop_if_terminated
from easiness.training import cluster


def default_out(config: cfg.Config) -> Path:
    """runs/<dataset slug>[-pc<K>], e.g. runs/synthetic, runs/synthetic-per_class-50 or
    runs/cifar10-jpeg-pc500: the built-in data keeps its name before its options."""
    kind, _, spec = config.dataset.partition(":")
    if kind == "synthetic":
        slug = "-".join(p for p in ("synthetic", _slug(spec)) if p)
    else:
        stem = Path(spec or kind).name or spec
        for suffix in (".tar.gz", ".tgz", ".tar", ".npz"):
            stem = stem.removesuffix(suffix)
        slug = _slug(stem) or "study"
    return Path("runs") / (slug + (f"-pc{config.per_class}" if config.per_class else ""))


def _slug(text: str) -> str:
    """``text`` with every run of characters other than letters, digits, ``_ . -`` as one ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")


def run_study(config: cfg.Config, *, out: Path, data_dir: str | None = None, cpu_devices: int = 0,
              keep_state: bool = False, log: Log = print, status: StatusFile | None = None, dataset=None,
              claim_timeout: float = STALE_AFTER) -> Path:
    """Load the data, open (or resume) the study at ``out`` and train every missing run.

    ``dataset`` (an :class:`easiness.data.Dataset`) replaces loading ``config.dataset``, e.g. a
    subset of another study's data (stepwise ablation); its name and fingerprint are stored.
    Each run is trained only once claimed (:mod:`easiness.store.claims`), so several processes or hosts
    given the same ``out`` share the runs; ``claim_timeout``: seconds before a silent worker's
    claim is taken over. Under a ``TF_CONFIG`` cluster (:mod:`easiness.training.cluster`) all workers train
    every run together and the chief alone writes.
    """
    check_timeout(claim_timeout)  # why first: bad input fails before anything is written
    from easiness import data
    from easiness.training import train

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
    log(_dataset_line(dataset))
    resident = train.keep_on_device(config, strategy, dataset)  # why here: a bad --resident fails before writing
    writer, scratch = _writer(out, dataset, me)
    where = f"{me.label}, " if me is not None else ""
    log(f"strategy: {train.describe_strategy(strategy)}; {where}study {out}")
    plan = train.plan_checkpoints(config, len(dataset.train.ids))
    if scratch is None:  # why: the chief (or a lone worker) alone knows the study on disk
        _refuse_damaged(out, config)
        _refuse_other_settings(writer, config, plan, out)
    status = status or StatusFile(None)
    status.update(state="running", total=len(config.models) * config.runs * config.epochs, out=str(out))
    size = runs_per_step(config, dataset.image_shape)
    precision, jit = train.acceleration(config, strategy)
    log(f"{size} run(s) per compiled step, {precision} compute, XLA {'on' if jit else 'off'}, "
        f"training images {'in device memory' if resident else 'from the host pipeline'}")
    queue = _queue(config, out, me, claim_timeout, log=log, status=status)
    provenance = _provenance()
    while taken := queue.take(size):
        for model, group in _by_model(taken):
            with contextlib.ExitStack() as held:
                for claim in group:
                    held.enter_context(queue.training(claim))
                _train_claimed(writer, config, model=model, claims=group, size=size, plan=plan, dataset=dataset,
                               strategy=strategy, keep_state=keep_state, log=log, status=status,
                               provenance={**provenance, **sources.get(model, {}), "precision": precision,
                                           "xla": jit})
    log(queue.summary())
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def _writer(out: Path, dataset, me: cluster.Task | None):
    """(the study writer, the scratch folder or None): a cluster's other workers write only to a
    scratch folder of their own (:class:`easiness.training.cluster.ShadowStudy`), the chief the study."""
    if me is not None and not me.is_chief:
        scratch = Path(tempfile.mkdtemp(prefix="easiness-worker-"))
        return cluster.ShadowStudy(out, scratch), scratch
    return open_study(out, dataset), None


def runs_per_step(config: cfg.Config, image_shape: Sequence[int]) -> int:
    """Runs trained together in one compiled step: the trainer's fuse size, never more than the
    runs a model has (one run alone is one per step, whatever --fuse says)."""
    from easiness.training import train

    return max(1, min(train.fuse_size(config, image_shape), config.runs))


def _dataset_line(dataset) -> str:
    test_n = 0 if dataset.test is None else len(dataset.test.ids)
    return (f"dataset {dataset.name}: {len(dataset.train.ids)} training and {test_n} test examples, "
            f"{len(dataset.class_names)} classes")


def _queue(config: cfg.Config, out: Path, me, claim_timeout: float, *, log: Log, status: StatusFile):
    """The runs this process trains: a cluster trains every run in lockstep; independent workers
    claim theirs (a run skipped as done or held elsewhere counts as progress)."""
    candidates = [(model, m) for model in config.models for m in range(config.runs)]
    if me is not None:
        return cluster.LockstepQueue(me, candidates)
    return RunQueue(Claims(out, stale_after=claim_timeout), candidates, log=log,
                    on_skip=lambda model, m: status.update(done=status.data["done"] + config.epochs))


def _resolve_models(config: cfg.Config) -> tuple[cfg.Config, dict[str, dict]]:
    """Validate every model name and load the specs of your own models; returns the config with
    the spec of every registered model (those given by ``models.register`` too, so that a resumed
    run or an ablation can import it again) and, by model, the provenance of its code."""
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
    from easiness.store.layout import run_dirname

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


def open_study(out: Path, dataset):
    """The study writer of ``out`` for ``dataset`` (created, or reopened when it holds this data)."""
    from easiness import data, store

    return store.create_study(out, dataset=dataset.name, fingerprint=data.fingerprint(dataset),
                              ids=dataset.train.ids, labels=dataset.train.labels,
                              class_names=dataset.class_names, images=dataset.train.images,
                              extras=dataset.extras)


def _train_claimed(writer, config: cfg.Config, *, model: str, claims: Sequence, size: int, plan, dataset,
                   strategy, keep_state, log: Log, status: StatusFile, provenance: dict) -> None:
    """Train the claimed runs of ``model`` that are not done yet, up to ``size`` in one compiled step."""
    from easiness.training import train

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


def refuse_all_failed(study, config: cfg.Config) -> None:
    """JobFailed (exit status 1, one line) when every run ``config`` asked for failed."""
    asked = [(model, m) for model in config.models for m in study.runs(model) if m["run"] < config.runs]
    failed = [(model, m) for model, m in asked if m["status"] == "failed"]
    if asked and len(failed) == len(asked):
        model, first = failed[0]
        raise JobFailed(f"all {len(failed)} runs failed (first: {model} run {first['run']}: {first.get('reason')})")
