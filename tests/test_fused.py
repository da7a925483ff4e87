"""Fused runs: several runs in one compiled step record what each records alone."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from easiness import config as cfg
from easiness import data, store
from easiness.training import train

REPO = Path(__file__).resolve().parents[1]
TINY = "synthetic:classes=3,per_class=32,test_per_class=8,size=32,seed=1"
QUIET = {"log": lambda _: None, "interactive": False}


@pytest.fixture(scope="module")
def tiny() -> data.Dataset:
    return data.load(TINY)


def tiny_config(**changes) -> cfg.Config:
    base = cfg.Config(dataset=TINY, models=("wrn10_1",), runs=3, epochs=2, batch_size=16, score_batch_size=40)
    return dataclasses.replace(base, **changes)


def open_runs(root: Path, dataset: data.Dataset, config: cfg.Config, seeds) -> list[store.RunWriter]:
    writer = store.create_study(root, dataset=dataset.name, fingerprint=data.fingerprint(dataset),
                                ids=dataset.train.ids, labels=dataset.train.labels, class_names=dataset.class_names)
    plan = train.plan_checkpoints(config, len(dataset.train.ids))
    return [writer.run("wrn10_1", s, config=config.run_config("wrn10_1"), seed=s, planned=plan) for s in seeds]


def recorded(root: Path) -> tuple[np.ndarray, list]:
    study = store.Study.open(root)
    return np.asarray(study.losses("wrn10_1")), study.history("wrn10_1")


def train_separately(root: Path, dataset, config, seeds) -> None:
    for run in open_runs(root, dataset, config, seeds):
        assert train.train_run(dataset=dataset, config=config, model_name="wrn10_1", run=run,
                               strategy=train.make_strategy(), **QUIET) == "done"


@pytest.mark.parametrize("score_augment", [False, True])
def test_fused_runs_record_the_losses_of_separate_runs(tmp_path, tiny, score_augment):
    config = tiny_config(score_augment=score_augment)
    train_separately(tmp_path / "separate", tiny, config, [0, 1, 2])
    runs = open_runs(tmp_path / "fused", tiny, config, [0, 1, 2])
    statuses = train.train_runs(dataset=tiny, config=config, model_name="wrn10_1", runs=runs,
                                strategy=train.make_strategy(), **QUIET)
    assert statuses == ["done"] * 3
    alone, alone_history = recorded(tmp_path / "separate")
    fused, fused_history = recorded(tmp_path / "fused")
    assert fused.shape == (3, 2, len(tiny.train.ids))
    np.testing.assert_allclose(fused, alone, rtol=1e-4, atol=1e-5)
    assert not np.allclose(fused[0], fused[1])  # the runs differ from each other: seeds are honoured
    for a, f in zip(alone_history, fused_history):
        assert [h["test_accuracy"] for h in a] == pytest.approx([h["test_accuracy"] for h in f], abs=1e-6)
        assert [h["fused_runs"] for h in f] == [3, 3]


def test_device_resident_training_records_the_losses_of_the_host_pipeline(tmp_path, tiny):
    """--resident on: images gathered, augmented and normalised inside the step (the GPU path),
    here on the CPU; the same batches as the host pipeline, so the same losses."""
    recorded_by = {}
    for resident in ("off", "on"):
        config = tiny_config(resident=resident)
        runs = open_runs(tmp_path / resident, tiny, config, [0, 1])
        assert train.train_runs(dataset=tiny, config=config, model_name="wrn10_1", runs=runs,
                                strategy=train.make_strategy(), **QUIET) == ["done", "done"]
        recorded_by[resident] = recorded(tmp_path / resident)[0]
    np.testing.assert_allclose(recorded_by["on"], recorded_by["off"], rtol=1e-4, atol=1e-5)


def test_resident_on_for_data_that_cannot_live_on_the_device_is_a_clear_error(tiny):
    big = dataclasses.replace(tiny, image_shape=(96, 96, 3))
    with pytest.raises(train.EasinessError, match="--resident on needs in-memory images"):
        train.keep_on_device(tiny_config(resident="on"), train.make_strategy(), big)
    assert not train.keep_on_device(tiny_config(), train.make_strategy(), tiny)  # auto: GPUs only


def test_a_diverging_run_fails_alone_and_the_others_go_on(tmp_path, tiny):
    import keras

    built = []

    def build():  # the second run's logits are infinite: it diverges in its first epoch
        scale = np.inf if len(built) == 1 else 1.0
        built.append(scale)
        return keras.Sequential([keras.Input(tiny.image_shape), keras.layers.Conv2D(4, 3),
                                 keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3),
                                 keras.layers.Rescaling(scale)])

    config = tiny_config()
    runs = open_runs(tmp_path, tiny, config, [0, 1, 2])
    lines = []
    statuses = train.train_runs(dataset=tiny, config=config, model_name="wrn10_1", runs=runs, build_model=build,
                                strategy=train.make_strategy(), log=lines.append, interactive=False)
    assert statuses == ["done", "failed", "done"]
    manifest = json.loads((runs[1].path / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "non-finite" in manifest["reason"]
    assert any("wrn10_1 run 1 failed: non-finite" in line for line in lines)
    study = store.Study.open(tmp_path)
    done = [r for r in range(3) if json.loads((runs[r].path / "manifest.json").read_text())["status"] == "done"]
    assert done == [0, 2]
    for r in done:  # the survivors were recompiled without the failed run and finished both epochs
        assert len(json.loads((runs[r].path / "manifest.json").read_text())["history"]) == 2
    assert study.n == len(tiny.train.ids)


def test_groups_form_from_runs_that_resume_at_the_same_epoch():
    class Run:
        def __init__(self, index, epochs_done):
            self.index, self.history = index, [{}] * epochs_done

    runs = [Run(0, 0), Run(1, 2), Run(2, 0), Run(3, 0), Run(4, 2), Run(5, 0)]
    groups = train.fusable_groups(runs, 3)
    assert [[r.index for r in g] for g in groups] == [[0, 2, 3], [5], [1, 4]]
    assert [[r.index for r in g] for g in train.fusable_groups(runs, 1)] == [[0], [2], [3], [5], [1], [4]]


def test_group_labels_and_auto_fuse_size():
    assert train.group_label("wrn10_1", [3]) == "wrn10_1 run 3"
    assert train.group_label("wrn10_1", [0, 1, 2, 3]) == "wrn10_1 runs 0-3"
    assert train.group_label("wrn10_1", [0, 2, 5]) == "wrn10_1 runs 0,2,5"
    assert train.fuse_size(cfg.Config(), (32, 32, 3)) == 4
    assert train.fuse_size(cfg.Config(), (224, 224, 3)) == 1
    assert train.fuse_size(cfg.Config(fuse=2), (224, 224, 3)) == 2


def test_xla_and_bfloat16_steps_run_and_agree_with_the_plain_step(tiny):
    """The GPU fast paths work on the CPU too (slower there): XLA computes the same losses;
    bfloat16 compute keeps float32 logits and weights and stays close."""
    import keras

    from easiness import models

    strategy = train.make_strategy()

    def scored(precision: str, jit: bool) -> np.ndarray:
        keras.utils.set_random_seed(0)
        with train.precision_policy(precision):
            model = models.build("wrn10_1", num_classes=3, input_shape=tiny.image_shape)
        steps = train.make_steps(model, keras.optimizers.SGD(0.1, momentum=0.9), strategy, weight_decay=1e-4,
                                 jit_compile=jit)
        pipe = data.pipeline(tiny.train, style=tiny.style, image_shape=tiny.image_shape, batch_size=16,
                             augment=True, shuffle_seed=5, drop_remainder=True)
        for _, x, y in pipe.take(3):
            steps.train(x, y)
        assert model.layers[-1].compute_dtype == "float32"
        return train.score_split(steps, strategy, tiny.train, tiny, batch_size=40)[0]

    plain = scored("float32", False)
    np.testing.assert_allclose(scored("float32", True), plain, rtol=3e-2, atol=1e-3)  # other kernels, 3 SGD steps
    mixed = scored("bfloat16", False)
    assert mixed.dtype == np.float32 and np.isfinite(mixed).all()
    assert np.corrcoef(mixed, plain)[0, 1] > 0.9
    assert keras.config.dtype_policy().name == "float32"  # the policy is restored after building


def test_acceleration_is_off_on_cpus_unless_asked():
    strategy = train.make_strategy()
    assert train.acceleration(cfg.Config(), strategy) == ("float32", False)
    assert train.acceleration(cfg.Config(precision="bfloat16", xla="on"), strategy) == ("bfloat16", True)


MIRRORED_FUSED = textwrap.dedent("""
    import sys, numpy as np, keras
    from easiness.training import train
    train.configure_cpu_devices(2)
    from easiness import data
    ds = data.load(sys.argv[1])
    strategy = train.make_strategy()
    assert strategy.num_replicas_in_sync == 2
    def build(seed):
        keras.utils.set_random_seed(seed)
        with strategy.scope():
            net = keras.Sequential([keras.Input(ds.image_shape), keras.layers.Conv2D(4, 3),
                                    keras.layers.BatchNormalization(momentum=0.9),
                                    keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
            return net, keras.optimizers.SGD(0.1, momentum=0.9)
    def pipe(seed):
        return data.pipeline(ds.train, style=ds.style, image_shape=ds.image_shape, batch_size=16, augment=True,
                             shuffle_seed=seed, drop_remainder=True).map(lambda i, x, y: (x, y))
    pairs = [build(s) for s in (0, 1)]
    # both runs in one step, each with its own order
    group = train.make_group_steps([p[0] for p in pairs], [p[1] for p in pairs], strategy, weight_decay=1e-4)
    import tensorflow as tf
    for batches in strategy.experimental_distribute_dataset(tf.data.Dataset.zip((pipe(10), pipe(11)))):
        group.train(batches)
    for net, _ in pairs:
        train.sync_moving_statistics(net, strategy)
    fused = [r[0] for r in train.score_group(group, strategy, ds.train, ds, batch_size=13)]
    for k, seed in enumerate((0, 1)):
        net, opt = build(seed)
        steps = train.make_steps(net, opt, strategy, weight_decay=1e-4)
        for x, y in strategy.experimental_distribute_dataset(pipe(10 + k)):
            steps.train(x, y)
        train.sync_moving_statistics(net, strategy)
        alone = train.score_split(steps, strategy, ds.train, ds, batch_size=13)[0]
        np.testing.assert_allclose(fused[k], alone, rtol=1e-5, atol=1e-6)
    # the device-resident split: training from indices, and its clean scoring pass equals the host's
    from easiness.data.resident import ResidentSplit
    pairs = [build(s) for s in (0, 1)]
    resident = ResidentSplit(ds.train, strategy)
    group = train.make_group_steps([p[0] for p in pairs], [p[1] for p in pairs], strategy, weight_decay=1e-4,
                                   resident=resident)
    source = tf.data.Dataset.zip(tuple(resident.training_batches(batch_size=16, shuffle_seed=s) for s in (10, 11)))
    for batches in strategy.experimental_distribute_dataset(source):
        group.train(batches)
    group.sync()
    on_device = train.score_group(group, strategy, ds.train, ds, batch_size=13, resident=True)
    on_host = train.score_group(group, strategy, ds.train, ds, batch_size=13)
    for (a, _, ra), (b, _, rb) in zip(on_device, on_host):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert np.isfinite(a).all() and set(ra) == set(rb) == {"margins", "el2n"}
        for name in ra:  # margins and EL2N land at the same index as the losses, on either path
            np.testing.assert_allclose(ra[name], rb[name], rtol=1e-5, atol=1e-5)
    # clean batches kept between checkpoints: the replaying pass equals the rebuilt one
    for _ in range(2):
        kept = train.score_group(group, strategy, ds.train, ds, batch_size=13, reuse=True)
        for (a, *_), (b, *_) in zip(kept, on_host):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert group.clean.cached(ds.train, 13, copies=2)
    print("FUSED-MIRRORED-OK", len(fused[0]))
""")


def test_fused_runs_under_mirrored_strategy_equal_separate_runs():
    """Two logical CPUs (a fresh process: devices are configured before TensorFlow starts)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", MIRRORED_FUSED, TINY], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    assert "FUSED-MIRRORED-OK 96" in done.stdout, done.stderr[-3000:]
