"""Datasets for easiness studies: loading, fixed example ids, subsets and input pipelines.

A dataset spec names where the examples come from:

* ``synthetic`` or ``synthetic:KEY=VAL,...`` - the built-in dataset with a controlled intra-class
  bias (see :mod:`easiness.data.synthetic`); keys: classes, per_class, test_per_class, size, flip,
  majority, modes, seed.
* ``folder:PATH`` - class folders in a directory or a .tar/.tar.gz archive (:mod:`easiness.data.folders`).
* ``tfds:NAME`` - a prepared TensorFlow Datasets dataset (never downloaded here).
* ``npz:PATH`` - arrays ``x``, ``y`` and optionally ``ids``, ``class_names``, ``x_test``, ``y_test``,
  ``ids_test``; ``python -m easiness.prepare cifar10`` writes real CIFAR-10 so (:mod:`easiness.data.download`).

Every example gets a stable string id once, at load time; its index is its position in
``Split.ids`` and travels with it through :func:`pipeline`, so losses are never matched to
examples by order. The study is tied to the data by :func:`fingerprint`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf

from easiness.data import folders, prepared, synthetic
from easiness.data.augment import gcn, pipeline
from easiness.data.spec import FORMS as SPEC_FORMS, SYNTHETIC_KEYS, synthetic_options
from easiness.data.types import DataError, Dataset, Split
from easiness.errors import one_line

__all__ = ["DataError", "Dataset", "Split", "fingerprint", "gcn", "load", "pipeline"]


def load(spec: str, *, per_class: int | None = None, seed: int = 0, image_size: int | None = None,
         data_dir: str | None = None) -> Dataset:
    """Load the dataset named by ``spec`` (see the module docstring for the forms).

    per_class: keep the first ``per_class`` training examples of every class in id order
        (deterministic, no randomness: a smaller subset is contained in a larger one). The test
        split is kept whole. A class with fewer examples raises DataError.
    seed: the synthetic generator's seed when the spec sets none (it then appears in the name);
        other sources ignore it. It must be the same for every run of a study.
    image_size: side of the images: folder images are resized to it (default: the first
        image's size), synthetic images are drawn at it unless the spec sets ``size``, ImageNet
        crops are this size (default 224); npz and in-memory tfds data must already have it.
    data_dir: the tfds data folder (ImageNet's manual files go in ``<data_dir>/downloads/manual``).
    """
    scheme, sep, rest = spec.partition(":")
    if scheme == "synthetic":
        dataset = _load_synthetic(rest, seed=seed, image_size=image_size)
    elif scheme == "folder" and sep and rest:
        dataset = _load_folder(rest, image_size=image_size)
    elif scheme == "npz" and sep and rest:
        dataset = _load_npz(rest, image_size=image_size)
    elif scheme == "tfds" and sep and rest:
        dataset = _load_tfds(rest, image_size=image_size, data_dir=data_dir)
    else:
        raise DataError(f"unknown dataset spec {spec!r}; use {SPEC_FORMS}")
    if len(dataset.class_names) < 2:
        raise DataError(f"{dataset.name} has {len(dataset.class_names)} class(es); at least 2 are needed")
    return dataset if per_class is None else subset_per_class(dataset, per_class)


def fingerprint(dataset: Dataset) -> str:
    """sha256 hex of the training ids and labels in index order: what a study is tied to."""
    digest = hashlib.sha256()
    _hash_joined(digest, dataset.train.ids)
    digest.update(b"\1")  # why: separates the ids from the label bytes unambiguously
    digest.update(np.asarray(dataset.train.labels, dtype="<i4").tobytes())
    return digest.hexdigest()


def _hash_joined(digest: Any, ids: np.ndarray, chunk: int = 65_536) -> None:
    """Feed ``"\\0".join(ids)`` as UTF-8 to ``digest``, a chunk of ids at a time: the same bytes
    as one join, without a Python string per example for all N at once (1.28M for ImageNet)."""
    for start in range(0, len(ids), chunk):
        if start:
            digest.update(b"\0")
        digest.update("\0".join(ids[start:start + chunk].tolist()).encode("utf-8"))


def subset_per_class(dataset: Dataset, per_class: int) -> Dataset:
    """The dataset with the first ``per_class`` training examples of every class (id order)."""
    if per_class < 1:
        raise DataError(f"per_class must be at least 1, got {per_class}")
    labels = dataset.train.labels
    counts = np.bincount(labels, minlength=len(dataset.class_names))
    short = int(np.argmin(counts))
    if counts[short] < per_class:
        raise DataError(f"per_class={per_class} but class {dataset.class_names[short]!r} has only "
                        f"{counts[short]} training examples")
    order = np.argsort(dataset.train.ids, kind="stable")  # id order, whatever the index order
    rank = np.empty(len(labels), dtype=np.int64)
    for c in range(len(dataset.class_names)):
        members = order[labels[order] == c]
        rank[members] = np.arange(members.size)
    return subset(dataset, np.flatnonzero(rank < per_class))  # still in index order


def subset(dataset: Dataset, keep: np.ndarray, *, name: str | None = None) -> Dataset:
    """``dataset`` with only the training examples at ``keep`` (ascending ``[K]`` indices) and
    their extras, re-indexed 0..K-1, renamed ``name`` if given; the test split is unchanged."""
    keep = np.asarray(keep, dtype=np.int64)
    extras = {key: value[keep] for key, value in dataset.extras.items()}
    return dataclasses.replace(dataset, name=name or dataset.name, train=select(dataset.train, keep), extras=extras)


def select(split: Split, keep: np.ndarray) -> Split:
    """The examples at positions ``keep`` (ascending) of ``split``, re-indexed 0..len(keep)-1."""
    ids, labels = split.ids[keep], split.labels[keep]
    if split.images is not None:
        return Split(ids, labels, split.images[keep])
    if split.generate is not None:
        return Split(ids, labels, None, generate=_reindexed_generator(split.generate, keep))
    remap = np.full(len(split.ids), -1, dtype=np.int64)
    remap[keep] = np.arange(keep.size)
    return Split(ids, labels, None, stream=_remapped_stream(split.stream, remap))


def _remapped_stream(stream: Callable[[], tf.data.Dataset], remap: np.ndarray) -> Callable[[], tf.data.Dataset]:
    """A stream of the kept examples only, with their new indices (``remap``: old -> new or -1)."""
    def make() -> tf.data.Dataset:
        table = tf.constant(remap)
        ds = stream().map(lambda i, x, y: (tf.gather(table, i), x, y))
        return ds.filter(lambda i, x, y: i >= 0)

    return make


ImageGenerator = Callable[[tf.Tensor], tf.Tensor]  # indices int64 [B] -> images uint8 [B, H, W, C]


def _reindexed_generator(generate: ImageGenerator, keep: np.ndarray) -> ImageGenerator:
    """The generator of the kept examples: new index j draws old example ``keep[j]``."""
    def make(index: tf.Tensor) -> tf.Tensor:
        return generate(tf.gather(tf.constant(keep, tf.int64), index))

    return make


def _numbered_ids(split: str, n: int) -> np.ndarray:
    """[n] str ids "<split>/000000"..., zero-padded so that string order is index order."""
    width = max(6, len(str(max(n - 1, 0))))
    return np.asarray([f"{split}/{i:0{width}d}" for i in range(n)], dtype=str)


# ---------------------------------------------------------------- synthetic

def _load_synthetic(options: str, *, seed: int, image_size: int | None) -> Dataset:
    """The built-in biased dataset; extras hold each training example's mode, flip and true class."""
    values = synthetic_options(options)
    values.setdefault("seed", seed)
    if image_size is not None:
        values.setdefault("size", image_size)
    config = synthetic.SyntheticConfig(**values)
    problems = config.problems()
    if problems:
        raise DataError(f"bad synthetic spec {options!r}: {'; '.join(problems)}")
    train, test = synthetic.generate(config)
    test_split = None if test is None else Split(_numbered_ids("test", len(test.labels)), test.labels, test.images)
    return Dataset(name=_synthetic_name(config), class_names=synthetic.class_names(config.classes),
                   train=Split(_numbered_ids("train", len(train.labels)), train.labels, train.images),
                   test=test_split, image_shape=(config.size, config.size, 3), style="cifar",
                   extras={"mode": train.modes, "flipped": train.flipped, "true_label": train.true_labels})


def _synthetic_name(config: synthetic.SyntheticConfig) -> str:
    """"synthetic" plus the options that differ from the defaults, in a fixed order."""
    default = synthetic.SyntheticConfig()
    changed = [f"{key}={getattr(config, key)}" for key in SYNTHETIC_KEYS
               if getattr(config, key) != getattr(default, key)]
    return "synthetic" + (":" + ",".join(changed) if changed else "")


# ---------------------------------------------------------------- folders and npz

def _load_folder(path: str, *, image_size: int | None) -> Dataset:
    data = folders.read_folder(path, image_size=image_size)
    test = None if data.test is None else Split(data.test.ids, data.test.labels, data.test.images)
    return Dataset(name=f"folder:{path}", class_names=data.class_names,
                   train=Split(data.train.ids, data.train.labels, data.train.images), test=test,
                   image_shape=tuple(data.train.images.shape[1:]), style="cifar", extras={})


def _load_npz(path: str, *, image_size: int | None) -> Dataset:
    """Arrays x [N, H, W(, C)] uint8 and y [N]; optional ids, class_names, x_test, y_test, ids_test."""
    arrays = _read_npz(path)
    for key in ("x", "y"):
        if key not in arrays:
            raise DataError(f"{path} has no array {key!r} (needs x [N,H,W,C] uint8 and y [N] labels)")
    if ("x_test" in arrays) != ("y_test" in arrays):
        raise DataError(f"{path} needs both x_test and y_test, or neither")
    x = _npz_images(arrays["x"], "x", path)
    if image_size is not None and x.shape[1:3] != (image_size, image_size):
        raise DataError(f"{path} holds {x.shape[1]}x{x.shape[2]} images; npz data cannot be resized "
                        f"(image_size={image_size})")
    ys = [arrays["y"]] + ([arrays["y_test"]] if "y_test" in arrays else [])
    class_names = _npz_class_names(arrays, ys, path)
    train = _npz_split(arrays, "x", "y", "ids", "train", class_names, path)
    test = None
    if "x_test" in arrays:
        test = _npz_split(arrays, "x_test", "y_test", "ids_test", "test", class_names, path)
        if test.images.shape[1:] != x.shape[1:]:
            raise DataError(f"x_test images {test.images.shape[1:]} differ from x images {x.shape[1:]} in {path}")
    return Dataset(name=f"npz:{path}", class_names=class_names, train=train, test=test,
                   image_shape=tuple(train.images.shape[1:]), style="cifar", extras={})


def _read_npz(path: str) -> dict[str, np.ndarray]:
    file = Path(path).expanduser()
    if not file.is_file():
        raise DataError(f"npz file {path} does not exist{prepared.missing_hint(path)}")
    if not zipfile.is_zipfile(file):  # why: np.load would try to unpickle anything else
        raise DataError(f"cannot read {path}: not an .npz archive (save it with numpy.savez)")
    try:
        with np.load(file, allow_pickle=False) as z:
            return {key: z[key] for key in z.files}
    except ValueError:  # why: numpy refuses object arrays without pickle, which we never allow
        raise DataError(f"{path} holds object arrays; save strings as numpy str arrays (no pickle)") from None
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"cannot read {path} as .npz: {one_line(err)}") from None


def _npz_images(x: np.ndarray, key: str, path: str) -> np.ndarray:
    """[N, H, W, C] uint8 (a grey [N, H, W] array gets a channel axis)."""
    if x.dtype != np.uint8 or x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[3] not in (1, 3)):
        raise DataError(f"{key} in {path} must be uint8 [N,H,W,C] with C 1 or 3 (or [N,H,W]), "
                        f"got {x.dtype} {list(x.shape)}")
    return x[..., None] if x.ndim == 3 else x


