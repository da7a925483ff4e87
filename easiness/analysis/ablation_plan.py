"""What an ablation is asked to do, checked against its study before anything is written
(numpy and the standard library; no TensorFlow).

A :class:`Request` holds the choices of ``python -m easiness.ablate`` or of the app's form; its
:meth:`Request.argv` is the command line that runs it. :func:`resolve` checks every choice
against the study and returns a :class:`Plan`: the finished runs whose scores are averaged, the
checkpoint T, the configuration of every retraining and of the stepwise intermediate studies.
:func:`job_argv` is the app's one call: a request checked as the command would check it, as the
command line of a background job. Running a plan is :mod:`easiness.training.ablation_run`.
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from easiness import config as cfg
from easiness.analysis import ablation, ablation_folder, metrics, scores, study_scores
from easiness.analysis.ablation import AblationError
from easiness.errors import EasinessError
from easiness.store import Study, run_choice

MAX_SEEDS = 100
DEFAULT_FRACTIONS = (0.1, 0.3, 0.5)
DEFAULT_SEEDS = 3
DEFAULT_EASY_WEIGHTING = "inverse"


@dataclasses.dataclass(frozen=True)
class Request:
    """The choices of one ablation, as the command line or the app's form gives them."""

    study: str | os.PathLike
    model: str
    strategies: Sequence[str] = ablation.STRATEGIES
    score: str = ablation.DEFAULT_SCORE
    fractions: Sequence[float] = DEFAULT_FRACTIONS
    seeds: int = DEFAULT_SEEDS
    checkpoint: int | None = None  # T, 1-based; None: the last
    epochs: int | None = None  # retraining epochs; None: the study's
    balanced: bool = False
    easy_weighting: str = DEFAULT_EASY_WEIGHTING
    step: float = ablation.DEFAULT_STEP
    chain_seed: int = 0
    dataset: str | None = None  # load the data from this spec instead of the study's
    out: str | os.PathLike | None = None  # None: <study>-ablation-<model> next to the study
    skip_damaged: bool = False

    def argv(self) -> list[str]:
        """The ``python -m easiness.ablate`` arguments of this request (one list item each)."""
        args = ["--study", str(self.study), "--model", self.model]
        if self.out is not None:
            args += ["--out", str(self.out)]
        args += ["--strategy", *self.strategies, "--fractions", *(ablation.fraction_label(f) for f in self.fractions),
                 "--seeds", str(int(self.seeds)), "--easy-weighting", self.easy_weighting, "--score", self.score]
        for flag, value in (("--checkpoint", self.checkpoint), ("--epochs", self.epochs),
                            ("--chain-seed", self.chain_seed or None)):
            if value is not None:
                args += [flag, str(int(value))]
        if self.step != ablation.DEFAULT_STEP:
            args += ["--step", repr(float(self.step))]
        if self.dataset:
            args.append(f"--dataset={self.dataset}")  # why one item: a spec starting with "-" stays a value
        switches = (("--balanced", self.balanced), (run_choice.OPTION, self.skip_damaged))
        return args + [flag for flag, on in switches if on]


@dataclasses.dataclass(frozen=True)
class Plan:
    """A validated ablation: everything decided before any file is written."""

    study: Study
    model: str
    runs: tuple[int, ...]  # the finished runs whose easiness is averaged (M = len)
    checkpoint: int  # T, 1-based
    strategies: tuple[str, ...]
    fractions: tuple[float, ...]
    seeds: tuple[int, ...]
    retrain: cfg.Config  # the configuration of every retraining
    rescore: cfg.Config  # the configuration of the stepwise intermediate studies
    balanced: bool
    easy_weighting: str
    step: float
    chain_seed: int
    dataset: str  # the spec the data is loaded from
    out: Path
    score: str = ablation.DEFAULT_SCORE  # what chooses the examples (recorded per point, not a setting)
    left_out: tuple[str, ...] = ()  # "run N: why" of the damaged or failed runs not averaged (--skip-damaged)
    skip_damaged: bool = False  # whether the stepwise intermediate studies may leave out failed runs too

    def settings(self) -> dict[str, Any]:
        """What a resumed ablation in the same folder must match (points are comparable)."""
        return {"study_fingerprint": self.study.fingerprint, "model": self.model, "runs": list(self.runs),
                "checkpoint": self.checkpoint, "balanced": self.balanced, "easy_weighting": self.easy_weighting,
                "step": self.step, "chain_seed": self.chain_seed, "retrain": self.retrain.run_config(self.model)}

    def headline(self) -> str:
        """What is ablated and by which score, for the command's first line."""
        return (f"ablation of {self.study.root} ({self.model}, {self.score} over M={len(self.runs)} runs "
                f"{', '.join(map(str, self.runs))}, T={self.checkpoint}) into {self.out}")


