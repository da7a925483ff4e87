"""``trainer_vs_keras``, ``scoring_share`` and ``fused_vs_sequential``: our trainer against plain Keras.

A study trains M runs of a model (``--runs``, default 4). Same model, data, batch size and
augmentation pipeline, in one process, three ways:

- ours, as ``python -m easiness.score`` trains the M runs by default: fused, all M in one compiled
  step (:func:`easiness.training.train.fuse_size`; CIFAR-sized images), each epoch one augmented training
  pass per run and one per-example scoring pass of the training set (compiled, large batch,
  every example's loss at its index; its clean batches are kept in memory from the untimed
  first epoch on, as the trainer keeps them from its first checkpoint on);
- ours sequential: the same trainer with ``--fuse 1``, M separate runs one after the other;
- keras: for each of M models, ``model.fit`` for one epoch, then ``model.predict`` over the
  training set with its default batch size and the per-example cross-entropy computed from the
  predictions (what a user writes without this tool).

Each side first runs one untimed epoch (tracing); then epochs alternate between the sides so
that drift of the machine's speed hits all alike, and the median epoch time of each is used.
Keys: ``trainer_vs_keras`` (keras seconds / ours for the M runs, higher is better),
``trainer_vs_keras_single_run`` (the same for one run: M = 1, nothing to fuse),
``fused_vs_sequential`` (ours sequential / ours fused) and ``scoring_share`` (our scoring pass
over our training pass, fused; ``scoring_share_single_run`` for one run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

from easiness import models
from easiness import data
from easiness.training import train
from easiness.config import Config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="wrn10_1")
    p.add_argument("--dataset", default="synthetic", help="dataset spec (default: the built-in synthetic set)")
    p.add_argument("--per-class", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--score-batch-size", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=None, help="timed epochs per side (default 3, quick 1)")
    p.add_argument("--runs", type=int, default=4, help="M, runs of the study (default 4)")
    p.add_argument("--fuse", type=int, default=0, help="runs per compiled step (default 0: the trainer's auto)")


def build(name: str, dataset: data.Dataset, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return models.build(name, num_classes=len(dataset.class_names), input_shape=dataset.image_shape)


def train_pipe(dataset: data.Dataset, batch: int, seed: int) -> tf.data.Dataset:
    return data.pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape, batch_size=batch,
                         augment=True, shuffle_seed=seed, drop_remainder=True)


class Ours:
    """Our trainer's group of runs (one compiled step for all its seeds) and its scoring pass."""

    def __init__(self, name: str, dataset: data.Dataset, args: argparse.Namespace, seeds: list[int]):
        self.dataset, self.args, self.seeds = dataset, args, seeds
        self.strategy = tf.distribute.get_strategy()
        nets, optimizers = [], []
        for seed in seeds:
            nets.append(build(name, dataset, seed))
            optimizers.append(keras.optimizers.SGD(0.1, momentum=0.9))
        self.steps = train.make_group_steps(nets, optimizers, self.strategy, weight_decay=1e-4)

    def epoch(self, epoch: int) -> tuple[float, float]:
        """(training seconds, scoring seconds) of one epoch of every run of the group."""
        config = Config(batch_size=self.args.batch_size)
        started = time.perf_counter()
        train.fit_epoch(self.steps, self.dataset, config=config, strategy=self.strategy,
                        seeds=[train.shuffle_seed(s, epoch) for s in self.seeds])  # reads the losses: waits
        trained = time.perf_counter()
        scored = train.score_group(self.steps, self.strategy, self.dataset.train, self.dataset,
                                   batch_size=self.args.score_batch_size, reuse=True)  # as the trainer scores
        assert all(losses.shape == (len(self.dataset.train.ids),) for losses, *_ in scored)
        return trained - started, time.perf_counter() - trained


class PlainKeras:
    """model.fit for an epoch, then model.predict over the training set (what a user writes)."""

    def __init__(self, name: str, dataset: data.Dataset, args: argparse.Namespace, seed: int):
        self.dataset, self.args = dataset, args
        self.model = build(name, dataset, seed)
        self.model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    def epoch(self, seed: int) -> tuple[float, float]:
        started = time.perf_counter()
        pipe = train_pipe(self.dataset, self.args.batch_size, seed).map(lambda i, x, y: (x, y))
        self.model.fit(pipe, epochs=1, verbose=0)
        trained = time.perf_counter()
        clean = data.pipeline(self.dataset.train, style=self.dataset.style, image_shape=self.dataset.image_shape,
                              batch_size=32, augment=False, shuffle_seed=None)  # predict's default batch size
        logits = self.model.predict(clean.map(lambda i, x, y: x), verbose=0)
        losses = _cross_entropy(logits, self.dataset.train.labels)
        assert losses.shape == (len(self.dataset.train.ids),)
        return trained - started, time.perf_counter() - trained


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels]


