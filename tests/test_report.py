"""The summary that ends a scoring job: Table 1 (beginning vs end) per model, as metrics computes it."""

from __future__ import annotations

from easiness import fake, metrics, report
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
