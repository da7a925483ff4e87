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


def test_prints_fig3_at_every_checkpoint_with_the_library_rates(study, capsys):
    from easiness.analysis import metrics
    from easiness.store import Study

    assert agreement_report.main([str(study)]) == 0
    out = capsys.readouterr().out
    block = out[out.index("matching rate of easy / hard sets between models at each epoch"):].splitlines()
    assert "chance 0.10)" in block[0] and "shown" not in block[0]  # 4 checkpoints: all shown
    rows = block[2:6]
    opened = Study.open(study)
    a, b = [line for line in block[1].split("  ") if " vs " in line][0].strip().split(" vs ")
    rates = metrics.matching_over_checkpoints(opened.losses(a), opened.losses(b), fraction=0.1)
    for k, row in enumerate(rows):
        epoch, cell = row.split(maxsplit=1)
        assert float(epoch) == k + 1  # the fake study scores once per epoch
        easy, hard = (float(v.rstrip("*")) for v in cell.split(" / "))
        assert easy == pytest.approx(rates["easy"][k], abs=0.005)
        assert hard == pytest.approx(rates["hard"][k], abs=0.005)


def test_fig3_shows_at_most_20_checkpoints_unless_asked(tmp_path, capsys):
    root = tmp_path / "long"
    fake.write_fake_study(root, fake.FakeSpec(n=100, classes=4, runs=2, checkpoints=30))
    assert agreement_report.main([str(root)]) == 0
    out = capsys.readouterr().out
    assert "20 of 30 shown" in out
    rows = [line.split()[0] for line in out[out.index("(Fig. 3"):].splitlines()[2:] if line.strip()[:1].isdigit()]
    assert rows[0] == "1" and rows[-1] == "30" and len(rows) == 20
    assert agreement_report.main([str(root), "--all-checkpoints"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out[out.index("(Fig. 3"):].splitlines()[2:] if line.strip()[:1].isdigit()]
    assert len(rows) == 30 and "shown" not in out


def test_a_model_still_without_checkpoints_is_left_out(tmp_path, capsys):
    root = tmp_path / "partial"
    fake.write_fake_study(root, fake.FakeSpec(n=100, classes=4, runs=2, checkpoints=3, done=0))
    assert agreement_report.main([str(root)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no model" in err[0] and "completed checkpoint" in err[0]
