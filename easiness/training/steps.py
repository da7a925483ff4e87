"""Compiled steps: training and per-example scoring of K runs inside one ``tf.function``.

A study trains M independent runs of a model. Small CNNs leave a CPU (and a large GPU) partly
idle between their many small kernels, so several runs can share one compiled step: the graph
holds K disconnected copies of the training step, and TensorFlow's executor runs them side by
side. Each run keeps its own weights, optimizer state, BatchNorm statistics and its own batch
(own data order and augmentation), so a fused run computes exactly what it computes alone;
``tests/test_fused.py`` checks this to float tolerance. A single run is the group of one.

Batches travel as ``(index, image, label)`` triples, one per run, so that the scoring pass of
runs with different augmentation seeds (``--score-augment``) still lands every loss at its
example's index. With clean scoring (the default) all runs share one batch.

XLA (``jit_compile``) compiles each replica's forward and backward pass; the optimizer update
stays outside the compiled cluster because it synchronises replicas (a ``merge_call``, which
XLA cannot compile).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from easiness import data
from easiness.training.clean_cache import CleanBatches
from easiness.training.recorder import LossRecorder, Scored
from easiness.data.resident import ResidentSplit

# The arrays a scoring pass can record beside the losses, from the same logits (easiness.analysis.scores).
RECORDABLE = ("margins", "el2n")


def cross_entropy(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example softmax cross-entropy in float32 (natural log): the paper's CE(t_i, f(x_i, W))."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.cast(logits, tf.float32))


def count_correct(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Number of examples whose arg-max logit is their label, as float32."""
    return tf.reduce_sum(tf.cast(_hits(labels, logits), tf.float32))


