"""``autotune_off_speedup``: our input pipelines with tf.data's autotuning off, as shipped, against on.

One run of ``--model`` trains whole augmented epochs through our compiled step, its batches from
the trainer's own pipeline (:func:`easiness.data.augment.pipeline`, autotuning off:
:func:`easiness.data.augment.with_pipeline_options`) and from the same pipeline with autotuning
switched back on (tf.data's default). Epochs alternate between the two; the key is the ratio
of the median epoch times (on over off, higher is better). The autotuner's cost comes and goes
from epoch to epoch, so the median of several epochs (``--pipeline-epochs``) is used.
"""

from __future__ import annotations

import argparse
import statistics
import time

import keras
import tensorflow as tf

from easiness import models
from easiness import data
from easiness.training import train
from easiness.config import Config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pipeline-epochs", type=int, default=None, help="timed epochs per side (default 5, quick 1)")


def autotuned(ds: tf.data.Dataset) -> tf.data.Dataset:
    options = tf.data.Options()
    options.autotune.enabled = True
    return ds.with_options(options)


def measure(args: argparse.Namespace, results: dict) -> dict:
    dataset = data.load(args.dataset, per_class=args.per_class or (100 if args.quick else None))
    epochs = args.pipeline_epochs or (1 if args.quick else 5)
    keras.utils.set_random_seed(0)
    model = models.build(args.model, num_classes=len(dataset.class_names), input_shape=dataset.image_shape)
    steps = train.make_steps(model, keras.optimizers.SGD(0.1, momentum=0.9), tf.distribute.get_strategy(),
                             weight_decay=Config().weight_decay)
    sides = {"off": lambda ds: ds, "on": autotuned}

    def epoch(side: str, seed: int) -> float:
        pipe = data.pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape,
                             batch_size=args.batch_size, augment=True, shuffle_seed=seed, drop_remainder=True)
        started = time.perf_counter()
        for _, x, y in sides[side](pipe):
            loss_sum, _ = steps.train(x, y)
        float(loss_sum)  # why: reading a value waits for the step
        return time.perf_counter() - started

    for side in sides:
        epoch(side, 0)  # tracing, untimed
    times: dict[str, list[float]] = {side: [] for side in sides}
    for e in range(epochs):
        for side in sides:
            times[side].append(epoch(side, e + 1))
    off, on = (statistics.median(times[side]) for side in ("off", "on"))
    return {"pipeline_epoch_s": off, "pipeline_autotune_epoch_s": on, "autotune_off_speedup": on / off}


def report(r: dict) -> list[str]:
    return [f"autotune_off_speedup {r['autotune_off_speedup']:.2f}   (one run's training epoch with tf.data "
            f"autotuning on {r['pipeline_autotune_epoch_s']:.2f}s / off, as shipped, {r['pipeline_epoch_s']:.2f}s)"]