# --------------------------------------------------------------------------- validation (no writes)


def job_argv(request: Request) -> list[str]:
    """The command line of a background job running ``request``, after the checks the command
    makes before it writes anything (:func:`resolve`, :func:`check_out`); AblationError or
    another EasinessError (one line) for bad input."""
    check_out(resolve(request))
    return request.argv()


def resolve(request: Request) -> Plan:
    """Check every choice against the study; AblationError (one line) for bad input."""
    fractions = tuple(sorted({ablation.check_fraction(f) for f in request.fractions}))
    _check_choices(request)
    study_scores.check_names([request.score])  # why first: an unknown name fails before the study is read
    study = Study.open(request.study)
    choice = _finished_runs(study, request.model, skip_damaged=request.skip_damaged)
    runs = list(choice.runs)
    study_scores.require(study, request.model, [request.score], runs=runs)
    manifests = {m["run"]: m for m in study.runs(request.model)}
    run_config = manifests[runs[0]]["config"]
    _check_logged(study, run_config, request)
    planned = manifests[runs[0]]["planned"][:study.losses(request.model, runs=runs).shape[1]]
    checkpoint = _checkpoint(request.checkpoint, planned, request.model)
    base_seed = int(manifests[runs[0]]["seed"]) - runs[0]
    retrain = config_from_run(run_config, epochs=request.epochs, seed=base_seed)
    strategies = tuple(dict.fromkeys(request.strategies))
    if "stepwise" in strategies:
        for f in fractions:
            ablation.stepwise_steps(f, step=request.step)
    _check_sizes(study.n, max(fractions), retrain.batch_size)
    epoch_t = math.ceil(planned[checkpoint - 1]["epoch"] - 1e-9)
    # why the study's own epochs, not --epochs: the intermediate studies repeat the scoring runs up to T
    rescore = truncated(config_from_run(run_config, seed=base_seed), epochs=epoch_t)
    rescore = recording(dataclasses.replace(rescore, runs=len(runs)), scores.needs(request.score))
    out = Path(request.out) if request.out else study.root.parent / f"{study.root.name}-ablation-{request.model}"
    return Plan(study=study, model=request.model, runs=tuple(runs), checkpoint=checkpoint, strategies=strategies,
                fractions=fractions, seeds=tuple(range(request.seeds)), retrain=retrain, rescore=rescore,
                balanced=request.balanced, easy_weighting=request.easy_weighting, step=request.step,
                chain_seed=request.chain_seed, dataset=request.dataset or study.dataset, out=out,
                score=request.score, left_out=choice.left_out, skip_damaged=request.skip_damaged)


def _check_choices(request: Request) -> None:
    """The choices that need no study: AblationError (one line) when out of range."""
    if not request.strategies or not request.fractions:
        raise AblationError("choose at least one strategy and one fraction")
    unknown = [s for s in request.strategies if s not in ablation.ALL_STRATEGIES]
    if unknown:
        raise AblationError(f"unknown strategy {unknown[0]!r}; choose from {', '.join(ablation.ALL_STRATEGIES)}")
    if request.easy_weighting not in ablation.EASY_WEIGHTINGS:
        raise AblationError(f"unknown easy weighting {request.easy_weighting!r}; choose from "
                            f"{', '.join(ablation.EASY_WEIGHTINGS)}")
    if not 1 <= request.seeds <= MAX_SEEDS:
        raise AblationError(f"--seeds must be from 1 to {MAX_SEEDS}, got {request.seeds}")
    if request.chain_seed < 0:
        raise AblationError(f"--chain-seed must be >= 0, got {request.chain_seed}")


def check_out(plan: Plan) -> dict[str, Any] | None:
    """The ablation.json already in the plan's folder (None for a new folder); AblationError if
    the folder holds anything else, or an ablation with other settings."""
    return ablation_folder.check_folder(plan.out, study_root=plan.study.root, settings=plan.settings())


def recording(config: cfg.Config, arrays: Sequence[str]) -> cfg.Config:
    """``config`` also recording ``arrays`` (margins, EL2N) beside the losses: the stepwise
    intermediate studies must record what the score needs, whatever the study was scored with."""
    if not arrays or "record" not in {f.name for f in dataclasses.fields(cfg.Config)}:
        return config
    wanted = set(getattr(config, "record")) | set(arrays)
    return dataclasses.replace(config, record=tuple(a for a in study_scores.RECORDED if a in wanted))


