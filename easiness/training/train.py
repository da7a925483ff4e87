"""The trainer: runs of one model under a ``tf.distribute`` strategy, scored at checkpoints.

Per run (Kishida & Nakayama, Sec. 3): momentum SGD with L2 weight decay and a step learning-rate
schedule; at every checkpoint (the end of each epoch, or every K updates) the loss of every
training example under the current weights is recorded, with augmentation off by default, so
that Eq. 1 can average it over runs later. Per epoch it also records train and test accuracy.

The run resumes from its last committed epoch: the store's manifest names the training-state
checkpoint (weights, optimizer slots) written together with the committed loss rows.

Several runs of a model train together in one compiled step (:func:`train_runs`, "fused";
:mod:`easiness.training.steps` says why this is the same computation as separate runs and faster).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
import shutil
import sys
import time
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from easiness import models
from easiness.training import cluster
from easiness import data
from easiness.config import Config, lr_at
from easiness.errors import EasinessError
from easiness.logs import Log
from easiness.training.steps import (  # noqa: F401  (re-exported: the trainer's public surface)
    GroupSteps, Steps, cross_entropy, make_group_steps, make_steps, score_group, score_split, sync_moving_statistics,
)
from easiness.data.resident import MAX_SIDE as RESIDENT_MAX_SIDE
from easiness.data.resident import ResidentSplit
from easiness.data.resident import fits as resident_fits
from easiness.store import RunWriter

FAILED = "failed"  # the one word for a run or a retraining whose loss became NaN or infinite (it diverged)


def configure_cpu_devices(count: int) -> None:
    """Split the CPU into ``count`` logical devices (for MirroredStrategy on a CPU-only machine).

    Must run before TensorFlow initialises its devices, i.e. before any op executes.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def make_strategy() -> tf.distribute.Strategy:
    """MultiWorkerMirroredStrategy when ``TF_CONFIG`` names a cluster (:mod:`easiness.training.cluster`);
    else MirroredStrategy over all visible GPUs (or logical CPUs when split), else the default.

    Under a cluster this must run before any other TensorFlow operation of the process.
    """
    if cluster.task() is not None:
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    if len(cpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    return tf.distribute.get_strategy()


def describe_strategy(strategy: tf.distribute.Strategy) -> str:
    """The strategy in words, for the log: "one device (CPU)", "mirrored over 2 GPUs",
    "multi-worker mirrored over 4 replicas (GPU)"."""
    kind = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    replicas = strategy.num_replicas_in_sync
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return f"multi-worker mirrored over {replicas} replica(s) ({kind})"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return f"mirrored over {replicas} {kind}s"
    return f"one device ({kind})"


def nonfinite_loss(epoch: int) -> str:
    """Why a run failed when its training loss of ``epoch`` (0-based) became NaN or infinite: the
    reason the trainer stores and the retraining logs."""
    return f"non-finite training loss in epoch {epoch + 1}"


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Updates per epoch: the last partial batch is dropped in training (every example is still scored)."""
    if n < batch_size:
        raise EasinessError(f"--batch-size {batch_size} is larger than the {n} training examples")
    return n // batch_size


def plan_checkpoints(config: Config, n: int) -> list[dict]:
    """The scoring checkpoints of a run: ``{"epoch": float, "step": int}``, one per loss row."""
    per_epoch = steps_per_epoch(n, config.batch_size)
    total = per_epoch * config.epochs
    every = config.score_every or per_epoch
    steps = list(range(every, total + 1, every))
    return [{"epoch": round(s / per_epoch, 6), "step": s} for s in steps]


def shuffle_seed(run_seed: int, epoch: int) -> int:
    """Data order and augmentation seed of one epoch: reproducible, so a resumed run sees the same order."""
    return (run_seed * 1_000_003 + epoch * 7919 + 17) % (2**31 - 1)


class Progress:
    """One progress bar per run on a terminal, over all its updates; one line per epoch otherwise
    (keras ``verbose=2`` style, for logs and the app's job files)."""

    def __init__(self, log: Log, *, label: str, steps: int, interactive: bool | None = None):
        self.log, self.label, self.steps = log, label, steps
        self.interactive = sys.stdout.isatty() if interactive is None else interactive
        self._bar = None

    def start(self, epoch: int, epochs: int) -> None:
        if self.interactive and self._bar is None:
            print(f"{self.label}: {epochs} epochs of {self.steps} updates")
            self._bar = keras.utils.Progbar(self.steps * epochs, unit_name="update")
        self._offset = epoch * self.steps

    def step(self, done: int, loss: float | None) -> None:
        if self._bar is not None:
            self._bar.update(self._offset + done, [("loss", loss)] if loss is not None else None)

    def end(self, epoch: int, epochs: int, lines: Sequence[tuple[str, dict]]) -> None:
        """Close the epoch with one summary line per run: ``(label, epoch record)`` pairs."""
        if self._bar is not None:
            print()  # leave the bar's line before the epoch summary; the bar continues below
            if epoch + 1 == epochs:
                self._bar = None
        for label, record in lines:
            self.log(f"{label} epoch {epoch + 1}/{epochs}  loss {record['fit_loss']:.3f}  "
                     f"train acc {_fmt(record['train_accuracy'])}  test acc {_fmt(record.get('test_accuracy'))}  "
                     f"lr {record['lr']:g}  {record['seconds']:.1f}s")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@dataclasses.dataclass
class Member:
    """One run of a group: its store writer, model, optimizer and training state."""

    run: RunWriter
    label: str
    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    state: tf.train.Checkpoint
    history: list[dict]
    problem: str | None = None  # why the run failed (its loss diverged); it is failed at the epoch's end


def train_run(*, dataset: data.Dataset, config: Config, model_name: str, run: RunWriter,
              strategy: tf.distribute.Strategy, log: Log = print, interactive: bool | None = None,
              keep_state: bool = False, build_model: Callable[[], keras.Model] | None = None,
              on_epoch: Callable[[dict], None] | None = None) -> str:
    """Train and score one run; return its final status ("done" or :data:`FAILED`)."""
    callback = None if on_epoch is None else (lambda _run, record: on_epoch(record))
    return train_runs(dataset=dataset, config=config, model_name=model_name, runs=[run], strategy=strategy,
                      log=log, interactive=interactive, keep_state=keep_state, build_model=build_model,
                      on_epoch=callback)[0]


def train_runs(*, dataset: data.Dataset, config: Config, model_name: str, runs: Sequence[RunWriter],
               strategy: tf.distribute.Strategy, log: Log = print, interactive: bool | None = None,
               keep_state: bool = False, build_model: Callable[[], keras.Model] | None = None,
               on_epoch: Callable[[RunWriter, dict], None] | None = None) -> list[str]:
    """Train and score several runs of one model together, fused into one compiled step.

    The runs must resume from the same epoch (:func:`fusable_groups` forms such groups). Each
    keeps its own seed, weights, data order, optimizer and BatchNorm statistics, so the losses it
    records are those it would record alone. A run whose loss becomes NaN or infinite is marked
    :data:`FAILED` and dropped; the others go on. Returns each run's final status ("done" or "failed").
    ``build_model`` replaces the zoo lookup (tests use it for tiny models); ``on_epoch(run,
    record)`` is called with each committed epoch record (progress reporting).
    """
    starts = {len(run.history) for run in runs}
    if len(starts) != 1:
        raise ValueError(f"fused runs must resume from the same epoch, got {sorted(starts)}")
    _, jit = acceleration(config, strategy)
    members = [_member(run, dataset=dataset, config=config, model_name=model_name, strategy=strategy,
                       build_model=build_model) for run in runs]
    resident = ResidentSplit(dataset.train, strategy) if keep_on_device(config, strategy, dataset) else None
    steps = _compile(members, strategy, config, jit, resident)
    per_epoch = steps_per_epoch(len(dataset.train.ids), config.batch_size)
    progress = Progress(log, label=group_label(model_name, [r.index for r in runs]), steps=per_epoch,
                        interactive=interactive)
    plan = runs[0].manifest["planned"]
    status: dict[int, str] = {}
    for epoch in range(starts.pop(), config.epochs):
        records = _train_epoch(members, steps, dataset=dataset, config=config, strategy=strategy, epoch=epoch,
                               plan=plan, progress=progress)
        progress.end(epoch, config.epochs, [(m.label, r) for m, r in zip(members, records) if not m.problem])
        for member, record in zip(members, records):
            if member.problem:
                member.run.fail(member.problem)
                log(f"{member.label} {FAILED}: {member.problem}")
                status[member.run.index] = FAILED
                continue
            member.history.append(record)
            _commit_epoch(member, epoch=epoch, plan=plan, per_epoch=per_epoch)
            if on_epoch is not None:
                on_epoch(member.run, record)
        if any(m.problem for m in members):
            members = [m for m in members if not m.problem]
            if not members:
                break
            steps = _compile(members, strategy, config, jit, resident)
    for member in members:
        member.run.finish()
        status[member.run.index] = "done"
        if not keep_state:
            shutil.rmtree(member.run.state_dir, ignore_errors=True)
    return [status[run.index] for run in runs]


def group_label(model_name: str, indices: Sequence[int]) -> str:
    """"wrn10_1 run 3" or "wrn10_1 runs 0-3" (consecutive) or "wrn10_1 runs 0,2,5"."""
    if len(indices) == 1:
        return f"{model_name} run {indices[0]}"
    consecutive = list(indices) == list(range(indices[0], indices[0] + len(indices)))
    span = f"{indices[0]}-{indices[-1]}" if consecutive else ",".join(map(str, indices))
    return f"{model_name} runs {span}"


def fusable_groups(runs: Sequence[RunWriter], size: int) -> list[list[RunWriter]]:
    """Runs in groups of at most ``size`` that resume from the same epoch, in the given order."""
    by_start: dict[int, list[RunWriter]] = {}
    for run in runs:
        by_start.setdefault(len(run.history), []).append(run)
    groups = []
    for same in by_start.values():
        groups += [same[i:i + size] for i in range(0, len(same), max(size, 1))]
    return groups


def fuse_size(config: Config, image_shape: Sequence[int]) -> int:
    """Runs per compiled step: ``config.fuse``, or when 0 (auto) 4 for CIFAR-sized images and 1
    for larger ones, whose single runs already fill a device (and whose input streams would be
    read once per fused run)."""
    if config.fuse:
        return config.fuse
    return 4 if max(image_shape[:2]) <= RESIDENT_MAX_SIDE else 1  # the same bound as device-resident data


def keep_on_device(config: Config, strategy: tf.distribute.Strategy, dataset: data.Dataset) -> bool:
    """Whether the training split lives in device memory (:mod:`easiness.data.resident`): ``on``,
    ``off``, or ``auto``: on GPUs, for in-memory CIFAR-sized images (on CPUs the host pipeline
    overlaps with the step instead)."""
    fits = resident_fits(dataset.train, dataset.image_shape)
    if config.resident == "on" and not fits:
        raise EasinessError(f"--resident on needs in-memory images of at most {RESIDENT_MAX_SIDE} pixels "
                            f"at the model's input size; {dataset.name} has none")
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    return fits and (config.resident == "on" or (config.resident == "auto" and on_gpu))


def acceleration(config: Config, strategy: tf.distribute.Strategy) -> tuple[str, bool]:
    """(compute precision, XLA on?) for this run. "auto": bfloat16 and XLA on GPUs, float32 and
    no XLA on CPUs, where both measured slower (README, Speed)."""
    on_gpu = bool(tf.config.list_logical_devices("GPU"))
    precision = config.precision if config.precision != "auto" else ("bfloat16" if on_gpu else "float32")
    jit = {"on": True, "off": False}.get(config.xla, on_gpu)
    return precision, jit


@contextlib.contextmanager
def precision_policy(precision: str):
    """Build layers under Keras' mixed policy for ``precision`` ("float32" or "bfloat16"): bfloat16
    compute with float32 weights; the zoo pins the final layer (and so the loss) to float32."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def build_run_model(model_name: str, *, dataset: data.Dataset, config: Config, strategy: tf.distribute.Strategy,
                    seed: int, build_model: Callable[[], keras.Model] | None = None,
                    ) -> tuple[keras.Model, keras.optimizers.Optimizer]:
    """A run's seeded model (in the run's compute precision) and its SGD optimizer."""
    keras.utils.set_random_seed(seed)  # distinct, recorded initial weights per run
    precision, _ = acceleration(config, strategy)
    with strategy.scope(), precision_policy(precision):
        if build_model is not None:
            model = build_model()
        else:
            model = models.build(model_name, num_classes=len(dataset.class_names), input_shape=dataset.image_shape,
                                 spec=config.spec_of(model_name))
        optimizer = keras.optimizers.SGD(learning_rate=config.lr, momentum=config.momentum)
    return model, optimizer


def _member(run: RunWriter, *, dataset, config, model_name, strategy, build_model) -> Member:
    """Seed, build (or restore) one run's model and optimizer, exactly as a lone run would."""
    model, optimizer = build_run_model(model_name, dataset=dataset, config=config, strategy=strategy,
                                       seed=run.seed, build_model=build_model)
    state = tf.train.Checkpoint(model=model, optimizer=optimizer)
    member = Member(run, group_label(model_name, [run.index]), model, optimizer, state, list(run.history))
    resume = run.resume_from  # a non-chief worker's ShadowRun gives the chief's state
    if resume is not None:
        with strategy.scope():
            optimizer.build(model.trainable_variables)  # slots must exist to be restored
        state.read(str(resume)).expect_partial()
    return member


def _compile(members: Sequence[Member], strategy, config: Config, jit: bool,
             resident: ResidentSplit | None) -> GroupSteps:
    return make_group_steps([m.model for m in members], [m.optimizer for m in members], strategy,
                            weight_decay=config.weight_decay, jit_compile=jit, resident=resident,
                            records=any(m.run.records for m in members))


def _train_epoch(members: Sequence[Member], steps: GroupSteps, *, dataset, config, strategy, epoch, plan,
                 progress) -> list[dict]:
    """One pass of training of every run, with the scoring checkpoints that fall inside it;
    returns the epoch record of each run (a run whose loss is not finite gets ``problem`` set)."""
    started = time.perf_counter()
    lr = lr_at(config, epoch)
    for member in members:
        member.optimizer.learning_rate.assign(lr)
    seeds = [shuffle_seed(m.run.seed, epoch) for m in members]
    per_epoch = steps_per_epoch(len(dataset.train.ids), config.batch_size)
    due = {c["step"]: k for k, c in enumerate(plan)}
    train_accuracy: list[float | None] = [None] * len(members)
    progress.start(epoch, config.epochs)

    def after_update(i: int, batch_loss) -> None:
        nonlocal train_accuracy
        step = epoch * per_epoch + i
        if step in due:
            train_accuracy = _score_checkpoint(members, steps, dataset=dataset, config=config, strategy=strategy,
                                               row=due[step], seeds=seeds)
        progress.step(i, float(np.mean(batch_loss)) / config.batch_size if progress.interactive else None)

    fit_loss, fit_accuracy = fit_epoch(steps, dataset, config=config, strategy=strategy, seeds=seeds,
                                       after_update=after_update)
    tests = _test_metrics(members, steps, dataset=dataset, config=config, strategy=strategy)
    seconds = round(time.perf_counter() - started, 3)
    records = []
    for k, member in enumerate(members):
        if not math.isfinite(fit_loss[k]) and member.problem is None:
            member.problem = nonfinite_loss(epoch)
        records.append({"epoch": epoch + 1, "lr": lr, "fit_loss": float(fit_loss[k]),
                        "fit_accuracy": float(fit_accuracy[k]), "train_accuracy": train_accuracy[k], **tests[k],
                        "seconds": seconds, "fused_runs": len(members)})
    return records


def fit_epoch(steps: GroupSteps, dataset: data.Dataset, *, config: Config, strategy: tf.distribute.Strategy,
              seeds: Sequence[int], after_update: Callable[[int, tf.Tensor], None] | None = None,
              ) -> tuple[np.ndarray, np.ndarray]:
    """One augmented, shuffled pass of every run of the group (each in the order of its seed; the
    last partial batch dropped). ``after_update(i, batch losses)`` follows update i (1-based).
    Returns the mean training loss [K] and training accuracy [K] of the pass."""
    loss_sum = correct = 0.0
    updates = 0
    for batches in strategy.experimental_distribute_dataset(_train_source(dataset, config, seeds, steps.resident)):
        batch_loss, batch_correct = steps.train(batches)
        loss_sum, correct = loss_sum + batch_loss, correct + batch_correct  # stays on device until read
        updates += 1
        if after_update is not None:
            after_update(updates, batch_loss)
    seen = max(updates * config.batch_size, 1)
    return np.asarray(loss_sum, dtype=np.float64) / seen, np.asarray(correct, dtype=np.float64) / seen


def _train_source(dataset: data.Dataset, config: Config, seeds: Sequence[int],
                  resident: ResidentSplit | None = None) -> tf.data.Dataset:
    """K-tuples of augmented (x, y) training batches, each run in its own seeded order (with a
    device-resident split: (batch number, index, seed) triples, made into images in the step)."""
    def pipe(seed: int) -> tf.data.Dataset:
        if resident is not None:
            return resident.training_batches(batch_size=config.batch_size, shuffle_seed=seed)
        return data.pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape,
                             batch_size=config.batch_size, augment=True, shuffle_seed=seed,
                             drop_remainder=True).map(lambda i, x, y: (x, y))

    return tf.data.Dataset.zip(tuple(pipe(s) for s in seeds))


