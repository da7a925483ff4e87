"""The trainer: one run of one model under a ``tf.distribute`` strategy, scored at checkpoints.

Per run (Kishida & Nakayama, Sec. 3): momentum SGD with L2 weight decay and a step learning-rate
schedule; at every checkpoint (the end of each epoch, or every K updates) the loss of every
training example under the current weights is recorded, with augmentation off by default, so
that Eq. 1 can average it over runs later. Per epoch it also records train and test accuracy.

The run resumes from its last committed epoch: the store's manifest names the training-state
checkpoint (weights, optimizer slots) written together with the committed loss rows.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import sys
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

import models
from easiness import data
from easiness.config import Config, lr_at
from easiness.errors import EasinessError
from easiness.recorder import LossRecorder
from easiness.store import RunWriter

Log = Callable[[str], None]


class Diverged(Exception):
    """A run produced a non-finite loss; it is stopped and marked failed, the others go on."""


def configure_cpu_devices(count: int) -> None:
    """Split the CPU into ``count`` logical devices (for MirroredStrategy on a CPU-only machine).

    Must run before TensorFlow initialises its devices, i.e. before any op executes.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)


def make_strategy() -> tf.distribute.Strategy:
    """MirroredStrategy over all visible GPUs (or logical CPUs when split), else the default."""
    gpus = tf.config.list_logical_devices("GPU")
    cpus = tf.config.list_logical_devices("CPU")
    if gpus:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    if len(cpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in cpus])
    return tf.distribute.get_strategy()


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


def cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example softmax cross-entropy in float32 (natural log): the paper's CE(t_i, f(x_i, W))."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.cast(logits, tf.float32))


@dataclasses.dataclass
class Steps:
    """The compiled per-replica steps of one run."""

    train: Callable
    score: Callable


