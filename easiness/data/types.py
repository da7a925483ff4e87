"""The types both sides of the data boundary share: numpy only, so that the loaders that need
TensorFlow (:mod:`easiness.data.loading`, :mod:`easiness.data.augment`) and those that do not
(:mod:`easiness.data.folders`, :mod:`easiness.data.synthetic`) import them without importing
each other."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable

import numpy as np

from easiness.errors import EasinessError

if TYPE_CHECKING:
    import tensorflow as tf

__all__ = ["DataError", "Dataset", "Split"]


class DataError(EasinessError):
    """A dataset the user pointed at cannot be used (one-line message)."""


@dataclasses.dataclass(frozen=True)
class Split:
    """The examples of one split, N of them, in index order."""

    ids: np.ndarray  # [N] str, unique, stable example ids
    labels: np.ndarray  # [N] int32 in [0, num_classes)
    images: np.ndarray | None  # [N, H, W, C] uint8 when held in memory, else None
    # Only when images is None: a fresh tf.data.Dataset of (index int64 [], image uint8 [h, w, 3]
    # of any size, label int32 []) covering the split in index order.
    stream: Callable[[], tf.data.Dataset] | None = None
    # Only when images and stream are None: images produced inside tf.data from the index alone,
    # a batch at a time: indices int64 [B] -> uint8 [B, H, W, C], deterministic. Generated data of
    # any N (benchmarks at ImageNet size) then costs no memory per example beyond ids and labels.
    generate: Callable[[tf.Tensor], tf.Tensor] | None = None


@dataclasses.dataclass(frozen=True)
class Dataset:
    name: str  # canonical spec, e.g. "synthetic", "folder:<path as given>", "tfds:cifar10"
    class_names: tuple[str, ...]
    train: Split
    test: Split | None
    image_shape: tuple[int, int, int]  # (H, W, C) the model sees after preprocessing
    style: str  # "cifar" (translation + flip) or "imagenet" (scale/aspect crop + flip at 224)
    extras: dict[str, np.ndarray]  # per-train-example ground truth aligned with train.ids
