"""The trainer: checkpoint plan, schedule, per-example recording, resume, divergence, replicas."""

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


@pytest.fixture(scope="module")
def tiny() -> data.Dataset:
    return data.load(TINY)


def tiny_config(**changes) -> cfg.Config:
    base = cfg.Config(dataset=TINY, models=("wrn10_1",), runs=1, epochs=2, batch_size=16, score_batch_size=40)
    return dataclasses.replace(base, **changes)


def open_run(root: Path, dataset: data.Dataset, config: cfg.Config, *, seed: int = 0) -> store.RunWriter:
    writer = store.create_study(root, dataset=dataset.name, fingerprint=data.fingerprint(dataset),
                                ids=dataset.train.ids, labels=dataset.train.labels,
                                class_names=dataset.class_names, images=dataset.train.images, extras=dataset.extras)
    plan = train.plan_checkpoints(config, len(dataset.train.ids))
    return writer.run("wrn10_1", seed, config=config.run_config("wrn10_1"), seed=seed, planned=plan)


def test_plan_every_epoch_and_every_k_updates():
    config = cfg.Config(epochs=3, batch_size=10)
    assert train.plan_checkpoints(config, 45) == [{"epoch": 1.0, "step": 4}, {"epoch": 2.0, "step": 8},
                                                  {"epoch": 3.0, "step": 12}]
    steps = [c["step"] for c in train.plan_checkpoints(dataclasses.replace(config, score_every=5), 45)]
    assert steps == [5, 10]


def test_batch_larger_than_dataset_is_a_clear_error():
    with pytest.raises(train.EasinessError, match="larger than the 8 training examples"):
        train.plan_checkpoints(cfg.Config(batch_size=16), 8)


def test_learning_rate_follows_the_paper_schedule_scaled_to_the_epochs():
    paper = cfg.Config(epochs=300)
    assert [cfg.lr_at(paper, e) for e in (0, 149, 150, 249, 250, 299)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.001])
    short = cfg.Config(epochs=3)
    assert [cfg.lr_at(short, e) for e in range(3)] == pytest.approx([0.1, 0.1, 0.01])


def test_shuffle_seed_depends_on_run_and_epoch():
    seeds = {train.shuffle_seed(r, e) for r in range(3) for e in range(3)}
    assert len(seeds) == 9


def test_run_records_every_example_at_every_checkpoint(tmp_path, tiny):
    config = tiny_config()
    run = open_run(tmp_path, tiny, config)
    status = train.train_run(dataset=tiny, config=config, model_name="wrn10_1", run=run,
                             strategy=train.make_strategy(), log=lambda _: None, interactive=False)
    assert status == "done"
    study = store.Study.open(tmp_path)
    losses = np.asarray(study.losses("wrn10_1"))
    assert losses.shape == (1, 2, len(tiny.train.ids))
    assert np.isfinite(losses).all() and (losses >= 0).all() and losses.std() > 0
    history = study.history("wrn10_1")[0]
    assert [h["epoch"] for h in history] == [1, 2]
    assert all(0 <= h["test_accuracy"] <= 1 and 0 <= h["train_accuracy"] <= 1 for h in history)
    assert not any(run.state_dir.iterdir()) if run.state_dir.exists() else True


def test_scoring_matches_a_direct_forward_pass(tiny):
    """The recorded loss of example i is CE of its own label under the model, whatever the batch order."""
    import keras
    import tensorflow as tf

    strategy = train.make_strategy()
    model = _tiny_model(len(tiny.class_names), tiny.image_shape)
    steps = train.make_steps(model, keras.optimizers.SGD(0.1), strategy, weight_decay=0.0)
    losses, accuracy, _ = train.score_split(steps, strategy, tiny.train, tiny, batch_size=7)
    pipe = data.pipeline(tiny.train, style=tiny.style, image_shape=tiny.image_shape, batch_size=1000,
                         augment=False, shuffle_seed=None)
    index, x, y = next(iter(pipe))
    direct = train.cross_entropy(y, model(x, training=False)).numpy()
    expected = np.empty_like(direct)
    expected[index.numpy()] = direct
    np.testing.assert_allclose(losses, expected, rtol=1e-5, atol=1e-6)
    assert 0 <= accuracy <= 1


