"""Your own model: ``--model FILE.py:FUNCTION`` / ``MODULE:FUNCTION`` and ``models.register``.

A model of your own trains as a zoo model does (fused runs, checkpoints, resume, claims), its
manifest records the spec and the hash of its source file, an ablation imports it again, and
every bad spec ends in one line and exit status 2 with nothing written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from easiness import config as cfg
from easiness import models, score, store

REPO = Path(__file__).resolve().parents[1]
TINY = "synthetic:classes=3,per_class=32,test_per_class=8,size=32,seed=1"
FAST = ["--dataset", TINY, "--batch-size", "16", "--score-batch-size", "40"]

MODULE = textwrap.dedent("""
    import keras

    def tiny_cnn(num_classes, input_shape):
        inputs = keras.Input(input_shape)
        x = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
        x = keras.layers.GlobalAveragePooling2D()(x)
        return keras.Model(inputs, keras.layers.Dense(num_classes)(x))

    def softmaxed(num_classes, input_shape):
        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(inputs)
        return keras.Model(inputs, keras.layers.Dense(num_classes, activation="softmax")(x))

    def five_outputs(num_classes, input_shape):
        inputs = keras.Input(input_shape)
        return keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(inputs)))

    def two_heads(num_classes, input_shape):
        inputs = keras.Input(input_shape)
        x = keras.layers.Flatten()(inputs)
        return keras.Model(inputs, [keras.layers.Dense(num_classes)(x), keras.layers.Dense(num_classes)(x)])

    def not_a_model(num_classes, input_shape):
        return "a string"

    def raises(num_classes, input_shape):
        raise RuntimeError("bad   layer\\nconfig")

    class Subclassed(keras.Model):
        def __init__(self, num_classes):
            super().__init__()
            self.flat = keras.layers.Flatten()
            self.head = keras.layers.Dense(num_classes)

        def call(self, x, training=False):
            return self.head(self.flat(x))

    def subclassed(num_classes, input_shape):
        return Subclassed(num_classes)

    NOT_CALLABLE = 3
""")


@pytest.fixture(scope="module")
def module_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("user") / "my_models.py"
    path.write_text(MODULE)
    return path


@pytest.mark.parametrize("target, message", [
    ("{file}:softmaxed", "ends in a softmax; return logits"),
    ("{file}:five_outputs", "outputs shape (None, 5); it must output [batch, 3] logits"),
    ("{file}:two_heads", "has 2 outputs; it must have one"),
    ("{file}:not_a_model", "build returned a str, not a keras.Model"),
    ("{file}:raises", "failed: RuntimeError: bad layer config"),
    ("{file}:NOT_CALLABLE", "NOT_CALLABLE is not a function but 'int'"),
    ("{file}:missing", "has no 'missing'"),
    ("{dir}/absent.py:f", "no such file"),
    ("no_such_module_xyz:f", "ModuleNotFoundError: No module named 'no_such_module_xyz'"),
    ("{file}:1bad", "expected MODULE:FUNCTION or FILE.py:FUNCTION"),
])
def test_a_bad_spec_is_one_line_and_writes_nothing(tmp_path, capsys, module_file, target, message):
    out = tmp_path / "study"
    spec = target.format(file=module_file, dir=module_file.parent)
    assert score.main([*FAST, "--model", spec, "--runs", "1", "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("args, message", [
    (["--model", "wrn10_1", "--name", "mine"], "--name names your own model"),
    (["--model", "{file}:tiny_cnn", "{file}:subclassed", "--name", "mine"], "exactly one --model MODULE:FUNCTION"),
    (["--model", "{file}:tiny_cnn", "--name", "wrn10_1"], "'wrn10_1' is a model of the zoo"),
    (["--model", "{file}:tiny_cnn", "--name", "a/b"], "invalid model name 'a/b'"),
])
def test_a_bad_name_is_one_line(tmp_path, capsys, module_file, args, message):
    args = [a.format(file=module_file) for a in args]
    assert score.main([*FAST, *args, "--runs", "1", "--epochs", "1", "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


def test_a_bad_spec_from_the_shell_prints_exactly_one_line(tmp_path, module_file):
    """As a user sees it: the command's stderr is the one error line (no traceback, and none of
    TensorFlow's native start-up lines)."""
    out = subprocess.run([sys.executable, "-m", "easiness.score", *FAST, "--model", f"{module_file}:softmaxed",
                          "--out", str(tmp_path / "s")], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)})
    assert out.returncode == 2
    assert out.stderr.splitlines() == [f"error: model 'softmaxed' ends in a softmax; return logits (the trainer "
                                       f"applies the cross-entropy to logits)"], out.stderr[-2000:]


class Killed(Exception):
    pass


