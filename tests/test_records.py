"""The trainer records margins and EL2N with the losses, from the same forward pass: what it
writes equals a direct computation from the final weights; --record chooses what is kept."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from easiness import config as cfg
from easiness import data, score, store

TINY = "synthetic:classes=3,per_class=32,test_per_class=8,size=32,seed=1"
BASE = cfg.Config(dataset=TINY, models=("wrn10_1",), runs=2, epochs=2, batch_size=16, score_batch_size=40)


def direct_scores(study_dir, name: str, run: int, dataset) -> dict[str, np.ndarray]:
    """Loss, margin and EL2N of every training example under the run's final weights, in numpy."""
    import tensorflow as tf

    from easiness import models
    from easiness.data.augment import pipeline

    folder = study_dir / "models" / name / f"run-{run:03d}"
    manifest = json.loads((folder / "manifest.json").read_text())
    model = models.build(name, num_classes=3, input_shape=dataset.image_shape)
    tf.train.Checkpoint(model=model).read(str(folder / "state" / manifest["state"])).expect_partial()
    index, x, y = next(iter(pipeline(dataset.train, style=dataset.style, image_shape=dataset.image_shape,
                                     batch_size=1000, augment=False, shuffle_seed=None)))
    logits = np.asarray(model(x, training=False), dtype=np.float64)[np.argsort(np.asarray(index))]
    labels = np.asarray(dataset.train.labels)
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    true = logits[np.arange(len(labels)), labels]
    others = np.where(np.eye(3, dtype=bool)[labels], -np.inf, logits).max(axis=1)
    return {"losses": -np.log(p[np.arange(len(labels)), labels]), "margins": true - others,
            "el2n": np.linalg.norm(p - np.eye(3)[labels], axis=1)}


def test_recorded_margins_and_el2n_equal_a_direct_computation(tmp_path):
    score.run_study(BASE, out=tmp_path / "s", keep_state=True, log=lambda _: None)
    study = store.Study.open(tmp_path / "s")
    dataset = data.load(TINY)
    assert study.recorded("wrn10_1") == ["margins", "el2n"]
    assert study.record("wrn10_1", "margins").dtype == np.float16  # the default storage
    for run in range(2):
        direct = direct_scores(tmp_path / "s", "wrn10_1", run, dataset)
        np.testing.assert_allclose(np.asarray(study.losses("wrn10_1"))[run, -1], direct["losses"], rtol=1e-4, atol=1e-4)
        for name in ("margins", "el2n"):  # float16 storage: about 3 significant digits
            recorded = np.asarray(study.record("wrn10_1", name), dtype=np.float64)[run, -1]
            np.testing.assert_allclose(recorded, direct[name], rtol=2e-3, atol=2e-3)
    correct = np.asarray(study.record("wrn10_1", "margins"))[:, -1] > 0
    accuracy = [h[-1]["train_accuracy"] for h in study.history("wrn10_1")]
    np.testing.assert_allclose(correct.mean(axis=1), accuracy, atol=1 / 96)  # a margin > 0 is a hit


def test_record_losses_only_keeps_the_old_layout(tmp_path):
    config = dataclasses.replace(BASE, runs=1, epochs=1, record=())
    score.run_study(config, out=tmp_path / "s", log=lambda _: None)
    study = store.Study.open(tmp_path / "s")
    assert study.recorded("wrn10_1") == [] and not list((tmp_path / "s").rglob("margins.npy"))
    with pytest.raises(store.StoreError, match="did not record margins"):
        study.record("wrn10_1", "margins")


def test_a_run_begun_before_records_existed_resumes_without_them(tmp_path):
    """A study written by an earlier easiness (manifests without "records") continues as it was."""
    config = dataclasses.replace(BASE, runs=1, epochs=2, record=())
    killed = RuntimeError("killed")

    def kill_in_second_epoch(line: str) -> None:
        if "epoch 2/2" in line:
            raise killed

    with pytest.raises(RuntimeError):
        score.run_study(config, out=tmp_path / "s", log=kill_in_second_epoch)
    path = tmp_path / "s" / "models" / "wrn10_1" / "run-000" / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["records"]
    path.write_text(json.dumps(manifest))
    score.run_study(dataclasses.replace(config, record=("margins", "el2n")), out=tmp_path / "s", log=lambda _: None)
    study = store.Study.open(tmp_path / "s")
    assert study.runs("wrn10_1")[0]["status"] == "done" and study.recorded("wrn10_1") == []


@pytest.mark.parametrize("args, message", [
    (["--record", "logits"], "argument --record: invalid choice: 'logits'"),
    (["--record-dtype", "int8"], "argument --record-dtype: invalid choice"),
])
def test_bad_record_options_are_one_line(tmp_path, capsys, args, message):
    assert score.main(["--dataset", TINY, *args, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not (tmp_path / "s").exists()


def test_record_option_reaches_the_config():
    args = score.build_parser().parse_args(["--record", "losses", "el2n", "--record-dtype", "float32"])
    config = score.resolve_config(args)
    assert config.record == ("el2n",) and config.record_dtype == "float32"
    assert score.resolve_config(score.build_parser().parse_args(["--record", "losses"])).record == ()
