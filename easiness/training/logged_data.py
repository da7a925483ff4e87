"""The training data a :class:`easiness.keras.LossLogger` scores: checked once, then batched.

Two forms come in: arrays ``x [N, ...]``, ``y`` and optional ``ids [N]``; or a
``tf.data.Dataset`` of ``(x, y)`` or ``(x, y, id)`` elements, unbatched or batched. Either way
what goes out is the same: the study's ids ``[N]`` and int32 labels ``[N]``, a fingerprint of
both (:func:`easiness.data.fingerprint`'s definition), and a factory of scoring batches
``(index int64 [B], x [B, ...], label int32 [B])`` in which every example's index travels
with it, so the order batches arrive in never decides where a loss lands.

Labels are integer class indices ``[N]`` (or ``[N, 1]``) or one-hot rows ``[N, K]``.
A dataset is **batched** when its id component has rank 1 or, without ids, when its labels
carry a leading batch axis: integer labels of rank 1 or one-hot labels of rank 2 (so one-hot
labels of an unbatched dataset must be floats, as Keras makes them). Scoring re-batches either
way. Without ids an example's id is its position, so such a dataset must iterate in one fixed
order (pass the unshuffled data, not the shuffled training pipeline); with ids the order may
change from pass to pass, since each id is looked up.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

from easiness import data
from easiness.errors import EasinessError

_COLLECT_BATCH = 4096  # examples per host transfer in the one pass that reads a dataset's ids and labels


class LossLoggerError(EasinessError, ValueError):
    """Input a LossLogger cannot log (one line); also a ValueError, as Keras users expect."""


class RunUnavailable(LossLoggerError):
    """The run index asked for is already done, or being logged by another live process."""


@dataclasses.dataclass(frozen=True)
class ScoringData:
    """The examples of a study, checked: N of them, position i = example i everywhere."""

    ids: np.ndarray  # [N] str, unique
    labels: np.ndarray  # [N] int32 >= 0
    images: np.ndarray | None  # [N, H, W, C] uint8 for the app's image grids, or None
    one_hot_width: int | None  # K when the labels came one-hot, else None
    kind: str  # "arrays" or "tf.data"
    fingerprint: str  # sha256 of ids and labels (easiness.data.fingerprint)
    batches: Callable[[int], tf.data.Dataset]  # batch size -> (index [B], x [B, ...], label [B]) batches
    sample: Callable[[], tf.Tensor]  # the first example's x as a batch of one, [1, ...] (checks the model)

    @property
    def n(self) -> int:
        return len(self.ids)


def from_arrays(x: Any, y: Any, *, ids: Any = None, images: Any = None) -> ScoringData:
    """Check in-memory ``x [N, ...]``, labels ``y`` and ``ids [N]`` (default: the positions)."""
    x = np.asarray(x)
    if y is None:
        raise LossLoggerError("labels y are missing: pass LossLogger(study, x, y, ...) or a tf.data.Dataset as x")
    if x.ndim < 2 or len(x) == 0:
        raise LossLoggerError(f"x must be a non-empty batch of examples [N, ...], got shape {x.shape}")
    labels, width = sparse_labels(np.asarray(y))
    if len(labels) != len(x):
        raise LossLoggerError(f"x holds {len(x)} examples but y holds {len(labels)} labels")
    ids = example_ids(ids, len(x))
    images = _images(images, x)

    def batches(batch_size: int) -> tf.data.Dataset:
        index = np.arange(len(x), dtype=np.int64)
        source = tf.data.Dataset.from_tensor_slices((index, x, labels)).batch(batch_size)
        return source.map(_as_floatx).prefetch(2)

    def sample() -> tf.Tensor:
        return _as_floatx(None, tf.convert_to_tensor(x[:1]), None)[1]

    return ScoringData(ids, labels, images, width, "arrays", fingerprint(ids, labels), batches, sample)


def _as_floatx(index: Any, x: tf.Tensor, y: Any) -> tuple[Any, tf.Tensor, Any]:
    """Floating x in Keras's floatx, as ``fit`` feeds arrays (float64 numpy becomes float32)."""
    return index, (tf.cast(x, keras.config.floatx()) if x.dtype.is_floating else x), y


