"""easiness.truth: AUROC and hard-10% share of each score against the synthetic ground truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from easiness import fake, truth


def test_auroc_on_hand_made_rankings():
    positive = np.array([True, True, False, False])
    assert truth.auroc(np.array([3.0, 2.0, 1.0, 0.0]), positive, ~positive) == 1.0
    assert truth.auroc(np.array([0.0, 1.0, 2.0, 3.0]), positive, ~positive) == 0.0
    assert truth.auroc(np.ones(4), positive, ~positive) == 0.5  # ties count half
    # positives 3 and 1 against negatives 2 and 0: pairs won 3>2, 3>0, 1>0 of 4
    assert truth.auroc(np.array([3.0, 1.0, 2.0, 0.0]), positive, ~positive) == 0.75
    assert np.isnan(truth.auroc(np.ones(4), np.zeros(4, bool), np.ones(4, bool)))


def test_hard_share_counts_positives_among_the_hardest():
    hardness = np.arange(20.0)  # the hardest two (10%) are 19 and 18
    positive = np.zeros(20, bool)
    positive[[19, 3]] = True
    assert truth.hard_share(hardness, positive) == 0.5


def test_the_table_orients_each_score_and_sorts_by_flipped_auroc():
    flipped = np.array([True, False, False, False])
    masks = {"flipped": (flipped, ~flipped), "minority": (np.array([False, True, False, False]),
                                                           np.array([False, False, True, True]))}
    table = pd.DataFrame({"id": list("abcd"), "easiness": [9.0, 5.0, 1.0, 0.5], "aum": [-3.0, 2.0, 1.0, 4.0],
                          "never_learned": [1.0, 0, 0, 0]})
    out = truth.truth_table(table, masks)
    assert list(out["score"]) == ["easiness", "aum"]  # never_learned is a flag, not a ranking
    assert out.loc[0, "auroc_flipped"] == 1.0 and out.loc[0, "auroc_minority"] == 1.0
    assert out.loc[1, "auroc_flipped"] == 1.0 and out.loc[1, "auroc_minority"] == 0.5  # aum: lower = harder


def test_cli_prints_a_table_per_model(tmp_path, capsys):
    fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=200, classes=4, runs=2, checkpoints=4))
    assert truth.main([str(tmp_path / "s"), "--model", "wrn16_4"]) == 0
    out = capsys.readouterr().out
    assert "wrn16_4: flipped labels n=" in out and "auroc_flipped" in out and "el2n" in out


def test_a_study_without_ground_truth_is_one_line(tmp_path, capsys):
    fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=40, classes=2, runs=1, checkpoints=2, ground_truth=False))
    assert truth.main([str(tmp_path / "s")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == ["error: s has no ground truth (the mode and flipped "
                                                           "extras of a synthetic study)"]