def _score_checkpoint(members: Sequence[Member], steps: GroupSteps, *, dataset, config, strategy, row: int,
                      seeds: Sequence[int]) -> list[float | None]:
    """Score every training example under every run, write the loss rows; the clean train accuracies."""
    steps.sync()
    results = score_group(steps, strategy, dataset.train, dataset, batch_size=config.score_batch_size,
                          resident=steps.resident is not None,
                          augment_seeds=seeds if config.score_augment else None, reuse=True)
    accuracies: list[float | None] = []
    for member, (losses, accuracy, records) in zip(members, results):
        if member.problem is None and not np.isfinite(losses).all():
            member.problem = f"non-finite per-example loss at checkpoint {row + 1}"
        if member.problem is None:
            member.run.write_row(row, losses, {name: records[name] for name in member.run.records})
        accuracies.append(accuracy)
    return accuracies


def _test_metrics(members: Sequence[Member], steps: GroupSteps, *, dataset, config, strategy) -> list[dict]:
    if dataset.test is None:
        return [{"test_loss": None, "test_accuracy": None} for _ in members]
    steps.sync()
    results = score_group(steps, strategy, dataset.test, dataset, batch_size=config.score_batch_size, reuse=True)
    return [{"test_loss": float(scored.losses.mean()), "test_accuracy": scored.accuracy} for scored in results]


