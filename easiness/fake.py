"""Fake studies written through the real study writer: fixtures for the app's tests and benchmark.

The losses are random but shaped like real ones, so every page has something to show: each
example has a latent difficulty (its class, an appearance mode as in :mod:`easiness.data.synthetic`,
a flipped label for a few), every model sees that difficulty through its own noise and every run
through a little more, and losses fall over the checkpoints for all but the flipped examples.
Runs also record margins and EL2N (:mod:`easiness.analysis.scores`) derived from the same losses, as the
trainer records them; ``records=False`` (``--no-records``) fakes a study written before that.
Nothing here trains anything; numpy only, no TensorFlow.

``python -m easiness.fake --preset cifar --out DIR`` writes a CIFAR-10-sized study (N = 50,000,
3 models x 10 runs x 300 checkpoints); ``--preset imagenet`` an ImageNet-sized one (N = 1,281,167,
10 runs x 200 checkpoints, float16, 8x8 thumbnails: about 5 GB of losses per model, 15 GB with
margins and EL2N; ``--no-records`` for losses only, ``--checkpoints C`` for fewer). Rows are written with
:meth:`RunWriter.write_row` and committed once per run, so writing is bound by the disk.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from easiness.store import create_study

MODE_SHARES = (0.8, 0.1, 0.1)  # majority, two minority looks (as in easiness.data.synthetic)
FLIP_SHARE = 0.03  # share of examples whose label is wrong
_NOISE_POOL = 65_537  # extra noise values beyond N; row k reads a shifted window of the pool


@dataclasses.dataclass(frozen=True)
class FakeSpec:
    """What to fake; units in the comments."""

    n: int = 240  # training examples
    classes: int = 4  # classes (names "class-0", ... unless class_names is given)
    models: tuple[str, ...] = ("wrn16_4", "densenet_bc100_k12")  # model names (folder names)
    runs: int = 3  # M, runs per model
    checkpoints: int = 5  # C, one per epoch
    dtype: str = "float32"  # losses dtype: float32 or float16
    image_size: int | None = 8  # side of the stored square RGB images; None = no images
    ground_truth: bool = True  # store "mode" and "flipped" extras like a synthetic study
    done: int | None = None  # checkpoints committed per run (None = all, runs finished)
    steps_per_epoch: int = 10  # updates per epoch, for the checkpoint plan
    seed: int = 0  # everything is a pure function of the spec
    class_names: tuple[str, ...] | None = None
    records: bool = True  # record margins and EL2N beside the losses (False: a study from before)


PRESETS: dict[str, FakeSpec] = {
    "tiny": FakeSpec(),
    "cifar": FakeSpec(n=50_000, classes=10, models=("wrn16_4", "densenet_bc100_k12", "resnext29_4x64d"),
                      runs=10, checkpoints=300, image_size=32, steps_per_epoch=391,
                      class_names=("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                                   "horse", "ship", "truck")),
    "imagenet": FakeSpec(n=1_281_167, classes=1000, models=("resnet18", "resnet50"), runs=10,
                         checkpoints=200, dtype="float16", image_size=8, ground_truth=False,
                         steps_per_epoch=5005),
}

BROKEN_SPEC = FakeSpec(n=60, runs=3, checkpoints=2)  # the studies write_broken damages: small, 3 runs a model


def write_fake_study(root: str | Path, spec: FakeSpec = FakeSpec()) -> Path:
    """Write the study ``spec`` describes into the new (or empty) folder ``root``."""
    root = Path(root)
    rng = np.random.default_rng(spec.seed)
    labels, mode, flipped = _examples(rng, spec)
    names = list(spec.class_names or [f"class-{c}" for c in range(spec.classes)])
    ids = np.char.add("ex-", np.arange(spec.n).astype(str))
    extras = {"mode": mode, "flipped": flipped} if spec.ground_truth else None
    images = _images(rng, spec, labels, mode) if spec.image_size else None
    writer = create_study(root, dataset=f"fake:n={spec.n},classes={spec.classes}",
                          fingerprint=_fingerprint(spec), ids=ids, labels=labels, class_names=names,
                          images=images, extras=extras)
    del images
    difficulty = _difficulty(rng, spec, labels, mode, flipped)
    noise = rng.standard_normal(spec.n + _NOISE_POOL, dtype=np.float32)
    for m, model in enumerate(spec.models):
        own = difficulty + 0.5 * rng.standard_normal(spec.n, dtype=np.float32)
        for r in range(spec.runs):
            _write_run(writer, spec, model, r, own, flipped, noise, seed=1000 * m + r)
    return root


def _examples(rng: np.random.Generator, spec: FakeSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels (balanced, shuffled), appearance modes and flipped flags, each ``[N]``."""
    labels = rng.permutation(np.arange(spec.n) % spec.classes).astype(np.int32)
    mode = rng.choice(len(MODE_SHARES), size=spec.n, p=MODE_SHARES).astype(np.int8)
    flipped = rng.random(spec.n) < FLIP_SHARE
    return labels, mode, flipped


