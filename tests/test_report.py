"""The summary that ends a scoring job: Table 1 (beginning vs end) per model, as metrics computes it; rates
below chance marked and explained; the class mix of the sets."""

from __future__ import annotations

import re

import numpy as np

from easiness import fake
from easiness.analysis import metrics, report
from easiness.store import Study


def test_the_summary_has_table_1_per_model(tmp_path):
    fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=120, classes=3, runs=2, checkpoints=4))
    study = Study.open(tmp_path / "s")
    text = report.summary(study)
    assert "beginning vs end (Table 1): easy / hard set at the first checkpoint against the last:" in text
    for model in study.models:
        rates = metrics.beginning_end(study.losses(model))
        assert f"  {model:44s} {rates['easy']:.2f} / {rates['hard']:.2f}" in text.splitlines()


def test_one_checkpoint_has_no_table_1(tmp_path):
    fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=60, classes=3, runs=1, checkpoints=1))
    assert "Table 1" not in report.summary(Study.open(tmp_path / "s"))


def _order_losses(root, model: str, order) -> None:
    """Give every run of ``model`` in the study at ``root`` the losses ``order`` at every checkpoint."""
    for path in sorted((root / "models" / model).glob("run-*/losses.npy")):
        rows = np.load(path, mmap_mode="r+")
        rows[:] = np.asarray(order, dtype=rows.dtype)
        rows.flush()
        del rows


def test_a_rate_below_chance_is_marked_and_explained_in_one_line(tmp_path):
    root = fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=120, classes=3, runs=2, checkpoints=3))
    a, b = Study.open(root).models
    _order_losses(root, a, np.arange(120))
    _order_losses(root, b, np.arange(120)[::-1])  # b's easy set is a's hard set: rate 0, chance 0.1
    lines = report.summary(Study.open(root)).splitlines()
    pair = next(line for line in lines if " vs " in line)
    assert pair.split()[-6:] == ["0.00*", "/", "0.00*", "0.00*", "/", "0.00*"]
    keys = [line for line in lines if line.startswith("  * below chance (0.10)")]
    assert len(keys) == 1 and "first checkpoint" in keys[0] and "not a bug" in keys[0]


def test_no_key_without_a_rate_below_chance(tmp_path):
    root = fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=120, classes=3, runs=2, checkpoints=3))
    for model in Study.open(root).models:
        _order_losses(root, model, np.arange(120))  # every model, every checkpoint: the same sets
    text = report.summary(Study.open(root))
    assert "*" not in text and "below chance" not in text
    assert "1.00 / 1.00" in text


def test_top_classes_never_list_a_class_absent_from_the_set(tmp_path):
    root = fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=120, classes=3, runs=1, checkpoints=2))
    study = Study.open(root)
    one_class = np.flatnonzero(np.asarray(study.labels) == 1)[:5]
    assert report._top_classes(study, one_class) == f"{study.class_names[1]} 100%"
    assert not re.search(r"(?<![\d.])0%", report.summary(study))