def test_own_model_trains_fused_resumes_and_records_its_code(tmp_path, module_file):
    """Two runs of a file's model train in one compiled step; a run killed in its second epoch
    resumes to the losses of an uninterrupted one; the manifest names the spec and its hash."""
    spec = f"{module_file}:tiny_cnn"
    config = cfg.Config(dataset=TINY, models=("tiny_cnn",), model_specs=(("tiny_cnn", spec),), runs=2, epochs=2,
                        batch_size=16, score_batch_size=40)
    score.run_study(config, out=tmp_path / "full", log=lambda _: None)

    def kill_in_second_epoch(line: str) -> None:
        if "epoch 2/2" in line:  # epoch 1 is committed, epoch 2 is not
            raise Killed

    with pytest.raises(Killed):
        score.run_study(config, out=tmp_path / "part", log=kill_in_second_epoch)
    score.run_study(config, out=tmp_path / "part", log=lambda _: None)
    full, part = store.Study.open(tmp_path / "full"), store.Study.open(tmp_path / "part")
    assert full.models == ["tiny_cnn"]
    np.testing.assert_allclose(np.asarray(full.losses("tiny_cnn")), np.asarray(part.losses("tiny_cnn")),
                               rtol=1e-4, atol=1e-5)
    manifest = part.runs("tiny_cnn")[0]
    assert manifest["config"]["spec"] == spec and len(manifest["resumes"]) == 1
    assert manifest["history"][0]["fused_runs"] == 2
    assert manifest["provenance"]["model_source"] == str(module_file)
    assert manifest["provenance"]["model_source_sha256"] == hashlib.sha256(module_file.read_bytes()).hexdigest()


def test_cli_names_the_model_by_function_or_by_name_and_resolves_the_file(tmp_path, module_file, monkeypatch):
    """A relative FILE.py spec is recorded by its absolute path: the same study resumes (and
    ablates) from any folder; --name renames the model in the study."""
    monkeypatch.chdir(module_file.parent)
    out = tmp_path / "study"
    common = [*FAST, "--runs", "1", "--epochs", "1", "--out", str(out)]
    assert score.main([*common, "--model", "my_models.py:subclassed", "--name", "sub"]) == 0
    assert score.main([*common, "--model", "my_models.py:tiny_cnn", "wrn10_1"]) == 0
    study = store.Study.open(out)
    assert study.models == ["sub", "tiny_cnn", "wrn10_1"]
    assert study.runs("sub")[0]["config"]["spec"] == f"{module_file}:subclassed"
    assert "spec" not in study.runs("wrn10_1")[0]["config"]  # zoo configs are as they always were
    monkeypatch.chdir(tmp_path)
    assert score.main([*common, "--model", f"{module_file}:subclassed", "--name", "sub"]) == 0  # already done


def test_register_records_an_importable_spec(tmp_path, monkeypatch):
    """``models.register`` from Python: the spec of an importable module's function is derived,
    so the study (and a later ablation) can import it again; zoo names are refused."""
    (tmp_path / "registered_models_mod.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    import registered_models_mod

    models.register("registered_cnn", registered_models_mod.tiny_cnn)
    assert models.spec_of("registered_cnn") == "registered_models_mod:tiny_cnn"
    assert "registered_cnn" in models.names()
    config = cfg.Config(dataset=TINY, models=("registered_cnn",), runs=1, epochs=1, batch_size=16,
                        score_batch_size=40)
    score.run_study(config, out=tmp_path / "study", log=lambda _: None)
    manifest = store.Study.open(tmp_path / "study").runs("registered_cnn")[0]
    assert manifest["config"]["spec"] == "registered_models_mod:tiny_cnn"
    from easiness import ablate

    retrain = ablate.config_from_run(manifest["config"])
    assert retrain.spec_of("registered_cnn") == "registered_models_mod:tiny_cnn"


@pytest.mark.parametrize("name, build, message", [
    ("wrn16_4", lambda n, s: None, "is a model of the zoo"),
    ("resnext11_2x16d", lambda n, s: None, "is a model of the zoo"),
    ("no/slash", lambda n, s: None, "invalid model name"),
    ("fine", 3, "must be a function"),
])
def test_register_refuses(name, build, message):
    with pytest.raises(models.ModelSpecError, match=message):
        models.register(name, build)


def test_a_main_module_function_has_no_spec():
    def build(num_classes, input_shape):
        return None

    build.__module__ = "__main__"
    models.register("from_main", build)
    assert models.spec_of("from_main") is None and models.spec_of("wrn10_1") is None


def test_a_registered_build_is_checked_at_every_build():
    import keras

    def two_logits(num_classes, input_shape):
        return keras.Sequential([keras.Input(input_shape), keras.layers.Flatten(), keras.layers.Dense(2)])

    models.register("too_few", two_logits)
    with pytest.raises(models.ModelSpecError, match=r"outputs shape \(None, 2\)"):
        models.build("too_few", num_classes=4, input_shape=(8, 8, 3))


def test_the_config_round_trips_the_specs_through_json():
    config = cfg.Config(models=("a", "wrn10_1"), model_specs=(("a", "m:f"),))
    assert json.loads(json.dumps(config.to_dict()))["model_specs"] == [["a", "m:f"]]
    assert config.run_config("a")["spec"] == "m:f" and "spec" not in config.run_config("wrn10_1")
    with pytest.raises(Exception, match="not among the models"):
        cfg.with_overrides(config, {"model_specs": (("b", "m:f"),)})
    assert dataclasses.replace(config).spec_of("wrn10_1") is None
