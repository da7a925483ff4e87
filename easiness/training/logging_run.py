"""One logged ``fit``: the machinery behind :class:`easiness.keras.LossLogger`.

:func:`open_fit` runs at ``on_train_begin``: it derives the checkpoint plan from what Keras
tells the callback (epochs, updates per epoch), checks the model against the data, creates (or
reopens) the study, claims the run (:mod:`easiness.store.claims`) and opens it for writing
(:mod:`easiness.store`). The :class:`LoggedFit` it returns scores every training example at
each planned checkpoint, writes the row, commits it with the epoch records, and at the end
finishes or fails the run and releases the claim.

The scoring pass is one compiled ``tf.function`` under the model's ``tf.distribute`` strategy:
each replica scores its share of a batch in inference mode, losses are gathered to the host
with the examples' indices, and BatchNorm moving statistics are first averaged over replicas
(:func:`easiness.training.steps.make_sync` says why), so a loss never depends on which replica scored it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from easiness.store import atomic
from easiness.store.claims import Claim, ClaimLost, Claims
from easiness.store.layout import MANIFEST_FILE, MODELS_DIR, STUDY_FILE, read_json, run_dirname
from easiness.training.logged_data import LossLoggerError, RunUnavailable, ScoringData
from easiness.training.recorder import LossRecorder
from easiness.training.recorder import Scored
from easiness.training.steps import RECORDABLE, cross_entropy, error_norms, make_sync, margins
from easiness.store import RunWriter, Study, create_study

_ACCURACY_LOGS = ("accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "acc")
_NO_SEED = -1  # recorded when the caller gave no seed (the manifest's seed must be an integer)


# What a logged run records beside its losses, as the trainer does by default (easiness.analysis.scores).
RECORDS = {name: "float16" for name in RECORDABLE}


@dataclasses.dataclass(frozen=True)
class LogSpec:
    """Everything a LossLogger was constructed with, checked (see its docstring for each)."""

    study: Path
    model_name: str
    run: int
    data: ScoringData
    class_names: tuple[str, ...] | None
    batch_size: int  # examples per scoring batch (global, over all replicas)
    every: int | None  # updates between checkpoints; None: at each epoch end
    from_logits: bool | None  # None: decided from the model's final activation
    seed: int | None
    dataset_name: str
    loss_dtype: str
    claim_timeout: float  # seconds without a heartbeat before another process may take the run
    config: Mapping[str, Any]  # extra settings recorded in the manifest's config
    verbose: int


# ------------------------------------------------------------------------------------ planning


def plan_checkpoints(epochs: int, steps: int, every: int | None) -> list[dict[str, Any]]:
    """``{"epoch": float, "step": int}`` per loss row: every ``every`` updates, or each epoch end."""
    interval = every or steps
    return [{"epoch": round(s / steps, 6), "step": s} for s in range(interval, epochs * steps + 1, interval)]


def fit_plan(params: Mapping[str, Any], every: int | None, per_execution: int) -> tuple[int, int, list[dict]]:
    """(epochs, updates per epoch, plan) of the fit Keras describes in ``params``."""
    epochs, steps = params.get("epochs"), params.get("steps")
    if not steps:
        raise LossLoggerError("fit() does not know its updates per epoch (a dataset of unknown size): pass "
                              "steps_per_epoch to fit, or apply tf.data.experimental.assert_cardinality")
    plan = plan_checkpoints(int(epochs), int(steps), every)
    if not plan:
        raise LossLoggerError(f"every={every} exceeds the {epochs * steps} updates of this fit: "
                              "nothing would be scored")
    # why: with steps_per_execution > 1 callbacks only see the end of each group of updates
    missed = [p["step"] for p in plan if p["step"] % steps and (p["step"] % steps) % per_execution]
    if missed:
        raise LossLoggerError(f"checkpoint at update {missed[0]} falls inside a group of steps_per_execution="
                              f"{per_execution} updates; choose every as a multiple of it")
    return int(epochs), int(steps), plan


# ------------------------------------------------------------------------------- the model


def outputs_probabilities(model: keras.Model, from_logits: bool | None) -> bool:
    """Whether the model outputs probabilities: as declared, else whether its last layer is a softmax."""
    if from_logits is not None:
        return not from_logits
    layers = getattr(model, "layers", None) or []
    if not layers:
        return False
    last = layers[-1]
    return isinstance(last, keras.layers.Softmax) or getattr(last, "activation", None) is keras.activations.softmax


def output_width(model: keras.Model, data: ScoringData) -> int:
    """K, the model's class scores per example, from one example (any model: built, subclassed)."""
    out = model(data.sample(), training=False)
    if not hasattr(out, "shape"):
        raise LossLoggerError(f"the model must have one output of class scores [B, K], got {type(out).__name__}")
    if len(out.shape) != 2:
        raise LossLoggerError(f"the model's output must be class scores [B, K], got shape {tuple(out.shape)}")
    return int(out.shape[-1])


