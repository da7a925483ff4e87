"""``python -m easiness.prepare cifar10``: download real CIFAR-10 once and write it as one ``.npz``
that every command reads as ``--dataset npz:PATH``.

By default the file is ``data/cifar10.npz`` under the folder the command runs in, where the
CIFAR-10 presets (``--preset cifar10-cpu``) look for it; ``cifar100`` works the same way.
``--source keras`` (default) downloads through ``keras.datasets``; ``--source tfds`` through
tensorflow-datasets, which also leaves a prepared ``tfds:cifar10`` in its data folder
(``--data-dir``) for the ``cifar10-paper`` preset. Both give the examples tfds's ids
(``train_00000`` ...). Why keras by default: it comes with TensorFlow and fails at once without
network, where tfds 4.9 also needs ``importlib_resources`` (tensorflow/datasets#11212) and retries
for minutes. The file is written
atomically and an existing ``--out`` is kept unless ``--force``. Bad input and a failed download
end with one line on stderr and exit status 2; ``--help`` and bad arguments answer without
importing TensorFlow.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Sequence

from easiness.cli import OneLineParser, check_writable_place, import_tensorflow_quietly, run_command
from easiness.data import download, prepared
from easiness.errors import EasinessError


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(prog="python -m easiness.prepare",
                      description="Download CIFAR-10 (or CIFAR-100) once and write it as one .npz file "
                                  "for --dataset npz:PATH.",
                      epilog="Then: python -m easiness.score --preset cifar10-cpu --dataset npz:data/cifar10.npz")
    p.add_argument("dataset", metavar="NAME", choices=tuple(prepared.DATASETS),
                   help=f"the data set: {' or '.join(prepared.DATASETS)}")
    p.add_argument("--source", choices=download.SOURCES, default="keras",
                   help="keras: keras.datasets (default; its download stays in ~/.keras/datasets); "
                        "tfds: tensorflow-datasets (also prepares tfds:NAME in its data folder)")
    p.add_argument("--data-dir", metavar="DIR",
                   help="with --source tfds: its data folder (default: ~/tensorflow_datasets or $TFDS_DATA_DIR)")
    p.add_argument("--out", metavar="PATH", help="the .npz file to write (default: data/NAME.npz here)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    return p


def check_out(path: Path, *, force: bool) -> None:
    """EasinessError (one line, nothing written) when ``path`` is no place for the .npz: not an
    .npz name, an existing file without ``--force``, or a place that cannot be written."""
    if path.suffix != ".npz":
        raise EasinessError(f"--out {path} must be a file name ending in .npz")
    check_writable_place(path, "--out", folder=False)
    if path.exists() and not force:
        raise EasinessError(f"--out {path} exists; pass --force to replace it")


def next_command(known: prepared.Downloadable, out: Path) -> str:
    """The score command that studies the file just written (CIFAR-100: the CIFAR-10 preset's
    5,000 training images, 50 per class)."""
    args = ["python", "-m", "easiness.score", "--preset", "cifar10-cpu", "--dataset", f"npz:{out}"]
    if known.name != "cifar10":
        args += ["--per-class", "50", "--out", f"runs/{known.name}-cpu"]
    return shlex.join(args)


def summary(arrays: download.Arrays, out: Path, size: int) -> str:
    """One line: the file, its split sizes, image shape, classes, first ids and size in MB."""
    h, w, c = arrays.x.shape[1:]
    names = ", ".join(arrays.class_names[:3]) + (", ..." if len(arrays.class_names) > 3 else "")
    return (f"wrote {out}: {len(arrays.y)} training and {len(arrays.y_test)} test images of {h}x{w}x{c}, "
            f"{len(arrays.class_names)} classes ({names}), ids {', '.join(map(repr, arrays.ids[:2].tolist()))}, ..., "
            f"{size / 1e6:.1f} MB")


def main(argv: Sequence[str] | None = None) -> int:
    def body(args: argparse.Namespace) -> int:
        known = prepared.get(args.dataset)
        out = Path(args.out if args.out is not None else known.path)
        check_out(out, force=args.force)  # why before the download: a bad --out costs no minutes
        download.check_source(args.source, args.data_dir)
        import_tensorflow_quietly()
        arrays = download.fetch(known, source=args.source, data_dir=args.data_dir)
        size = download.write_npz(out, arrays, replace=args.force)
        print(summary(arrays, out, size))
        print(f"next: {next_command(known, out)}")
        return 0

    return run_command(build_parser(), argv, body)


if __name__ == "__main__":
    sys.exit(main())
