"""``fused_batchnorm_speedup``: the zoo's fused batch norm against Keras's own layer.

The same model (``--model``) twice, with equal weights: as the zoo builds it
(:class:`models.layers.FusedBatchNorm`) and with every batch norm swapped for
``keras.layers.BatchNormalization`` of the same configuration. Each trains the same cached
augmented batches through our compiled training step, one run, alternating between the two so
that drift of the machine's speed hits both alike; the key is the ratio of the median times
(Keras's layer over the fused one, higher is better).
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
from easiness.models.layers import FusedBatchNorm


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bn-steps", type=int, default=None, help="training steps per timing (default 12, quick 4)")


def with_keras_batchnorm(model: keras.Model) -> keras.Model:
    """A copy of ``model`` whose fused batch norms are Keras's ``BatchNormalization``, same weights."""
    def clone(layer: keras.layers.Layer) -> keras.layers.Layer:
        if isinstance(layer, FusedBatchNorm):
            return keras.layers.BatchNormalization.from_config(layer.get_config())
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy


def measure(args: argparse.Namespace, results: dict) -> dict:
    dataset = data.load(args.dataset, per_class=args.per_class or 50)
    steps = args.bn_steps or (4 if args.quick else 12)
    repeats = 1 if args.quick else 3
    keras.utils.set_random_seed(0)
    fused = models.build(args.model, num_classes=len(dataset.class_names), input_shape=dataset.image_shape)
    sides = {"fused": fused, "keras": with_keras_batchnorm(fused)}
    strategy = tf.distribute.get_strategy()
    pipe = data.pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape,
                         batch_size=args.batch_size, augment=True, shuffle_seed=0, drop_remainder=False)
    batches = [(x, y) for _, x, y in pipe.repeat().take(steps)]
    compiled = {key: train.make_steps(model, keras.optimizers.SGD(0.1, momentum=0.9), strategy,
                                      weight_decay=Config().weight_decay)
                for key, model in sides.items()}

    def timed(key: str) -> float:
        started = time.perf_counter()
        for x, y in batches:
            loss_sum, _ = compiled[key].train(x, y)
        float(loss_sum)  # why: reading a value waits for the step
        return time.perf_counter() - started

    for key in sides:
        timed(key)  # tracing, untimed
    times: dict[str, list[float]] = {key: [] for key in sides}
    for _ in range(repeats):
        for key in sides:
            times[key].append(timed(key))
    fused_s, keras_s = (statistics.median(times[key]) for key in ("fused", "keras"))
    return {"bn_fused_step_s": fused_s / steps, "bn_keras_step_s": keras_s / steps,
            "fused_batchnorm_speedup": keras_s / fused_s}


def report(r: dict) -> list[str]:
    return [f"fused_batchnorm_speedup {r['fused_batchnorm_speedup']:.2f}   (a training step with Keras's "
            f"BatchNormalization {r['bn_keras_step_s'] * 1e3:.0f} ms / with the zoo's fused one "
            f"{r['bn_fused_step_s'] * 1e3:.0f} ms)"]