def resolve_class_names(spec: LogSpec, width: int) -> list[str]:
    """The class names: given, else the existing study's, else "0".."K-1"; checked against K."""
    names = list(spec.class_names or _study_class_names(spec.study) or map(str, range(width)))
    if len(names) != width:
        raise LossLoggerError(f"the model outputs {width} class scores but the study has {len(names)} classes "
                              f"({', '.join(names[:5])}{'…' if len(names) > 5 else ''})")
    if spec.data.one_hot_width not in (None, width):
        raise LossLoggerError(f"the model outputs {width} class scores but y is one-hot over {spec.data.one_hot_width}")
    top = int(spec.data.labels.max())
    if top >= width:
        raise LossLoggerError(f"label {top} is out of range for a model with {width} outputs")
    return names


def _study_class_names(root: Path) -> list[str] | None:
    """The class names of the study already in ``root``, if any."""
    return Study.open(root).class_names if (root / STUDY_FILE).is_file() else None


def make_scorer(model: keras.Model, strategy: tf.distribute.Strategy, *, probabilities: bool) -> Callable:
    """A compiled ``(index, x, label) batch -> (index, loss, hit, margin, EL2N)`` of the whole
    global batch.

    Loss: :func:`easiness.training.steps.cross_entropy` (natural log, float32) of the logits; for a
    model that outputs probabilities, of ``log(max(p, ε))`` with Keras's ε, which is
    ``-log p_label`` (its softmax renormalises p, as Keras's own loss does). Margin and EL2N as
    the trainer records them (:func:`easiness.training.steps.margins`, :func:`easiness.training.steps.error_norms`);
    log-probabilities give the same margins as logits (softmax keeps their differences).
    """
    epsilon = keras.config.epsilon()

    def replica(index: tf.Tensor, x: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, ...]:
        out = tf.cast(model(x, training=False), tf.float32)
        logits = tf.math.log(tf.clip_by_value(out, epsilon, 1.0)) if probabilities else out
        hit = tf.equal(tf.argmax(out, axis=-1, output_type=tf.int32), y)
        return (index, cross_entropy(y, logits), tf.cast(hit, tf.int32),  # why int32: gather takes no bool
                margins(y, logits), error_norms(y, logits))

    @tf.function(reduce_retracing=True)
    def score(batch: tuple[tf.Tensor, ...]) -> tuple[tf.Tensor, ...]:
        out = strategy.run(replica, args=batch)
        return tf.nest.map_structure(lambda value: strategy.gather(value, axis=0), out)

    return score


def score_pass(score: Callable, batches: Any, n: int) -> Scored:
    """Losses ``[N]`` float32, clean accuracy, margins and EL2N of one pass over the (distributed) batches."""
    recorder = LossRecorder(n)
    for batch in batches:
        index, losses, hits, *more = (np.asarray(t) for t in score(batch))
        if len(index) and (index.min() < 0 or index.max() >= n):
            raise LossLoggerError("the dataset yielded an example the LossLogger did not see when it was made "
                                  "(an unknown id, or more examples than before)")
        recorder.update(index, losses, hits.astype(bool), dict(zip(RECORDABLE, more)))
    try:
        return recorder.flush()
    except RuntimeError as e:
        raise LossLoggerError(f"{e}: the dataset must yield the same examples, each once, in every pass") from None