def _npz_class_names(arrays: dict[str, np.ndarray], ys: list[np.ndarray], path: str) -> tuple[str, ...]:
    for y in ys:
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
            raise DataError(f"labels in {path} must be non-negative integers [N], got {y.dtype} {list(y.shape)}")
    if "class_names" in arrays:
        return tuple(str(c) for c in np.asarray(arrays["class_names"]).reshape(-1))
    top = max((int(y.max()) for y in ys if y.size), default=-1)
    return tuple(f"class{i}" for i in range(top + 1))


def _npz_split(arrays: dict[str, np.ndarray], xkey: str, ykey: str, idkey: str, split: str,
               class_names: tuple[str, ...], path: str) -> Split:
    x, y = _npz_images(arrays[xkey], xkey, path), arrays[ykey]
    if len(y) != len(x):
        raise DataError(f"{ykey} has {len(y)} labels but {xkey} has {len(x)} images in {path}")
    if y.size and y.max() >= len(class_names):
        raise DataError(f"{ykey} in {path} has label {int(y.max())} but only {len(class_names)} class names")
    ids = _numbered_ids(split, len(x)) if idkey not in arrays else np.asarray(arrays[idkey]).astype(str)
    if ids.shape != (len(x),) or len(np.unique(ids)) != len(ids):
        raise DataError(f"{idkey} in {path} must be {len(x)} unique strings")
    return Split(ids, y.astype(np.int32), x)