def _difficulty(rng: np.random.Generator, spec: FakeSpec, labels: np.ndarray, mode: np.ndarray,
                flipped: np.ndarray) -> np.ndarray:
    """Latent difficulty ``[N]`` float32: higher is harder; minority looks and flips are hard."""
    by_class = rng.normal(0.0, 0.3, spec.classes).astype(np.float32)
    by_mode = np.array([0.0, 1.2, 1.6], dtype=np.float32)
    d = by_class[labels] + by_mode[mode] + 0.6 * rng.standard_normal(spec.n, dtype=np.float32)
    d[flipped] += 4.0
    return d


def _write_run(writer, spec: FakeSpec, model: str, index: int, difficulty: np.ndarray,
               flipped: np.ndarray, noise: np.ndarray, *, seed: int) -> None:
    """One run: rows of ``ln(K) * exp(-speed * progress)`` plus noise (and the margins and EL2N
    those losses imply), committed once."""
    plan = [{"epoch": float(k + 1), "step": (k + 1) * spec.steps_per_epoch} for k in range(spec.checkpoints)]
    records = {"margins": spec.dtype, "el2n": spec.dtype} if spec.records else None
    run = writer.run(model, index, config={"model": model, "fake": dataclasses.asdict(spec)},
                     seed=seed, planned=plan, dtype=spec.dtype, provenance={"generator": "easiness.fake"},
                     records=records)
    rng = np.random.default_rng(seed)
    speed = np.exp(-(difficulty + 0.3 * rng.standard_normal(spec.n, dtype=np.float32)))
    speed[flipped] *= -0.2  # flipped labels: the loss grows as training goes on
    rival = _rival_share(rng, spec) if spec.records else None
    done = spec.checkpoints if spec.done is None else spec.done
    chance = np.float32(np.log(spec.classes))
    for k in range(done):
        progress = np.float32(6.0 * (k + 1) / spec.checkpoints)
        shift = (k * 7919 + seed * 104_729) % _NOISE_POOL
        row = chance * np.exp(-speed * progress) + 0.05 * np.abs(noise[shift:shift + spec.n])
        extra = None if rival is None else {name: v.astype(spec.dtype) for name, v in
                                            implied_records(row, rival, spec.classes).items()}
        run.write_row(k, row.astype(spec.dtype), extra)
    run.commit(done=done, history=_history(rng, spec, done))
    if done == spec.checkpoints:
        run.finish()
    run.close()


def _rival_share(rng: np.random.Generator, spec: FakeSpec) -> np.ndarray:
    """``[N]`` float32: the share of the wrong classes' probability that the strongest wrong
    class takes, in [1/(K-1), 1] (1 with two classes); fixed per example for a run."""
    low = 1.0 / max(spec.classes - 1, 1)
    return (low + (1.0 - low) * rng.uniform(0.3, 0.9, spec.n)).astype(np.float32)


