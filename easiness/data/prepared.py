"""The data sets ``python -m easiness.prepare`` downloads: their class names, the file it writes
and the environment variable through which the presets find them. Pure Python.

``python -m easiness.prepare cifar10`` writes ``data/cifar10.npz`` under the folder it runs in;
the CIFAR-10 presets (:mod:`easiness.config`) read that file, from the folder the study runs in,
unless ``EASINESS_CIFAR10`` holds another dataset spec (or ``--dataset`` gives one).
"""

from __future__ import annotations

import dataclasses
import os
import shlex
from pathlib import Path
from typing import Mapping

from easiness.errors import EasinessError

FOLDER = "data"  # where prepare writes by default, relative to the folder it runs in
SCHEMES = ("synthetic", "folder", "tfds", "npz")  # what a dataset spec starts with (easiness.data.spec)

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# CIFAR-100's fine labels in label order (the data set's meta file, as keras and tfds read it)
CIFAR100_CLASSES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger",
    "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
)


@dataclasses.dataclass(frozen=True)
class Downloadable:
    """A data set that ``python -m easiness.prepare NAME`` can fetch."""

    name: str  # the tfds name and the keras.datasets module, e.g. "cifar10"
    title: str  # as people write it, e.g. "CIFAR-10"
    class_names: tuple[str, ...]  # in label order
    download: str  # what the download costs, for the messages

    @property
    def path(self) -> str:
        """The file prepare writes by default, relative to the folder it runs in."""
        return f"{FOLDER}/{self.name}.npz"

    @property
    def spec(self) -> str:
        return f"npz:{self.path}"

    @property
    def env(self) -> str:
        """The environment variable whose dataset spec replaces :attr:`spec` in the presets."""
        return f"EASINESS_{self.name.upper()}"


DATASETS: dict[str, Downloadable] = {
    "cifar10": Downloadable("cifar10", "CIFAR-10", CIFAR10_CLASSES, "about 170 MB"),
    "cifar100": Downloadable("cifar100", "CIFAR-100", CIFAR100_CLASSES, "about 170 MB"),
}


def get(name: str) -> Downloadable:
    """The data set called ``name``; an unknown name lists the known ones (one line)."""
    try:
        return DATASETS[name]
    except KeyError:
        raise EasinessError(f"unknown dataset {name!r}; prepare can download {', '.join(DATASETS)}") from None


def spec_from_env(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """``default``, unless the environment variable of data set ``name`` (``EASINESS_CIFAR10``)
    is set and not empty in ``environ`` (default: the process's): then its dataset spec. A
    variable that holds no dataset spec is an EasinessError naming it (its paths are checked when
    the data is loaded)."""
    env = get(name).env
    value = (os.environ if environ is None else environ).get(env, "").strip()
    if not value:
        return default
    scheme, sep, rest = value.partition(":")
    if scheme not in SCHEMES or (scheme != "synthetic" and not (sep and rest.strip())):
        raise EasinessError(f"{env}={value!r} is not a dataset spec; use one of "
                            f"synthetic[:key=value,...], folder:PATH, tfds:NAME or npz:PATH")
    return value


def missing_hint(path: str) -> str:
    """What to say after "npz file PATH does not exist" when prepare makes such a file: "" for
    any other file. The presets' own default also names its environment variable."""
    given = Path(path)
    known = DATASETS.get(given.name.removesuffix(".npz")) if given.name.endswith(".npz") else None
    if known is None:
        return ""
    if given == Path(known.path):
        return (f"; download it with `python -m easiness.prepare {known.name}` ({known.download}, written to "
                f"{known.path} under the folder the command runs in), or set {known.env} to a dataset spec, "
                f"or pass --dataset SPEC")
    return f"; download it with `python -m easiness.prepare {known.name} --out {shlex.quote(path)}` ({known.download})"