def sparse_labels(y: np.ndarray) -> tuple[np.ndarray, int | None]:
    """Labels as int32 class indices ``[N]``, and K if they came as one-hot rows ``[N, K]``."""
    if y.ndim == 2 and y.shape[1] == 1 and np.issubdtype(y.dtype, np.integer):
        y = y[:, 0]  # Keras accepts sparse labels as a column too
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        if len(y) and y.min() < 0:
            raise LossLoggerError(f"labels must be class indices >= 0, found {int(y.min())}")
        return y.astype(np.int32), None
    if y.ndim == 2 and y.shape[1] > 1 and _one_hot(y):
        return np.argmax(y, axis=1).astype(np.int32), int(y.shape[1])
    raise LossLoggerError(f"labels must be integer class indices [N] or one-hot rows [N, K] of 0 and 1, "
                          f"got {y.dtype} of shape {y.shape}")


def _one_hot(y: np.ndarray) -> bool:
    """Whether every row holds a single 1 and zeros elsewhere (numeric dtypes only)."""
    if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        return False
    ones, zeros = (y == 1), (y == 0)
    return bool((ones | zeros).all() and (ones.sum(axis=1) == 1).all())


def example_ids(ids: Any, n: int) -> np.ndarray:
    """The study's ids ``[N]`` as unique strings; the positions ``"0" .. "N-1"`` when None."""
    if ids is None:
        return np.arange(n).astype(str)
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) != n:
        raise LossLoggerError(f"ids must be one per example, shape ({n},), got shape {ids.shape}")
    if ids.dtype.kind in "SO":  # why: astype(str) would turn b"a" into "b'a'" (tf.data yields bytes)
        ids = np.array([i.decode("utf-8") if isinstance(i, bytes) else str(i) for i in ids])
    elif ids.dtype.kind not in "iuU":
        raise LossLoggerError(f"ids must be strings or integers, got {ids.dtype}")
    ids = ids.astype(str)
    if len(np.unique(ids)) != n:
        raise LossLoggerError("ids are not unique; every training example needs its own id")
    return ids


def _images(images: Any, x: np.ndarray) -> np.ndarray | None:
    """The app's images: ``images`` if given, else ``x`` itself when it is uint8 [N, H, W, C]."""
    if images is None:
        return x if x.dtype == np.uint8 and x.ndim == 4 else None
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(x):
        raise LossLoggerError(f"images must be uint8 [N={len(x)}, H, W, C], got {images.dtype} {images.shape}")
    return images


def fingerprint(ids: np.ndarray, labels: np.ndarray) -> str:
    """What a study is tied to: :func:`easiness.data.fingerprint` of these ids and labels."""
    # why a stand-in: data.fingerprint reads only dataset.train.ids and .labels
    split = types.SimpleNamespace(ids=ids, labels=labels)
    return data.fingerprint(types.SimpleNamespace(train=split))


def from_dataset(dataset: tf.data.Dataset, *, ids: Any = None, images: Any = None) -> ScoringData:
    """Check a dataset of ``(x, y)`` or ``(x, y, id)`` and read its ids and labels in one pass.

    That pass runs the whole pipeline once (tf.data computes x even though only ids and labels
    are kept), so it costs about one scoring pass.
    """
    if ids is not None:
        raise LossLoggerError("with a tf.data.Dataset, ids travel in its elements as (x, y, id); "
                              "the ids argument is for arrays")
    elements, has_ids = _unbatched(dataset)
    seen_ids, raw_labels = _collect(elements, has_ids)
    labels, width = sparse_labels(raw_labels)
    study_ids = example_ids(seen_ids if has_ids else None, len(labels))
    if images is not None:
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or len(images) != len(labels):
            raise LossLoggerError(f"images must be uint8 [N={len(labels)}, H, W, C], "
                                  f"got {images.dtype} {images.shape}")
    indexed = _indexed(elements, seen_ids if has_ids else None, one_hot=width is not None)

    def batches(batch_size: int) -> tf.data.Dataset:
        return indexed.batch(batch_size).prefetch(2)

    def sample() -> tf.Tensor:
        return next(iter(indexed.take(1).batch(1)))[1]

    return ScoringData(study_ids, labels, images, width, "tf.data", fingerprint(study_ids, labels), batches,
                       sample)


