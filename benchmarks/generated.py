"""Generated datasets of any size for benchmarks: images made from the example index, no files.

Pixels are a hash of (seed, example index, pixel position), so an example's image is the same
whichever batch it falls in, and a dataset of 1,281,167 examples (ImageNet's size) holds only
its ids and labels in memory. Content does not matter to speed; the shapes and the path through
``easiness.data.pipeline`` do.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from easiness import data

# Constants of the 32-bit finaliser of MurmurHash3, mixing every bit of the index into a pixel.
_MIX = (0x85EBCA6B, 0xC2B2AE35)
_GOLDEN = 0x9E3779B1


def hashed_images(index: tf.Tensor, *, shape: tuple[int, int, int], seed: int) -> tf.Tensor:
    """uint8 [B, *shape] pseudo-random images, a pure function of (seed, index [B] int64)."""
    position = tf.range(math.prod(shape), dtype=tf.int64)
    x = (tf.cast(index, tf.int64)[:, None] * _GOLDEN + position[None, :] + seed) & 0xFFFFFFFF
    for constant, shift in zip(_MIX, (16, 13)):
        x = ((x ^ tf.bitwise.right_shift(x, shift)) * constant) & 0xFFFFFFFF
    x = x ^ tf.bitwise.right_shift(x, 16)
    return tf.reshape(tf.cast(x & 0xFF, tf.uint8), [-1, *shape])


def numbered_ids(n: int, prefix: str = "train/") -> np.ndarray:
    """[n] fixed-width unicode ids ``train/0000042``, built without a Python string per example."""
    width = len(str(max(n - 1, 0)))
    return np.strings.add(prefix, np.strings.zfill(np.arange(n).astype(f"U{width}"), width))


def generated_dataset(n: int, *, num_classes: int, side: int, seed: int = 0) -> data.Dataset:
    """A CIFAR-style dataset of ``n`` generated ``side`` x ``side`` RGB images, no test split.

    Labels cycle through the classes (balanced); images come from :func:`hashed_images` inside
    tf.data, a batch at a time.
    """
    shape = (side, side, 3)
    split = data.Split(numbered_ids(n), (np.arange(n) % num_classes).astype(np.int32), None,
                       generate=lambda index: hashed_images(index, shape=shape, seed=seed))
    return data.Dataset(name=f"generated:n={n},side={side},classes={num_classes},seed={seed}",
                        class_names=tuple(f"class{c}" for c in range(num_classes)), train=split, test=None,
                        image_shape=shape, style="cifar", extras={})


def in_memory(dataset: data.Dataset, batch_size: int = 8192) -> data.Dataset:
    """The same dataset with its images drawn once into a numpy array: the path real CIFAR-10
    (tfds, folders, npz) takes through the pipeline."""
    split = dataset.train
    index = np.arange(len(split.ids), dtype=np.int64)
    images = np.concatenate([split.generate(tf.constant(index[i:i + batch_size])).numpy()
                             for i in range(0, len(index), batch_size)])
    return data.Dataset(**{**dataset.__dict__, "train": data.Split(split.ids, split.labels, images)})