# -------------------------------------------------------------------------------- the run


def run_path(root: Path, model_name: str, index: int) -> Path:
    return root / MODELS_DIR / model_name / run_dirname(index)


def refusal(root: Path, model_name: str, index: int, stale_after: float) -> str | None:
    """Why run ``index`` cannot be logged now (done, or claimed by a live process), or None."""
    claims = Claims(root, stale_after=stale_after)
    why = _unavailable(claims, model_name, index)
    if why is None:
        return None
    free = next(k for k in range(index + 1, index + 10_000) if _unavailable(claims, model_name, k) is None)
    if why == "done":
        return (f"{model_name} run {index} in {root} is already done and is never overwritten: log run {free} "
                f"instead, or delete {run_path(root, model_name, index)} to log run {index} again")
    return f"{model_name} run {index} in {root} is being logged by {why}; log run {free} instead"


def _unavailable(claims: Claims, model_name: str, index: int) -> str | None:
    """"done", the holder's label, or None when the run is free to claim."""
    if claims.is_done(model_name, index):
        return "done"
    holding = claims.claim(model_name, index).current()
    if holding is not None and not holding.is_free(observer=claims.owner, stale_after=claims.stale_after):
        return holding.label
    return None


def take_claim(spec: LogSpec) -> Claim:
    """The run's claim, held (heartbeats from a thread) until released; RunUnavailable if taken."""
    claim = Claims(spec.study, stale_after=spec.claim_timeout).try_claim(spec.model_name, spec.run)
    if claim is None:
        raise RunUnavailable(refusal(spec.study, spec.model_name, spec.run, spec.claim_timeout)
                             or f"{spec.model_name} run {spec.run} could not be claimed; try again")
    claim.__enter__()  # why not `with`: the claim lives from on_train_begin to on_train_end
    return claim


def discard_unfinished(path: Path) -> str | None:
    """Remove the unfinished run at ``path`` (its claim is ours); what it held, or None if none.

    A Keras fit cannot continue another fit's run (its weights and optimizer are gone), and its
    rows would mix two trainings, so the run starts again from scratch. Moved aside (a hidden
    name readers skip) before deleting, so a reader never sees half of it.
    """
    if not (path / MANIFEST_FILE).exists():
        return None
    old = read_json(path / MANIFEST_FILE, "run manifest")
    aside = atomic.temp_path(path)
    os.rename(path, aside)
    shutil.rmtree(aside, ignore_errors=True)
    return f"status {old.get('status')}, {old.get('done')} of {len(old.get('planned', []))} checkpoints"


def describe(obj: Any) -> Any:
    """A JSON-ready description of an optimizer or loss for the manifest's config."""
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    config = obj.get_config() if hasattr(obj, "get_config") else {}
    return json.loads(json.dumps({"class": type(obj).__name__, **config}, default=_jsonable))


def _jsonable(value: Any) -> Any:
    try:
        return atomic.json_default(value)
    except TypeError:
        return repr(value)  # why: a config must not stop a run over an exotic value


def run_config(spec: LogSpec, model: keras.Model, *, epochs: int, steps: int, probabilities: bool,
               per_execution: int) -> dict[str, Any]:
    """What defines the run (keys named as the trainer's config where they mean the same)."""
    return {
        "model": spec.model_name, "dataset": spec.dataset_name, "epochs": epochs, "steps_per_epoch": steps,
        "steps_per_execution": per_execution, "batch_size": None, "score_every": spec.every or 0,
        "score_augment": False, "score_batch_size": spec.batch_size, "loss_dtype": spec.loss_dtype,
        "outputs": "probabilities" if probabilities else "logits", "data": spec.data.kind,
        "optimizer": describe(getattr(model, "optimizer", None)), "loss": describe(getattr(model, "loss", None)),
        "logger": "easiness.keras.LossLogger", **json.loads(json.dumps(dict(spec.config), default=_jsonable)),
    }


