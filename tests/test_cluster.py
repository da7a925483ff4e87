"""Multi-worker training: TF_CONFIG parsing, the non-chief's shadow study, and two real workers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from easiness.training import cluster
from easiness import store
from easiness.errors import EasinessError

REPO = Path(__file__).resolve().parents[1]
TINY = "synthetic:classes=3,per_class=32,test_per_class=8,size=32,seed=1"


def tf_config(cluster_spec: dict, kind: str, index: int) -> dict:
    return {"TF_CONFIG": json.dumps({"cluster": cluster_spec, "task": {"type": kind, "index": index}})}


def test_task_is_none_without_a_cluster_of_two():
    assert cluster.task({}) is None
    assert cluster.task(tf_config({"worker": ["a:1"]}, "worker", 0)) is None


def test_task_names_the_chief():
    two = {"worker": ["a:1", "b:2"]}
    assert cluster.task(tf_config(two, "worker", 0)) == cluster.Task("worker", 0, 2)
    assert cluster.task(tf_config(two, "worker", 0)).is_chief
    assert not cluster.task(tf_config(two, "worker", 1)).is_chief
    with_chief = {"chief": ["c:0"], "worker": ["a:1"]}
    assert cluster.task(tf_config(with_chief, "chief", 0)).is_chief
    assert not cluster.task(tf_config(with_chief, "worker", 0)).is_chief
    assert cluster.task(tf_config(with_chief, "worker", 0)).label == "worker 0 of 2"


@pytest.mark.parametrize("raw, message", [
    ("{not json", "not a valid cluster"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "ps", "index": 0}}), "chief or worker"),
    (json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 2}}), "not in its cluster"),
    (json.dumps({"cluster": {"worker": ["a:1"]}}), "not a valid cluster"),
])
def test_a_bad_tf_config_is_a_one_line_error(raw, message):
    with pytest.raises(EasinessError, match=message):
        cluster.task({"TF_CONFIG": raw})


def test_shadow_run_reads_the_chiefs_commit_and_writes_nothing_there(tmp_path):
    study = tmp_path / "study"
    writer = store.create_study(study, dataset="d", fingerprint="f", ids=np.array(["a", "b"]),
                                labels=np.array([0, 1]), class_names=["x", "y"])
    plan = [{"epoch": 1.0, "step": 1}, {"epoch": 2.0, "step": 2}]
    run = writer.run("m", 0, config={"k": 1}, seed=7, planned=plan)
    run.write_row(0, np.array([0.5, 1.5], dtype=np.float32))
    run.commit(done=1, history=[{"epoch": 1}], state="epoch-00001")
    before = sorted(p.relative_to(study) for p in study.rglob("*"))
    shadow = cluster.ShadowStudy(study, tmp_path / "scratch").run("m", 0, seed=7, planned=plan)
    assert shadow.history == [{"epoch": 1}] and shadow.done == 1
    assert shadow.resume_from == run.state_dir / "epoch-00001"
    shadow.write_row(1, np.array([9.0, 9.0], dtype=np.float32))
    shadow.commit(done=2, history=[{"epoch": 1}, {"epoch": 2}], state="epoch-00002")
    shadow.finish()
    assert shadow.status == "done" and shadow.state_dir.is_relative_to(tmp_path / "scratch")
    assert sorted(p.relative_to(study) for p in study.rglob("*")) == before
    assert store.Study.open(study).checkpoints("m") == plan[:1]
    fresh = cluster.ShadowStudy(study, tmp_path / "scratch").run("m", 1, seed=8, planned=plan)
    assert fresh.history == [] and fresh.resume_from is None and fresh.status == "created"


CHECK_LAST_ROW = textwrap.dedent("""
    import sys, numpy as np, keras, tensorflow as tf
    from easiness import models
    from easiness import data, store
    from easiness.training import train
    study = store.Study.open(sys.argv[1])
    ds = data.load(sys.argv[2])
    name = study.models[0]
    worst = 0.0
    for r in range(2):
        run = study.root / "models" / name / f"run-{r:03d}"
        manifest = __import__("json").loads((run / "manifest.json").read_text())
        model = models.build(name, num_classes=3, input_shape=ds.image_shape, spec=manifest["config"].get("spec"))
        tf.train.Checkpoint(model=model).read(str(run / "state" / manifest["state"])).expect_partial()
        steps = train.make_steps(model, keras.optimizers.SGD(0.1), tf.distribute.get_strategy(), weight_decay=0.0)
        direct = train.score_split(steps, tf.distribute.get_strategy(), ds.train, ds, batch_size=1000).losses
        recorded = np.asarray(study.losses(name))[r, -1]
        worst = max(worst, float(np.abs(recorded - direct).max()))
    print("WORST", worst)
""")

OWN_MODEL = textwrap.dedent("""
    import keras

    def own_net(num_classes, input_shape):
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(4, 3)(inputs)
        x = keras.layers.BatchNormalization()(x)
        x = keras.layers.GlobalAveragePooling2D()(keras.layers.ReLU()(x))
        return keras.Model(inputs, keras.layers.Dense(num_classes)(x))
""")


@pytest.mark.parametrize("own", [False, True], ids=["zoo", "own-model"])
def test_two_workers_on_localhost_record_every_example_once(tmp_path, own):
    """Two processes form a MultiWorkerMirroredStrategy cluster over 127.0.0.1; the chief's study
    holds, at every checkpoint, each example's loss under that run's weights at its own index.
    A model of the user's own file trains so too."""
    ports = cluster.free_ports(2)
    out = tmp_path / "study"
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    model = "wrn10_1"
    if own:
        (tmp_path / "own.py").write_text(OWN_MODEL)
        model = f"{tmp_path / 'own.py'}:own_net"
    name = "own_net" if own else "wrn10_1"
    command = [sys.executable, "-m", "easiness.score", "--dataset", TINY, "--model", model, "--runs", "2",
               "--epochs", "2", "--batch-size", "16", "--score-batch-size", "40", "--keep-state", "--out", str(out)]
    workers = []
    for i in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO), "TMPDIR": str(scratch_root),
               "TF_CONFIG": cluster.local_cluster(ports, i)}
        workers.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True))
    logs = [w.communicate(timeout=400)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    assert "strategy: multi-worker mirrored over 2 replica(s) (CPU); worker 0 of 2" in logs[0] and "worker 1 of 2 (wrote nothing" in logs[1]
    epoch_lines = [sorted(line for line in log.splitlines() if " epoch " in line) for log in logs]
    strip = [[line.rsplit("  ", 1)[0] for line in lines] for lines in epoch_lines]  # drop the seconds
    assert strip[0] == strip[1] and len(strip[0]) == 4  # the workers trained in lockstep
    study = store.Study.open(out)
    losses = np.asarray(study.losses(name))
    assert losses.shape == (2, 2, 96) and np.isfinite(losses).all()
    assert all(m["status"] == "done" for m in (json.loads(p.read_text()) for p in out.glob("models/*/*/manifest.json")))
    assert list(scratch_root.iterdir()) == []  # the non-chief's scratch folder is gone
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    checked = subprocess.run([sys.executable, "-c", CHECK_LAST_ROW, str(out), TINY], capture_output=True,
                             text=True, env=env, cwd=REPO, timeout=300)
    worst = float(checked.stdout.split("WORST")[-1]) if "WORST" in checked.stdout else None
    assert worst is not None and worst < 1e-3, checked.stderr[-3000:]
