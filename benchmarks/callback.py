"""What :class:`easiness.keras.LossLogger` costs: seconds per epoch of ``fit`` with and without it.

    python benchmarks/callback.py                 # about a minute on 2 CPU cores
    python benchmarks/callback.py --n 20000 --epochs 6

A small CNN on generated 32x32 images (:mod:`easiness.data.synthetic`: ten shapes, learnable) is
fitted the same way twice per round, in this one process: plain, and with a per-epoch
LossLogger; rounds alternate so that drift of the machine's speed hits both alike. The first
epoch of every fit is left out (it traces the compiled functions). Reported: the fastest and
the median seconds per epoch of each and their ratios (on a machine shared with other work the
fastest is the steadier figure, as with ``timeit``), the scoring pass (from the run's own
``score_seconds`` records), and the ratio within each logged epoch of its seconds to its seconds
without the scoring pass: both parts measured moments apart, so the figure least moved by other
load. Expect about 1 + 1/3: a forward pass costs about a third of a training step per example.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # why before the import: TensorFlow reads it once

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from easiness import Study  # noqa: E402
from easiness.data import synthetic
from easiness.keras import LossLogger  # noqa: E402


class EpochTimer(keras.callbacks.Callback):
    """Wall seconds of every epoch, up to the end of the callbacks listed before it."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.seconds.append(time.perf_counter() - self._started)


def small_cnn(classes: int, side: int, width: int) -> keras.Model:
    """Three conv-BN-ReLU stages (width, 2*width, 2*width channels) and a linear classifier."""
    layers: list = [keras.Input((side, side, 3)), keras.layers.Rescaling(1 / 255.0)]
    for k, channels in enumerate((width, 2 * width, 2 * width)):
        layers += [keras.layers.Conv2D(channels, 3, padding="same", use_bias=False),
                   keras.layers.BatchNormalization(momentum=0.9), keras.layers.ReLU()]
        if k < 2:
            layers.append(keras.layers.MaxPooling2D())
    model = keras.Sequential(layers + [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(classes)])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return model


def timed_fit(x: np.ndarray, y: np.ndarray, args: argparse.Namespace,
              study: Path | None) -> tuple[list[float], list[float]]:
    """(seconds per epoch, scoring seconds per epoch) of one seeded fit, logged into ``study`` if given."""
    keras.utils.set_random_seed(0)
    model = small_cnn(int(y.max()) + 1, x.shape[1], args.width)
    timer = EpochTimer()
    callbacks: list = [timer]
    if study is not None:
        callbacks.insert(0, LossLogger(study, x, y, model_name="small_cnn", batch_size=args.score_batch_size,
                                       verbose=0))
    model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size, callbacks=callbacks, verbose=0)
    scoring = [r["score_seconds"] for r in Study.open(study).history("small_cnn")[0]] if study else []
    return timer.seconds[1:], scoring[1:]  # why [1:]: the first epoch traces the compiled functions


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=4000, help="training images (default 4000)")
    p.add_argument("--side", type=int, default=32, help="image side in pixels (default 32)")
    p.add_argument("--width", type=int, default=16, help="channels of the first conv stage (default 16)")
    p.add_argument("--epochs", type=int, default=4, help="epochs per fit; the first is not timed (default 4)")
    p.add_argument("--rounds", type=int, default=3, help="plain + logged fits, alternating (default 3)")
    p.add_argument("--batch-size", type=int, default=128, help="examples per update (default 128)")
    p.add_argument("--score-batch-size", type=int, default=1024, help="examples per scoring batch (default 1024)")
    args = p.parse_args(argv)
    classes = 10
    train, _ = synthetic.generate(synthetic.SyntheticConfig(classes=classes, per_class=args.n // classes,
                                                            test_per_class=0, size=args.side))
    x, y = train.images, train.labels
    scratch = Path(tempfile.mkdtemp(prefix="easiness-callback-bench-"))
    plain, logged, scoring = [], [], []
    try:
        for r in range(args.rounds):
            plain += timed_fit(x, y, args, None)[0]
            seconds, scored = timed_fit(x, y, args, scratch / f"round-{r}")
            logged += seconds
            scoring += scored
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    report(args, len(x), params=small_cnn(classes, args.side, args.width).count_params(),
           plain=plain, logged=logged, scoring=scoring)


def report(args: argparse.Namespace, n: int, *, params: int, plain: list[float], logged: list[float],
           scoring: list[float]) -> None:
    """The side-by-side table: fastest and median seconds per epoch, ratios, scoring share."""
    devices = tf.config.list_logical_devices()
    print(f"LossLogger cost: small CNN ({params:,} parameters), {n:,} generated {args.side}x{args.side} images, "
          f"batch {args.batch_size}, scoring batch {args.score_batch_size}")
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPU cores, "
          f"devices: {', '.join(sorted({d.device_type for d in devices}))}; epochs 2..{args.epochs} of "
          f"{args.rounds} rounds ({len(plain)} epochs each)")
    print(f"  {'s/epoch':<22} {'fastest':>8} {'median':>8}")
    for name, seconds in (("plain fit", plain), ("fit + LossLogger", logged), ("  of which scoring", scoring)):
        print(f"  {name:<22} {min(seconds):8.3f} {statistics.median(seconds):8.3f}")
    fastest, median = min(logged) / min(plain), statistics.median(logged) / statistics.median(plain)
    print(f"  {'ratio logged / plain':<22} {fastest:7.2f}x {median:7.2f}x")
    within = [s / (s - c) for s, c in zip(logged, scoring)]
    shares = [c / s for s, c in zip(logged, scoring)]
    print(f"  within logged epochs: epoch / epoch without scoring {statistics.median(within):.2f}x (median), "
          f"scoring {statistics.median(shares):.0%} of the epoch")


if __name__ == "__main__":
    main()
