"""benchmarks/bench.py end to end on tiny settings: every key is there and finite (speeds are never asserted)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--quick", "--runs", "2", "--per-class", "10", "--batch-size", "32", "--score-batch-size", "64", "--epochs", "1",
        "--matmul-side", "256", "--rss-examples", "20000", "--rss-small-examples", "2000"]
CPU_KEYS = ["trainer_vs_keras", "trainer_vs_keras_single_run", "fused_vs_sequential", "scoring_share",
            "scoring_share_single_run", "sequential_epoch_s", "ours_train_s", "ours_score_s", "keras_fit_s", "keras_predict_s",
            "achieved_gflops", "peak_gflops", "achieved_fraction", "forward_gflops_per_image",
            "fused_batchnorm_speedup", "bn_fused_step_s", "bn_keras_step_s",
            "autotune_off_speedup", "pipeline_epoch_s", "pipeline_autotune_epoch_s",
            "records_overhead", "records_scoring_s", "plain_scoring_s", "records_disk_ratio",
            "trainer_peak_rss_mb", "rss_examples", "rss_small_peak_mb", "rss_small_examples", "rss_growth_mb",
            "rss_arrays_growth_mb", "rss_scoring_pass_s", "rss_python_peak_mb", "rss_small_python_peak_mb"]
GPU_KEYS = ["gpu_peak_tflops", "gpu_matmul_bf16_tflops", "gpu_projected_study_hours"] + [
    f"gpu_wrn10_1_{k}" for k in ("train_images_per_s", "score_images_per_s", "train_tflops", "score_tflops",
                                 "epoch_s", "study_hours")]


def bench(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "bench.json"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench.py"), *args, "--json", str(out)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def assert_finite(result: dict, keys: list[str]) -> None:
    missing = [k for k in keys if k not in result]
    assert not missing, missing
    bad = {k: result[k] for k in keys if not (isinstance(result[k], (int, float)) and math.isfinite(result[k]))}
    assert not bad, bad


@pytest.mark.slow
def test_cpu_sections_report_every_key(tmp_path):
    result = bench(tmp_path, *TINY)
    assert_finite(result, CPU_KEYS)
    assert result["rss_examples"] == 20000 and result["rss_small_examples"] == 2000


@pytest.mark.slow
def test_gpu_path_runs_on_a_cpu_in_tiny_form(tmp_path):
    result = bench(tmp_path, "--gpu", "--quick", "--allow-cpu", "--gpu-examples", "256", "--gpu-seconds", "0.2")
    assert_finite(result, GPU_KEYS)
    assert result["gpu_models"] == ["wrn10_1"]
