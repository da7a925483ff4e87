"""``python -m easiness.ablate``: drop easy, hard, random or stepwise fractions of a study's
training set, retrain on the rest, and record test accuracy (Fig. 4 of arXiv:1911.10739).

    python -m easiness.ablate --study runs/synthetic --model wrn10_1 \\
        --strategy easy hard random stepwise --fractions 0.1 0.3 0.5 --seeds 3
    python -m easiness.ablate --study runs/synthetic --model wrn10_1 --out runs/synthetic-ablation-wrn10_1 \\
        --score el2n --strategy easy-topk --fractions 0.1 0.3 0.5 --seeds 3

Easiness comes from the study's finished runs of ``--model`` at checkpoint ``--checkpoint`` (T,
1-based; default the last); see :mod:`easiness.ablation` for the sampling rules. ``--score``
removes by another difficulty score of :mod:`easiness.scores` at the same T instead (EL2N,
forgetting, AUM...; rank-normalised for the weighted rules, see :mod:`easiness.ablation`), and
``--strategy easy-topk`` prunes its k easiest deterministically, as Data Diet and forgetting
pruning do. The score is recorded with every point, so several commands into one ``--out``
(easiness stepwise, EL2N top-k, forgetting top-k) share the full-data and random points and the
app plots their curves together. A score needing margins or EL2N that the study did not record
is refused with one line saying how to get them. Every point
(strategy, fraction, seed) retrains ``--model`` from scratch on the kept examples with the
study's own training configuration (``--epochs`` overrides the number of epochs; the learning
rate schedule scales with it) and tests it on the study's full test split. One ``full`` point per
seed (nothing removed) starts every curve.

Output folder (``--out``)::

    ablation.json                  settings (what a resumed run must match), costs, read-out
    ablation.csv                   one row per finished point; rewritten atomically after each
    kept/<strategy>_f<fraction>_s<seed>.txt   the kept example ids, one per line
    kept/<strategy>_f<fraction>_s<seed>.npy   the kept indices into the study's N examples
                                   (``<strategy>-by-<score>_f...`` for scores other than easiness)
    stepwise/step-01/              intermediate studies of stepwise removal (ordinary study folders)
    stepwise/step-01-kept.txt/.npy the subset each one was trained on
    stepwise-<score>/step-01/      the same for stepwise removal by another score

Stepwise scores what is left after each step with M new runs (M = the runs averaged) trained to
the epoch of T (rounded up to a whole epoch) with the study's learning-rate schedule, recording
the margins or EL2N the score needs; those subsets are drawn once (``--chain-seed``) and reused
by every seed and fraction.

Easiness is averaged over the model's M finished runs; M and the runs are printed and kept in
ablation.json (``m``, ``runs``). A model with a damaged (unreadable) or failed run is refused with
one line naming the runs, unless ``--skip-damaged`` asks to average its other runs; the same holds
for the runs of the stepwise intermediate studies (:mod:`easiness.run_choice`; export and compare
follow the same rule).

Killed and started again with the same settings, it skips the points already in ablation.csv and
the intermediate studies already finished (an unfinished one resumes from its last epoch).
Bad input ends with one line on stderr, exit status 2, and nothing written; so does a full or
read-only disk met while writing (nothing already written is lost: the same command continues).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from easiness import ablation, atomic, metrics, run_choice, scores, study_scores
from easiness import config as cfg
from easiness.ablation import AblationError
from easiness.cli import OneLineParser, check_writable_place, import_tensorflow_quietly, run_command
from easiness.errors import EasinessError
from easiness.status import StatusFile, check_status_file, interrupt_on_sigterm, run_job, stop_if_terminated
from easiness.store import Study

Log = Callable[[str], None]
SCHEMA = 1
CSV_FILE, JSON_FILE, KEPT_DIR, STEPWISE_DIR = "ablation.csv", "ablation.json", "kept", "stepwise"
MAX_SEEDS = 100


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
    p.add_argument("--fractions", nargs="+", type=float, default=[0.1, 0.3, 0.5],
                   help="shares of the training set to remove, each in (0, 1) (default 0.1 0.3 0.5)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 per point (default 3)")
    p.add_argument("--checkpoint", type=int, help="T: the study's checkpoint, 1-based (default: the last)")
    p.add_argument("--epochs", type=int, help="retraining epochs (default: the study's)")
    p.add_argument("--balanced", action="store_true", help="remove the same share of every class")
    p.add_argument("--easy-weighting", choices=list(ablation.EASY_WEIGHTINGS), default="inverse",
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


# --------------------------------------------------------------------------- validation (no writes)


def resolve(args: argparse.Namespace) -> Plan:
    """Check every argument against the study; AblationError (one line) for bad input."""
    fractions = tuple(sorted({ablation.check_fraction(f) for f in args.fractions}))
    if not 1 <= args.seeds <= MAX_SEEDS:
        raise AblationError(f"--seeds must be from 1 to {MAX_SEEDS}, got {args.seeds}")
    if args.chain_seed < 0:
        raise AblationError(f"--chain-seed must be >= 0, got {args.chain_seed}")
    study_scores.check_names([args.score])  # why first: an unknown name fails before the study is read
    study = Study.open(args.study)
    choice = _finished_runs(study, args.model, skip_damaged=args.skip_damaged)
    runs = list(choice.runs)
    study_scores.require(study, args.model, [args.score], runs=runs)
    manifests = {m["run"]: m for m in study.runs(args.model)}
    _check_logged(study, manifests[runs[0]]["config"], args)
    planned = manifests[runs[0]]["planned"][:study.losses(args.model, runs=runs).shape[1]]
    checkpoint = _checkpoint(args.checkpoint, planned, args.model)
    base_seed = int(manifests[runs[0]]["seed"]) - runs[0]
    run_config = manifests[runs[0]]["config"]
    retrain = config_from_run(run_config, epochs=args.epochs, seed=base_seed)
    strategies = tuple(dict.fromkeys(args.strategies))
    if "stepwise" in strategies:
        for f in fractions:
            ablation.stepwise_steps(f, step=args.step)
    _check_sizes(study.n, max(fractions), retrain.batch_size)
    epoch_t = math.ceil(planned[checkpoint - 1]["epoch"] - 1e-9)
    # why the study's own epochs, not --epochs: the intermediate studies repeat the scoring runs up to T
    rescore = truncated(config_from_run(run_config, seed=base_seed), epochs=epoch_t)
    rescore = recording(dataclasses.replace(rescore, runs=len(runs)), scores.needs(args.score))
    out = Path(args.out) if args.out else study.root.parent / f"{study.root.name}-ablation-{args.model}"
    return Plan(study=study, model=args.model, runs=tuple(runs), checkpoint=checkpoint, strategies=strategies,
                fractions=fractions, seeds=tuple(range(args.seeds)), retrain=retrain, rescore=rescore,
                balanced=args.balanced, easy_weighting=args.easy_weighting, step=args.step,
                chain_seed=args.chain_seed, dataset=args.dataset or study.dataset, out=out, score=args.score,
                left_out=choice.left_out, skip_damaged=args.skip_damaged)


def recording(config: cfg.Config, arrays: Sequence[str]) -> cfg.Config:
    """``config`` also recording ``arrays`` (margins, EL2N) beside the losses: the stepwise
    intermediate studies must record what the score needs, whatever the study was scored with."""
    if not arrays or "record" not in {f.name for f in dataclasses.fields(cfg.Config)}:
        return config
    wanted = set(getattr(config, "record")) | set(arrays)
    return dataclasses.replace(config, record=tuple(a for a in study_scores.RECORDED if a in wanted))


def _check_logged(study: Study, run_config: dict[str, Any], args: argparse.Namespace) -> None:
    """A study written by ``easiness.keras.LossLogger`` can be ablated when the data and the model
    can be had again: AblationError saying how, otherwise."""
    if run_config.get("logger") is None:
        return
    if args.dataset is None and study.dataset in ("arrays", "tf.data"):
        raise AblationError(f"{study.root.name} was logged from {study.dataset} in memory by easiness.keras."
                            f"LossLogger; give the same examples with --dataset (e.g. npz:PATH holding x, y, "
                            f"ids, x_test and y_test)")
    if not run_config.get("spec"):
        raise AblationError(f"{args.model} was logged without a spec the trainer can import; log it with "
                            f"fit_runs(build) where build(num_classes, input_shape) lives in an importable "
                            f"module, or pass LossLogger(config={{'spec': 'module:build'}})")


def _finished_runs(study: Study, model: str, *, skip_damaged: bool = False) -> run_choice.Choice:
    """The model's finished runs to average: AblationError while any run is still being written,
    and (unless ``skip_damaged``) when any is damaged or failed (:mod:`easiness.run_choice`)."""
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


def check_out(plan: Plan) -> dict[str, Any] | None:
    """The ablation.json already in ``--out`` (None for a new folder); AblationError if the folder
    holds anything else, or an ablation with other settings."""
    out = plan.out
    if out.resolve() == plan.study.root.resolve():
        raise AblationError("--out must not be the study folder itself")
    if out.exists() and not out.is_dir():
        raise AblationError(f"{out} is a file; choose another --out")
    check_writable_place(out, "--out", folder=True)
    if not (out / JSON_FILE).is_file():
        if out.is_dir() and any(out.iterdir()):
            raise AblationError(f"{out} is not empty and holds no ablation; choose another --out")
        return None
    meta = read_meta(out / JSON_FILE)
    old = meta.get("settings", {})
    changed = sorted(k for k in set(old) | set(plan.settings()) if old.get(k) != plan.settings().get(k))
    if changed:
        raise AblationError(f"{out} holds an ablation with other settings ({', '.join(changed)}); "
                            f"choose another --out")
    return meta


def read_meta(path: Path) -> dict[str, Any]:
    """A JSON file written by this tool; AblationError if unreadable."""
    import json

    try:
        meta = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as e:
        raise AblationError(f"cannot read {path}: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("settings", {}), dict):
        raise AblationError(f"cannot read {path}: not an ablation.json of this tool (no settings object); "
                            f"choose another --out")
    return meta


def load_data(plan: Plan, *, data_dir: str | None):
    """The study's dataset, checked against its fingerprint (TensorFlow is imported here)."""
    from easiness import data

    run = plan.retrain
    dataset = data.load(plan.dataset, per_class=run.per_class, image_size=run.image_size, data_dir=data_dir)
    if data.fingerprint(dataset) != plan.study.fingerprint:
        raise AblationError(f"the data loaded from {plan.dataset} is not the data of {plan.study.root} "
                            f"(fingerprint differs); pass the right --dataset")
    if dataset.test is None:
        raise AblationError(f"{dataset.name} has no test split; the ablation measures test accuracy")
    return dataset


