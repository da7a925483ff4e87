"""Small pandas tables built from a study's numbers: one row per chart mark or table line."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

STATUS_LABELS = {"done": "done", "running": "running", "created": "starting", "failed": "failed",
                 "empty": "empty (no run yet)", "unreadable": "unreadable", "starting": "starting",
                 "cancelled": "cancelled", "died": "died (process gone)"}
STATUS_ICONS = STATUS_LABELS  # the name pages/ablation.py imports


def studies(entries: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The start page's listing: one row per study folder."""
    return pd.DataFrame({
        "study": [e["name"] for e in entries],
        "status": [STATUS_LABELS.get(e["status"], e["status"]) for e in entries],
        "dataset": [e["dataset"] or "" for e in entries],
        "models": [", ".join(e["models"]) for e in entries],
        "runs": [e["runs"] for e in entries],
        "checkpoints done": [e["checkpoints"] for e in entries],
        "problem": [e["problem"] or "" for e in entries],
    })


def accuracy(histories: Sequence[Sequence[Mapping[str, Any]]], runs: Sequence[int]) -> pd.DataFrame:
    """Long table (epoch, run, split, accuracy) of every run's per-epoch records."""
    rows = [{"epoch": rec.get("epoch"), "run": f"run {run}", "split": split, "accuracy": rec.get(f"{split}_accuracy")}
            for run, history in zip(runs, histories) for rec in history for split in ("train", "test")]
    frame = pd.DataFrame(rows, columns=["epoch", "run", "split", "accuracy"])
    return frame.dropna(subset=["accuracy"])


def runs(manifests: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run: seed, status, checkpoints, last accuracies, reason, last update."""
    def last(m: Mapping[str, Any], field: str) -> float | None:
        return m["history"][-1].get(field) if m["history"] else None

    return pd.DataFrame({
        "run": [m["run"] for m in manifests], "seed": [m["seed"] for m in manifests],
        "status": [STATUS_LABELS.get(m["status"], m["status"]) for m in manifests],
        "checkpoints": [f"{m['done']} / {len(m['planned'])}" for m in manifests],
        "train accuracy": [last(m, "train_accuracy") for m in manifests],
        "test accuracy": [last(m, "test_accuracy") for m in manifests],
        "reason": [m.get("reason") or "" for m in manifests],
        "updated": [m.get("updated", "") for m in manifests],
    })


def examples(indices: np.ndarray, *, ids: np.ndarray, labels: np.ndarray, class_names: Sequence[str],
             values: np.ndarray) -> pd.DataFrame:
    """The caption of an image grid: rank, id, label and easiness of each shown example."""
    return pd.DataFrame({
        "rank": np.arange(1, len(indices) + 1), "id": [str(x) for x in ids[indices]],
        "label": [class_names[int(c)] for c in labels[indices]], "easiness": values[indices],
    })


def loss_curve(losses: np.ndarray, epochs: Sequence[float], runs: Sequence[int]) -> pd.DataFrame:
    """Long table (epoch, run, loss) of one example's ``[M, C]`` losses plus their mean."""
    names = [f"run {r}" for r in runs] + ["mean"]
    values = np.vstack([losses, losses.mean(axis=0, keepdims=True)])
    c = losses.shape[1]
    return pd.DataFrame({"epoch": np.tile(np.asarray(epochs[:c], dtype=float), len(names)),
                         "run": np.repeat(names, c), "loss": values.ravel()})


def matching(rates: Mapping[tuple[str, str], Mapping[str, np.ndarray]], epochs: Sequence[float]) -> pd.DataFrame:
    """Long table (pair, set, epoch, rate) of Fig. 3's curves."""
    parts = [pd.DataFrame({"pair": f"{a} vs {b}", "set": which, "epoch": epochs, "rate": curve[which]})
             for (a, b), curve in rates.items() for which in ("easy", "hard")]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["pair", "set", "epoch", "rate"])


def matrix(names: Sequence[str], values: np.ndarray) -> pd.DataFrame:
    """Long table (a, b, rate) of a square matrix."""
    k = len(names)
    return pd.DataFrame({"a": np.repeat(names, k), "b": np.tile(names, k), "rate": np.asarray(values).ravel()})


def off_diagonal_mean(values: np.ndarray) -> float:
    """The mean of a square matrix without its diagonal (NaN for a 1x1 matrix)."""
    k = len(values)
    return float((values.sum() - np.trace(values)) / (k * k - k)) if k > 1 else float("nan")


def group_shares(names: Sequence[str], shares: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """Long table (group, set, share) of the ground-truth groups in all examples and each set."""
    labels = {"all": "all examples", "easy": "easy set", "hard": "hard set"}
    return pd.concat([pd.DataFrame({"group": list(names), "set": labels[key], "share": shares[key]})
                      for key in ("all", "easy", "hard")], ignore_index=True)


def group_means(names: Sequence[str], means: np.ndarray, epochs: Sequence[float]) -> pd.DataFrame:
    """Long table (epoch, group, easiness) of each group's mean easiness over training."""
    k, g = means.shape
    return pd.DataFrame({"epoch": np.repeat(np.asarray(epochs, dtype=float), g),
                         "group": np.tile(list(names), k), "easiness": means.ravel()})
