"""Device-resident training data: CIFAR-sized images kept in device memory, batches made in the step.

On a GPU the host's input pipeline (gather, augment, normalise, copy) can fall behind a small
CNN. CIFAR-10 is 150 MB of uint8 pixels, so the training split is copied once into device memory
(one copy per replica) and the input pipeline carries only example indices: gathering the
batch, the 4-pixel translation and flip (vectorised, stateless, seeded per batch as in
:func:`easiness.data.augment.pipeline`) and global contrast normalisation run inside the compiled step.
On one device a batch is bit-for-bit the one the host pipeline makes for the same seed (a test
checks the recorded losses); under several replicas each replica draws the augmentation of its
own share with the batch's seed and its replica id.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from easiness.data import augment
from easiness.data.types import Split

MAX_SIDE = 64  # larger images (ImageNet) are streamed and decoded on the host instead


def fits(split: Split, image_shape) -> bool:
    """Whether ``split`` can live on the device: in memory, already at the model's input size."""
    return (split.images is not None and max(image_shape[:2]) <= MAX_SIDE
            and tuple(split.images.shape[1:]) == tuple(image_shape))


class ResidentSplit:
    """A split's uint8 images and int32 labels as device variables (mirrored over replicas)."""

    def __init__(self, split: Split, strategy: tf.distribute.Strategy):
        self.n = len(split.ids)
        with strategy.scope():
            self.images = tf.Variable(split.images, trainable=False, name="resident_images")
            self.labels = tf.Variable(split.labels.astype(np.int32), trainable=False, name="resident_labels")

    def batch(self, index: tf.Tensor, batch_no: tf.Tensor, seed: tf.Tensor, *, train: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """(GCN images float32 [B, H, W, C], labels int32 [B]) of the examples at ``index`` [B];
        augmented with the batch's ``seed`` and number (per-example vectors, all equal) when ``train``."""
        x = tf.cast(tf.gather(self.images, index), tf.float32)
        if train:
            context = tf.distribute.get_replica_context()
            number = tf.cast(batch_no[0], tf.int64)
            if context.num_replicas_in_sync > 1:  # why: each replica's share gets its own draws
                number = number * context.num_replicas_in_sync + tf.cast(context.replica_id_in_sync_group, tf.int64)
            x = augment.translate_and_flip(x, tf.stack([tf.cast(seed[0], tf.int64), number]))
        return augment.gcn(x), tf.gather(self.labels, index)

    def training_batches(self, *, batch_size: int, shuffle_seed: int) -> tf.data.Dataset:
        """(batch number [B], index [B], seed [B]) per update, in the run's seeded order, last
        partial batch dropped (the vectors repeat one value so that replicas can split them)."""
        order = augment.example_order(self.n, shuffle_seed)
        seed = augment.seed_word(shuffle_seed)
        ds = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True).enumerate()
        ds = ds.map(lambda b, index: (tf.fill(tf.shape(index), b), index,
                                      tf.fill(tf.shape(index), tf.constant(seed, tf.int64))))
        return augment.with_pipeline_options(ds)

    def scoring_batches(self, *, batch_size: int) -> tf.data.Dataset:
        """Example indices [B] in order, every example once (the last batch may be smaller)."""
        return augment.with_pipeline_options(tf.data.Dataset.range(self.n).batch(batch_size))