def _check_logged(study: Study, run_config: dict[str, Any], request: Request) -> None:
    """A study written by ``easiness.keras.LossLogger`` can be ablated when the data and the model
    can be had again: AblationError saying how, otherwise."""
    if run_config.get("logger") is None:
        return
    if request.dataset is None and study.dataset in ("arrays", "tf.data"):
        raise AblationError(f"{study.root.name} was logged from {study.dataset} in memory by easiness.keras."
                            f"LossLogger; give the same examples with --dataset (e.g. npz:PATH holding x, y, "
                            f"ids, x_test and y_test)")
    if not run_config.get("spec"):
        raise AblationError(f"{request.model} was logged without a spec the trainer can import; log it with "
                            f"fit_runs(build) where build(num_classes, input_shape) lives in an importable "
                            f"module, or pass LossLogger(config={{'spec': 'module:build'}})")


def _finished_runs(study: Study, model: str, *, skip_damaged: bool = False) -> run_choice.Choice:
    """The model's finished runs to average: AblationError while any run is still being written,
    and (unless ``skip_damaged``) when any is damaged or failed (:mod:`easiness.store.run_choice`)."""
    if model not in study.models and not run_choice.damaged(study, model):
        study.runs(model)  # StoreError listing the models
    manifests = study.runs(model) if model in study.models else []
    busy = [m for m in manifests if m["status"] in ("created", "running")]
    if busy:
        raise AblationError(f"{study.root} is still being written ({model} run {busy[0]['run']} is "
                            f"{busy[0]['status']}); let python -m easiness.score finish it first")
    try:
        return run_choice.choose(study, model, skip_damaged=skip_damaged, finished=True)
    except AblationError:
        raise
    except EasinessError as err:
        raise AblationError(str(err)) from None


def _checkpoint(value: int | None, planned: list[dict], model: str) -> int:
    """T, 1-based, among the checkpoints every finished run recorded."""
    if value is None:
        return len(planned)
    if not 1 <= value <= len(planned):
        raise AblationError(f"--checkpoint {value} is beyond the {len(planned)} recorded checkpoints of "
                            f"{model} (choose 1..{len(planned)})")
    return value


def _check_sizes(n: int, fraction: float, batch_size: int) -> None:
    kept = n - ablation.removal_count(n, fraction)
    if kept < batch_size:
        raise AblationError(f"removing {fraction:g} of {n} examples leaves {kept}, fewer than the batch size "
                            f"{batch_size}; use smaller fractions")


def config_from_run(run_config: dict[str, Any], *, epochs: int | None = None, seed: int = 0) -> cfg.Config:
    """The :class:`Config` of one retraining from a run manifest's config (``--epochs`` applied)."""
    names = {f.name for f in dataclasses.fields(cfg.Config)}
    values = {k: v for k, v in run_config.items() if k in names}
    values.update(models=(run_config["model"],), runs=1, seed=seed,
                  model_specs=((run_config["model"], run_config["spec"]),) if run_config.get("spec") else (),
                  lr_milestones=tuple(values.get("lr_milestones", cfg.CIFAR_MILESTONES)))
    if epochs is not None:
        values["epochs"] = epochs
    return cfg.with_overrides(cfg.Config(), values)


def truncated(config: cfg.Config, *, epochs: int) -> cfg.Config:
    """``config`` stopped after ``epochs`` with its learning rate still changing at the same
    epochs as the full schedule (milestones are fractions of the epochs, so they are rescaled),
    scored at the end of every epoch: the intermediate studies of stepwise removal."""
    at = [int(f * config.epochs + 0.5) for f in config.lr_milestones]  # as config.lr_at decides
    return dataclasses.replace(config, epochs=epochs, score_every=0,
                               lr_milestones=tuple(m / epochs for m in at if m < epochs))


def score_values(study: Study, model: str, score: str, *, runs: Sequence[int], k: int) -> np.ndarray:
    """``[N]`` removal values of ``score`` at checkpoint ``k`` (0-based; -1 the last) from ``runs``:
    easiness exactly as before scores existed (Eq. 1), any other score rank-normalised
    (:func:`easiness.analysis.ablation.removal_values`)."""
    if score == ablation.DEFAULT_SCORE:
        return metrics.easiness(study.losses(model, runs=runs), checkpoint=k)
    values = study_scores.compute(study, model, at=k, names=[score], runs=runs).mean[score]
    return ablation.removal_values(score, values)
