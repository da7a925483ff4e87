"""``fused_vs_sequential``: M runs in one compiled step against M separate runs, same trainer.

Both sides use :func:`easiness.train.make_group_steps` and :func:`easiness.train.score_group`,
the code ``python -m easiness.score`` runs: the sequential side is M groups of one, the fused
side one group of M. An epoch is training (each run in its own seeded order) plus the clean
scoring pass over the training set. Each side runs one untimed epoch (tracing), then epochs
alternate between the sides and the median is used.

    python benchmarks/fused.py [--model wrn10_1] [--runs 4] [--epochs 3] [--per-class K]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import models  # noqa: E402
from easiness import data, train  # noqa: E402


class Group:
    """K runs of ``name`` compiled together (K = 1: a separate run)."""

    def __init__(self, name: str, dataset: data.Dataset, seeds: list[int], batch_size: int, score_batch_size: int):
        self.dataset, self.seeds = dataset, seeds
        self.batch_size, self.score_batch_size = batch_size, score_batch_size
        self.strategy = tf.distribute.get_strategy()
        nets, optimizers = [], []
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            nets.append(models.build(name, num_classes=len(dataset.class_names), input_shape=dataset.image_shape))
            optimizers.append(keras.optimizers.SGD(0.1, momentum=0.9))
        self.steps = train.make_group_steps(nets, optimizers, self.strategy, weight_decay=1e-4)

    def epoch(self, epoch: int) -> float:
        """Seconds for one epoch of every run of the group: training, then the scoring pass."""
        started = time.perf_counter()
        for batches in self._source(epoch):
            loss, _ = self.steps.train(batches)
        float(loss[0])  # wait for the last step
        results = train.score_group(self.steps, self.strategy, self.dataset.train, self.dataset,
                                    batch_size=self.score_batch_size)
        assert len(results) == len(self.seeds)
        return time.perf_counter() - started

    def _source(self, epoch: int) -> tf.data.Dataset:
        pipes = [data.pipeline(self.dataset.train, style=self.dataset.style, image_shape=self.dataset.image_shape,
                               batch_size=self.batch_size, augment=True, shuffle_seed=train.shuffle_seed(s, epoch),
                               drop_remainder=True).map(lambda i, x, y: (x, y)) for s in self.seeds]
        return tf.data.Dataset.zip(tuple(pipes))


def measure(dataset: data.Dataset, *, model: str, runs: int = 4, epochs: int = 3, batch_size: int = 128,
            score_batch_size: int = 1024) -> dict:
    """Median seconds per epoch of M runs, fused and sequential, and their ratio."""
    seeds = list(range(runs))
    fused = Group(model, dataset, seeds, batch_size, score_batch_size)
    separate = [Group(model, dataset, [s], batch_size, score_batch_size) for s in seeds]

    def sequential(epoch: int) -> float:
        return sum(g.epoch(epoch) for g in separate)

    fused.epoch(0)
    sequential(0)  # tracing, untimed
    times = {"fused": [], "sequential": []}
    for e in range(1, epochs + 1):
        times["fused"].append(fused.epoch(e))
        times["sequential"].append(sequential(e))
    f, s = statistics.median(times["fused"]), statistics.median(times["sequential"])
    return {"fused_runs": runs, "fused_epoch_s": f, "sequential_epoch_s": s, "fused_vs_sequential": s / f}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="wrn10_1")
    p.add_argument("--dataset", default="synthetic")
    p.add_argument("--per-class", type=int, default=None)
    p.add_argument("--runs", type=int, default=4)
    p.add_argument("--epochs", type=int, default=3)
    args = p.parse_args(argv)
    dataset = data.load(args.dataset, per_class=args.per_class)
    result = measure(dataset, model=args.model, runs=args.runs, epochs=args.epochs)
    print(f"{args.model}, {result['fused_runs']} runs on {dataset.name} (N={len(dataset.train.ids)}): "
          f"fused {result['fused_epoch_s']:.2f}s, sequential {result['sequential_epoch_s']:.2f}s per epoch of all runs")
    print(f"fused_vs_sequential {result['fused_vs_sequential']:.2f}   (target >= 1.3)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