def margins(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example margin in float32: the true-class logit minus the largest other logit (> 0 iff
    the example is classified correctly; AUM, Pleiss et al. 2020, averages it over training)."""
    logits = tf.cast(logits, tf.float32)
    truth = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(logits)[-1], on_value=True, off_value=False)
    true_logit = tf.reduce_max(tf.where(truth, logits, -np.inf), axis=-1)
    return true_logit - tf.reduce_max(tf.where(truth, -np.inf, logits), axis=-1)


def error_norms(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example EL2N in float32: ||softmax(logits) - onehot(label)||_2 (Paul et al. 2021)."""
    logits = tf.cast(logits, tf.float32)
    target = tf.one_hot(tf.cast(labels, tf.int32), tf.shape(logits)[-1])
    return tf.norm(tf.nn.softmax(logits) - target, axis=-1)


def _hits(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    predicted = tf.argmax(logits, axis=-1, output_type=tf.int32)
    return tf.equal(predicted, tf.cast(labels, tf.int32))


@dataclasses.dataclass
class GroupSteps:
    """The compiled steps of K runs.

    ``train(batches)``: batches is a K-tuple of (x, y); one update of every run; returns
    (loss sums [K], correct counts [K]) summed over the global batch, left on the device.
    ``score(batches)``: per-example (index, loss, correct[, margin, EL2N]) of every run, gathered
    from all replicas (margins and EL2N when compiled with ``records``).
    ``sync()``: average every run's BatchNorm moving statistics over replicas (before scoring).
    ``score_resident(index)``: as ``score``, for the device-resident training split (clean images).
    ``clean``: the clean scoring batches of the splits this group scores again at every checkpoint.
    """

    train: Callable
    score: Callable
    sync: Callable[[], None]
    size: int
    score_resident: Callable | None = None
    resident: ResidentSplit | None = None
    clean: CleanBatches = dataclasses.field(default_factory=CleanBatches)
    records: bool = True  # whether score() also returns margins and EL2N


def make_group_steps(models: Sequence[keras.Model], optimizers: Sequence[keras.optimizers.Optimizer],
                     strategy: tf.distribute.Strategy, *, weight_decay: float, jit_compile: bool = False,
                     resident: ResidentSplit | None = None, records: bool = True) -> GroupSteps:
    """Compile the training and scoring steps of ``len(models)`` runs for ``strategy``.

    ``resident``: the training split held on the device; training batches are then (batch
    number, index, seed) triples made into images inside the step (:mod:`easiness.data.resident`).
    ``records``: the scoring step also returns each example's margin and EL2N, from the same
    logits as its loss (no second forward pass).
    """
    if len(models) != len(optimizers) or not models:
        raise ValueError(f"need one optimizer per model, got {len(models)} models and {len(optimizers)} optimizers")
    for model, optimizer in zip(models, optimizers):
        if not optimizer.built:  # slot variables must exist before tracing, not inside the compiled step
            with strategy.scope():
                optimizer.build(model.trainable_variables)
    # The optimizer sums gradients over replicas, so each replica adds its 1/R share of the L2
    # term (Chainer's WeightDecay hook: grad += wd * w, applied to every parameter).
    decay = weight_decay / strategy.num_replicas_in_sync
    gradients = [_gradient_fn(model, decay, jit_compile) for model in models]
    forwards = [_forward_fn(model, jit_compile) for model in models]

    def replica_train(batches):
        sums, correct = [], []
        for grad_fn, model, optimizer, batch in zip(gradients, models, optimizers, batches):
            x, y = batch if resident is None else resident.batch(batch[1], batch[0], batch[2], train=True)
            grads, loss_sum, hits = grad_fn(x, y)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            sums.append(loss_sum)
            correct.append(hits)
        return tf.stack(sums), tf.stack(correct)

    def replica_score(batches):
        return tuple(_scored(forward, *batch, records=records) for forward, batch in zip(forwards, batches))

    def replica_score_resident(index):
        x, y = resident.batch(index, None, None, train=False)
        return tuple(_scored(forward, index, x, y, records=records) for forward in forwards)

    @tf.function(reduce_retracing=True)
    def train(batches):
        loss_sum, correct = strategy.run(replica_train, args=(batches,))
        total = tf.distribute.ReduceOp.SUM
        return strategy.reduce(total, loss_sum, axis=None), strategy.reduce(total, correct, axis=None)

    def gathered(replica_fn):
        @tf.function(reduce_retracing=True)
        def score(batches):
            out = strategy.run(replica_fn, args=(batches,))
            # why: every worker's share of the batch, so the chief can record every example
            return tf.nest.map_structure(lambda value: strategy.gather(value, axis=0), out)
        return score

    return GroupSteps(train=train, score=gathered(replica_score), sync=make_sync(models, strategy), size=len(models),
                      score_resident=None if resident is None else gathered(replica_score_resident),
                      resident=resident, records=records)


def _scored(forward: Callable, index: tf.Tensor, x: tf.Tensor, y: tf.Tensor, *,
            records: bool) -> tuple[tf.Tensor, ...]:
    """(index, per-example loss, hit as int32[, margin, EL2N]) of one batch under one run
    (gather takes no bool)."""
    logits = forward(x)
    out = (index, cross_entropy(y, logits), tf.cast(_hits(y, logits), tf.int32))
    return out + (margins(y, logits), error_norms(y, logits)) if records else out


def _gradient_fn(model: keras.Model, decay: float, jit_compile: bool) -> Callable:
    """(x, y) -> (gradients with the L2 term, summed loss, correct count) of one replica's batch."""
    variables = model.trainable_variables

    def gradient(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)
            per_example = cross_entropy(y, logits)
            loss = tf.nn.compute_average_loss(per_example)
        grads = tape.gradient(loss, variables)
        grads = [g + decay * v.value for g, v in zip(grads, variables)]
        return grads, tf.reduce_sum(per_example), count_correct(y, logits)

    return tf.function(gradient, jit_compile=True) if jit_compile else gradient


def _forward_fn(model: keras.Model, jit_compile: bool) -> Callable:
    def forward(x):
        return model(x, training=False)

    return tf.function(forward, jit_compile=True) if jit_compile else forward


@dataclasses.dataclass
class Steps:
    """The compiled steps of one run: ``train(x, y)`` -> (loss sum, correct count) and
    ``score(index, x, y)`` -> (index, loss, correct) gathered from all replicas."""

    train: Callable
    score: Callable
    group: GroupSteps


def make_steps(model: keras.Model, optimizer: keras.optimizers.Optimizer, strategy: tf.distribute.Strategy,
               *, weight_decay: float, jit_compile: bool = False) -> Steps:
    """Compile the training step and the per-example scoring step of one run (a group of one)."""
    group = make_group_steps([model], [optimizer], strategy, weight_decay=weight_decay, jit_compile=jit_compile)

    def train(x, y):
        loss_sum, correct = group.train(((x, y),))
        return loss_sum[0], correct[0]

    def score(index, x, y):
        return group.score(((index, x, y),))[0]

    return Steps(train=train, score=score, group=group)


def sync_moving_statistics(model: keras.Model, strategy: tf.distribute.Strategy) -> None:
    """Average the BatchNorm moving statistics over replicas before a scoring pass (one model)."""
    make_sync([model], strategy)()


def make_sync(models: Sequence[keras.Model], strategy: tf.distribute.Strategy) -> Callable[[], None]:
    """A compiled function that averages the models' moving statistics over all replicas.

    Keras keeps non-trainable variables per replica (aggregation "none"), so under
    MirroredStrategy each replica's moving mean and variance follow only its own share of every
    batch. Unsynchronised, an example's recorded loss would depend on which replica scored it.
    The mean is an all-reduce, so it spans the replicas of every worker under multi-worker training.
    """
    statistics = [v for model in models for v in model.non_trainable_variables]
    if strategy.num_replicas_in_sync == 1 or not statistics:
        return lambda: None

    def replica_sync():
        context = tf.distribute.get_replica_context()
        means = context.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.identity(v.value) for v in statistics])
        for variable, mean in zip(statistics, means):
            variable.assign(mean)

    @tf.function
    def sync():
        strategy.run(replica_sync)

    return sync