def _unbatched(dataset: tf.data.Dataset) -> tuple[tf.data.Dataset, bool]:
    """The dataset as single examples (x, y[, id]), and whether it carries ids."""
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        raise LossLoggerError(f"a dataset must yield (x, y) or (x, y, id) tuples, got elements {_describe(spec)}")
    if not all(isinstance(s, tf.TensorSpec) for s in spec):
        raise LossLoggerError(f"a dataset's x, y and id must each be one tensor, got {_describe(spec)}")
    _check_kinds(spec)
    batched = _is_batched(spec)
    return (dataset.unbatch() if batched else dataset), len(spec) == 3


def _check_kinds(spec: tuple) -> None:
    """Labels numeric, ids strings or integers."""
    y = spec[1]
    if not (y.dtype.is_integer or y.dtype.is_floating or y.dtype == tf.bool):
        raise LossLoggerError(f"a dataset's labels must be integers or one-hot numbers, got {y.dtype.name}")
    if len(spec) == 3 and not (spec[2].dtype == tf.string or spec[2].dtype.is_integer):
        raise LossLoggerError(f"a dataset's ids must be strings or integers, got {spec[2].dtype.name}")


def _is_batched(spec: tuple) -> bool:
    """Whether elements are batches (see the module docstring for the rule)."""
    y = spec[1]
    if len(spec) == 3:
        if spec[2].shape.rank not in (0, 1):
            raise LossLoggerError(f"a dataset's id must be a scalar (or a batch [B] of them), "
                                  f"got shape {spec[2].shape}")
        return spec[2].shape.rank == 1
    if y.shape.rank == 0:
        return False
    if y.shape.rank == 2:
        return True
    if y.shape.rank == 1:
        return y.dtype.is_integer or y.shape[0] is None
    raise LossLoggerError(f"a dataset's labels must be class indices or one-hot rows, got shape {y.shape}")


def _describe(spec: Any) -> str:
    """A short, one-line description of an element_spec."""
    return " ".join(repr(spec).split())[:200]


def _collect(elements: tf.data.Dataset, has_ids: bool) -> tuple[np.ndarray | None, np.ndarray]:
    """The ids (or None) and raw labels of every example, in iteration order."""
    pick = (lambda x, y, i: (i, y)) if has_ids else (lambda x, y: (tf.zeros([], tf.int8), y))
    ids, labels = [], []
    for batch_ids, batch_labels in elements.map(pick).batch(_COLLECT_BATCH):
        ids.append(batch_ids.numpy())
        labels.append(batch_labels.numpy())
    if not labels:
        raise LossLoggerError("the dataset is empty")
    return (np.concatenate(ids) if has_ids else None), np.concatenate(labels)


def _indexed(elements: tf.data.Dataset, ids: np.ndarray | None, *, one_hot: bool) -> tf.data.Dataset:
    """(index int64, x, label int32) examples: index = position, or the id looked up."""
    def label(y: tf.Tensor) -> tf.Tensor:
        return tf.argmax(y, output_type=tf.int32) if one_hot else tf.cast(tf.reshape(y, []), tf.int32)

    if ids is None:
        return elements.enumerate().map(lambda i, e: (i, e[0], label(e[1])))
    table = _id_table(ids)
    return elements.map(lambda x, y, i: (table.lookup(_id_key(i)), x, label(y)))


def _id_table(ids: np.ndarray) -> tf.lookup.StaticHashTable:
    """id -> position; -1 for an id the logger never saw (caught when the pass is recorded)."""
    keys = tf.constant(ids if ids.dtype.kind in "SUO" else ids.astype(np.int64))
    values = tf.range(len(ids), dtype=tf.int64)
    return tf.lookup.StaticHashTable(tf.lookup.KeyValueTensorInitializer(keys, values), default_value=-1)


def _id_key(i: tf.Tensor) -> tf.Tensor:
    """An id as the table's key type (integers widened to int64)."""
    return i if i.dtype == tf.string else tf.cast(i, tf.int64)
