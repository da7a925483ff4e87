"""Retraining on a kept subset with the full schedule, for the ablation (Fig. 4 of arXiv:1911.10739).

One retraining is one run of the study's trainer without the per-example scoring: the same
model, optimizer (momentum SGD, L2 weight decay added to every gradient), learning-rate schedule
(:func:`easiness.config.lr_at`), data order and augmentation (:func:`easiness.training.train.shuffle_seed`,
:func:`easiness.training.train.fit_epoch`) and compiled steps (:func:`easiness.training.train.make_group_steps`); at
the end the test split is scored once (:func:`easiness.training.train.score_group`). Nothing is written to
disk here: the ablation records the result, and a killed retraining starts over (it is one
point of many; resuming happens between points).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import keras
import tensorflow as tf

from easiness import data
from easiness.config import Config, lr_at
from easiness.errors import EasinessError
from easiness.logs import Log
from easiness.training import train

# Retraining seeds are offset from the scoring runs' (base seed + m): a retraining then never
# repeats a scoring run's initial weights and data order, which would tie its accuracy to the
# very runs whose losses chose the subset.
SEED_OFFSET = 1_000_003


@dataclasses.dataclass(frozen=True)
class Retrained:
    """The outcome of one retraining."""

    test_accuracy: float  # NaN when failed
    test_loss: float  # mean cross-entropy on the test split; NaN when failed
    fit_loss: float  # mean training loss of the last epoch
    seconds: float
    status: str  # "done" or train.FAILED (the loss became NaN or infinite)


def retrain(dataset: data.Dataset, *, config: Config, model_name: str, seed: int,
            strategy: tf.distribute.Strategy | None = None, log: Log = print,
            build_model: Callable[[], keras.Model] | None = None,
            on_epoch: Callable[[int], None] | None = None) -> Retrained:
    """Train ``model_name`` on ``dataset.train`` for ``config.epochs`` and test it.

    seed: the point's seed; the run seed is ``SEED_OFFSET + seed``.
    build_model: replaces the zoo lookup (tests). on_epoch(epoch) after every epoch (progress).
    """
    if dataset.test is None:
        raise EasinessError(f"{dataset.name} has no test split; the ablation needs one to measure accuracy")
    tf.get_logger().setLevel("ERROR")  # why: every retraining compiles its own steps; retracing notices are noise
    strategy = strategy or train.make_strategy()
    run_seed = SEED_OFFSET + seed
    started = time.perf_counter()
    model, optimizer = train.build_run_model(model_name, dataset=dataset, config=config, strategy=strategy,
                                             seed=run_seed, build_model=build_model)
    steps = train.make_group_steps([model], [optimizer], strategy, weight_decay=config.weight_decay,
                                   jit_compile=train.acceleration(config, strategy)[1])
    fit_loss = math.nan
    for epoch in range(config.epochs):
        optimizer.learning_rate.assign(lr_at(config, epoch))
        fit_loss = float(train.fit_epoch(steps, dataset, config=config, strategy=strategy,
                                         seeds=[train.shuffle_seed(run_seed, epoch)])[0][0])
        if not math.isfinite(fit_loss):
            log(f"{model_name} retraining (seed {seed}) {train.FAILED}: {train.nonfinite_loss(epoch)}")
            return Retrained(math.nan, math.nan, fit_loss, time.perf_counter() - started, train.FAILED)
        if on_epoch is not None:
            on_epoch(epoch)
    steps.sync()
    losses, accuracy, _ = train.score_group(steps, strategy, dataset.test, dataset, batch_size=config.score_batch_size)[0]
    return Retrained(float(accuracy), float(losses.mean()), fit_loss, time.perf_counter() - started, "done")
