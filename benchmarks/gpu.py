"""``python benchmarks/bench.py --gpu``: the paper's CIFAR-10 models on one GPU, and the study's cost.

For ``wrn16_4``, ``densenet_bc100_k12`` and ``resnext29_4x64d`` on CIFAR-10-sized data (50,000
generated 32x32 images held in memory, as tfds or a folder would give them; nothing is
downloaded, kept in device memory as the trainer keeps CIFAR-sized data on GPUs): training and
scoring images per second through our compiled steps (one run per step by default; ``--gpu-fuse 4`` fuses runs as the trainer does), with bfloat16 compute (``mixed_bfloat16``) and XLA (``jit_compile``); the
achieved TFLOP/s (analytic FLOPs, :mod:`models.flops`) against the card's dense bf16 peak; and
the projected time of the paper's study, 3 models x 10 runs x 300 epochs, each epoch a training
pass plus the scoring pass over the 50,000 training and the 10,000 test images.

Sized to finish within 5 minutes on one H200, compilation included: each measurement runs for
``--gpu-seconds`` after its warm-up. ``--gpu --quick --allow-cpu`` runs the same path on a CPU
with one small model, as a smoke test.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable

import keras
import numpy as np
import tensorflow as tf

from easiness import models
from benchmarks import generated, gflops
from easiness import config, data
from easiness.training import train
from easiness.data.resident import ResidentSplit

PAPER_MODELS = ("wrn16_4", "densenet_bc100_k12", "resnext29_4x64d")
QUICK_MODELS = ("wrn10_1",)
CIFAR_TRAIN, CIFAR_TEST = 50_000, 10_000
RUNS, EPOCHS = 10, 300  # the paper's CIFAR-10 study, per model
# Dense (no sparsity) bf16 tensor-core peaks, TFLOP/s, from NVIDIA's datasheets; matched against
# the device name, longest key first ("H100 PCIe" before "H100").
BF16_PEAK_TFLOPS = {"B200": 2250.0, "H200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "A100": 312.0,
                    "L40S": 362.0, "A10": 125.0, "L4": 121.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--gpu", action="store_true", help="the GPU benchmark of the paper's CIFAR-10 models")
    p.add_argument("--allow-cpu", action="store_true", help="with --gpu: run on a CPU (smoke test)")
    p.add_argument("--peak-tflops", type=float, default=None, help="the card's dense bf16 peak (default: by name)")
    p.add_argument("--gpu-models", nargs="+", default=None, help=f"default {' '.join(PAPER_MODELS)}")
    p.add_argument("--gpu-examples", type=int, default=None, help=f"default {CIFAR_TRAIN:,} (quick: 1,024)")
    p.add_argument("--gpu-seconds", type=float, default=None, help="timed seconds per measurement (default 8)")
    p.add_argument("--gpu-fuse", type=int, default=1,
                   help="runs per compiled step (default 1: XLA compiles each fused run's step, so 4, the "
                        "trainer's default for CIFAR, takes about 4x the compile time; the projection with 1 "
                        "is an upper bound)")


def measure(args: argparse.Namespace, results: dict) -> dict:
    device, peak = _device(args)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")  # why: before any model is built
    try:
        preset = config.PRESETS["cifar10-paper"].config
        n = args.gpu_examples or (1024 if args.quick else CIFAR_TRAIN)
        dataset = generated.in_memory(generated.generated_dataset(n, num_classes=10, side=32))
        seconds = args.gpu_seconds or (1.0 if args.quick else 8.0)
        out = {"gpu_device": device, "gpu_peak_tflops": peak, "gpu_examples": n, "gpu_fuse": args.gpu_fuse,
               "gpu_matmul_bf16_tflops": gflops.matmul_gflops(512 if args.quick else 8192, dtype=tf.bfloat16) / 1e3}
        names = args.gpu_models or (QUICK_MODELS if args.quick else PAPER_MODELS)
        for name in names:
            speed = model_speed(name, dataset, preset, seconds=seconds, fuse=args.gpu_fuse)
            out.update({f"gpu_{name}_{k}": v for k, v in speed.items()})
            print(f"  measured {name}", flush=True)
        out["gpu_projected_study_hours"] = sum(out[f"gpu_{name}_study_hours"] for name in names)
        out["gpu_models"] = list(names)
        return out
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _device(args: argparse.Namespace) -> tuple[str, float]:
    """The device's name and its dense bf16 peak in TFLOP/s."""
    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        if not args.allow_cpu:
            raise SystemExit("--gpu found no GPU; add --allow-cpu to run the same path on the CPU")
        # why: no datasheet for a shared CPU; its measured float32 matmul is its honest peak
        return "cpu", args.peak_tflops or gflops.matmul_gflops(gflops.MATMUL_SIDE) / 1e3
    name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "unknown GPU")
    return name, args.peak_tflops or _datasheet_peak(name)


