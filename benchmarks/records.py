"""``records_overhead``: what recording margins and EL2N adds to the scoring pass.

The same M runs of ``--model`` (one compiled group, as the trainer scores them) score the training
set twice per round: with the scoring step that also returns each example's margin and EL2N (the
trainer's default) and with the one that returns losses only (``--record losses``). Both read the
same kept clean batches; the rounds alternate so that drift of the machine's speed hits both
alike. Key: ``records_overhead`` = median seconds with records / without (the target is at most
1.15). Disk: ``records_disk_ratio``, the bytes a run writes per example and checkpoint with the
default records (float32 loss + two float16 arrays) over the loss alone.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import tensorflow as tf

from easiness import data, models
from easiness.training import train
from easiness.config import Config

ROUNDS, QUICK_ROUNDS = 5, 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--records-rounds", type=int, default=None, help=f"timed rounds (default {ROUNDS}, quick 2)")


def group(name: str, dataset: data.Dataset, runs: int, *, records: bool) -> train.GroupSteps:
    nets = []
    for seed in range(runs):
        keras.utils.set_random_seed(seed)
        nets.append(models.build(name, num_classes=len(dataset.class_names), input_shape=dataset.image_shape))
    optimizers = [keras.optimizers.SGD(0.1) for _ in nets]
    return train.make_group_steps(nets, optimizers, tf.distribute.get_strategy(), weight_decay=1e-4, records=records)


def measure(args: argparse.Namespace, results: dict) -> dict:
    dataset = data.load(args.dataset, per_class=args.per_class or (50 if args.quick else None))
    strategy = tf.distribute.get_strategy()
    sides = {key: group(args.model, dataset, args.runs, records=key == "with") for key in ("with", "without")}

    def timed(key: str) -> float:
        started = time.perf_counter()
        train.score_group(sides[key], strategy, dataset.train, dataset, batch_size=args.score_batch_size, reuse=True)
        return time.perf_counter() - started

    for key in sides:
        timed(key)  # tracing and the kept batches, untimed
    times: dict[str, list[float]] = {key: [] for key in sides}
    for _ in range(args.records_rounds or (QUICK_ROUNDS if args.quick else ROUNDS)):
        for key in sides:
            times[key].append(timed(key))
    with_s, without_s = (statistics.median(times[key]) for key in ("with", "without"))
    loss_bytes = 4 if Config().loss_dtype == "float32" else 2
    record_bytes = len(Config().record) * (2 if Config().record_dtype == "float16" else 4)
    return {"records_scoring_s": with_s, "plain_scoring_s": without_s, "records_overhead": with_s / without_s,
            "records_disk_ratio": (loss_bytes + record_bytes) / loss_bytes}


def report(r: dict) -> list[str]:
    return [f"records_overhead {r['records_overhead']:.3f}   (target <= 1.15: a scoring pass of the M runs with "
            f"margins and EL2N {r['records_scoring_s']:.2f}s / losses only {r['plain_scoring_s']:.2f}s)",
            f"records_disk_ratio {r['records_disk_ratio']:.1f}   (bytes per example and checkpoint: float32 loss + "
            f"float16 margin and EL2N, over the loss alone)"]
