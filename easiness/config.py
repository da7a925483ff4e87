"""Flat, frozen study configurations and the named presets.

A :class:`Config` is saved with every run (in its manifest), so a study can always say how it was
made. Presets give the paper's configurations (full schedules, for GPUs) and CPU-sized variants;
each carries the command that runs it and its expected runtime, which the README repeats.

CIFAR-10 presets read ``npz:data/cifar10.npz``, the file ``python -m easiness.prepare cifar10``
writes, relative to the folder the study runs in; the environment variable ``EASINESS_CIFAR10``
(a dataset spec) replaces it, and ``--dataset`` replaces both. Expected times name the hardware
they were measured on.

This module is pure Python: the app and the analysis code read configs without TensorFlow.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

from easiness.data import prepared
from easiness.errors import EasinessError

# The paper divides the learning rate by 10 at epochs 150 and 250 of 300 on CIFAR-10 and at
# 100, 150 and 190 on ImageNet (Sec. 4). Stored as fractions of the schedule so that a short
# CPU run with fewer epochs keeps the same shape.
CIFAR_MILESTONES = (150 / 300, 250 / 300)
RECORDABLE = ("margins", "el2n")  # what --record adds to the losses (the store's RECORDS)
IMAGENET_MILESTONES = (100 / 200, 150 / 200, 190 / 200)

MAX_RUNS = 1000
MAX_EPOCHS = 10_000
MAX_SEED = 2**32 - 1  # numpy's and Keras's seeds are 32-bit; run m uses seed + m


@dataclasses.dataclass(frozen=True)
class Config:
    """Everything that defines a study. Units are in the comments."""

    dataset: str = "synthetic"  # dataset spec, see easiness.data.load
    models: tuple[str, ...] = ("wrn10_1", "densenet_bc22_k12")  # model zoo names
    runs: int = 4  # M, independent runs per model (the paper uses 10)
    epochs: int = 3  # passes over the training set
    per_class: int | None = None  # class-balanced subset: examples per class (None = all)
    batch_size: int = 128  # examples per update, across all replicas
    lr: float = 0.1  # initial learning rate of momentum SGD (paper)
    momentum: float = 0.9  # SGD momentum (paper)
    weight_decay: float = 1e-4  # L2 coefficient added to every gradient (paper)
    lr_milestones: tuple[float, ...] = CIFAR_MILESTONES  # fractions of the epochs where lr *= lr_factor
    lr_factor: float = 0.1  # learning-rate multiplier at each milestone
    score_every: int = 0  # updates between scoring checkpoints; 0 = at the end of every epoch
    score_augment: bool = False  # whether the scoring pass sees training augmentation
    score_batch_size: int = 1024  # examples per scoring batch (forward pass only)
    seed: int = 0  # run m of a model uses seed + m
    loss_dtype: str = "float32"  # storage of the per-example losses (float16 halves ImageNet's 10 GB)
    image_size: int | None = None  # resize folder images to this side (None = their own size)
    fuse: int = 0  # runs trained together in one compiled step (0 = auto: 4 for CIFAR-sized images, else 1)
    precision: str = "auto"  # compute precision: float32 | bfloat16 | auto (bfloat16 on GPUs)
    xla: str = "auto"  # XLA compilation of the steps: on | off | auto (on for GPUs)
    resident: str = "auto"  # training images in device memory: on | off | auto (GPUs, CIFAR-sized in-memory data)
    model_specs: tuple[tuple[str, str], ...] = ()  # (name, "module:function" or "file.py:function") of your own models
    record: tuple[str, ...] = ("margins", "el2n")  # per-example arrays recorded beside the losses (easiness.analysis.scores)
    record_dtype: str = "float16"  # storage of those arrays (float16 halves their disk and memory)

    def spec_of(self, model: str) -> str | None:
        """The spec of ``model`` if it is a model of your own, else None (a zoo model)."""
        return dict(self.model_specs).get(model)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {k: _listed(v) for k, v in dataclasses.asdict(self).items()}

    def run_config(self, model: str) -> dict[str, Any]:
        """The part of the config that defines one model's runs (what a resumed run must match);
        a model of your own adds its ``spec`` (zoo models' configs are as they always were)."""
        keys = ("dataset", "epochs", "per_class", "batch_size", "lr", "momentum", "weight_decay",
                "lr_milestones", "lr_factor", "score_every", "score_augment", "loss_dtype", "image_size")
        full = self.to_dict()
        spec = self.spec_of(model)
        return {"model": model, **{k: full[k] for k in keys}, **({"spec": spec} if spec else {})}


def _listed(value: Any) -> Any:
    """Tuples (nested too) as lists, as JSON reads them back."""
    return [_listed(v) for v in value] if isinstance(value, tuple) else value


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named configuration with the command that runs it and what it costs."""

    config: Config
    description: str
    command: str
    expected: str  # expected wall time, and the hardware it was measured on
    data: str | None = None  # a data set of easiness.data.prepared: its environment variable replaces config.dataset


CIFAR10 = prepared.get("cifar10")
_FROM_CIFAR10 = f"{CIFAR10.path} (python -m easiness.prepare cifar10; or ${CIFAR10.env})"


PRESETS: dict[str, Preset] = {
    "demo": Preset(
        Config(),
        "synthetic data with a built-in intra-class bias; two small CNNs, 4 runs each",
        "python -m easiness.score",
        "about 3 minutes on a 2-core CPU, measured: docs/results.md",
    ),
    "cifar10-cpu": Preset(
        Config(
            dataset=CIFAR10.spec,
            models=("wrn10_1", "densenet_bc40_k12", "resnext11_2x16d"),
            runs=4, epochs=3, per_class=500,
            # why: on a CPU resnext11_2x16d scores 1.3x faster in batches of 256 than of 1,024 and
            # peaks at 2.8 GB instead of 7.1 GB (4 fused runs); densenet_bc40_k12 at 1.5 GB
            # instead of 3.4 GB for 2.5% more time; wrn10_1 the same
            score_batch_size=256,
        ),
        f"real CIFAR-10 from {_FROM_CIFAR10}, 500 images per class, the three small CIFAR families, M=4, 3 epochs",
        "python -m easiness.score --preset cifar10-cpu --out runs/cifar10-cpu",
        "about 25 minutes on a 2-core CPU, 22 measured on idle cores: docs/results.md",
        data=CIFAR10.name,
    ),
    "cifar10-full-cpu": Preset(
        Config(
            dataset=CIFAR10.spec,
            models=("wrn10_1",),
            runs=4, epochs=20,  # lr / 10 at epochs 10 and 17: the paper's 150/250 of 300, scaled
            score_batch_size=256,
        ),
        f"real CIFAR-10 from {_FROM_CIFAR10}, all 50,000 training images, wrn10_1, M=4, 20 epochs with "
        "the paper's step schedule",
        "python -m easiness.score --preset cifar10-full-cpu --out runs/cifar10-full-cpu",
        "an hour or more on a 2-core CPU, 1:16 measured on shared cores: docs/results.md",
        data=CIFAR10.name,
    ),
    "cifar10-paper": Preset(
        Config(
            dataset="tfds:cifar10",
            models=("wrn16_4", "densenet_bc100_k12", "resnext29_4x64d"),
            runs=10, epochs=300,
        ),
        f"the paper's CIFAR-10 study: WRN-16-4, DenseNet-BC-100 k=12, ResNeXt-29 4x64d, M=10, 300 epochs; "
        f"tfds:cifar10 (python -m easiness.prepare cifar10 --source tfds prepares it; or ${CIFAR10.env})",
        "python -m easiness.score --preset cifar10-paper --out runs/cifar10-paper",
        "GPU job: days on one modern GPU (see benchmarks/bench.py --gpu for a projection)",
        data=CIFAR10.name,
    ),
    "imagenet-paper": Preset(
        Config(
            dataset="tfds:imagenet2012",
            models=("alexnet", "resnet18", "resnet50", "densenet121"),
            runs=10, epochs=200, batch_size=256, lr_milestones=IMAGENET_MILESTONES,
            loss_dtype="float16", score_batch_size=512,
        ),
        "the paper's ImageNet study: AlexNet, ResNet-18, ResNet-50, DenseNet-121, M=10",
        "python -m easiness.score --preset imagenet-paper --data-dir DIR --out runs/imagenet",
        "multi-GPU job: weeks of GPU time; spread runs over machines",
    ),
}


def preset(name: str, environ: Mapping[str, str] | None = None) -> Preset:
    """The preset called ``name``, its dataset taken from its data set's environment variable
    (``EASINESS_CIFAR10``) when that is set in ``environ`` (default: the process's); an unknown
    name lists the valid ones."""
    try:
        found = PRESETS[name]
    except KeyError:
        raise EasinessError(f"unknown preset {name!r}; choose one of {', '.join(sorted(PRESETS))}") from None
    if found.data is None:
        return found
    dataset = prepared.spec_from_env(found.data, found.config.dataset, environ)
    return dataclasses.replace(found, config=dataclasses.replace(found.config, dataset=dataset))


def with_overrides(base: Config, overrides: Mapping[str, Any]) -> Config:
    """``base`` with the given fields replaced (None values are ignored) and validated."""
    changes = {k: v for k, v in overrides.items() if v is not None}
    config = dataclasses.replace(base, **changes)
    validate(config)
    return config


def validate(config: Config) -> None:
    """Raise :class:`EasinessError` (one line) for values out of range."""
    _check_range("--runs", config.runs, 1, MAX_RUNS)
    _check_range("--epochs", config.epochs, 1, MAX_EPOCHS)
    _check_range("--batch-size", config.batch_size, 1, 1 << 16)
    _check_range("--score-batch-size", config.score_batch_size, 1, 1 << 20)
    if config.per_class is not None:
        _check_range("--per-class", config.per_class, 1, 10_000_000)
    if config.score_every < 0:
        raise EasinessError(f"--score-every must be 0 (every epoch) or a positive number of updates, got {config.score_every}")
    if not config.models:
        raise EasinessError("give at least one --model")
    unknown = sorted(set(dict(config.model_specs)) - set(config.models))
    if unknown:
        raise EasinessError(f"model_specs names {unknown[0]!r}, which is not among the models")
    if len(set(config.models)) != len(config.models):
        raise EasinessError(f"--model lists a model twice: {' '.join(config.models)}")
    if config.loss_dtype not in ("float32", "float16"):
        raise EasinessError(f"--loss-dtype must be float32 or float16, got {config.loss_dtype!r}")
    if config.record_dtype not in ("float32", "float16"):
        raise EasinessError(f"--record-dtype must be float32 or float16, got {config.record_dtype!r}")
    unknown = [name for name in config.record if name not in RECORDABLE]
    if unknown:
        raise EasinessError(f"--record {unknown[0]!r} is unknown; choose from losses, {', '.join(RECORDABLE)}")
    _check_range("--fuse", config.fuse, 0, MAX_RUNS)
    if config.precision not in ("auto", "float32", "bfloat16"):
        raise EasinessError(f"--precision must be auto, float32 or bfloat16, got {config.precision!r}")
    for flag, value in (("--xla", config.xla), ("--resident", config.resident)):
        if value not in ("auto", "on", "off"):
            raise EasinessError(f"{flag} must be auto, on or off, got {value!r}")
    if not (config.lr > 0 and 0 <= config.momentum < 1 and config.weight_decay >= 0):
        raise EasinessError("--lr must be > 0, --momentum in [0, 1) and --weight-decay >= 0")
    if not all(math.isfinite(v) for v in (config.lr, config.momentum, config.weight_decay)):
        raise EasinessError(f"--lr must be a finite number, got {config.lr}")
    _check_range("--seed", config.seed, 0, MAX_SEED - (config.runs - 1))
    if config.image_size is not None:
        _check_range("--image-size", config.image_size, 8, 4096)


def _check_range(flag: str, value: int, low: int, high: int) -> None:
    if not isinstance(value, int) or not low <= value <= high:
        raise EasinessError(f"{flag} must be an integer from {low} to {high}, got {value}")


def lr_at(config: Config, epoch: int) -> float:
    """Learning rate during ``epoch`` (0-based): ``lr`` times ``lr_factor`` per milestone passed.

    A milestone at fraction f takes effect at epoch floor(f * epochs + 0.5), so 300 epochs decay
    at 150 and 250 as in the paper, and 3 epochs once, at epoch 2 (the second milestone, 2.5,
    rounds to 3 and is never reached).
    """
    passed = sum(epoch >= int(f * config.epochs + 0.5) for f in config.lr_milestones)
    return config.lr * config.lr_factor**passed
