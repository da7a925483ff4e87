"""Clean scoring batches kept between checkpoints: replayed, not rebuilt, and the same losses."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from easiness.data import augment
from easiness import data
from easiness.training import train
from easiness.training.clean_cache import CleanBatches, clean_bytes

SHAPE = (8, 8, 3)
CLASSES = 3


class CountedSplit:
    """A streamed split whose generator counts the passes that read it."""

    def __init__(self, n: int, seed: int):
        rng = np.random.default_rng(seed)
        self.images = rng.integers(0, 256, size=(n, *SHAPE), dtype=np.uint8)
        self.labels = (np.arange(n) % CLASSES).astype(np.int32)
        self.passes = 0
        self.split = data.Split(ids=np.array([f"e{i}" for i in range(n)]), labels=self.labels, images=None,
                                stream=self.stream)

    def _examples(self):
        self.passes += 1
        for i, (image, label) in enumerate(zip(self.images, self.labels)):
            yield i, image, label

    def stream(self) -> tf.data.Dataset:
        signature = (tf.TensorSpec([], tf.int64), tf.TensorSpec(SHAPE, tf.uint8), tf.TensorSpec([], tf.int32))
        return tf.data.Dataset.from_generator(self._examples, output_signature=signature)


def dataset_of(train_split: CountedSplit, test_split: CountedSplit | None = None) -> data.Dataset:
    return data.Dataset(name="counted", class_names=("a", "b", "c"), train=train_split.split,
                        test=None if test_split is None else test_split.split, image_shape=SHAPE, style="cifar",
                        extras={})


def group(runs: int = 2) -> tuple[train.GroupSteps, list[keras.Model]]:
    nets = []
    for seed in range(runs):
        keras.utils.set_random_seed(seed)
        nets.append(keras.Sequential([keras.Input(SHAPE), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization(),
                                      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(CLASSES)]))
    optimizers = [keras.optimizers.SGD(0.1) for _ in nets]
    return train.make_group_steps(nets, optimizers, tf.distribute.get_strategy(), weight_decay=1e-4), nets


def score(steps: train.GroupSteps, dataset: data.Dataset, split: data.Split, *, reuse: bool):
    return train.score_group(steps, tf.distribute.get_strategy(), split, dataset, batch_size=7, reuse=reuse)


def test_a_reused_split_is_read_once_and_scores_the_same():
    counted = CountedSplit(30, seed=0)
    dataset, (steps, _) = dataset_of(counted), group()
    rebuilt = score(steps, dataset, counted.split, reuse=False)
    assert counted.passes == 1
    first = score(steps, dataset, counted.split, reuse=True)
    second = score(steps, dataset, counted.split, reuse=True)
    assert counted.passes == 2  # the second reusing pass replayed the first one's batches
    assert steps.clean.cached(counted.split, 7, copies=2)
    for (a, acc_a, _), (b, acc_b, _), (c, acc_c, _) in zip(rebuilt, first, second):
        assert a.shape == (30,) and np.isfinite(a).all()
        np.testing.assert_allclose(b, a, rtol=1e-6)
        np.testing.assert_allclose(c, a, rtol=1e-6)
        assert acc_a == acc_b == acc_c
    score(steps, dataset, counted.split, reuse=False)
    assert counted.passes == 3  # without reuse every pass reads the split


def test_kept_batches_follow_the_weights():
    """Replayed batches are inputs only: a model whose weights changed scores differently."""
    counted = CountedSplit(20, seed=1)
    dataset, (steps, nets) = dataset_of(counted), group(runs=1)
    before = score(steps, dataset, counted.split, reuse=True)[0][0]
    for variable in nets[0].trainable_variables:
        variable.assign(variable * 0.5)
    after = score(steps, dataset, counted.split, reuse=True)[0][0]
    assert counted.passes == 1
    assert not np.allclose(before, after, rtol=1e-3)


def test_splits_beyond_the_budget_are_streamed_every_pass():
    train_split, test_split = CountedSplit(24, seed=2), CountedSplit(12, seed=3)
    dataset = dataset_of(train_split, test_split)
    steps, _ = group()
    steps.clean = CleanBatches(budget_bytes=clean_bytes(train_split.split, SHAPE))  # room for one split
    for _ in range(3):
        score(steps, dataset, train_split.split, reuse=True)
        score(steps, dataset, test_split.split, reuse=True)
    assert (train_split.passes, test_split.passes) == (1, 3)
    assert steps.clean.cached(train_split.split, 7, copies=2)
    assert not steps.clean.cached(test_split.split, 7, copies=2)
    assert steps.clean.kept_bytes == clean_bytes(train_split.split, SHAPE) == 24 * (4 * 8 * 8 * 3 + 12)


@pytest.mark.parametrize("change", [{"augment": True, "shuffle_seed": None}, {"augment": False, "shuffle_seed": 3}])
def test_only_a_fixed_pass_can_be_cached(change):
    split = CountedSplit(5, seed=4).split
    with pytest.raises(ValueError, match="cached"):
        augment.pipeline(split, style="cifar", image_shape=SHAPE, batch_size=2, cache=True, **change)