def _datasheet_peak(name: str) -> float:
    for key in sorted(BF16_PEAK_TFLOPS, key=len, reverse=True):
        if key in name:
            return BF16_PEAK_TFLOPS[key]
    raise SystemExit(f"no bf16 peak known for {name!r}; pass --peak-tflops")


def model_speed(name: str, dataset: data.Dataset, preset: config.Config, *, seconds: float, fuse: int) -> dict:
    """Run-images per second of training and of scoring with ``fuse`` runs in one compiled step (as
    the trainer trains a study), achieved TFLOP/s, projected study hours."""
    nets, optimizers = [], []
    for seed in range(fuse):
        keras.utils.set_random_seed(seed)
        nets.append(models.build(name, num_classes=len(dataset.class_names), input_shape=dataset.image_shape))
        optimizers.append(keras.optimizers.SGD(preset.lr, momentum=preset.momentum))
    strategy = tf.distribute.get_strategy()
    resident = ResidentSplit(dataset.train, strategy)  # why: the trainer keeps CIFAR-sized data on GPUs
    steps = train.make_group_steps(nets, optimizers, strategy, weight_decay=preset.weight_decay,
                                   jit_compile=True, resident=resident)
    n = len(dataset.train.ids)  # why: a smoke test's few examples must still fill one batch
    train_ips = _train_rate(steps, min(preset.batch_size, n), seconds)
    score_ips = _score_rate(steps, min(preset.score_batch_size, n), seconds)
    forward = models.forward_flops(nets[0])
    epoch_s = CIFAR_TRAIN / train_ips + (CIFAR_TRAIN + CIFAR_TEST) / score_ips  # per run
    return {"train_images_per_s": train_ips, "score_images_per_s": score_ips,
            "train_tflops": 3 * forward * train_ips / 1e12, "score_tflops": forward * score_ips / 1e12,
            "epoch_s": epoch_s, "study_hours": epoch_s * EPOCHS * RUNS / 3600}


def _train_rate(steps: train.GroupSteps, batch: int, seconds: float) -> float:
    """Training run-images per second (every fused run's batch counts) after 3 warm-up steps,
    batches made on the device from indices, as the trainer does with CIFAR-sized data on GPUs."""
    def batches():
        for epoch in range(1_000_000):
            sources = [steps.resident.training_batches(batch_size=batch, shuffle_seed=epoch * 1000 + k)
                       for k in range(steps.size)]
            yield from tf.data.Dataset.zip(tuple(sources))

    return _rate(steps.train, batches(), batch * steps.size, seconds)


def _score_rate(steps: train.GroupSteps, batch: int, seconds: float) -> float:
    """Scoring run-images per second, outputs copied to the host as the scoring pass does (full
    batches only, so that XLA compiles one shape)."""
    def batches():
        while True:
            yield from tf.data.Dataset.range(steps.resident.n).batch(batch, drop_remainder=True)

    return _rate(lambda index: [np.asarray(t) for t in tf.nest.flatten(steps.score_resident(index))], batches(),
                 batch * steps.size, seconds)


def _rate(step: Callable, batches, batch: int, seconds: float, warmup: int = 3, chunk: int = 10) -> float:
    """Examples per second of ``step`` over ``batches``, timed in chunks until ``seconds`` pass."""
    for _ in range(warmup):
        _wait(step(next(batches)))
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for _ in range(chunk):
            out = step(next(batches))
        _wait(out)
        done += chunk
    return done * batch / (time.perf_counter() - started)


def _wait(out) -> None:
    """Block until the device has produced ``out`` (reading a value synchronises)."""
    for t in tf.nest.flatten(out):
        np.asarray(t)


def report(r: dict) -> list[str]:
    lines = [f"GPU benchmark on {r['gpu_device']} (peak {r['gpu_peak_tflops']:.3g} TFLOP/s; measured bf16 "
             f"matmul {r['gpu_matmul_bf16_tflops']:.3g}), N={r['gpu_examples']:,} generated 32x32 images, "
             f"{r['gpu_fuse']} runs per compiled step (images/s count every run's images)"]
    lines.append(f"  {'model':22s} {'train img/s':>12s} {'score img/s':>12s} {'train TFLOP/s':>14s} "
                 f"{'of peak':>8s} {'epoch s':>8s} {'study h':>9s}")
    for name in r["gpu_models"]:
        k = f"gpu_{name}_"
        lines.append(f"  {name:22s} {r[k + 'train_images_per_s']:12.0f} {r[k + 'score_images_per_s']:12.0f} "
                     f"{r[k + 'train_tflops']:14.2f} {r[k + 'train_tflops'] / r['gpu_peak_tflops']:8.1%} "
                     f"{r[k + 'epoch_s']:8.1f} {r[k + 'study_hours']:9.1f}")
    hours = r["gpu_projected_study_hours"]
    lines.append(f"projected CIFAR-10 study ({len(r['gpu_models'])} models x {RUNS} runs x {EPOCHS} epochs, "
                 f"scored every epoch): {hours:.1f} h = {hours / 24:.1f} days on this device")
    return lines
