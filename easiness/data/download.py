"""Download CIFAR-10 or CIFAR-100 once (tensorflow-datasets or keras.datasets) and write it as
one ``.npz`` in the layout of ``npz:PATH`` (:func:`easiness.data.loading.load`): ``x`` [N, 32, 32,
3] uint8, ``y`` [N] int32, ``ids`` [N] str, ``class_names``, and ``x_test``, ``y_test``,
``ids_test`` for the test split.

Ids: tfds's own id feature (``train_00000`` ... ``train_49999``, ``test_00000`` ...: the position
in the data set's batch files). keras.datasets reads the same batch files in the same order and
gives no ids, so its examples get the same numbering. Importing this module is cheap: TensorFlow,
keras and tfds are imported by the functions that download.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import numpy as np

from easiness.data.prepared import Downloadable
from easiness.data.types import DataError
from easiness.errors import EasinessError, one_line
from easiness.store.atomic import write_atomic

SOURCES = ("tfds", "keras")


@dataclasses.dataclass(frozen=True)
class Arrays:
    """A data set as the ``npz:`` loader reads it, in index order."""

    x: np.ndarray  # [N, H, W, 3] uint8
    y: np.ndarray  # [N] int32 in [0, len(class_names))
    ids: np.ndarray  # [N] str, unique
    x_test: np.ndarray  # [N_test, H, W, 3] uint8
    y_test: np.ndarray  # [N_test] int32
    ids_test: np.ndarray  # [N_test] str, unique
    class_names: tuple[str, ...]

    def npz(self) -> dict[str, np.ndarray]:
        """The arrays under the names the ``npz:`` loader reads (strings as numpy str, never pickled)."""
        fields = dataclasses.asdict(self)
        fields["class_names"] = np.asarray(self.class_names, dtype=str)
        return fields


def fetch(known: Downloadable, *, source: str, data_dir: str | None = None,
          log: Callable[[str], None] = print) -> Arrays:
    """Download ``known`` through ``source`` ("tfds" or "keras"), or read it from that source's
    own cache when it is there; a download that fails is a DataError naming the cause."""
    check_source(source, data_dir)
    if source == "tfds":
        return from_tfds(known, data_dir=data_dir, log=log)
    return from_keras(known, log=log)


def check_source(source: str, data_dir: str | None) -> None:
    """EasinessError (one line) for an unknown source, or a data folder the source cannot use."""
    if source not in SOURCES:
        raise EasinessError(f"unknown source {source!r}; choose {' or '.join(SOURCES)}")
    if source == "keras" and data_dir is not None:
        raise EasinessError("--data-dir is the tfds data folder: add --source tfds (keras.datasets keeps its "
                            "downloads in ~/.keras/datasets; set KERAS_HOME to move them)")


# ---------------------------------------------------------------- tensorflow-datasets

def from_tfds(known: Downloadable, *, data_dir: str | None, log: Callable[[str], None] = print) -> Arrays:
    """``builder.download_and_prepare()`` (a no-op once prepared), then read through the ``tfds:``
    loader: its ids, its checks. The prepared tfds copy stays, so ``tfds:NAME`` works too."""
    import tensorflow_datasets as tfds

    from easiness.data import loading

    try:
        builder = tfds.builder(known.name, data_dir=data_dir)
        log(f"preparing tfds:{known.name} in {builder.data_dir} (downloads {known.download} the first time)")
        builder.download_and_prepare()
    except ModuleNotFoundError as err:  # why: tfds 4.9 imports importlib_resources without requiring it (#11212)
        raise DataError(f"tensorflow-datasets needs the package {err.name} to download {known.title}: "
                        f"pip install {err.name} (or use --source keras)") from None
    except Exception as err:  # why: tfds fails with many types (no network, a full disk, a bad checksum)
        raise DataError(f"cannot download {known.title} through tensorflow-datasets "
                        f"({type(err).__name__}: {one_line(err)}); check the network, or try --source keras") from None
    dataset = loading.load(f"tfds:{known.name}", data_dir=data_dir)
    if dataset.test is None:
        raise DataError(f"tfds:{known.name} has no test split")
    return Arrays(x=dataset.train.images, y=dataset.train.labels, ids=dataset.train.ids,
                  x_test=dataset.test.images, y_test=dataset.test.labels, ids_test=dataset.test.ids,
                  class_names=dataset.class_names)


# ---------------------------------------------------------------- keras.datasets

def from_keras(known: Downloadable, *, log: Callable[[str], None] = print) -> Arrays:
    """``keras.datasets.<name>.load_data()`` (fine labels for CIFAR-100), numbered like tfds."""
    import keras

    loader = getattr(keras.datasets, known.name)
    options = {"label_mode": "fine"} if known.name == "cifar100" else {}
    log(f"loading {known.title} through keras.datasets (downloads {known.download} to ~/.keras/datasets "
        f"the first time)")
    try:
        (x, y), (x_test, y_test) = loader.load_data(**options)
    except Exception as err:  # why: keras raises a bare Exception for a failed URL fetch
        raise DataError(f"cannot download {known.title} through keras.datasets "
                        f"({type(err).__name__}: {one_line(err)}); check the network, or try --source tfds") from None
    where = f"keras.datasets.{known.name}"
    return Arrays(x=_channels_last(x, where), y=_labels(y, known, where), ids=numbered_ids("train", len(x)),
                  x_test=_channels_last(x_test, where), y_test=_labels(y_test, known, where),
                  ids_test=numbered_ids("test", len(x_test)), class_names=known.class_names)


def numbered_ids(split: str, n: int) -> np.ndarray:
    """[n] str ids ``<split>_00000``..., tfds's names for the CIFAR examples; zero-padded so that
    string order is index order."""
    width = max(5, len(str(max(n - 1, 0))))
    return np.asarray([f"{split}_{i:0{width}d}" for i in range(n)], dtype=str)


def _channels_last(x: np.ndarray, where: str) -> np.ndarray:
    """[N, H, W, 3] uint8; keras gives [N, 3, H, W] when its image_data_format is channels_first."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[1] == 3 and x.shape[3] != 3:
        x = x.transpose(0, 2, 3, 1)
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[3] != 3:
        raise DataError(f"{where} returned {x.dtype} images of shape {list(x.shape)}, not uint8 [N, H, W, 3]")
    return np.ascontiguousarray(x)


def _labels(y: np.ndarray, known: Downloadable, where: str) -> np.ndarray:
    """[N] int32 from keras's [N, 1] uint8, each a class of ``known``."""
    y = np.asarray(y).reshape(-1)
    if not np.issubdtype(y.dtype, np.integer) or (y.size and not 0 <= y.min() <= y.max() < len(known.class_names)):
        raise DataError(f"{where} returned labels outside 0..{len(known.class_names) - 1}")
    return y.astype(np.int32)


# ---------------------------------------------------------------- the file

def write_npz(path: Path, arrays: Arrays, *, replace: bool = False) -> int:
    """Write ``arrays`` to ``path`` atomically (temp file, fsync, rename): a reader sees the old
    file or the new one, and a failure leaves the old one as it was. An existing ``path`` is an
    EasinessError unless ``replace``. Returns the file's size in bytes."""
    if path.exists() and not replace:
        raise EasinessError(f"--out {path} exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        write_atomic(path, lambda f: np.savez(f, **arrays.npz()))
    except OSError as err:
        if err.filename is not None:
            raise
        # why: a write that fails on a full disk names no file; the one-line message should
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    return path.stat().st_size