def implied_records(losses: np.ndarray, rival: np.ndarray, classes: int) -> dict[str, np.ndarray]:
    """The margins and EL2N of a softmax whose true class has probability p = exp(-loss), whose
    strongest wrong class has ``rival * (1 - p)`` and whose other K-2 classes share the rest.

    margin = log p - log(rival (1 - p)): falls as the loss grows, > 0 once p beats the rival;
    el2n = (1 - p) sqrt(1 + rival^2 + (1 - rival)^2 / (K - 2)), in [0, sqrt(2)]. ``[N]`` float32 each.
    """
    p = np.exp(-losses.astype(np.float32))
    wrong = np.maximum(1.0 - p, np.float32(1e-7))  # why: a loss of 0 would make the margin infinite
    margins = np.log(np.maximum(p, np.float32(1e-30))) - np.log(rival * wrong)
    spread = (1.0 - rival) ** 2 / (classes - 2) if classes > 2 else np.float32(0.0)
    el2n = wrong * np.sqrt(1.0 + rival * rival + spread)
    return {"margins": margins.astype(np.float32), "el2n": np.minimum(el2n, np.float32(np.sqrt(2.0)))}


def _history(rng: np.random.Generator, spec: FakeSpec, epochs: int) -> list[dict]:
    """Per-epoch records shaped like the trainer's: accuracies rising towards a plateau."""
    records = []
    for e in range(1, epochs + 1):
        level = 1 - np.exp(-4 * e / spec.checkpoints)
        train, test = 0.98 * level, 0.9 * level
        records.append({"epoch": e, "lr": 0.1, "fit_loss": float(2.3 * (1 - level) + 0.05),
                        "train_accuracy": float(train + rng.normal(0, 0.005)),
                        "test_accuracy": float(test + rng.normal(0, 0.01)),
                        "test_loss": float(2.3 * (1 - 0.9 * level)), "seconds": 1.0})
    return records


def _images(rng: np.random.Generator, spec: FakeSpec, labels: np.ndarray, mode: np.ndarray) -> np.ndarray:
    """``[N, S, S, 3]`` uint8: a blob in the class's hue (majority) or in grey (minority)."""
    s = int(spec.image_size)
    hue = np.linspace(0, 1, spec.classes, endpoint=False)
    colours = (127 + 110 * np.stack([np.cos(2 * np.pi * (hue + t)) for t in (0, 1 / 3, 2 / 3)], 1))
    yy, xx = np.mgrid[0:s, 0:s] / max(s - 1, 1)
    blob = np.exp(-(((yy - 0.5) ** 2 + (xx - 0.5) ** 2) / 0.08))[..., None].astype(np.float32)
    out = np.empty((spec.n, s, s, 3), dtype=np.uint8)
    for start in range(0, spec.n, 8192):
        sl = slice(start, min(start + 8192, spec.n))
        colour = colours[labels[sl]].astype(np.float32)
        colour[mode[sl] > 0] = 128.0
        pixels = 30 + blob * colour[:, None, None, :] + rng.normal(0, 18, (len(colour), s, s, 3))
        out[sl] = np.clip(pixels, 0, 255).astype(np.uint8)
    return out


def _fingerprint(spec: FakeSpec) -> str:
    """A stable fingerprint of the fake dataset (the spec minus what only affects runs)."""
    data = {k: v for k, v in dataclasses.asdict(spec).items() if k not in ("models", "runs", "done", "records")}
    return hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()


def write_broken(root: str | Path, kind: str) -> Path:
    """A folder ``root/kind`` that the app must list as unreadable or with a problem, or show with
    a notice, and never crash on. kind: one of :data:`BROKEN`.

    Study-level kinds leave no readable study; run-level kinds damage some runs of a readable
    study (3 runs per model) and leave the others usable; "escape" also writes the folder
    ``<root>-outside/escape`` beside the runs root, which its symlinks lead to."""
    path = Path(root) / kind
    if kind not in BROKEN:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(BROKEN)}")
    if kind in _EMPTY:
        _EMPTY[kind](path)
        return path
    write_fake_study(path, BROKEN_SPEC)
    _DAMAGE[kind](path)
    return path