def provenance(strategy: tf.distribute.Strategy, claim: Claim) -> dict[str, Any]:
    return {"tensorflow": tf.__version__, "keras": keras.__version__, "strategy": type(strategy).__name__,
            "replicas": strategy.num_replicas_in_sync, "worker": claim.owner.label}


def epoch_record(epoch: int, logs: Mapping[str, Any] | None, *, lr: float | None, train_accuracy: float | None,
                 seconds: float, score_seconds: float) -> dict[str, Any]:
    """The per-epoch record the app's Runs page reads (as the trainer writes it), from Keras logs."""
    numbers = {k: float(v) for k, v in (logs or {}).items() if isinstance(v, (int, float, np.number))}
    validation = [f"val_{k}" for k in _ACCURACY_LOGS]
    return {"epoch": epoch + 1, "lr": lr, "fit_loss": numbers.get("loss"),
            "fit_accuracy": _first(numbers, _ACCURACY_LOGS), "train_accuracy": train_accuracy,
            "test_loss": numbers.get("val_loss"), "test_accuracy": _first(numbers, validation),
            "seconds": round(seconds, 3), "score_seconds": round(score_seconds, 3), "logs": numbers}


def _first(numbers: Mapping[str, float], keys: Sequence[str]) -> float | None:
    return next((numbers[k] for k in keys if k in numbers), None)