def _tiny_model(classes, shape):
    import keras

    return keras.Sequential([keras.Input(shape), keras.layers.Conv2D(4, 3, name="c"),
                             keras.layers.GlobalAveragePooling2D(name="g"), keras.layers.Dense(classes, name="d")])


def test_resumed_run_equals_uninterrupted_run(tmp_path, tiny):
    config = tiny_config(epochs=3)
    full = open_run(tmp_path / "full", tiny, config)
    train.train_run(dataset=tiny, config=config, model_name="wrn10_1", run=full, strategy=train.make_strategy(),
                    log=lambda _: None, interactive=False)

    class Killed(Exception):
        pass

    def kill_in_second_epoch(line: str) -> None:
        if "epoch 2/3" in line:  # epoch 1 is committed, epoch 2 is not
            raise Killed

    part = open_run(tmp_path / "part", tiny, config)
    with pytest.raises(Killed):
        train.train_run(dataset=tiny, config=config, model_name="wrn10_1", run=part,
                        strategy=train.make_strategy(), log=kill_in_second_epoch, interactive=False)
    assert store.Study.open(tmp_path / "part").checkpoints("wrn10_1") == train.plan_checkpoints(config, 96)[:1]
    again = open_run(tmp_path / "part", tiny, config)
    assert again.done == 1
    train.train_run(dataset=tiny, config=config, model_name="wrn10_1", run=again, strategy=train.make_strategy(),
                    log=lambda _: None, interactive=False)
    a = np.asarray(store.Study.open(tmp_path / "full").losses("wrn10_1"))
    b = np.asarray(store.Study.open(tmp_path / "part").losses("wrn10_1"))
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_diverging_run_is_marked_failed(tmp_path, tiny):
    config = tiny_config(lr=1e30, epochs=1)
    run = open_run(tmp_path, tiny, config)
    lines = []
    status = train.train_run(dataset=tiny, config=config, model_name="wrn10_1", run=run,
                             strategy=train.make_strategy(), log=lines.append, interactive=False)
    assert status == "failed"
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "non-finite" in manifest["reason"]
    assert any(line.startswith("wrn10_1 run 0 failed: non-finite") for line in lines), lines


def test_a_diverging_retraining_fails_with_the_trainers_word_and_reason(tiny):
    from easiness.training import retrain

    lines = []
    result = retrain.retrain(tiny, config=tiny_config(lr=1e30, epochs=2), model_name="wrn10_1", seed=0,
                             strategy=train.make_strategy(), log=lines.append)
    assert result.status == train.FAILED == "failed" and np.isnan(result.test_accuracy)
    assert lines == ["wrn10_1 retraining (seed 0) failed: non-finite training loss in epoch 1"]


def test_the_strategy_is_named_in_words_and_one_run_is_one_per_step():
    import tensorflow as tf

    from easiness.training.study import runs_per_step

    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    assert train.describe_strategy(tf.distribute.get_strategy()) == f"one device ({device})"
    small = (32, 32, 3)
    assert train.fuse_size(tiny_config(runs=1), small) == 4  # the trainer's auto size...
    assert runs_per_step(tiny_config(runs=1), small) == 1  # ...but one run is one per compiled step
    assert runs_per_step(tiny_config(runs=10), small) == 4 and runs_per_step(tiny_config(runs=3), small) == 3
    assert runs_per_step(tiny_config(runs=10, fuse=2), small) == 2
    assert runs_per_step(tiny_config(runs=10), (224, 224, 3)) == 1