def _foreign(path: Path) -> None:  # someone else's folder that happens to have a models/ subfolder
    (path / "models" / "notes").mkdir(parents=True)
    (path / "models" / "notes" / "readme.txt").write_text("not a study")


def _interrupted(path: Path) -> None:  # creation killed before study.json: only the marker is there
    path.mkdir(parents=True)
    (path / ".easiness-creating").write_bytes(b"")


def _run(path: Path, model: int, run: int) -> Path:
    """The folder of run ``run`` of the ``model``-th model of a broken study."""
    return path / "models" / BROKEN_SPEC.models[model] / f"run-{run:03d}"


def _truncate(file: Path, keep: float = 0.5) -> None:
    """Cut a ``.npy`` file to its header and ``keep`` of its data (the header still reads)."""
    with open(file, "rb") as f:
        np.lib.format.read_magic(f)
        np.lib.format.read_array_header_1_0(f)
        header = f.tell()
    size = file.stat().st_size
    os.truncate(file, header + int((size - header) * keep))


def _edit_json(file: Path, **changes) -> None:
    """Rewrite a JSON file with some fields changed."""
    file.write_text(json.dumps({**json.loads(file.read_text()), **changes}))


def _half_run(path: Path) -> None:  # one run killed before its first commit, another with a bad header
    (_run(path, 0, 0) / "manifest.json").unlink()
    os.truncate(_run(path, 0, 1) / "losses.npy", 64)


def _truncated_records(path: Path) -> None:  # margins and EL2N recorded beside the losses, cut short
    _truncate(_run(path, 1, 0) / "margins.npy")
    _truncate(_run(path, 1, 2) / "el2n.npy")


def _garbage_manifest(path: Path) -> None:  # one manifest is bytes, another JSON of the wrong shape
    (_run(path, 0, 0) / "manifest.json").write_bytes(b"\x00\xffgarbage")
    _edit_json(_run(path, 0, 2) / "manifest.json", planned=[{"epoch": "one", "step": "ten"}] * BROKEN_SPEC.checkpoints,
               history=[1, 2])


def _text_losses(path: Path) -> None:  # a losses.npy of the right shape that holds text, not floats
    np.save(_run(path, 0, 0) / "losses.npy", np.full((BROKEN_SPEC.checkpoints, BROKEN_SPEC.n), "1.0"))


def _nan_losses(path: Path) -> None:  # committed rows that read fine but hold NaN and infinity
    for run, (columns, value) in ((0, (slice(0, 5), np.nan)), (1, (slice(5, 8), np.inf))):
        rows = np.load(_run(path, 0, run) / "losses.npy", mmap_mode="r+")
        rows[:, columns] = value
        rows.flush()
        del rows


def _plans_differ(path: Path) -> None:  # runs of one model whose committed checkpoints disagree
    manifest = _run(path, 0, 1) / "manifest.json"
    plan = json.loads(manifest.read_text())["planned"]
    _edit_json(manifest, planned=[{**p, "epoch": p["epoch"] + 0.5} for p in plan])


def _unreadable(path: Path) -> None:  # permissions: a run folder and a losses file nobody may read
    os.chmod(_run(path, 0, 1), 0)
    os.chmod(_run(path, 1, 0) / "losses.npy", 0)


def _fifo(path: Path) -> None:  # a named pipe where a file should be: reading it would block forever
    for folder, name in ((_run(path, 0, 0), "manifest.json"), (_run(path, 1, 1), "losses.npy")):
        (folder / name).unlink()
        os.mkfifo(folder / name)


def _escape(path: Path) -> None:  # a model folder and a run folder that are symlinks out of the runs root
    outside = path.parent.parent / f"{path.parent.name}-outside" / path.name
    outside.mkdir(parents=True)
    for source in (path / "models" / BROKEN_SPEC.models[0], _run(path, 1, 1)):
        target = outside / source.parent.name / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        source.symlink_to(target, target_is_directory=True)


