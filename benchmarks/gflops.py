"""``achieved_gflops`` against ``peak_gflops``: how much of the machine our training step uses.

Achieved: the training FLOPs of the benchmark's model (``models.flops.training_flops``, 3 x the
analytic forward count) times the images our trainer trained in its timed epoch
(``trainer_vs_keras`` section, same run), over that epoch's training seconds. Peak: the best
rate of a large float32 matrix product on the same device, measured now, so that the fraction
compares the trainer with what this machine delivers at this moment (other jobs included), not
with a datasheet.
"""

from __future__ import annotations

import argparse
import time

import tensorflow as tf

from easiness import models

MATMUL_SIDE = 2048  # float32 [side, side] @ [side, side]: 17 GFLOP, large enough for full speed
WARMUP, REPEATS = 2, 5


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--matmul-side", type=int, default=MATMUL_SIDE, help="side of the peak matmul")


def measure(args: argparse.Namespace, results: dict) -> dict:
    """Needs the keys of the trainer_vs_keras section (model, shapes, examples, ours_train_s)."""
    model = models.build(results["model"], num_classes=results["classes"], input_shape=results["image_shape"])
    per_run = results["examples"] // results["batch_size"] * results["batch_size"]  # drop_remainder
    trained = per_run * results.get("ours_runs", 1)  # fused runs train together in ours_train_s
    achieved = models.training_flops(model) * trained / results["ours_train_s"] / 1e9
    peak = matmul_gflops(args.matmul_side)
    return {"achieved_gflops": achieved, "peak_gflops": peak, "achieved_fraction": achieved / peak,
            "forward_gflops_per_image": models.forward_flops(model) / 1e9}


def matmul_gflops(side: int, *, dtype: tf.DType = tf.float32) -> float:
    """The best rate (GFLOP/s) of ``side`` x ``side`` matrix products on the default device."""
    a = tf.random.stateless_normal([side, side], seed=[1, 2], dtype=dtype)
    b = tf.random.stateless_normal([side, side], seed=[3, 4], dtype=dtype)
    best = float("inf")
    for i in range(WARMUP + REPEATS):
        started = time.perf_counter()
        float(tf.reduce_sum(tf.linalg.matmul(a, b)))  # why: reading a value waits for the device
        if i >= WARMUP:
            best = min(best, time.perf_counter() - started)
    return 2 * side**3 / best / 1e9


def report(r: dict) -> list[str]:
    return [f"achieved_gflops  {r['achieved_gflops']:.1f}   of peak_gflops {r['peak_gflops']:.1f} "
            f"(float32 matmul now): achieved_fraction {r['achieved_fraction']:.2f}; "
            f"{r['forward_gflops_per_image'] * 1e3:.1f} MFLOPs forward per image x 3 for training"]
