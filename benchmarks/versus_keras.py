"""``trainer_vs_keras`` and ``scoring_share``: our trainer against what a user would write with plain Keras.

Same model, same data, same batch size, same augmentation pipeline, in one process:

- ours: one epoch of ``easiness.train``'s compiled custom step, then its per-example scoring
  pass over the training set (compiled, large batch, every example's loss at its index);
- keras: ``model.fit`` for one epoch, then ``model.predict`` over the training set with its
  default batch size, and the per-example cross-entropy computed from the predictions.

Each side first runs one untimed epoch (tracing); then epochs alternate between the sides so
that drift of the machine's speed hits both alike, and the median epoch time of each is used.
Keys: ``trainer_vs_keras`` (keras seconds / ours, higher is better) and ``scoring_share`` (our
scoring pass / our training pass).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import keras
import numpy as np
import tensorflow as tf

import models
from easiness import data, train


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="wrn10_1")
    p.add_argument("--dataset", default="synthetic", help="dataset spec (default: the built-in synthetic set)")
    p.add_argument("--per-class", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--score-batch-size", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=None, help="timed epochs per side (default 3, quick 1)")


def build(name: str, dataset: data.Dataset, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    return models.build(name, num_classes=len(dataset.class_names), input_shape=dataset.image_shape)


def train_pipe(dataset: data.Dataset, batch: int, seed: int) -> tf.data.Dataset:
    return data.pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape, batch_size=batch,
                         augment=True, shuffle_seed=seed, drop_remainder=True)


class Ours:
    """Our trainer's compiled step and scoring pass, as ``train_run`` uses them."""

    def __init__(self, name: str, dataset: data.Dataset, args: argparse.Namespace):
        self.dataset, self.args = dataset, args
        self.strategy = tf.distribute.get_strategy()
        self.model = build(name, dataset)
        optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
        self.steps = train.make_steps(self.model, optimizer, self.strategy, weight_decay=1e-4)

    def epoch(self, seed: int) -> tuple[float, float]:
        """(training seconds, scoring seconds) of one epoch."""
        started = time.perf_counter()
        for _, x, y in train_pipe(self.dataset, self.args.batch_size, seed):
            loss, _ = self.steps.train(x, y)  # the loss stays on the device, as in train_run
        float(loss)  # wait for the last step
        trained = time.perf_counter()
        losses, _ = train.score_split(self.steps, self.strategy, self.dataset.train, self.dataset,
                                      batch_size=self.args.score_batch_size)
        assert losses.shape == (len(self.dataset.train.ids),)
        return trained - started, time.perf_counter() - trained


class PlainKeras:
    """model.fit for an epoch, then model.predict over the training set (what a user writes)."""

    def __init__(self, name: str, dataset: data.Dataset, args: argparse.Namespace):
        self.dataset, self.args = dataset, args
        self.model = build(name, dataset)
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
    sides = {"ours": Ours(args.model, dataset, args), "keras": PlainKeras(args.model, dataset, args)}
    for side in sides.values():
        side.epoch(seed=0)  # tracing and warm-up, untimed
    timed = args.epochs or (1 if args.quick else 3)
    times: dict[str, list[tuple[float, float]]] = {k: [] for k in sides}
    for e in range(timed):
        for key, side in sides.items():
            times[key].append(side.epoch(seed=e + 1))
    return summarise(times, args=args, n=len(dataset.train.ids), dataset=dataset.name,
                     image_shape=dataset.image_shape, classes=len(dataset.class_names))


def summarise(times: dict, *, args: argparse.Namespace, n: int, dataset: str, image_shape: tuple[int, ...],
              classes: int) -> dict:
    med = {k: [statistics.median(t[i] for t in v) for i in (0, 1)] for k, v in times.items()}
    ours, keras_ = sum(med["ours"]), sum(med["keras"])
    return {
        "model": args.model, "dataset": dataset, "examples": n, "batch_size": args.batch_size,
        "image_shape": list(image_shape), "classes": classes,
        "ours_train_s": med["ours"][0], "ours_score_s": med["ours"][1], "ours_epoch_s": ours,
        "keras_fit_s": med["keras"][0], "keras_predict_s": med["keras"][1], "keras_epoch_s": keras_,
        "trainer_vs_keras": keras_ / ours, "scoring_share": med["ours"][1] / med["ours"][0],
        "tensorflow": tf.__version__, "keras": keras.__version__, "cpus": os.cpu_count(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def report(result: dict) -> list[str]:
    return [
        f"{result['model']} on {result['dataset']} (N={result['examples']}, batch {result['batch_size']})",
        f"  ours : train {result['ours_train_s']:.2f}s + scoring {result['ours_score_s']:.2f}s "
        f"= {result['ours_epoch_s']:.2f}s per epoch",
        f"  keras: fit {result['keras_fit_s']:.2f}s + predict {result['keras_predict_s']:.2f}s "
        f"= {result['keras_epoch_s']:.2f}s per epoch",
        f"trainer_vs_keras {result['trainer_vs_keras']:.2f}   (target >= 1.3)",
        f"scoring_share    {result['scoring_share']:.2f}   (target <= 0.25)",
    ]
