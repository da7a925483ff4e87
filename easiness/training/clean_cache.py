"""Clean scoring batches kept in host memory between the checkpoints of a group of runs.

The scoring pass sees every example of a split clean (no augmentation), in index order, at
every checkpoint: the batches it feeds the model are the same each time. Rebuilding them means
another pass of the input pipeline (gather or decode, normalise, batch) and its first batch
waits for that pipeline. :class:`CleanBatches` builds each split's pipeline once, caches its
finished float32 batches during the first pass when they fit :data:`BUDGET_BYTES`, and replays
them at later checkpoints; larger splits (ImageNet) stream at every pass. Measured here
(wrn10_1, 4 fused runs, N = 2,500, batch 1,024, 2 CPU cores, median of 5): 1.43 s per scoring
pass replayed against 1.53 s rebuilt, and 1.41 s for the model alone on batches already made.
"""

from __future__ import annotations

import math
from typing import Sequence

import tensorflow as tf

from easiness.data import augment
from easiness.data.types import Split

# why: the whole of CIFAR-10 or -100 at float32 (50,000 + 10,000 images: 737 MB) fits
BUDGET_BYTES = 1 << 30


def clean_bytes(split: Split, image_shape: Sequence[int]) -> int:
    """Host bytes of ``split``'s clean batches: float32 images, int64 index, int32 label."""
    return len(split.ids) * (4 * math.prod(int(d) for d in image_shape) + 8 + 4)


class CleanBatches:
    """The clean scoring pipelines of the splits a group scores, each built once.

    ``source(split, ...)`` returns the same ``tf.data.Dataset`` object for the same split, batch
    size and number of copies, cached (``Dataset.cache``) while the cached splits fit
    ``budget_bytes`` together.
    """

    def __init__(self, budget_bytes: int = BUDGET_BYTES):
        self.budget_bytes = budget_bytes
        self._kept: dict[tuple[int, int, int], tuple[Split, tf.data.Dataset, int]] = {}

    @property
    def kept_bytes(self) -> int:
        """Bytes promised to cached splits (filled during their first pass)."""
        return sum(size for _, _, size in self._kept.values())

    def source(self, split: Split, *, style: str, image_shape: Sequence[int], batch_size: int,
               copies: int = 1) -> tf.data.Dataset:
        """``copies``-tuples of the same (index, image, label) batch of ``split``, clean and in index
        order, as :func:`easiness.data.augment.pipeline` makes them (one per fused run)."""
        key = (id(split), batch_size, copies)
        kept = self._kept.get(key)
        if kept is not None and kept[0] is split:
            return kept[1]
        size = clean_bytes(split, image_shape)
        cache = self.kept_bytes + size <= self.budget_bytes
        ds = augment.pipeline(split, style=style, image_shape=image_shape, batch_size=batch_size, augment=False,
                              shuffle_seed=None, cache=cache).map(lambda *batch: (batch,) * copies)
        self._kept[key] = (split, ds, size if cache else 0)
        return ds

    def cached(self, split: Split, batch_size: int, copies: int = 1) -> bool:
        """Whether these batches of ``split`` are (or will be, after one pass) in memory."""
        kept = self._kept.get((id(split), batch_size, copies))
        return kept is not None and kept[0] is split and kept[2] > 0