MIRRORED_CHECK = textwrap.dedent("""
    import dataclasses, sys, numpy as np
    from easiness.training import train
    train.configure_cpu_devices(2)
    import keras, tensorflow as tf
    from easiness import data
    from easiness.training.recorder import LossRecorder
    ds = data.load(sys.argv[1])
    mirrored = train.make_strategy()
    assert mirrored.num_replicas_in_sync == 2, mirrored
    assert train.describe_strategy(mirrored) == "mirrored over 2 CPUs", train.describe_strategy(mirrored)
    single = tf.distribute.OneDeviceStrategy("/cpu:0")
    def model():
        return keras.Sequential([keras.Input(ds.image_shape), keras.layers.Conv2D(4, 3, name="c"),
                                 keras.layers.BatchNormalization(momentum=0.9, name="b"),
                                 keras.layers.GlobalAveragePooling2D(name="g"), keras.layers.Dense(3, name="d")])
    with mirrored.scope():
        m2 = model(); o2 = keras.optimizers.SGD(0.1, momentum=0.9)
    s2 = train.make_steps(m2, o2, mirrored, weight_decay=1e-4)
    pipe = data.pipeline(ds.train, style=ds.style, image_shape=ds.image_shape, batch_size=16, augment=True,
                         shuffle_seed=3, drop_remainder=True)
    for _, x, y in mirrored.experimental_distribute_dataset(pipe):
        s2.train(x, y)
    train.sync_moving_statistics(m2, mirrored)
    with single.scope():
        m1 = model(); o1 = keras.optimizers.SGD(0.1)
    m1.set_weights(m2.get_weights())
    s1 = train.make_steps(m1, o1, single, weight_decay=0.0)
    # batch 13 leaves an uneven last batch split over the two replicas
    l2, a2, _ = train.score_split(s2, mirrored, ds.train, ds, batch_size=13)
    l1, a1, _ = train.score_split(s1, single, ds.train, ds, batch_size=13)
    np.testing.assert_allclose(l2, l1, rtol=1e-5, atol=1e-6)
    assert a1 == a2 and np.isfinite(l2).all()
    # Without BatchNorm, two replicas must take exactly the single-device steps: gradients are
    # averaged over the global batch and the L2 term is counted once, not once per replica.
    def plain():
        return keras.Sequential([keras.Input(ds.image_shape), keras.layers.Conv2D(4, 3, name="c"),
                                 keras.layers.GlobalAveragePooling2D(name="g"), keras.layers.Dense(3, name="d")])
    trained = []
    for strategy in (mirrored, single):
        with strategy.scope():
            net = plain(); opt = keras.optimizers.SGD(0.1, momentum=0.9)
        if trained:
            net.set_weights(start)
        else:
            start = net.get_weights()
        steps = train.make_steps(net, opt, strategy, weight_decay=0.05)
        for _, x, y in strategy.experimental_distribute_dataset(pipe):
            steps.train(x, y)
        trained.append(net)
    for w2, w1 in zip(trained[0].get_weights(), trained[1].get_weights()):
        np.testing.assert_allclose(w2, w1, rtol=2e-3, atol=2e-5)  # a doubled L2 term is ~3% off
    print("MIRRORED-OK", len(l2))
""")


def test_mirrored_strategy_over_two_cpus_records_each_example_once():
    """Run in a fresh process: logical devices must be configured before TensorFlow starts."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", MIRRORED_CHECK, TINY], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300)
    assert "MIRRORED-OK 96" in done.stdout, done.stderr[-3000:]


def test_score_every_k_updates_records_rows_inside_epochs(tmp_path, tiny):
    """--score-every: 2 epochs x 6 updates scored every 4 updates -> rows at updates 4, 8, 12."""
    config = tiny_config(score_every=4)
    run = open_run(tmp_path, tiny, config)
    assert train.train_run(dataset=tiny, config=config, model_name="wrn10_1", run=run,
                           strategy=train.make_strategy(), log=lambda _: None, interactive=False) == "done"
    study = store.Study.open(tmp_path)
    assert [c["step"] for c in study.checkpoints("wrn10_1")] == [4, 8, 12]
    assert [c["epoch"] for c in study.checkpoints("wrn10_1")] == pytest.approx([4 / 6, 8 / 6, 2.0], abs=1e-5)
    losses = np.asarray(study.losses("wrn10_1"))[0]
    assert np.isfinite(losses).all() and not np.allclose(losses[0], losses[1])
