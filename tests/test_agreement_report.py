"""python -m easiness.agreement_report: the score correlations, runs needed and model pairs, printed."""

from __future__ import annotations

import pytest

from easiness import agreement_report, fake


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("agree") / "s"
    fake.write_fake_study(root, fake.FakeSpec(n=200, classes=4, runs=4, checkpoints=4))
    return root


def test_prints_each_model_and_the_model_pairs(study, capsys):
    assert agreement_report.main([str(study)]) == 0
    out = capsys.readouterr().out
    for model in ("wrn16_4", "densenet_bc100_k12"):
        assert f"{model}: 4 runs, T = checkpoint 4" in out
    assert out.count("runs needed for rho = 0.9") == 2
    assert "densenet_bc100_k12 vs wrn16_4, Spearman rho per score: easiness " in out
    assert "never_learned" not in out  # a flag, not a ranking


def test_an_unknown_model_is_one_line(study, capsys):
    assert agreement_report.main([str(study), "--model", "vgg"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vgg" in err[0]