# --------------------------------------------------------------------------- the ablation


class Ablation:
    """Runs the points of a :class:`Plan` into its folder, skipping those already recorded."""

    def __init__(self, plan: Plan, dataset=None, *, status: StatusFile | None = None, log: Log = print):
        """``dataset``: the study's data (:func:`load_data`); needed only to train pending points."""
        self.plan, self.dataset, self.log = plan, dataset, log
        self.status = status or StatusFile(None)
        self.n = plan.study.n
        self.values = score_values(plan.study, plan.model, plan.score, runs=plan.runs, k=plan.checkpoint - 1)
        self.labels = np.asarray(plan.study.labels)
        self.rows = read_rows(plan.out)
        self._chain: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # step -> (kept, easiness)
        # intermediate study folder -> the runs averaged; kept from ablation.json, as steps done are not read again
        old = read_meta(plan.out / JSON_FILE) if (plan.out / JSON_FILE).is_file() else {}
        steps = old.get("stepwise_runs")
        self.step_runs: dict[str, list[int]] = dict(steps) if isinstance(steps, dict) else {}
        self._strategy = None

    def points(self) -> list[tuple[str, float, int]]:
        """Every point, seed-major: after the first seed each curve already has all its fractions."""
        per_seed = [(ablation.FULL, 0.0)] + [(s, f) for f in self.plan.fractions for s in self.plan.strategies]
        return [(s, f, seed) for seed in self.plan.seeds for s, f in per_seed]

    def pending(self) -> list[tuple[str, float, int]]:
        done = {ablation.row_key(r) for r in self.rows}
        return [p for p in self.points() if ablation.point_key(*p, self.plan.score) not in done]

    def run(self) -> list[dict[str, Any]]:
        """Train every pending point; ablation.csv and ablation.json are rewritten after each."""
        todo = self.pending()
        self.status.update(state="running", done=0, total=self._total(todo), out=str(self.plan.out))
        self.plan.out.mkdir(parents=True, exist_ok=True)
        self.write_json()
        for point in todo:
            text = ablation.format_rows([*self.rows, self._point(*point)])
            atomic.write_bytes_atomic(self.plan.out / CSV_FILE, text.encode())
            self.rows = ablation.parse_rows(text)  # why: as a resumed run will read them, to the digit
            self.write_json()
        return self.rows

    def _point(self, strategy: str, fraction: float, seed: int) -> dict[str, Any]:
        from easiness import retrain

        removed = self._removal(strategy, fraction, seed)
        keep = ablation.kept_indices(self.n, removed)
        name = ablation.point_name(strategy, fraction, seed, self.plan.score)
        save_kept(self.plan.out / KEPT_DIR, name, self.plan.study.ids, keep)
        subset = self.dataset if removed.size == 0 else retrain.subset(self.dataset, keep)
        epochs = self.plan.retrain.epochs
        label = f"{ablation.curve(strategy, self.plan.score)} f={ablation.fraction_label(fraction)} seed {seed}"

        def on_epoch(epoch: int) -> None:
            stop_if_terminated()
            self.status.advance(f"{label}: epoch {epoch + 1}/{epochs}")

        result = retrain.retrain(subset, config=self.plan.retrain, model_name=self.plan.model, seed=seed,
                                 strategy=self._tf_strategy(), log=self.log, on_epoch=on_epoch)
        self.log(f"{label}: kept {keep.size} of {self.n}, test accuracy {result.test_accuracy:.4f} "
                 f"({result.seconds:.0f}s)")
        return {"strategy": strategy, "target_fraction": fraction, "removed_fraction": removed.size / self.n,
                "seed": seed, "kept": int(keep.size), "removed": int(removed.size),
                "test_accuracy": result.test_accuracy, "test_loss": result.test_loss, "epochs": epochs,
                "seconds": round(result.seconds, 1), "status": result.status, "kept_file": f"{KEPT_DIR}/{name}.txt",
                "score": ablation.point_score(strategy, self.plan.score)}

    def _removal(self, strategy: str, fraction: float, seed: int) -> np.ndarray:
        if strategy == ablation.FULL:
            return np.zeros(0, dtype=np.int64)
        return ablation.sample_removal(self.values, fraction=fraction, strategy=strategy, seed=seed,
                                       labels=self.labels, balanced=self.plan.balanced,
                                       easy_weighting=self.plan.easy_weighting, rescore=self._rescore,
                                       step=self.plan.step, chain_seed=self.plan.chain_seed)

    def _tf_strategy(self):
        if self._strategy is None:
            from easiness import train

            self._strategy = train.make_strategy()
        return self._strategy

    # ------------------------------------------------------------ stepwise

    def _rescore(self, step: int, kept: np.ndarray) -> np.ndarray:
        """Removal values (:func:`easiness.ablation.removal_values` of the plan's score) of the
        examples ``kept`` after stepwise step ``step``, from their own study."""
        if step in self._chain:
            known, values = self._chain[step]
            if not np.array_equal(known, kept):  # the chain is drawn with chain_seed only
                raise RuntimeError(f"stepwise step {step} drew a different subset than before")
            return values
        folder = step_dir(self.plan.out, step, self.plan.score)
        save_kept(folder.parent, folder.name + "-kept", self.plan.study.ids, kept)
        if not _finished(folder, self.plan.model, len(self.plan.runs)):
            self._train_step(step, folder, kept)
        values = self._step_values(folder, kept)
        self._chain[step] = (kept.copy(), values)
        return values

    def _train_step(self, step: int, folder: Path, kept: np.ndarray) -> None:
        from easiness import retrain, score

        self.log(f"stepwise step {step}: scoring the {kept.size} examples left with {len(self.plan.runs)} runs")
        name = f"{self.dataset.name} (stepwise step {step}: {kept.size} of {self.n} kept)"
        score.run_study(self.plan.rescore, out=folder, dataset=retrain.subset(self.dataset, kept, name=name),
                        log=self.log, status=_Nested(self.status, f"stepwise step {step}"))

    def _step_values(self, folder: Path, kept: np.ndarray) -> np.ndarray:
        study = Study.open(folder)
        if not np.array_equal(np.asarray(study.ids), np.asarray(self.plan.study.ids)[kept]):
            raise AblationError(f"{folder} was trained on other examples; delete it to score the step again")
        try:  # the rule of the study's own runs: damaged or failed runs are refused unless --skip-damaged
            choice = run_choice.choose(study, self.plan.model, skip_damaged=self.plan.skip_damaged, finished=True)
        except EasinessError as e:
            raise AblationError(f"stepwise step {folder.name}: {e}; or delete {folder} to score the step again") from None
        if choice.left_out:
            self.log(f"stepwise {folder.name}: easiness averaged over M={choice.m} of its runs "
                     f"(left out: {'; '.join(choice.left_out)})")
        self.step_runs[str(folder.relative_to(self.plan.out))] = list(choice.runs)
        done = list(choice.runs)
        try:
            return score_values(study, self.plan.model, self.plan.score, runs=done, k=-1)
        except study_scores.ScoreUnavailable as e:
            raise AblationError(f"stepwise by {self.plan.score}: the intermediate study {folder} lacks what the "
                                f"score needs ({e}); delete {folder} so that it is trained again recording it") from None

    # ------------------------------------------------------------ bookkeeping

    def _total(self, todo: list[tuple[str, float, int]]) -> int:
        """Work units (epochs) left: retrainings plus the intermediate studies not finished yet."""
        units = len(todo) * self.plan.retrain.epochs
        steps = max((ablation.stepwise_steps(f, step=self.plan.step) - 1 for s, f, _ in todo if s == "stepwise"),
                    default=0)
        for j in range(1, steps + 1):
            if not _finished(step_dir(self.plan.out, j, self.plan.score), self.plan.model, len(self.plan.runs)):
                units += len(self.plan.runs) * self.plan.rescore.epochs
        return units

    def costs(self) -> dict[str, Any]:
        """The cost ledger's inputs, in example-passes (examples x epochs)."""
        plan, n = self.plan, self.n
        step_t = plan.study.checkpoints(plan.model)[plan.checkpoint - 1]["step"]
        batch = plan.retrain.batch_size
        steps = max((ablation.stepwise_steps(f, step=plan.step) for f in plan.fractions), default=1) \
            if "stepwise" in plan.strategies else 1
        left = [n - ablation.removal_count(n, j * plan.step) for j in range(1, steps)]
        return {"scoring": len(plan.runs) * step_t * batch, "epochs": plan.retrain.epochs, "step": plan.step,
                "stepwise": [len(plan.runs) * plan.rescore.epochs * (k // batch) * batch for k in left], "n": n}

    def write_json(self) -> None:
        plan = self.plan
        costs = self.costs()
        meta = {"schema_version": SCHEMA, "kind": "easiness-ablation", "study": str(plan.study.root),
                "dataset": plan.study.dataset, "n": self.n, "settings": plan.settings(),
                "m": len(plan.runs), "runs": list(plan.runs), "left_out": list(plan.left_out),
                "stepwise_runs": dict(self.step_runs),
                "requested": {"strategies": list(plan.strategies), "fractions": list(plan.fractions),
                              "seeds": list(plan.seeds), "score": plan.score},
                "costs": costs, "readout": ablation.readout(ablation.summarise(self.rows), costs=costs)}
        atomic.write_json_atomic(plan.out / JSON_FILE, _finite(meta))


def _finite(value: Any) -> Any:
    """``value`` with NaN floats as None: ablation.json stays standard JSON for other tools."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


class _Nested:
    """What :func:`easiness.score.run_study` asks of a StatusFile, counted into the ablation's
    progress: its epochs advance ours, its totals and states are its own business."""

    def __init__(self, parent: StatusFile, label: str):
        self.parent, self.label = parent, label
        self.offset = parent.data["done"]
        self.data = {"done": 0}

    def update(self, **fields: Any) -> None:
        if "done" in fields:
            self.data["done"] = fields["done"]
            self.parent.update(done=self.offset + fields["done"])

    def advance(self, message: str) -> None:
        stop_if_terminated()
        self.data["done"] += 1
        self.parent.advance(f"{self.label}: {message}")


def step_dir(out: Path, step: int, score: str = ablation.DEFAULT_SCORE) -> Path:
    """The folder of stepwise step ``step``'s intermediate study (one chain per score)."""
    chain = STEPWISE_DIR if score == ablation.DEFAULT_SCORE else f"{STEPWISE_DIR}-{score}"
    return out / chain / f"step-{step:02d}"


def score_values(study: Study, model: str, score: str, *, runs: Sequence[int], k: int) -> np.ndarray:
    """``[N]`` removal values of ``score`` at checkpoint ``k`` (0-based; -1 the last) from ``runs``:
    easiness exactly as before scores existed (Eq. 1), any other score rank-normalised
    (:func:`easiness.ablation.removal_values`)."""
    if score == ablation.DEFAULT_SCORE:
        return metrics.easiness(study.losses(model, runs=runs), checkpoint=k)
    values = study_scores.compute(study, model, at=k, names=[score], runs=runs).mean[score]
    return ablation.removal_values(score, values)


def _finished(folder: Path, model: str, runs: int) -> bool:
    """Whether ``folder`` holds a study whose ``runs`` runs of ``model`` are all finished."""
    try:
        manifests = Study.open(folder).runs(model)
    except EasinessError:
        return False
    return len(manifests) >= runs and all(m["status"] in ("done", "failed") for m in manifests)


def save_kept(folder: Path, name: str, ids: np.ndarray, keep: np.ndarray) -> None:
    """``<name>.txt`` (the kept ids, one per line) and ``<name>.npy`` (their indices), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes_atomic(folder / f"{name}.txt", ("\n".join(np.asarray(ids)[keep].tolist()) + "\n").encode())
    atomic.save_npy_atomic(folder / f"{name}.npy", np.asarray(keep, dtype=np.int64))


def read_rows(out: Path) -> list[dict[str, Any]]:
    """The points recorded in ``out/ablation.csv`` (none if it does not exist); AblationError
    (one line) if it cannot be read."""
    path = out / CSV_FILE
    if not path.is_file():
        return []
    try:
        return ablation.parse_rows(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AblationError(f"cannot read {path} ({' '.join(str(e).split()) or type(e).__name__}); "
                            f"repair it or choose another --out") from None


# --------------------------------------------------------------------------- the command


def main(argv: Sequence[str] | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        if args.status_file:
            check_status_file(args.status_file)  # why first: one line before the study is read or TF loads
        plan = resolve(args)
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
        skipped = len(job.points()) - len(job.pending())
        if plan.left_out:
            print(f"note: {plan.model}: M={len(plan.runs)} (left out: {'; '.join(plan.left_out)})")
        print(f"ablation of {plan.study.root} ({plan.model}, easiness over M={len(plan.runs)} runs "
              f"{', '.join(map(str, plan.runs))}, T={plan.checkpoint}, by {plan.score}) into {plan.out}: "
              f"{len(job.pending())} points to train, {skipped} already done")
        rows = job.run()
        print(ablation.format_readout(ablation.readout(ablation.summarise(rows), costs=job.costs())))
        print(f"finished in {time.perf_counter() - started:.0f}s; results in {plan.out / CSV_FILE}")

    return run_job(job.status, work, resume_hint="run the same command again to continue with the next point")


if __name__ == "__main__":
    sys.exit(main())