def current_lr(model: keras.Model) -> float | None:
    """The optimizer's learning rate now (a schedule evaluated at the current update), or None."""
    try:
        return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
    except (AttributeError, TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------- one fit


@dataclasses.dataclass
class LoggedFit:
    """A run being logged during one ``fit``: score at due updates, commit, then finish or fail."""

    spec: LogSpec
    model: keras.Model
    claim: Claim
    run: RunWriter
    score: Callable[[], Scored]  # one scoring pass: losses [N], clean accuracy, margins and EL2N
    steps: int  # updates per epoch
    epochs: int
    due: dict[int, int]  # update number -> loss row
    thread: int = dataclasses.field(default_factory=threading.get_ident)
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    epoch_started: float = dataclasses.field(default_factory=time.perf_counter)
    epoch_score_seconds: float = 0.0
    score_seconds: float = 0.0
    fit_started: float = dataclasses.field(default_factory=time.perf_counter)
    train_accuracy: float | None = None
    closed: bool = False

    def begin_epoch(self, epoch: int) -> None:
        if epoch != len(self.history):
            raise LossLoggerError(f"fit started at epoch {epoch + 1}, but a LossLogger logs a whole fit from its "
                                  f"first epoch (initial_epoch=0); checkpoints before it would stay empty")
        self.epoch_started, self.epoch_score_seconds, self.train_accuracy = time.perf_counter(), 0.0, None

    def after_update(self, step: int) -> None:
        """Score and commit if update ``step`` (1-based, counted over the whole fit) is due."""
        row = self.due.get(step)
        if row is None or row < self.run.done:  # why done: the batch hook may have scored this epoch end
            return
        started = time.perf_counter()
        losses, self.train_accuracy, records = self.score()
        if not np.isfinite(losses).all():
            raise LossLoggerError(f"non-finite per-example loss at checkpoint {row + 1} (update {step}): "
                                  "the training diverged")
        self.run.write_row(row, losses, {name: records[name] for name in self.run.records})
        self.claim.heartbeat()  # why before the commit: raises ClaimLost if another process took the run over
        self.run.commit(done=row + 1)
        spent = time.perf_counter() - started
        self.epoch_score_seconds += spent
        self.score_seconds += spent

    def end_epoch(self, epoch: int, logs: Mapping[str, Any] | None) -> None:
        """Score the epoch's last checkpoint if due, then commit the epoch's record."""
        self.after_update((epoch + 1) * self.steps)
        record = epoch_record(epoch, logs, lr=current_lr(self.model), train_accuracy=self.train_accuracy,
                              seconds=time.perf_counter() - self.epoch_started, score_seconds=self.epoch_score_seconds)
        self.history.append(record)
        self.run.commit(done=self.run.done, history=self.history)

    def finish(self) -> str:
        """Finish the run (every checkpoint committed) or fail it (fit stopped early); a summary line."""
        planned = len(self.run.planned)
        if self.run.done == planned:
            self.run.finish()
            outcome = "done"
        else:
            outcome = (f"fit stopped after epoch {len(self.history)} of {self.epochs} (stop_training, e.g. "
                       f"EarlyStopping): {self.run.done} of {planned} checkpoints logged")
            self.run.fail(outcome)
        self._release("finished" if outcome == "done" else "stopped early")
        seconds = time.perf_counter() - self.fit_started
        return (f"{self.spec.model_name} run {self.spec.run}: {outcome}; {self.run.done} checkpoints of "
                f"{self.spec.data.n} examples in {self.spec.study} (scoring {self.score_seconds:.1f} s of "
                f"{seconds:.1f} s)")

    def fail(self, error: BaseException) -> None:
        """Mark the run failed with the error (unless another process took it over) and release it."""
        if self.closed:
            return
        if not isinstance(error, ClaimLost):  # why: the run is the new holder's now; leave it alone
            self.run.fail(f"{type(error).__name__}: {error}")
        self._release(f"failed: {type(error).__name__}")

    def _release(self, outcome: str) -> None:
        self.closed = True
        self.claim.release(outcome)


def open_fit(spec: LogSpec, model: keras.Model, params: Mapping[str, Any]) -> LoggedFit:
    """Plan, check, create the study, claim and open the run (at ``on_train_begin``)."""
    per_execution = int(getattr(model, "steps_per_execution", 1) or 1)
    epochs, steps, plan = fit_plan(params, spec.every, per_execution)
    strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()
    probabilities = outputs_probabilities(model, spec.from_logits)
    class_names = resolve_class_names(spec, output_width(model, spec.data))
    writer = create_study(spec.study, dataset=spec.dataset_name, fingerprint=spec.data.fingerprint,
                          ids=spec.data.ids, labels=spec.data.labels, class_names=class_names, images=spec.data.images)
    claim = take_claim(spec)
    try:
        replaced = discard_unfinished(run_path(spec.study, spec.model_name, spec.run))
        if replaced and spec.verbose:
            print(f"LossLogger: {spec.model_name} run {spec.run}: starting again; the earlier fit left it unfinished "
                  f"({replaced})")
        run = writer.run(spec.model_name, spec.run, planned=plan, dtype=spec.loss_dtype, records=RECORDS,
                         seed=_NO_SEED if spec.seed is None else spec.seed,
                         config=run_config(spec, model, epochs=epochs, steps=steps, probabilities=probabilities,
                                           per_execution=per_execution),
                         provenance=provenance(strategy, claim))
    except BaseException:
        claim.release("failed to open the run")
        raise
    return LoggedFit(spec, model, claim, run, _scoring(model, strategy, spec, probabilities), steps, epochs,
                     due={p["step"]: k for k, p in enumerate(plan)})


def _scoring(model: keras.Model, strategy: tf.distribute.Strategy, spec: LogSpec,
             probabilities: bool) -> Callable[[], Scored]:
    """One scoring pass over the whole training set with the current weights."""
    score = make_scorer(model, strategy, probabilities=probabilities)
    sync = make_sync([model], strategy)
    batches = strategy.experimental_distribute_dataset(spec.data.batches(spec.batch_size))

    def one_pass() -> Scored:
        sync()
        return score_pass(score, batches, spec.data.n)

    return one_pass