def measure(args: argparse.Namespace, results: dict) -> dict:
    per_class = args.per_class or (100 if args.quick else None)
    dataset = data.load(args.dataset, per_class=per_class)
    seeds = list(range(args.runs))
    fuse = train.fuse_size(Config(fuse=args.fuse), dataset.image_shape)
    sides = {"fused": [Ours(args.model, dataset, args, seeds[i:i + fuse]) for i in range(0, len(seeds), fuse)],
             "sequential": [Ours(args.model, dataset, args, [s]) for s in seeds],
             "keras": [PlainKeras(args.model, dataset, args, s) for s in seeds]}
    for runs in sides.values():
        for run in runs:
            run.epoch(0)  # tracing and warm-up, untimed
    timed = args.epochs or (1 if args.quick else 3)
    times: dict[str, list[list[tuple[float, float]]]] = {k: [] for k in sides}
    for e in range(timed):
        for key, runs in sides.items():
            times[key].append([run.epoch(e + 1) for run in runs])
    return summarise(times, args=args, fuse=fuse, n=len(dataset.train.ids), dataset=dataset.name,
                     image_shape=dataset.image_shape, classes=len(dataset.class_names))


def summarise(times: dict, *, args: argparse.Namespace, fuse: int, n: int, dataset: str,
              image_shape: tuple[int, ...], classes: int) -> dict:
    """Median (train, score) seconds per epoch of all M runs of each side, and of its first run."""
    def median(key: str, part: int, first_only: bool = False) -> float:
        return statistics.median(sum(t[part] for t in (e[:1] if first_only else e)) for e in times[key])

    ours = {part: median("fused", part) for part in (0, 1)}
    keras_ = {part: median("keras", part) for part in (0, 1)}
    sequential = median("sequential", 0) + median("sequential", 1)
    one = {side: median(side, 0, True) + median(side, 1, True) for side in ("sequential", "keras")}
    return {
        "model": args.model, "dataset": dataset, "examples": n, "batch_size": args.batch_size,
        "image_shape": list(image_shape), "classes": classes, "runs": args.runs, "fused_runs": fuse,
        "ours_runs": min(fuse, args.runs),  # runs trained in the timed ``ours_train_s`` (gflops)
        "ours_train_s": median("fused", 0, True), "ours_score_s": median("fused", 1, True),
        "ours_epoch_s": ours[0] + ours[1], "sequential_epoch_s": sequential,
        "keras_fit_s": keras_[0], "keras_predict_s": keras_[1], "keras_epoch_s": keras_[0] + keras_[1],
        "trainer_vs_keras": (keras_[0] + keras_[1]) / (ours[0] + ours[1]),
        "trainer_vs_keras_single_run": one["keras"] / one["sequential"],
        "fused_vs_sequential": sequential / (ours[0] + ours[1]),
        "scoring_share": ours[1] / ours[0],
        "scoring_share_single_run": median("sequential", 1, True) / median("sequential", 0, True),
        "tensorflow": tf.__version__, "keras": keras.__version__, "cpus": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def report(result: dict) -> list[str]:
    m = result["runs"]
    return [
        f"{result['model']} on {result['dataset']} (N={result['examples']}, batch {result['batch_size']}), "
        f"a study of M={m} runs, one epoch each (training + scoring pass):",
        f"  ours, {result['ours_runs']} runs per compiled step (the default): {result['ours_epoch_s']:.2f}s",
        f"  ours, one run at a time (--fuse 1)        : {result['sequential_epoch_s']:.2f}s",
        f"  keras fit + predict, {m} models            : {result['keras_epoch_s']:.2f}s "
        f"(fit {result['keras_fit_s']:.2f}s + predict {result['keras_predict_s']:.2f}s)",
        f"trainer_vs_keras            {result['trainer_vs_keras']:.2f}   (target >= 1.3)",
        f"trainer_vs_keras_single_run {result['trainer_vs_keras_single_run']:.2f}   (M = 1: nothing to fuse)",
        f"fused_vs_sequential         {result['fused_vs_sequential']:.2f}   (target >= 1.3)",
        f"scoring_share               {result['scoring_share']:.2f}   (target <= 0.25; one run alone: "
        f"{result['scoring_share_single_run']:.2f})",
    ]
