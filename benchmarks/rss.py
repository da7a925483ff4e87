"""Peak memory of the trainer at ImageNet's size: ``trainer_peak_rss_mb`` at N = 1,281,167.

A child process does what a run does to a study, on a generated dataset whose images are made
from the example index inside tf.data (:mod:`benchmarks.generated`): create the study (ids,
labels), open a run, train a few compiled steps, then one full scoring pass over all N examples
written as one row of the memory-mapped ``losses.npy``. Its peak resident memory (``VmHWM``)
is measured at a large and at a small N: the difference must be what the per-example arrays
account for (ids, labels, loss rows, index bookkeeping), not per-example Python objects or
images. A fresh process per N, so that neither measurement inherits the other's peak.

    python -m benchmarks.rss --examples 1281167      # one child, prints one JSON line
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGENET_TRAIN = 1_281_167  # examples in ImageNet-1k's training split
SMALL = 12_812  # 1% of it
CLASSES = 1000
SIDE = 16  # pixels: small images keep a full pass over 1.28M examples short on a CPU
TRAIN_STEPS = 5
BATCH = 128
SCORE_BATCH = 1024  # the trainer's default scoring batch (easiness.config.Config.score_batch_size)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rss-examples", type=int, default=IMAGENET_TRAIN, help="N of the large child")
    parser.add_argument("--rss-small-examples", type=int, default=SMALL, help="N of the small child")


def measure(args: argparse.Namespace, results: dict) -> dict:
    """Run the child at both sizes; the keys of the large one, the small one and the difference."""
    large, small = child(args.rss_examples), child(args.rss_small_examples)
    return {
        "trainer_peak_rss_mb": large["peak_rss_mb"], "rss_examples": large["examples"],
        "rss_small_peak_mb": small["peak_rss_mb"], "rss_small_examples": small["examples"],
        "rss_growth_mb": large["peak_rss_mb"] - small["peak_rss_mb"],
        "rss_arrays_growth_mb": large["arrays_mb"] - small["arrays_mb"],
        "rss_scoring_pass_s": large["scoring_s"],
        "rss_python_peak_mb": large["python_peak_mb"], "rss_small_python_peak_mb": small["python_peak_mb"],
    }


def report(r: dict) -> list[str]:
    return [
        f"trainer_peak_rss_mb {r['trainer_peak_rss_mb']:.0f}   (N={r['rss_examples']:,}, generated "
        f"{SIDE}x{SIDE} images, {TRAIN_STEPS} steps + a full scoring pass in {r['rss_scoring_pass_s']:.0f}s)",
        f"  at N={r['rss_small_examples']:,}: {r['rss_small_peak_mb']:.0f} MB; growth "
        f"{r['rss_growth_mb']:.0f} MB, of which the per-example arrays (ids, labels, loss row, "
        f"index bookkeeping) account for {r['rss_arrays_growth_mb']:.0f} MB",
        f"  numpy and Python heap peak (tracemalloc): {r['rss_python_peak_mb']:.0f} MB at the large N, "
        f"{r['rss_small_python_peak_mb']:.0f} MB at the small one; the rest of the growth is TensorFlow's "
        f"native memory",
    ]


def child(n: int) -> dict:
    """Run :func:`run_child` in a fresh Python process and return its JSON result."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "benchmarks.rss", "--examples", str(n)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"rss child at N={n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def array_bytes_per_example(id_bytes: int) -> int:
    """Bytes per example of the arrays a run holds by design while it scores.

    The ids (fixed-width unicode) and labels (int32) of the dataset; for each of the two
    pipelines (training, scoring) the example order (int64, numpy and its tensor copy) and the
    labels as a tensor; the scoring pass's loss row, hit flags, seen indices and their count
    (float32, bool, int64, int64, plus a fresh row and flags after the flush); and the page of
    ``losses.npy`` the row is written to (float32).
    """
    dataset = id_bytes + 4
    pipelines = 2 * (8 + 8 + 4)
    recorder = (4 + 1 + 8 + 8) + (4 + 1)
    return dataset + pipelines + recorder + 4


def run_child(n: int) -> dict:
    """Create a study of ``n`` generated examples, train a few steps, score all n, write the row."""
    import keras
    import tensorflow as tf

    from benchmarks import generated
    from easiness import data, store
    from easiness.training import train

    tracemalloc.start()  # why: numpy and Python allocations, apart from TensorFlow's native ones
    dataset = generated.generated_dataset(n, num_classes=CLASSES, side=SIDE)
    with tempfile.TemporaryDirectory() as folder:
        study = store.create_study(Path(folder) / "study", dataset=dataset.name, fingerprint=data.fingerprint(dataset),
                                   ids=dataset.train.ids, labels=dataset.train.labels,
                                   class_names=dataset.class_names)
        run = study.run("tiny", 0, config={"model": "tiny"}, seed=0, planned=[{"epoch": 1.0, "step": TRAIN_STEPS}])
        model = tiny_model(dataset.image_shape)
        strategy = tf.distribute.get_strategy()
        steps = train.make_steps(model, keras.optimizers.SGD(0.1, momentum=0.9), strategy, weight_decay=1e-4)
        pipe = data.pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape, batch_size=BATCH,
                             augment=True, shuffle_seed=1, drop_remainder=True)
        for _, x, y in pipe.take(TRAIN_STEPS):
            loss, _ = steps.train(x, y)
        float(loss)
        started = time.perf_counter()
        losses = train.score_split(steps, strategy, dataset.train, dataset, batch_size=SCORE_BATCH).losses
        run.write_row(0, losses)
        run.commit(done=1)
        scoring = time.perf_counter() - started
        run.finish()
    peak_kb = peak_rss_kb()
    arrays = n * array_bytes_per_example(dataset.train.ids.itemsize)
    return {"examples": n, "peak_rss_mb": peak_kb / 1024, "arrays_mb": arrays / 2**20, "scoring_s": scoring,
            "python_peak_mb": tracemalloc.get_traced_memory()[1] / 2**20}


def peak_rss_kb() -> int:
    """This process's peak resident memory in kB: ``VmHWM``, the high-water mark of its own memory
    map. ``ru_maxrss`` would not do in a child: Linux carries the parent's peak over exec, so a
    child of a 1 GB benchmark process reports at least 1 GB whatever it does itself."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere (kB on Linux, bytes on macOS)


def tiny_model(shape: tuple[int, int, int]):
    """A few thousand FLOPs per image: the pass over 1.28M examples measures memory, not compute."""
    import keras

    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="conv")(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9, name="bn")(x)
    x = keras.layers.Activation("relu", name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES, name="logits")(x), name="tiny")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="one child of the peak-memory benchmark")
    parser.add_argument("--examples", type=int, required=True)
    print(json.dumps(run_child(parser.parse_args(argv).examples)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
