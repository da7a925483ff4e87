"""Running an ablation: every point (strategy, fraction, seed) of a checked
:class:`~easiness.analysis.ablation_plan.Plan` retrained on its kept examples and recorded in the
ablation folder (:mod:`easiness.analysis.ablation_folder`), skipping the points already there.

Importing this module does not import TensorFlow: a finished ablation reports without it. The
retraining (:mod:`easiness.training.retrain`), the stepwise intermediate studies
(:func:`easiness.training.study.run_study`) and the data (:func:`load_data`) import it when a
point is trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from easiness.analysis import ablation, ablation_folder, study_scores
from easiness.analysis.ablation import AblationError
from easiness.analysis.ablation_folder import KEPT_DIR, SCHEMA, step_dir
from easiness.analysis.ablation_plan import Plan, score_values
from easiness.errors import EasinessError
from easiness.logs import Log
from easiness.store import Study, run_choice
from easiness.store.status import StatusFile, stop_if_terminated

Point = tuple[str, float, int]  # strategy, target fraction, seed


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


class Ablation:
    """Runs the points of a :class:`Plan` into its folder, skipping those already recorded."""

    def __init__(self, plan: Plan, dataset=None, *, status: StatusFile | None = None, log: Log = print):
        """``dataset``: the study's data (:func:`load_data`); needed only to train pending points."""
        self.plan, self.dataset, self.log = plan, dataset, log
        self.status = status or StatusFile(None)
        self.n = plan.study.n
        self.values = score_values(plan.study, plan.model, plan.score, runs=plan.runs, k=plan.checkpoint - 1)
        self.labels = np.asarray(plan.study.labels)
        self.rows = ablation_folder.read_rows(plan.out)
        self._chain: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # step -> (kept, removal values)
        # intermediate study folder -> the runs averaged; kept from ablation.json, as steps done are not read again
        steps = ablation_folder.old_meta(plan.out).get("stepwise_runs")
        self.step_runs: dict[str, list[int]] = dict(steps) if isinstance(steps, dict) else {}
        self._strategy = None

    def points(self) -> list[Point]:
        """Every point, seed-major: after the first seed each curve already has all its fractions."""
        per_seed = [(ablation.FULL, 0.0)] + [(s, f) for f in self.plan.fractions for s in self.plan.strategies]
        return [(s, f, seed) for seed in self.plan.seeds for s, f in per_seed]

    def pending(self) -> list[Point]:
        done = {ablation.row_key(r) for r in self.rows}
        return [p for p in self.points() if ablation.point_key(*p, self.plan.score) not in done]

    def run(self) -> list[dict[str, Any]]:
        """Train every pending point; ablation.csv and ablation.json are rewritten after each."""
        todo = self.pending()
        self.status.update(state="running", done=0, total=self._total(todo), out=str(self.plan.out))
        self.plan.out.mkdir(parents=True, exist_ok=True)
        self.write_json()
        for point in todo:
            self.rows = ablation_folder.write_rows(self.plan.out, [*self.rows, self._point(*point)])
            self.write_json()
        return self.rows

    def _point(self, strategy: str, fraction: float, seed: int) -> dict[str, Any]:
        from easiness.data import loading
        from easiness.training import retrain

        removed = self._removal(strategy, fraction, seed)
        keep = ablation.kept_indices(self.n, removed)
        name = ablation.point_name(strategy, fraction, seed, self.plan.score)
        ablation_folder.save_kept(self.plan.out / KEPT_DIR, name, self.plan.study.ids, keep)
        subset = self.dataset if removed.size == 0 else loading.subset(self.dataset, keep)
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
            from easiness.training import train

            self._strategy = train.make_strategy()
        return self._strategy

    # ------------------------------------------------------------ stepwise

    def _rescore(self, step: int, kept: np.ndarray) -> np.ndarray:
        """Removal values (:func:`easiness.analysis.ablation.removal_values` of the plan's score) of the
        examples ``kept`` after stepwise step ``step``, from their own study."""
        if step in self._chain:
            known, values = self._chain[step]
            if not np.array_equal(known, kept):  # the chain is drawn with chain_seed only
                raise RuntimeError(f"stepwise step {step} drew a different subset than before")
            return values
        folder = step_dir(self.plan.out, step, self.plan.score)
        ablation_folder.save_kept(folder.parent, folder.name + "-kept", self.plan.study.ids, kept)
        if not ablation_folder.is_finished(folder, self.plan.model, len(self.plan.runs)):
            self._train_step(step, folder, kept)
        values = self._step_values(folder, kept)
        self._chain[step] = (kept.copy(), values)
        return values

    def _train_step(self, step: int, folder: Path, kept: np.ndarray) -> None:
        from easiness.data import loading
        from easiness.training.study import run_study

        self.log(f"stepwise step {step}: scoring the {kept.size} examples left with {len(self.plan.runs)} runs")
        name = f"{self.dataset.name} (stepwise step {step}: {kept.size} of {self.n} kept)"
        run_study(self.plan.rescore, out=folder, dataset=loading.subset(self.dataset, kept, name=name),
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
            self.log(f"stepwise {folder.name}: {self.plan.score} averaged over M={choice.m} of its runs "
                     f"(left out: {'; '.join(choice.left_out)})")
        self.step_runs[str(folder.relative_to(self.plan.out))] = list(choice.runs)
        try:
            return score_values(study, self.plan.model, self.plan.score, runs=list(choice.runs), k=-1)
        except study_scores.ScoreUnavailable as e:
            raise AblationError(f"stepwise by {self.plan.score}: the intermediate study {folder} lacks what the "
                                f"score needs ({e}); delete {folder} so that it is trained again recording it") from None

    # ------------------------------------------------------------ bookkeeping

    def _total(self, todo: list[Point]) -> int:
        """Work units (epochs) left: retrainings plus the intermediate studies not finished yet."""
        units = len(todo) * self.plan.retrain.epochs
        steps = max((ablation.stepwise_steps(f, step=self.plan.step) - 1 for s, f, _ in todo if s == "stepwise"),
                    default=0)
        for j in range(1, steps + 1):
            if not ablation_folder.is_finished(step_dir(self.plan.out, j, self.plan.score), self.plan.model,
                                               len(self.plan.runs)):
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

    def readout(self) -> list[dict[str, Any]]:
        """:func:`easiness.analysis.ablation.readout` of the points recorded so far."""
        return ablation.readout(ablation.summarise(self.rows), costs=self.costs())

    def write_json(self) -> None:
        plan = self.plan
        ablation_folder.write_meta(plan.out, {
            "schema_version": SCHEMA, "kind": ablation_folder.KIND, "study": str(plan.study.root),
            "dataset": plan.study.dataset, "n": self.n, "settings": plan.settings(),
            "m": len(plan.runs), "runs": list(plan.runs), "left_out": list(plan.left_out),
            "stepwise_runs": dict(self.step_runs),
            "requested": {"strategies": list(plan.strategies), "fractions": list(plan.fractions),
                          "seeds": list(plan.seeds), "score": plan.score},
            "costs": self.costs(), "readout": self.readout()})


class _Nested:
    """What :func:`easiness.training.study.run_study` asks of a StatusFile, counted into the
    ablation's progress: its epochs advance ours, its totals and states are its own business."""

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