# ---------------------------------------------------------------- tfds

_ID_FEATURES = ("id", "file_name", "image/filename", "filename")  # the builders' own example ids
_STREAM_IMAGE_SIZE = 224  # ImageNet-style crop side (paper)


@dataclasses.dataclass(frozen=True)
class _Tfds:
    """An opened tfds builder and the features that hold (id, image, label)."""

    builder: Any  # tfds.core.DatasetBuilder
    name: str
    data_dir: str | None
    id_key: str
    image_key: str
    label_key: str

    def read(self, split: str, **kwargs) -> tf.data.Dataset:
        """``builder.as_dataset`` in file order; a dataset that is not prepared is a DataError."""
        try:
            return self.builder.as_dataset(split=split, shuffle_files=False, **kwargs)
        except (AssertionError, FileNotFoundError, OSError) as err:
            where = self.data_dir or "the default tfds folder"
            how = (f"`python -m easiness.prepare {self.name} --source tfds` prepares it"
                   if self.name in prepared.DATASETS
                   else "prepare the tfds data")
            raise DataError(f"tfds:{self.name} is not prepared in {where} and nothing is downloaded here "
                            f"({one_line(err)}); use folder:PATH or npz:PATH, or {how}") from None


def _load_tfds(name: str, *, image_size: int | None, data_dir: str | None) -> Dataset:
    """A prepared tfds dataset: fixed-size images in memory (CIFAR style), others streamed (ImageNet)."""
    source = _open_tfds(name, data_dir)
    features = source.builder.info.features
    class_names = tuple(features[source.label_key].names)
    shape = tuple(features[source.image_key].shape)
    if _is_imagenet(name):
        _prepare_manual(source.builder, name, data_dir)
    streaming = None in shape  # why: variable-size images (ImageNet) cannot be held in memory
    if streaming:
        size = image_size or _STREAM_IMAGE_SIZE
        image_shape, style = (size, size, shape[-1]), "imagenet"
    elif image_size is not None and shape[:2] != (image_size, image_size):
        raise DataError(f"tfds:{name} images are {shape[0]}x{shape[1]}; image_size={image_size} is not supported")
    else:
        image_shape, style = shape, "cifar"
    read = _tfds_stream_split if streaming else _tfds_memory_split
    train_name, test_name = _tfds_split_names(source.builder, name)
    train = read(source, train_name)
    test = None if test_name is None else read(source, test_name)
    for split in (train, test):
        labels = np.zeros(0) if split is None else split.labels
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise DataError(f"tfds:{name} has labels outside 0..{len(class_names) - 1}")
    return Dataset(name=f"tfds:{name}", class_names=class_names, train=train, test=test,
                   image_shape=image_shape, style=style, extras={})