def score_group(steps: GroupSteps, strategy: tf.distribute.Strategy, split: data.Split, dataset: data.Dataset,
                *, batch_size: int, augment_seeds: Sequence[int] | None = None,
                resident: bool = False, reuse: bool = False) -> list[Scored]:
    """Per-example losses [N] float32, the accuracy, and the margins and EL2N [N] float32 when the
    steps record them (``Scored.records``), of every run of the group over ``split``.

    Clean images by default (the paper does not say; a clean view of each example makes its
    loss a property of the example rather than of a random crop), one pipeline shared by all
    runs. ``augment_seeds`` (one per run) scores with training augmentation instead, each run
    with its own seed and order. ``resident``: ``split`` is the group's device-resident training
    split; only indices travel (clean scoring only). ``reuse``: the split is scored again at later
    checkpoints, so its clean batches are kept in host memory when they fit (``steps.clean``).
    """
    if resident and augment_seeds is None:
        source, step = steps.resident.scoring_batches(batch_size=batch_size), steps.score_resident
    else:
        clean = steps.clean if reuse else None
        source, step = _score_source(steps.size, split, dataset, batch_size, augment_seeds, clean), steps.score
    recorders = [LossRecorder(len(split.ids)) for _ in range(steps.size)]
    for batches in strategy.experimental_distribute_dataset(source):
        for recorder, out in zip(recorders, step(batches)):
            index, losses, hits, *more = (np.asarray(t) for t in out)
            recorder.update(index, losses, hits.astype(bool), dict(zip(RECORDABLE, more)))
    return [recorder.flush() for recorder in recorders]


def _score_source(size: int, split: data.Split, dataset: data.Dataset, batch_size: int,
                  augment_seeds: Sequence[int] | None, clean: CleanBatches | None = None) -> tf.data.Dataset:
    """K-tuples of (index, x, y) batches: one clean pipeline repeated (kept in ``clean`` when
    given), or one augmented per run."""
    def pipe(augment: bool, seed: int | None) -> tf.data.Dataset:
        return data.pipeline(split, style=dataset.style, image_shape=dataset.image_shape, batch_size=batch_size,
                             augment=augment, shuffle_seed=seed)

    if augment_seeds is None:
        if clean is not None:
            return clean.source(split, style=dataset.style, image_shape=dataset.image_shape,
                                batch_size=batch_size, copies=size)
        return pipe(False, None).map(lambda *batch: (batch,) * size)
    if len(augment_seeds) != size:
        raise ValueError(f"need {size} augmentation seeds, got {len(augment_seeds)}")
    return tf.data.Dataset.zip(tuple(pipe(True, s) for s in augment_seeds))


def score_split(steps: Steps, strategy: tf.distribute.Strategy, split: data.Split, dataset: data.Dataset,
                *, batch_size: int, augment: bool = False, seed: int | None = None) -> Scored:
    """Per-example losses [N] float32 of ``split``, the accuracy (and the records) of one run,
    every example once."""
    seeds = [seed if seed is not None else 0] if augment else None
    return score_group(steps.group, strategy, split, dataset, batch_size=batch_size, augment_seeds=seeds)[0]
