"""easiness.keras.LossLogger: a user's own ``model.fit`` writes a study the library and the app read.

The last logged row must equal the cross-entropy of ``model.predict`` after fit (numpy, from its
logits or probabilities), on one device and under MirroredStrategy over two logical CPUs; every
kind of bad input fails at construction (or, for the model, at on_train_begin) before anything
is written.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from easiness import Study
from easiness.store.claims import Claims, Owner
from easiness.keras import LossLogger, LossLoggerError, RunUnavailable, fit_runs
from easiness.training.logged_data import fingerprint
from easiness.store import create_study

REPO = Path(__file__).resolve().parents[1]
N, SIDE, CLASSES = 96, 8, 3
FIT = dict(epochs=2, batch_size=16, verbose=0)  # 6 updates per epoch


def tiny_data(seed: int = 0, n: int = N) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images [n, 8, 8, 3] whose mean brightness carries the class, and int labels [n]."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    images = rng.integers(0, 100, (n, SIDE, SIDE, 3)) + 70 * labels[:, None, None, None]
    return images.astype(np.uint8), labels


X, Y = tiny_data()
XF = X.astype("float32") / 255.0


def tiny_model(*, softmax: bool = False, outputs: int = CLASSES) -> keras.Model:
    """Conv + BatchNorm (so inference mode matters) + Dense: logits, or probabilities."""
    model = keras.Sequential([
        keras.Input((SIDE, SIDE, 3)), keras.layers.Conv2D(4, 3), keras.layers.BatchNormalization(momentum=0.9),
        keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(outputs, activation="softmax" if softmax else None)])
    loss = keras.losses.CategoricalCrossentropy() if softmax else \
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.1, momentum=0.9), loss, metrics=["accuracy"])
    return model


def cross_entropy(out: np.ndarray, labels: np.ndarray, *, probabilities: bool = False) -> np.ndarray:
    """numpy CE of predict's output: log-sum-exp minus the label's logit (logits = log p, clipped)."""
    logits = np.log(np.clip(out, keras.config.epsilon(), 1.0)) if probabilities else out.astype(np.float64)
    top = logits.max(axis=1, keepdims=True)
    return np.log(np.exp(logits - top).sum(axis=1)) + top[:, 0] - logits[np.arange(len(labels)), labels]


def last_row(study: Path, model: str = "tiny", run: int = 0) -> np.ndarray:
    stack = Study.open(study).losses(model, runs=[run])
    return np.asarray(stack[0, -1])


def manifest(study: Path, model: str = "tiny", run: int = 0) -> dict:
    return json.loads((study / "models" / model / f"run-{run:03d}" / "manifest.json").read_text())


def fitted(study: Path, x=XF, y=Y, *, seed: int = 0, run: int = 0, fit_x=None, fit_y=None, model=None,
           fit=FIT, **kwargs) -> keras.Model:
    """A tiny model fitted with a LossLogger of ``x, y`` into ``study``."""
    keras.utils.set_random_seed(seed)
    model = model or tiny_model()
    logger = LossLogger(study, x, y, model_name="tiny", run=run, seed=seed, verbose=0, **kwargs)
    model.fit(XF if fit_x is None else fit_x, Y if fit_y is None and fit_x is None else fit_y,
              callbacks=[logger], **fit)
    return model


@pytest.fixture(scope="module")
def runs_root(tmp_path_factory) -> Path:
    """A runs root holding "logged": 2 runs of "tiny" logged by fit_runs (uint8 images for the app)."""
    root = tmp_path_factory.mktemp("runs")
    outcomes = fit_runs(lambda: _rescaled(tiny_model()), X, Y, study=root / "logged", model_name="tiny", runs=2,
                        seed=7, fit_kwargs=FIT, class_names=["dark", "mid", "light"], verbose=0)
    assert outcomes == {0: "done", 1: "done"}
    return root


def _rescaled(model: keras.Model) -> keras.Model:
    """The model behind a Rescaling layer, so it takes the uint8 images themselves."""
    wrapped = keras.Sequential([keras.Input((SIDE, SIDE, 3)), keras.layers.Rescaling(1 / 255.0), model])
    wrapped.compile(keras.optimizers.SGD(0.1, momentum=0.9),
                    keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return wrapped


# ------------------------------------------------------------------- the losses it records


def test_last_row_equals_the_cross_entropy_of_predict(tmp_path):
    model = fitted(tmp_path / "s")
    expected = cross_entropy(model.predict(XF, verbose=0), Y)
    np.testing.assert_allclose(last_row(tmp_path / "s"), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("softmax", [False, True], ids=["logits", "probabilities"])
def test_margins_and_el2n_are_recorded_as_the_trainer_records_them(tmp_path, softmax):
    """The logged study feeds easiness.analysis.scores: margins (true logit minus the largest other, the
    same from log-probabilities) and EL2N from predict's output, within float16 storage."""
    fit_y = np.eye(CLASSES, dtype="float32")[Y] if softmax else None
    model = fitted(tmp_path / "s", model=tiny_model(softmax=softmax), fit_y=fit_y)
    out = model.predict(XF, verbose=0).astype(np.float64)
    logits = np.log(np.clip(out, keras.config.epsilon(), 1.0)) if softmax else out
    others = np.where(np.eye(CLASSES, dtype=bool)[Y], -np.inf, logits).max(axis=1)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    study = Study.open(tmp_path / "s")
    assert study.recorded("tiny") == ["margins", "el2n"]
    margins = np.asarray(study.record("tiny", "margins"), dtype=np.float64)[0, -1]
    el2n = np.asarray(study.record("tiny", "el2n"), dtype=np.float64)[0, -1]
    np.testing.assert_allclose(margins, logits[np.arange(N), Y] - others, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(el2n, np.linalg.norm(p - np.eye(CLASSES)[Y], axis=1), rtol=2e-3, atol=2e-3)


def test_probabilities_from_a_softmax_layer_and_one_hot_labels(tmp_path):
    one_hot = np.eye(CLASSES, dtype="float32")[Y]
    model = fitted(tmp_path / "s", XF, one_hot, model=tiny_model(softmax=True), fit_y=one_hot)
    expected = cross_entropy(model.predict(XF, verbose=0), Y, probabilities=True)
    np.testing.assert_allclose(last_row(tmp_path / "s"), expected, rtol=1e-5, atol=1e-6)
    assert manifest(tmp_path / "s")["config"]["outputs"] == "probabilities"
    assert Study.open(tmp_path / "s").labels.tolist() == Y.tolist()


def test_a_dataset_with_ids_may_change_its_order_between_passes(tmp_path):
    ids = np.array([f"img-{i:03d}" for i in range(N)])
    scored = tf.data.Dataset.from_tensor_slices((XF, Y, ids)).shuffle(N, seed=1, reshuffle_each_iteration=True)
    model = fitted(tmp_path / "s", scored, None)
    study = Study.open(tmp_path / "s")
    order = np.argsort(study.ids)  # the study keeps the ids in the order of its first pass
    assert study.ids[order].tolist() == ids.tolist() and study.labels[order].tolist() == Y.tolist()
    expected = cross_entropy(model.predict(XF, verbose=0), Y)
    np.testing.assert_allclose(last_row(tmp_path / "s")[order], expected, rtol=1e-5, atol=1e-6)
    assert manifest(tmp_path / "s")["config"]["data"] == "tf.data"


def test_a_batched_dataset_without_ids_is_scored_by_position(tmp_path):
    scored = tf.data.Dataset.from_tensor_slices((XF, Y)).batch(10)
    model = fitted(tmp_path / "s", scored, None, batch_size=32)
    assert Study.open(tmp_path / "s").ids.tolist() == [str(i) for i in range(N)]
    expected = cross_entropy(model.predict(XF, verbose=0), Y)
    np.testing.assert_allclose(last_row(tmp_path / "s"), expected, rtol=1e-5, atol=1e-6)


def test_a_batched_dataset_with_integer_ids_in_another_order(tmp_path):
    order = np.arange(N)[::-1]
    scored = tf.data.Dataset.from_tensor_slices((XF[order], Y[order], 1000 + order)).batch(7)
    model = fitted(tmp_path / "s", scored, None)
    study = Study.open(tmp_path / "s")
    assert study.ids.tolist() == [str(1000 + i) for i in order]
    expected = cross_entropy(model.predict(XF, verbose=0), Y)[order]
    np.testing.assert_allclose(last_row(tmp_path / "s"), expected, rtol=1e-5, atol=1e-6)


def test_every_k_updates_plans_checkpoints_inside_epochs(tmp_path):
    model = fitted(tmp_path / "s", every=4)
    run = manifest(tmp_path / "s")
    assert [p["step"] for p in run["planned"]] == [4, 8, 12]
    assert [p["epoch"] for p in run["planned"]] == [pytest.approx(4 / 6), pytest.approx(8 / 6), 2.0]
    assert run["status"] == "done" and run["config"]["score_every"] == 4
    expected = cross_entropy(model.predict(XF, verbose=0), Y)
    np.testing.assert_allclose(last_row(tmp_path / "s"), expected, rtol=1e-5, atol=1e-6)


def test_a_per_epoch_logger_leaves_keras_batch_dispatch_alone(tmp_path):
    assert "on_train_batch_end" not in vars(LossLogger(tmp_path / "s", XF, Y, model_name="tiny"))
    assert "on_train_batch_end" in vars(LossLogger(tmp_path / "s", XF, Y, model_name="tiny", every=3))


MIRRORED = r"""
import sys
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
sys.path.insert(0, sys.argv[2])
from test_keras_callback import FIT, XF, Y, cross_entropy, manifest, last_row, tiny_model
from pathlib import Path
from easiness.keras import LossLogger
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
keras.utils.set_random_seed(0)
with strategy.scope():
    model = tiny_model()
study = Path(sys.argv[1])
# batches of 40 over 96 examples: the last one is split unevenly over the two replicas
model.fit(XF, Y, callbacks=[LossLogger(study, XF, Y, model_name="tiny", batch_size=40, verbose=0)], **FIT)
expected = cross_entropy(model.predict(XF, verbose=0), Y)
np.testing.assert_allclose(last_row(study), expected, rtol=1e-5, atol=1e-6)
assert manifest(study)["provenance"]["replicas"] == 2, manifest(study)["provenance"]
print("MIRRORED-OK", last_row(study).shape)
"""


def test_under_mirrored_strategy_over_two_logical_cpus(tmp_path):
    """A fresh process: logical devices are configured before TensorFlow starts."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path / "s"), str(REPO / "tests")],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert "MIRRORED-OK (96,)" in done.stdout, done.stderr[-3000:]


# -------------------------------------------------------------- the study it writes


def test_fit_runs_writes_a_study_the_library_reads(runs_root):
    study = Study.open(runs_root / "logged")
    assert study.losses("tiny").shape == (2, 2, N)
    assert study.class_names == ["dark", "mid", "light"] and study.images.shape == (N, SIDE, SIDE, 3)
    assert study.checkpoints("tiny") == [{"epoch": 1.0, "step": 6}, {"epoch": 2.0, "step": 12}]
    runs = study.runs("tiny")
    assert [r["seed"] for r in runs] == [7, 8] and {r["status"] for r in runs} == {"done"}
    assert not np.allclose(study.losses("tiny")[0, -1], study.losses("tiny")[1, -1])  # independent runs
    record = runs[0]["history"][-1]
    assert record["epoch"] == 2 and record["train_accuracy"] is not None and record["fit_loss"] > 0
    assert record["lr"] == pytest.approx(0.1) and record["test_accuracy"] is None
    config, provenance = runs[0]["config"], runs[0]["provenance"]
    assert config["batch_size"] == 16 and config["epochs"] == 2 and config["steps_per_epoch"] == 6
    assert config["optimizer"]["class"] == "SGD" and config["loss"]["from_logits"] is True
    assert provenance["keras"] == keras.__version__ and provenance["tensorflow"] == tf.__version__


def test_validation_metrics_become_the_test_columns(tmp_path):
    fitted(tmp_path / "s", fit={**FIT, "validation_data": (XF[:30], Y[:30])})
    record = manifest(tmp_path / "s")["history"][-1]
    assert 0 <= record["test_accuracy"] <= 1 and record["test_loss"] > 0 and record["fit_accuracy"] is not None


def test_fit_runs_skips_runs_already_done(runs_root):
    outcomes = fit_runs(lambda: _rescaled(tiny_model()), X, Y, study=runs_root / "logged", model_name="tiny",
                        runs=[1], seed=7, fit_kwargs=FIT, verbose=0)
    assert outcomes[1].startswith("skipped:") and "already done" in outcomes[1]


@pytest.mark.parametrize("page", ["start", "runs", "examples"])
def test_the_app_opens_a_logged_study(runs_root, monkeypatch, page):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EASINESS_RUNS", str(runs_root))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    if page != "start":
        at.switch_page(f"pages/{page}.py")
    at.query_params.update(study="logged", model="tiny")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if page == "runs":
        assert at.dataframe[0].value["status"].tolist() == ["done", "done"]
    if page == "examples":
        assert len(at.image) == 2  # the easy and hard grids, from the stored uint8 images


# ------------------------------------------------------------ runs that are taken or unfinished


def test_a_finished_run_is_refused_with_the_next_free_index(runs_root):
    with pytest.raises(RunUnavailable, match=r"already done .* log run 2 instead"):
        LossLogger(runs_root / "logged", X, Y, model_name="tiny", run=1)


def test_a_run_claimed_by_a_live_process_is_refused(tmp_path):
    ids = np.arange(N).astype(str)
    create_study(tmp_path / "s", dataset="arrays", fingerprint=fingerprint(ids, Y), ids=ids, labels=Y,
                 class_names=["0", "1", "2"])
    other = Owner("another-host", 4242, token="x")
    claim = Claims(tmp_path / "s", owner=other).try_claim("tiny", 0)
    assert claim is not None
    with pytest.raises(RunUnavailable, match="being logged by another-host:4242; log run 1 instead"):
        LossLogger(tmp_path / "s", XF, Y, model_name="tiny", run=0)
    claim.release()
    LossLogger(tmp_path / "s", XF, Y, model_name="tiny", run=0)  # free again


class Interrupt(keras.callbacks.Callback):
    """Raise after the first epoch, as a Ctrl-C or an error in the user's training would."""

    def on_epoch_end(self, epoch, logs=None):
        raise KeyboardInterrupt


def test_an_interrupted_fit_is_failed_released_and_logged_again_from_scratch(tmp_path):
    keras.utils.set_random_seed(0)
    logger = LossLogger(tmp_path / "s", XF, Y, model_name="tiny", verbose=0)
    with pytest.raises(KeyboardInterrupt):
        tiny_model().fit(XF, Y, callbacks=[logger, Interrupt()], **FIT)
    assert manifest(tmp_path / "s")["status"] == "running" and manifest(tmp_path / "s")["done"] == 1
    model = fitted(tmp_path / "s", seed=1)  # the next fit in this thread fails the old one, then redoes the run
    run = manifest(tmp_path / "s")
    assert run["status"] == "done" and run["seed"] == 1 and len(run["history"]) == 2
    np.testing.assert_allclose(last_row(tmp_path / "s"), cross_entropy(model.predict(XF, verbose=0), Y),
                               rtol=1e-5, atol=1e-6)
    claims = sorted((tmp_path / "s" / "claims" / "tiny" / "run-000").glob("*.json"))
    assert [json.loads(p.read_text())["state"] for p in claims] == ["released", "released"]


class PoisonWeights(keras.callbacks.Callback):
    """Make the model's output NaN at the end of the first epoch, before the logger scores it."""

    def on_epoch_end(self, epoch, logs=None):
        kernel = self.model.layers[-1].kernel
        kernel.assign(np.full(kernel.shape, np.nan, "float32"))


def test_a_diverged_run_is_failed_released_and_stops_the_fit(tmp_path):
    logger = LossLogger(tmp_path / "s", XF, Y, model_name="tiny", verbose=0)
    with pytest.raises(LossLoggerError, match="non-finite per-example loss at checkpoint 1"):
        tiny_model().fit(XF, Y, callbacks=[PoisonWeights(), logger], **FIT)
    run = manifest(tmp_path / "s")
    assert run["status"] == "failed" and run["done"] == 0 and "non-finite" in run["reason"]
    assert "non-finite" in logger.outcome
    LossLogger(tmp_path / "s", XF, Y, model_name="tiny", run=0)  # released: the run may be logged again


class StopAfterFirstEpoch(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def test_a_fit_stopped_early_leaves_a_failed_run_with_its_checkpoints(tmp_path):
    keras.utils.set_random_seed(0)
    logger = LossLogger(tmp_path / "s", XF, Y, model_name="tiny", verbose=0)
    tiny_model().fit(XF, Y, callbacks=[logger, StopAfterFirstEpoch()], **FIT)
    run = manifest(tmp_path / "s")
    assert run["status"] == "failed" and run["done"] == 1 and "stopped after epoch 1 of 2" in run["reason"]
    assert logger.outcome == run["reason"]
    assert Study.open(tmp_path / "s").losses("tiny").shape == (1, 1, N)


def test_a_fit_from_a_later_epoch_is_refused(tmp_path):
    logger = LossLogger(tmp_path / "s", XF, Y, model_name="tiny", verbose=0)
    with pytest.raises(LossLoggerError, match="initial_epoch=0"):
        tiny_model().fit(XF, Y, callbacks=[logger], initial_epoch=1, **FIT)
    assert manifest(tmp_path / "s")["status"] == "failed"


# -------------------------------------------------------------------------- bad input


def _dataset(*parts):
    """A dataset made when the test runs (not at import: TensorFlow would start at collection)."""
    return lambda: tf.data.Dataset.from_tensor_slices(parts if len(parts) > 1 else parts[0])


BAD = {
    "x and y lengths differ": (dict(x=XF, y=Y[:-1]), "96 examples but y holds 95"),
    "labels out of range": (dict(x=XF, y=np.full(N, 5), class_names=["a", "b", "c"]), "label 5 is out of range"),
    "negative labels": (dict(x=XF, y=-Y - 1), "class indices >= 0"),
    "float labels": (dict(x=XF, y=Y.astype("float32")), "integer class indices"),
    "labels neither sparse nor one-hot": (dict(x=XF, y=np.ones((N, 3), "float32")), "one-hot rows"),
    "duplicate ids": (dict(x=XF, y=Y, ids=np.zeros(N, int)), "ids are not unique"),
    "ids of the wrong length": (dict(x=XF, y=Y, ids=np.arange(N - 1)), r"ids must be one per example, shape \(96,\)"),
    "invalid model name": (dict(x=XF, y=Y, model_name="my/cnn"), "invalid model name 'my/cnn'"),
    "negative run": (dict(x=XF, y=Y, run=-1), "run must be an integer index >= 0"),
    "run not an integer": (dict(x=XF, y=Y, run=1.5), "run must be an integer index >= 0"),
    "every zero": (dict(x=XF, y=Y, every=0), "every .* must be a positive integer"),
    "every negative": (dict(x=XF, y=Y, every=-3), "every .* must be a positive integer"),
    "batch size zero": (dict(x=XF, y=Y, batch_size=0), "batch_size must be a positive integer"),
    "from_logits not a bool": (dict(x=XF, y=Y, from_logits="yes"), "from_logits must be True, False or None"),
    "dataset of x alone": (dict(x=_dataset(XF)), r"must yield \(x, y\) or \(x, y, id\) tuples"),
    "dataset of dicts": (dict(x=_dataset({"x": XF, "y": Y})), r"must yield \(x, y\) or \(x, y, id\) tuples"),
    "dataset of four parts": (dict(x=_dataset(XF, Y, Y, Y)), r"must yield \(x, y\) or \(x, y, id\) tuples"),
    "dataset with float ids": (dict(x=_dataset(XF, Y, Y.astype("float32"))), "ids must be strings or integers"),
    "dataset and y": (dict(x=_dataset(XF, Y), y=Y), "leave y=None"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_fails_at_construction_writing_nothing(tmp_path, case):
    kwargs, message = BAD[case]
    kwargs = {"model_name": "tiny", "y": None, **kwargs}
    kwargs["x"] = kwargs["x"]() if callable(kwargs["x"]) else kwargs["x"]
    with pytest.raises(LossLoggerError, match=message) as caught:
        LossLogger(tmp_path / "s", **kwargs)
    assert isinstance(caught.value, ValueError) and "\n" not in str(caught.value)
    assert not (tmp_path / "s").exists()


def test_a_folder_holding_a_study_of_other_data_is_refused_untouched(runs_root):
    before = {p: p.stat().st_mtime_ns for p in (runs_root / "logged").rglob("*")}
    other_x, other_y = tiny_data(seed=1)
    with pytest.raises(LossLoggerError, match="holds a study of other data"):
        LossLogger(runs_root / "logged", other_x, other_y, model_name="tiny", run=5)
    with pytest.raises(LossLoggerError, match="names its classes"):
        LossLogger(runs_root / "logged", X, Y, model_name="tiny", run=5, class_names=["a", "b", "c"])
    assert {p: p.stat().st_mtime_ns for p in (runs_root / "logged").rglob("*")} == before


def test_a_folder_holding_other_files_is_refused(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "notes.txt").write_text("mine")
    with pytest.raises(LossLoggerError, match="not empty and holds no study"):
        LossLogger(tmp_path / "s", XF, Y, model_name="tiny")


def test_a_model_with_the_wrong_number_of_outputs_fails_before_writing(tmp_path):
    logger = LossLogger(tmp_path / "s", XF, Y, model_name="tiny", class_names=["a", "b", "c"], verbose=0)
    with pytest.raises(LossLoggerError, match="outputs 4 class scores but the study has 3 classes"):
        tiny_model(outputs=4).fit(XF, Y, callbacks=[logger], **FIT)
    assert not (tmp_path / "s").exists()


def test_every_inside_a_group_of_steps_per_execution_fails_before_writing(tmp_path):
    model = tiny_model()
    model.compile(model.optimizer, model.loss, steps_per_execution=4)
    logger = LossLogger(tmp_path / "s", XF, Y, model_name="tiny", every=3, verbose=0)
    with pytest.raises(LossLoggerError, match="steps_per_execution=4"):
        model.fit(XF, Y, callbacks=[logger], **FIT)
    assert not (tmp_path / "s").exists()


# ------------------------------------------------------------------- ablating a logged study

BUILD_MODULE = '''
import keras

def logged_net(num_classes, input_shape):
    return keras.Sequential([keras.Input(input_shape), keras.layers.Conv2D(4, 3), keras.layers.ReLU(),
                             keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(num_classes)])
'''


def test_a_study_of_fit_runs_is_ablated_with_its_data_given_again(tmp_path, monkeypatch, capsys):
    """fit_runs(build(num_classes, input_shape)) records the build's spec; the ablation retrains
    it with the study's trainer on the same examples given as npz, and refuses clearly without them."""
    from easiness import ablate

    (tmp_path / "logged_models_mod.py").write_text(BUILD_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import logged_models_mod

    ids = np.array([f"ex{i:03d}" for i in range(N)])
    compile_kwargs = dict(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    outcomes = fit_runs(logged_models_mod.logged_net, X, Y, ids=ids, study=tmp_path / "s", model_name="net", runs=2,
                        fit_kwargs=FIT, compile_kwargs=compile_kwargs, verbose=0)
    assert outcomes == {0: "done", 1: "done"}
    assert manifest(tmp_path / "s", "net")["config"]["spec"] == "logged_models_mod:logged_net"
    common = ["--study", str(tmp_path / "s"), "--model", "net", "--fractions", "0.25", "--seeds", "1",
              "--strategy", "random", "--out", str(tmp_path / "ab")]
    assert ablate.main(common) == 2
    assert "was logged from arrays in memory" in capsys.readouterr().err
    np.savez(tmp_path / "data.npz", x=X, y=Y, ids=ids, x_test=X[:12], y_test=Y[:12])
    assert ablate.main([*common, "--dataset", f"npz:{tmp_path / 'data.npz'}"]) == 0
    rows = (tmp_path / "ab" / "ablation.csv").read_text().splitlines()
    assert rows[0].startswith("strategy") and len(rows) == 3  # the full-data point and the random one