def _is_imagenet(name: str) -> bool:
    """Whether a tfds name ("imagenet2012", "imagenet2012:5.1.0", ...) is ImageNet-1k."""
    return name.split(":")[0].split("/")[0] == "imagenet2012"


def _open_tfds(name: str, data_dir: str | None) -> _Tfds:
    """The builder and its (id, image, label) features; the id is the builder's own, never read order."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as err:  # why: tfds raises several types (not found, bad config, missing extras)
        raise DataError(f"tfds cannot open dataset {name!r}: {one_line(err)}") from None
    features, supervised = builder.info.features, builder.info.supervised_keys
    image_key, label_key = supervised if _is_pair(supervised) else ("image", "label")
    id_key = next((key for key in _ID_FEATURES if key in features), None)
    has_label = label_key in features and hasattr(features[label_key], "names")
    if id_key is None or image_key not in features or not has_label:
        raise DataError(f"tfds:{name} lacks an id feature ({', '.join(_ID_FEATURES)}) or an image/class label; "
                        f"use folder:PATH or npz:PATH")
    return _Tfds(builder, name, data_dir, id_key, image_key, label_key)


def _is_pair(keys: object) -> bool:
    return isinstance(keys, tuple) and len(keys) == 2 and all(isinstance(k, str) for k in keys)


def _tfds_split_names(builder: Any, name: str) -> tuple[str, str | None]:
    """Train split and the labelled held-out split (ImageNet's test split has no labels)."""
    known = set(builder.info.splits.keys())
    if known and "train" not in known:
        raise DataError(f"tfds:{name} has no train split (splits: {', '.join(sorted(known))})")
    candidates = ("validation",) if _is_imagenet(name) else ("test", "validation")
    if not known:  # why: unknown split list (a mocked builder): assume the usual one
        return "train", candidates[0]
    return "train", next((c for c in candidates if c in known), None)


def _prepare_manual(builder: Any, name: str, data_dir: str | None) -> None:
    """Build ImageNet from the manually downloaded tars in <data_dir>/downloads/manual (once, hours)."""
    import tensorflow_datasets as tfds

    if builder.is_prepared():
        return
    manual = Path(data_dir or "~/tensorflow_datasets").expanduser() / "downloads" / "manual"
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual)))
    except Exception as err:  # why: tfds reports missing manual files with various types
        raise DataError(f"tfds:{name} is not prepared and cannot be built from {manual} ({one_line(err)}); "
                        f"put the ILSVRC2012 tars there or use folder:PATH") from None


