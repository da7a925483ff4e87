"""Log every training example's loss from your own ``model.fit``: :class:`LossLogger`.

    from easiness.keras import LossLogger
    for m in range(4):                      # M independent runs (the paper uses 10)
        model = build_model()               # your compiled Keras model, fresh weights each run
        logger = LossLogger("runs/my-study", x_train, y_train, model_name="my_cnn", run=m)
        model.fit(x_train, y_train, epochs=10, callbacks=[logger])

(:func:`fit_runs` does this loop, seeding run m with ``seed + m``.) Then ``streamlit run app.py
-- --runs runs`` and ``easiness.Study.open("runs/my-study")`` read the study exactly as if
``python -m easiness.score`` had trained it; ``python -m easiness.ablate`` reads its easiness
too, but retrains with the project's own trainer, so it needs the data as a spec
(``--dataset npz:...`` with the same ids and labels) and a model it can build.

What it writes: at each checkpoint (every epoch end, or every ``every`` updates) the loss of
every training example under the current weights, one row of
``<study>/models/<model_name>/run-NNN/losses.npy`` ``[checkpoints, N]``, committed through the
run's manifest with one record per epoch (Keras's loss, accuracies and validation metrics, the
learning rate, the clean training accuracy of the scoring pass, seconds); the study's ids,
labels, class names and, for uint8 images, the images, once per study (:mod:`easiness.store`).
The loss is the paper's ``CE(t_i, f(x_i, W))``: sparse softmax cross-entropy in float32, natural
log, in inference mode (no dropout, BatchNorm's moving statistics, augmentation layers off).

What it costs: one forward pass over the training set per checkpoint, in batches of
``batch_size`` (1024) inside one compiled function under the model's ``tf.distribute``
strategy. A forward pass costs about a third of a training step per example, so per-epoch
logging adds roughly a third to an epoch; ``python benchmarks/callback.py`` measures it
(a small CNN on 4,000 generated 32x32 images, 2 shared CPU cores: 1.56 s per epoch with the
logger against 1.17 s without, 1.33x; the scoring pass takes 0.3 s, a quarter of a logged
epoch). Nothing else runs per update: a per-epoch logger leaves Keras's batch hooks alone.

Several processes may log different runs of one study at once: a run is claimed for the
duration of its fit (:mod:`easiness.store.claims`); a run that is done, or being logged by another
live process, is refused at construction. A finished run is never overwritten: log another run
index or delete its folder. A run an earlier fit left unfinished (crashed, interrupted) starts
again from scratch, since a new fit cannot continue it. A fit this process interrupted (an
exception, Ctrl-C) is marked failed and its claim released when the next fit in the same thread
begins, or when Python exits.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import inspect
import operator
import threading
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import keras
import tensorflow as tf

from easiness.store import atomic
from easiness.store.claims import STALE_AFTER, ClaimLost
from easiness.store.layout import CREATING_MARKER, CREATION_LEASE, LOSS_DTYPES, STUDY_FILE, StoreError, validate_name
from easiness.training.logged_data import LossLoggerError, RunUnavailable, ScoringData, from_arrays, from_dataset
from easiness.training.logging_run import LoggedFit, LogSpec, open_fit, refusal
from easiness.store import Study

__all__ = ["LossLogger", "LossLoggerError", "RunUnavailable", "fit_runs"]


class LossLogger(keras.callbacks.Callback):
    """A Keras callback that records every training example's loss into an easiness study.

    study: the study folder (created if new; one holding other data is refused).
    x, y: the training data as arrays (``x [N, ...]``; ``y`` class indices ``[N]`` or one-hot
        ``[N, K]``), or ``x`` a ``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, id)`` elements,
        unbatched or batched, with ``y=None`` (:mod:`easiness.training.logged_data` says how batching
        is detected). Pass the data unshuffled and unaugmented: it is what gets scored.
    model_name: the study's name for this model (``[A-Za-z0-9_.-]+``); run: the run index m.
    ids: ``[N]`` unique example ids (arrays only; default: the positions "0".."N-1"). A
        dataset without ids must iterate in one fixed order.
    class_names: default: the existing study's, else "0".."K-1" from the model's K outputs.
    images: ``[N, H, W, C]`` uint8 for the app's image grids (default: ``x`` when it is such).
    from_logits: whether the model outputs logits; None: probabilities exactly when its last
        layer is a softmax. batch_size: examples per scoring batch (over all replicas).
    every: score every ``every`` updates (default: at each epoch end).
    seed: recorded in the manifest (-1 when None). config: extra JSON-able settings that
        define the run (e.g. the fit's batch size, augmentation), recorded with it.
    loss_dtype: "float32" or "float16" storage. claim_timeout: seconds after which a silent
        process's claim on this run may be taken over. verbose: 1 prints one line per fit.
    dataset_name: the study's dataset name, shown by the app (default "arrays" or "tf.data").

    Bad input raises :class:`LossLoggerError` (an ``EasinessError`` and a ``ValueError``) here,
    before anything is written; a run that is done or claimed raises :class:`RunUnavailable`.
    A model whose outputs do not match the classes fails at ``on_train_begin``, before writing.
    Under MirroredStrategy every checkpoint first averages BatchNorm's per-replica moving
    statistics over the replicas (as the project's trainer does), so the model carries those.
    """

    def __init__(self, study: str | Path, x: Any, y: Any = None, *, model_name: str, run: int = 0,
                 ids: Any = None, class_names: Sequence[str] | None = None, images: Any = None,
                 from_logits: bool | None = None, batch_size: int = 1024, every: int | None = None,
                 seed: int | None = None, dataset_name: str | None = None, config: Mapping[str, Any] | None = None,
                 loss_dtype: str = "float32", claim_timeout: float = STALE_AFTER, verbose: int = 1) -> None:
        super().__init__()
        spec = make_spec(study, x, y, model_name=model_name, run=run, ids=ids, class_names=class_names,
                         images=images, from_logits=from_logits, batch_size=batch_size, every=every, seed=seed,
                         dataset_name=dataset_name, config=config, loss_dtype=loss_dtype,
                         claim_timeout=claim_timeout, verbose=verbose)
        self._start(spec)

    @classmethod
    def from_spec(cls, spec: LogSpec) -> "LossLogger":
        """A logger of an already checked spec (no second pass over the data)."""
        logger = cls.__new__(cls)
        keras.callbacks.Callback.__init__(logger)
        logger._start(spec)
        return logger

    def for_run(self, run: int, *, seed: int | None = None) -> "LossLogger":
        """A logger of run ``run`` of the same study, model and data (checked once, not again)."""
        return self.from_spec(dataclasses.replace(self.spec, run=_check_run(run), seed=seed))

    def _start(self, spec: LogSpec) -> None:
        """Refuse a run that is not free; hook the batch ends only when scoring mid-epoch."""
        # why: a fit of this run still open in this thread was interrupted (fits in one thread never overlap)
        _abandon_open_fits(lambda fit: fit.thread == threading.get_ident() and _same_run(fit.spec, spec))
        why = refusal(spec.study, spec.model_name, spec.run, spec.claim_timeout)
        if why:
            raise RunUnavailable(why)
        self.spec = spec
        self.outcome: str | None = None  # "done", or why the run failed, once a fit ended
        self._fit: LoggedFit | None = None
        if spec.every:
            # why an instance attribute: Keras dispatches batch ends asynchronously unless a callback
            # overrides on_train_batch_end, so a per-epoch logger leaves that hook alone
            self.on_train_batch_end = self._after_batch

    def __repr__(self) -> str:
        return (f"LossLogger({str(self.spec.study)!r}, model_name={self.spec.model_name!r}, run={self.spec.run}, "
                f"n={self.spec.data.n}, every={self.spec.every or 'epoch'})")

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        _abandon_open_fits(lambda fit: fit.thread == threading.get_ident())  # fits in one thread never overlap
        try:
            self._fit = open_fit(self.spec, self.model, self.params)
        except BaseException as error:
            self.outcome = f"{type(error).__name__}: {error}"
            raise
        _track(self._fit)

    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        self._guarded(self._fit.begin_epoch, epoch)

    def _after_batch(self, batch: int, logs: Mapping | None = None) -> None:
        self._guarded(self._fit.after_update, len(self._fit.history) * self._fit.steps + batch + 1)

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        self._guarded(self._fit.end_epoch, epoch, logs)

    def on_train_end(self, logs: Mapping | None = None) -> None:
        line = self._guarded(self._fit.finish)
        _forget(self._fit)
        self.outcome = "done" if self._fit.run.status == "done" else self._fit.run.manifest.get("reason")
        if self.spec.verbose:
            print(f"LossLogger: {line}")

    def _guarded(self, step: Callable, *args: Any) -> Any:
        """Run one step of the logged fit; on any error fail the run, release it, re-raise."""
        try:
            return step(*args)
        except BaseException as error:
            self._fit.fail(error)
            self.outcome = f"{type(error).__name__}: {error}"
            _forget(self._fit)
            raise


def make_spec(study: str | Path, x: Any, y: Any = None, *, model_name: str, run: int = 0, ids: Any = None,
              class_names: Sequence[str] | None = None, images: Any = None, from_logits: bool | None = None,
              batch_size: int = 1024, every: int | None = None, seed: int | None = None,
              dataset_name: str | None = None, config: Mapping[str, Any] | None = None,
              loss_dtype: str = "float32", claim_timeout: float = STALE_AFTER, verbose: int = 1) -> LogSpec:
    """Check a LossLogger's arguments (see its docstring); the data is read here, once."""
    root = Path(study)
    settings = dict(model_name=_check_model_name(model_name), run=_check_run(run),
                    batch_size=_positive(batch_size, "batch_size"), every=_check_every(every),
                    from_logits=_check_from_logits(from_logits), seed=_check_seed(seed),
                    loss_dtype=_choice(loss_dtype, LOSS_DTYPES, "loss_dtype"),
                    claim_timeout=_positive_seconds(claim_timeout), config=dict(config or {}), verbose=int(verbose))
    if isinstance(x, tf.data.Dataset) and y is not None:
        raise LossLoggerError("with a tf.data.Dataset the labels travel in its elements; leave y=None")
    data = from_dataset(x, ids=ids, images=images) if isinstance(x, tf.data.Dataset) else \
        from_arrays(x, y, ids=ids, images=images)
    names = _check_class_names(class_names, data)
    _check_folder(root, data, names)
    return LogSpec(study=root, data=data, class_names=names, dataset_name=dataset_name or data.kind, **settings)


def _check_model_name(name: Any) -> str:
    try:
        return validate_name(name, "model")
    except StoreError as e:
        raise LossLoggerError(str(e)) from None


def _check_run(run: Any) -> int:
    if isinstance(run, bool):
        raise LossLoggerError(f"run must be an integer index >= 0, got {run!r}")
    try:
        index = operator.index(run)
    except TypeError:
        raise LossLoggerError(f"run must be an integer index >= 0, got {run!r}") from None
    if index < 0:
        raise LossLoggerError(f"run must be an integer index >= 0, got {index}")
    return index


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LossLoggerError(f"{what} must be a positive integer, got {value!r}")
    return value


def _check_every(every: Any) -> int | None:
    return None if every is None else _positive(every, "every (updates between checkpoints)")


def _check_from_logits(value: Any) -> bool | None:
    if value not in (None, True, False):
        raise LossLoggerError(f"from_logits must be True, False or None (decide from the model), got {value!r}")
    return value


def _check_seed(seed: Any) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise LossLoggerError(f"seed must be an integer or None, got {seed!r}")
    return seed


def _choice(value: Any, choices: Sequence[str], what: str) -> str:
    if value not in choices:
        raise LossLoggerError(f"{what} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _positive_seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise LossLoggerError(f"claim_timeout must be a positive number of seconds, got {value!r}")
    return float(value)


def _check_class_names(names: Sequence[str] | None, data: ScoringData) -> tuple[str, ...] | None:
    """Class names as a tuple of strings covering every label (and a one-hot width), or None."""
    if names is None:
        return None
    if isinstance(names, str) or not all(isinstance(c, str) for c in names) or len(set(names)) != len(names):
        raise LossLoggerError("class_names must be a list of distinct strings")
    top = int(data.labels.max())
    if top >= len(names):
        raise LossLoggerError(f"label {top} is out of range for {len(names)} class names")
    if data.one_hot_width not in (None, len(names)):
        raise LossLoggerError(f"y is one-hot over {data.one_hot_width} classes but {len(names)} class names were given")
    return tuple(names)


def _check_folder(root: Path, data: ScoringData, class_names: tuple[str, ...] | None) -> None:
    """Refuse a folder that holds another study, or files that are no study (read only)."""
    if root.exists() and not root.is_dir():
        raise LossLoggerError(f"{root} is a file, not a study folder")
    if (root / STUDY_FILE).is_file():
        study = Study.open(root)
        if study.fingerprint != data.fingerprint:
            raise LossLoggerError(f"{root} holds a study of other data ({study.dataset}, {study.n} examples): "
                                  f"every run of a study scores the same ids and labels; choose another folder")
        if class_names is not None and list(class_names) != study.class_names:
            raise LossLoggerError(f"{root} names its classes {study.class_names}, not {list(class_names)}")
    elif root.is_dir() and not (root / CREATING_MARKER).exists() and any(
            p.name != CREATION_LEASE and not atomic.is_temp_name(p.name) for p in root.iterdir()):
        raise LossLoggerError(f"{root} is not empty and holds no study; choose another folder")


# ------------------------------------------------------------------ fits that never ended

_OPEN: list[LoggedFit] = []  # fits between on_train_begin and on_train_end, in this process
_HOOKED = False


def _track(fit: LoggedFit) -> None:
    """Remember an open fit, and make sure one left open is failed and released at exit."""
    global _HOOKED
    _OPEN.append(fit)
    if not _HOOKED:
        atexit.register(_abandon_open_fits, lambda fit: True)
        _HOOKED = True


def _forget(fit: LoggedFit) -> None:
    with contextlib.suppress(ValueError):
        _OPEN.remove(fit)


def _abandon_open_fits(which: Callable[[LoggedFit], bool]) -> None:
    """Fail and release the open fits ``which`` selects: Keras skips on_train_end when fit raises."""
    for fit in [f for f in _OPEN if which(f)]:
        fit.fail(LossLoggerError("the fit was interrupted (it ended without on_train_end)"))
        _forget(fit)


def _same_run(a: LogSpec, b: LogSpec) -> bool:
    return (a.model_name, a.run) == (b.model_name, b.run) and a.study.resolve() == b.study.resolve()


# ------------------------------------------------------------------------------ M runs


def fit_runs(build: Callable[..., keras.Model], x: Any, y: Any = None, *, study: str | Path, model_name: str,
             runs: int | Sequence[int] = 4, seed: int = 0, train_data: Any = None,
             fit_kwargs: Mapping[str, Any] | None = None, compile_kwargs: Mapping[str, Any] | None = None,
             strategy: tf.distribute.Strategy | None = None, **logger_kwargs: Any) -> dict[int, str]:
    """Build, fit and log M runs of one model; returns each run's outcome ("done", "failed: …",
    "skipped: …").

    Run m is seeded with ``keras.utils.set_random_seed(seed + m)`` before ``build()`` (fresh
    weights, data order), or ``build(num_classes, input_shape)`` when it takes them: the protocol
    of ``--model MODULE:FUNCTION``, whose spec is then recorded, so that ``python -m easiness.ablate``
    can build it again (it retrains with the study's trainer, on data given by ``--dataset``);
    built and compiled (``compile_kwargs``, if the model is not compiled
    by ``build``) under ``strategy.scope()`` when given, and fitted on ``train_data`` (default:
    ``x, y`` arrays; required for a dataset, whose ids must not reach fit) with ``fit_kwargs``.
    Runs that are done or claimed by another process are skipped, so several processes running
    the same call share the runs. ``logger_kwargs`` go to :class:`LossLogger`.
    """
    indices = list(range(_positive(runs, "runs"))) if isinstance(runs, int) else [_check_run(m) for m in runs]
    fit_kwargs = dict(fit_kwargs or {})
    fit_x, fit_y = _training_inputs(x, y, train_data)
    config = {"batch_size": fit_kwargs.get("batch_size"), **(_build_spec(build) if _takes_shape(build) else {}),
              **logger_kwargs.pop("config", {}),
              "fit": {k: v for k, v in fit_kwargs.items()
                      if k != "verbose" and isinstance(v, (str, int, float, bool, type(None)))}}
    spec = make_spec(study, x, y, model_name=model_name, config=config, **logger_kwargs)
    outcomes = {}
    for m in indices:
        outcomes[m] = _fit_one(build, dataclasses.replace(spec, run=m, seed=seed + m), fit_x, fit_y,
                               fit_kwargs=fit_kwargs, compile_kwargs=compile_kwargs, strategy=strategy)
    return outcomes


def _build_spec(build: Callable) -> dict[str, str]:
    """``{"spec": "module:function"}`` of an importable module-level ``build`` (none otherwise), so
    that ``python -m easiness.ablate`` can build the model again, as ``--model MODULE:FUNCTION``."""
    module, name = getattr(build, "__module__", None), getattr(build, "__qualname__", "")
    if not module or module == "__main__" or not name.isidentifier():
        return {}
    return {"spec": f"{module}:{name}"}


def _takes_shape(build: Callable) -> bool:
    """Whether ``build`` takes ``(num_classes, input_shape)``, the protocol of ``--model``."""
    try:
        params = list(inspect.signature(build).parameters.values())
    except (TypeError, ValueError):
        return False
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return len(positional) >= 2 or any(p.kind == p.VAR_POSITIONAL for p in params)


def _built(build: Callable, spec: LogSpec) -> keras.Model:
    """``build(num_classes, input_shape)`` when it takes them (from the data), else ``build()``."""
    if not _takes_shape(build):
        return build()
    data = spec.data
    classes = len(spec.class_names) if spec.class_names else data.one_hot_width or int(data.labels.max()) + 1
    return build(classes, tuple(int(d) for d in data.sample().shape[1:]))


def _training_inputs(x: Any, y: Any, train_data: Any) -> tuple[Any, Any]:
    """What fit trains on: ``train_data`` ((x, y) or a dataset), else the arrays x, y."""
    if train_data is not None:
        return (train_data, None) if isinstance(train_data, tf.data.Dataset) else tuple(train_data)
    if isinstance(x, tf.data.Dataset):
        raise LossLoggerError("with a tf.data.Dataset pass train_data, the batched (shuffled) pipeline fit trains "
                              "on: the scored dataset's ids would reach fit as sample weights")
    return x, y


def _fit_one(build: Callable[..., keras.Model], spec: LogSpec, x: Any, y: Any, *, fit_kwargs: dict[str, Any],
             compile_kwargs: Mapping[str, Any] | None, strategy: tf.distribute.Strategy | None) -> str:
    """Seed, build, compile, fit and log one run; its outcome."""
    try:
        logger = LossLogger.from_spec(spec)
    except RunUnavailable as why:
        print(f"LossLogger: skipped: {why}")
        return f"skipped: {why}"
    keras.utils.set_random_seed(spec.seed)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model = _built(build, spec)
        if compile_kwargs:
            model.compile(**compile_kwargs)
    callbacks = [logger, *fit_kwargs.get("callbacks", [])]
    try:
        model.fit(x, y, **{**fit_kwargs, "callbacks": callbacks})
    except RunUnavailable as why:  # another process claimed it since the check above
        return f"skipped: {why}"
    except (LossLoggerError, ClaimLost):
        pass  # why: this run failed (diverged, taken over); its outcome says why and the other runs go on
    outcome = logger.outcome or "the fit ended without logging"
    return outcome if outcome == "done" else f"failed: {outcome}"