_EMPTY = {"foreign": _foreign, "interrupted": _interrupted}
_DAMAGE = {
    # the study itself cannot be read
    "corrupt": lambda p: (p / "study.json").write_text('{"schema_version": 1, "dataset": '),
    "future": lambda p: _edit_json(p / "study.json", schema_version=99),
    "not-utf8": lambda p: (p / "study.json").write_bytes(b'{"schema_version": 1, "dataset": "\xff\xfe"}'),
    "no-ids": lambda p: (p / "ids.npy").unlink(),
    "short-ids": lambda p: np.save(p / "ids.npy", np.load(p / "ids.npy")[1:]),
    "bad-labels": lambda p: (p / "labels.npy").write_bytes(b"\x93NUMPY garbage"),
    "labels-range": lambda p: np.save(p / "labels.npy", np.arange(BROKEN_SPEC.n, dtype=np.int32) % 7 - 1),
    "no-images": lambda p: (p / "images.npy").unlink(),
    "images-dtype": lambda p: np.save(p / "images.npy", np.zeros((BROKEN_SPEC.n, 8, 8))),
    "bad-extras": lambda p: (p / "extras" / "flipped.npy").write_bytes(b"not numpy"),
    # some runs cannot be read (or read wrong); the others stay usable
    "half-run": _half_run,
    "truncated-losses": lambda p: _truncate(_run(p, 0, 1) / "losses.npy"),
    "truncated-records": _truncated_records,
    "garbage-manifest": _garbage_manifest,
    "losses-dtype": _text_losses,
    "unreadable": _unreadable,
    "fifo": _fifo,
    "escape": _escape,
    # reads fine, but the data are wrong
    "mode-values": lambda p: np.save(p / "extras" / "mode.npy", np.full(BROKEN_SPEC.n, 1e12)),
    "nan-losses": _nan_losses,
    "plans-differ": _plans_differ,
}
BROKEN = ("foreign", "interrupted", *_DAMAGE)
UNREADABLE = ("foreign", "interrupted", "corrupt", "future", "not-utf8", "no-ids", "short-ids", "bad-labels",
              "labels-range", "no-images", "images-dtype", "bad-extras")  # the kinds no page can open


def disk_usage(root: str | Path) -> int:
    """Bytes allocated on disk under ``root`` (sparse holes not counted)."""
    return sum(p.stat().st_blocks * 512 for p in Path(root).rglob("*") if p.is_file())


def build_parser() -> argparse.ArgumentParser:
    from easiness.cli import OneLineParser

    parser = OneLineParser(prog="python -m easiness.fake", description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--out", required=True, help="new study folder")
    parser.add_argument("--models", type=int, help="K models: the first K of the preset, padded with generic names")
    parser.add_argument("--force", action="store_true", help="delete --out first if it exists")
    parser.add_argument("--checkpoints", type=int, help="C checkpoints per run instead of the preset's")
    parser.add_argument("--no-records", action="store_true",
                        help="record losses only, as studies written before margins and EL2N were recorded")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write the fake study; bad input (an --out in a file, a folder holding another study) is
    one line and exit status 2 (:func:`easiness.cli.run_command`)."""
    from easiness.cli import run_command

    def body(args: argparse.Namespace) -> int:
        spec = dataclasses.replace(PRESETS[args.preset], records=not args.no_records)
        if args.checkpoints:
            spec = dataclasses.replace(spec, checkpoints=args.checkpoints)
        if args.models:
            names = tuple(spec.models) + tuple(f"model{i}" for i in range(len(spec.models), args.models))
            spec = dataclasses.replace(spec, models=names[:args.models])
        out = Path(args.out)
        if args.force and out.exists():
            shutil.rmtree(out)
        started = time.perf_counter()
        write_fake_study(out, spec)
        recorded = "losses, margins and EL2N" if spec.records else "losses only"
        print(f"wrote {out}: N={spec.n}, {len(spec.models)} models x {spec.runs} runs x {spec.checkpoints} "
              f"checkpoints ({spec.dtype}; {recorded}) in {time.perf_counter() - started:.0f}s, "
              f"{disk_usage(out) / 2**30:.2f} GiB on disk")
        return 0

    return run_command(build_parser(), argv, body)


if __name__ == "__main__":
    sys.exit(main())