def make_steps(model: keras.Model, optimizer: keras.optimizers.Optimizer, strategy: tf.distribute.Strategy,
               *, weight_decay: float) -> Steps:
    """Compile the training step and the per-example scoring step for ``strategy``."""
    variables = model.trainable_variables
    if not optimizer.built:  # slot variables must exist before tracing, not inside the compiled step
        with strategy.scope():
            optimizer.build(variables)
    # The optimizer sums gradients over replicas, so each replica adds its 1/R share of the L2
    # term (Chainer's WeightDecay hook: grad += wd * w, applied to every parameter).
    decay = weight_decay / strategy.num_replicas_in_sync

    def replica_train(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            per_example = cross_entropy(y, logits)
            loss = tf.nn.compute_average_loss(per_example)
        grads = tape.gradient(loss, variables)
        grads = [g + decay * v.value for g, v in zip(grads, variables)]
        optimizer.apply_gradients(zip(grads, variables))
        return tf.reduce_sum(per_example), _count_correct(y, logits)

    def replica_score(index, x, y):
        logits = model(x, training=False)
        predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
        return index, cross_entropy(y, logits), tf.equal(predicted, tf.cast(y, tf.int32))

    @tf.function(reduce_retracing=True)
    def train(x, y):
        loss_sum, correct = strategy.run(replica_train, args=(x, y))
        total = tf.distribute.ReduceOp.SUM
        return strategy.reduce(total, loss_sum, axis=None), strategy.reduce(total, correct, axis=None)

    @tf.function(reduce_retracing=True)
    def score(index, x, y):
        return strategy.run(replica_score, args=(index, x, y))

    return Steps(train=train, score=score)


def _count_correct(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.reduce_sum(tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32))


def sync_moving_statistics(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Average the BatchNorm moving statistics over replicas before a scoring pass.

    Keras keeps non-trainable variables per replica (aggregation "none"), so under
    MirroredStrategy each replica's moving mean and variance follow only its own share of every
    batch. Unsynchronised, an example's recorded loss would depend on which replica scored it.
    """
    if strategy.num_replicas_in_sync == 1:
        return
    for variable in model.non_trainable_variables:
        parts = strategy.experimental_local_results(variable.value)
        mean = tf.add_n([tf.convert_to_tensor(p) for p in parts]) / len(parts)
        for part in parts:
            part.assign(mean)


def score_split(steps: Steps, strategy: tf.distribute.Strategy, split: data.Split, dataset: data.Dataset,
                *, batch_size: int, augment: bool = False, seed: int | None = None) -> tuple[np.ndarray, float]:
    """Per-example losses [N] float32 of ``split`` and the accuracy, every example exactly once.

    The scoring pass sees no augmentation by default (the paper does not say; a clean view of
    each example makes its loss a property of the example rather than of a random crop).
    """
    pipe = data.pipeline(split, style=dataset.style, image_shape=dataset.image_shape, batch_size=batch_size,
                         augment=augment, shuffle_seed=seed if augment else None)
    recorder = LossRecorder(len(split.ids))
    for index, x, y in strategy.experimental_distribute_dataset(pipe):
        out = steps.score(index, x, y)
        parts = [_host(strategy, t) for t in out]
        recorder.update(*parts)
    return recorder.flush()


def _host(strategy: tf.distribute.Strategy, value) -> np.ndarray:
    """Concatenate a per-replica value on the host."""
    return np.concatenate([np.asarray(t) for t in strategy.experimental_local_results(value)])


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

    def end(self, epoch: int, epochs: int, record: dict) -> None:
        line = (f"{self.label} epoch {epoch + 1}/{epochs}  loss {record['fit_loss']:.3f}  "
                f"train acc {_fmt(record['train_accuracy'])}  test acc {_fmt(record.get('test_accuracy'))}  "
                f"lr {record['lr']:g}  {record['seconds']:.1f}s")
        if self._bar is not None:
            print()  # leave the bar's line before the epoch summary; the bar continues below
            if epoch + 1 == epochs:
                self._bar = None
        self.log(line)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@dataclasses.dataclass
class RunContext:
    """What one run trains with: built once in :func:`_setup`."""

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    steps: Steps
    state: tf.train.Checkpoint
    per_epoch: int
    start_epoch: int


def train_run(*, dataset: data.Dataset, config: Config, model_name: str, run: RunWriter,
              strategy: tf.distribute.Strategy, log: Log = print, interactive: bool | None = None,
              keep_state: bool = False, build_model: Callable[[], keras.Model] | None = None,
              on_epoch: Callable[[dict], None] | None = None) -> str:
    """Train and score one run; return its final status ("done" or "failed").

    ``build_model`` replaces the zoo lookup (tests use it for tiny models); ``on_epoch`` is
    called with each committed epoch record (progress reporting).
    """
    ctx = _setup(dataset=dataset, config=config, model_name=model_name, run=run, strategy=strategy,
                 build_model=build_model)
    progress = Progress(log, label=f"{model_name} run {run.index}", steps=ctx.per_epoch, interactive=interactive)
    plan = run.manifest["planned"]
    history = list(run.history)
    try:
        for epoch in range(ctx.start_epoch, config.epochs):
            record = _train_epoch(ctx, dataset=dataset, config=config, run=run, strategy=strategy,
                                  epoch=epoch, plan=plan, progress=progress)
            history.append(record)
            progress.end(epoch, config.epochs, record)
            _commit_epoch(ctx, run=run, epoch=epoch, plan=plan, history=history)
            if on_epoch is not None:
                on_epoch(record)
    except Diverged as err:
        run.fail(str(err))
        log(f"{model_name} run {run.index} stopped: {err}")
        return "failed"
    run.finish()
    if not keep_state:
        shutil.rmtree(run.state_dir, ignore_errors=True)
    return "done"


def _setup(*, dataset, config, model_name, run, strategy, build_model) -> RunContext:
    keras.utils.set_random_seed(run.seed)  # distinct, recorded initial weights per run
    num_classes = len(dataset.class_names)
    with strategy.scope():
        if build_model is not None:
            model = build_model()
        else:
            model = models.build(model_name, num_classes=num_classes, input_shape=dataset.image_shape)
        optimizer = keras.optimizers.SGD(learning_rate=config.lr, momentum=config.momentum)
    steps = make_steps(model, optimizer, strategy, weight_decay=config.weight_decay)
    state = tf.train.Checkpoint(model=model, optimizer=optimizer)
    if run.manifest.get("state"):
        state.read(str(run.state_dir / run.manifest["state"])).expect_partial()
    per_epoch = steps_per_epoch(len(dataset.train.ids), config.batch_size)
    return RunContext(model, optimizer, steps, state, per_epoch, start_epoch=len(run.history))


def _train_epoch(ctx: RunContext, *, dataset, config, run, strategy, epoch, plan, progress) -> dict:
    """One pass of training, with the scoring checkpoints that fall inside it; returns the epoch record."""
    started = time.perf_counter()
    lr = lr_at(config, epoch)
    ctx.optimizer.learning_rate.assign(lr)
    seed = shuffle_seed(run.seed, epoch)
    pipe = data.pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape,
                         batch_size=config.batch_size, augment=True, shuffle_seed=seed, drop_remainder=True)
    due = {c["step"]: k for k, c in enumerate(plan)}
    loss_sum = correct = 0.0
    seen, train_accuracy = 0, None
    progress.start(epoch, config.epochs)
    for i, (_, x, y) in enumerate(strategy.experimental_distribute_dataset(pipe)):
        batch_loss, batch_correct = ctx.steps.train(x, y)
        loss_sum, correct = loss_sum + batch_loss, correct + batch_correct  # stays on device until read
        seen += config.batch_size
        step = epoch * ctx.per_epoch + i + 1
        if step in due:
            train_accuracy = _score_checkpoint(ctx, dataset=dataset, config=config, run=run, strategy=strategy,
                                               row=due[step], seed=seed)
        progress.step(i + 1, float(batch_loss) / config.batch_size if progress.interactive else None)
    fit_loss = float(loss_sum) / max(seen, 1)
    if not math.isfinite(fit_loss):
        raise Diverged(f"non-finite training loss in epoch {epoch + 1}")
    test = _test_metrics(ctx, dataset=dataset, config=config, strategy=strategy)
    return {"epoch": epoch + 1, "lr": lr, "fit_loss": fit_loss, "fit_accuracy": float(correct) / max(seen, 1),
            "train_accuracy": train_accuracy, **test, "seconds": round(time.perf_counter() - started, 3)}


def _score_checkpoint(ctx: RunContext, *, dataset, config, run, strategy, row: int, seed: int) -> float:
    """Score every training example, write the loss row; returns the clean train accuracy."""
    sync_moving_statistics(ctx.model, strategy)
    losses, accuracy = score_split(ctx.steps, strategy, dataset.train, dataset, batch_size=config.score_batch_size,
                                   augment=config.score_augment, seed=seed)
    if not np.isfinite(losses).all():
        raise Diverged(f"non-finite per-example loss at checkpoint {row + 1}")
    run.write_row(row, losses)
    return accuracy


def _test_metrics(ctx: RunContext, *, dataset, config, strategy) -> dict:
    if dataset.test is None:
        return {"test_loss": None, "test_accuracy": None}
    sync_moving_statistics(ctx.model, strategy)
    losses, accuracy = score_split(ctx.steps, strategy, dataset.test, dataset, batch_size=config.score_batch_size)
    return {"test_loss": float(losses.mean()), "test_accuracy": accuracy}


def _commit_epoch(ctx: RunContext, *, run: RunWriter, epoch: int, plan: list[dict], history: list[dict]) -> None:
    """Write the training state, then commit the epoch's loss rows with it (manifest last)."""
    name = f"epoch-{epoch + 1:05d}"
    ctx.state.write(str(run.state_dir / name))
    end_step = (epoch + 1) * ctx.per_epoch
    done = sum(c["step"] <= end_step for c in plan)
    previous = run.manifest.get("state")
    run.commit(done=done, history=history, state=name)
    if previous and previous != name:
        _remove_state(run, previous)


def _remove_state(run: RunWriter, name: str) -> None:
    """Delete an older training-state checkpoint (its files share the name as prefix)."""
    for path in run.state_dir.glob(f"{name}.*"):
        path.unlink(missing_ok=True)