def _commit_epoch(member: Member, *, epoch: int, plan: list[dict], per_epoch: int) -> None:
    """Write the run's training state, then commit the epoch's loss rows with it (manifest last)."""
    run = member.run
    name = f"epoch-{epoch + 1:05d}"
    write_state(member.state, run.state_dir / name)
    end_step = (epoch + 1) * per_epoch
    done = sum(c["step"] <= end_step for c in plan)
    previous = run.manifest.get("state")
    run.commit(done=done, history=member.history, state=name)
    if previous and previous != name:
        _remove_state(run, previous)


def write_state(state: tf.train.Checkpoint, path) -> None:
    """Write the training state at ``path``; a file system failure (a full or read-only disk),
    which TensorFlow reports as its own error type, becomes an OSError naming ``path`` so that the
    command ends with one line and the run resumes from its last commit."""
    try:
        state.write(str(path))
    except tf.errors.OpError as err:
        text = " ".join(str(err.message).split())
        code = next((c for words, c in _FS_ERRORS if words in text), errno.EIO)
        raise OSError(code, f"cannot write the training state ({text[:200]})", str(path)) from None


_FS_ERRORS = (("No space left", errno.ENOSPC), ("Disk quota", errno.EDQUOT),
              ("Read-only file system", errno.EROFS), ("Permission denied", errno.EACCES))


def _remove_state(run: RunWriter, name: str) -> None:
    """Delete an older training-state checkpoint (its files share the name as prefix)."""
    for path in run.state_dir.glob(f"{name}.*"):
        path.unlink(missing_ok=True)