def _tfds_memory_split(source: _Tfds, split: str) -> Split:
    """A fixed-size split read whole into memory, sorted by id (so read order never matters)."""
    import tensorflow_datasets as tfds

    ds = source.read(split).map(lambda ex: (ex[source.id_key], ex[source.image_key], ex[source.label_key]))
    parts = list(tfds.as_numpy(ds.batch(4096)))  # why: batch_size=-1 would build one huge tensor
    ids = _decode_ids([p[0] for p in parts])
    images = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([p[2] for p in parts]).astype(np.int32)
    _check_unique(ids, f"tfds:{source.name} {split}")
    order = np.argsort(ids, kind="stable")
    return Split(ids[order], labels[order], images[order])


def _tfds_stream_split(source: _Tfds, split: str) -> Split:
    """A streamed split: ids and labels read once without decoding images; the stream finds each
    example's index by its id, so it stays right even if tfds changed its read order."""
    import tensorflow_datasets as tfds

    skip = {source.image_key: tfds.decode.SkipDecoding()}
    ds = source.read(split, decoders=skip).map(lambda ex: (ex[source.id_key], ex[source.label_key]))
    parts = list(tfds.as_numpy(ds.batch(16_384)))
    ids = _decode_ids([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]).astype(np.int32) if parts else np.zeros(0, np.int32)
    _check_unique(ids, f"tfds:{source.name} {split}")

    def stream() -> tf.data.Dataset:
        keys = tf.lookup.KeyValueTensorInitializer(tf.constant(ids), tf.range(len(ids), dtype=tf.int64))
        table = tf.lookup.StaticHashTable(keys, default_value=-1)
        return source.read(split).map(
            lambda ex: (table.lookup(ex[source.id_key]), ex[source.image_key], tf.cast(ex[source.label_key], tf.int32)))

    return Split(ids, labels, None, stream=stream)


def _decode_ids(batches: list[np.ndarray]) -> np.ndarray:
    """[N] str from batches of tfds byte strings."""
    return np.asarray([b.decode("utf-8") for batch in batches for b in batch], dtype=str)


def _check_unique(ids: np.ndarray, where: str) -> None:
    if len(np.unique(ids)) != len(ids):
        raise DataError(f"{where} has duplicate example ids; cannot tie losses to examples")
