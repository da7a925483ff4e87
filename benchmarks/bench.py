"""Speed and memory of the trainer, side by side in one run.

    python benchmarks/bench.py [--quick] [--json PATH] [--model NAME] [--dataset SPEC]
    python benchmarks/bench.py --gpu [--peak-tflops T]      # the paper's CIFAR-10 models on a GPU

Each section measures a few keys and prints a few lines; they run in the order of ``SECTIONS``
and each sees the keys of the ones before it (``gflops`` uses the trainer's timed epoch):

- ``versus_keras``: ``trainer_vs_keras``, ``fused_vs_sequential`` and ``scoring_share`` for a
  study of M runs (:mod:`benchmarks.versus_keras`);
- ``gflops``: ``achieved_gflops``, ``peak_gflops``, ``achieved_fraction`` (:mod:`benchmarks.gflops`);
- ``batchnorm``: ``fused_batchnorm_speedup``, the zoo's fused batch norm against Keras's layer
  (:mod:`benchmarks.batchnorm`);
- ``pipeline``: ``autotune_off_speedup``, our input pipelines with tf.data's autotuning off
  against on (:mod:`benchmarks.pipeline`);
- ``records``: ``records_overhead``, the scoring pass with margins and EL2N against losses only
  (:mod:`benchmarks.records`);
- ``rss``: ``trainer_peak_rss_mb`` at N = 1,281,167 against a small N (:mod:`benchmarks.rss`);
- with ``--gpu`` instead: images/s, TFLOP/s and the projected study time (:mod:`benchmarks.gpu`).

To add a key, write a module with ``add_arguments(parser)``, ``measure(args, results) -> dict``
and ``report(results) -> list[str]`` and list it in ``SECTIONS``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from types import ModuleType

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import batchnorm, gflops, gpu, pipeline, records, rss, versus_keras  # noqa: E402

SECTIONS: tuple[ModuleType, ...] = (versus_keras, gflops, batchnorm, pipeline, records, rss)
GPU_SECTIONS: tuple[ModuleType, ...] = (gpu,)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller data, 1 timed epoch per side")
    p.add_argument("--json", help="also write the results here")
    for section in {*SECTIONS, *GPU_SECTIONS}:
        section.add_arguments(p)
    return p.parse_args(argv)


def run(sections: tuple[ModuleType, ...], args: argparse.Namespace) -> dict:
    """Measure every section in order, print its lines, return all keys."""
    results: dict = {}
    for section in sections:
        results.update(section.measure(args, results))
        print("\n".join(section.report(results)), flush=True)
    return results


def non_finite(results: dict) -> list[str]:
    """Keys whose number is NaN or infinite (a failed measurement)."""
    return [k for k, v in results.items() if isinstance(v, float) and not math.isfinite(v)]


def main(argv=None) -> int:
    args = parse_args(argv)
    results = run(GPU_SECTIONS if args.gpu else SECTIONS, args)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=1))
    bad = non_finite(results)
    if bad:
        print(f"non-finite results: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
