"""The Scores page's view of a finished model is computed once and kept in the study."""

from __future__ import annotations

import numpy as np
import pytest

from easiness import fake
from easiness.analysis import score_cache, study_scores
from easiness.store import Study


@pytest.fixture
def study(tmp_path):
    fake.write_fake_study(tmp_path / "s", fake.FakeSpec(n=300, classes=4, runs=3, checkpoints=5))
    return Study.open(tmp_path / "s")


def same(a: study_scores.ScoreSet, b: study_scores.ScoreSet) -> None:
    assert (a.model, a.k, a.runs, a.names, a.left_out) == (b.model, b.k, b.runs, b.names, b.left_out)
    for name in a.names:
        np.testing.assert_array_equal(a.mean[name], b.mean[name])
        assert a.mean[name].dtype == b.mean[name].dtype
    assert list(a.per_run) == list(b.per_run)
    for name in a.per_run:
        np.testing.assert_array_equal(a.per_run[name], b.per_run[name])
    np.testing.assert_array_equal(a.sample, b.sample)


def forbid_computing(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("computed again")
    monkeypatch.setattr(study_scores, "compute", refuse)


def test_the_view_is_kept_and_read_back_equal(study, monkeypatch):
    rows = score_cache.sample(study.n, 50)
    direct = study_scores.compute(study, "wrn16_4", per_run=True, sample=rows)
    first = score_cache.compute(study, "wrn16_4", per_run=True, sample=rows)
    same(first, direct)
    assert score_cache.path(study, "wrn16_4").is_file()
    forbid_computing(monkeypatch)
    same(score_cache.compute(study, "wrn16_4", at=4, per_run=True, sample=rows), direct)
    assert Study.open(study.root).models == study.models and not Study.open(study.root).problems


@pytest.mark.parametrize("change", [
    {"sample": [1, 2, 3]}, {"per_run": False}, {"names": ["easiness", "aum"]}, {"runs": [0, 1]},
])
def test_another_view_is_computed_not_read(study, change):
    score_cache.compute(study, "wrn16_4", per_run=True, sample=[4, 5])
    asked = {"per_run": True, "sample": [4, 5], **change}
    got = score_cache.compute(study, "wrn16_4", **asked)
    same(got, study_scores.compute(study, "wrn16_4", **asked))


def test_an_earlier_checkpoint_or_an_unfinished_model_is_not_kept(study, tmp_path):
    score_cache.compute(study, "wrn16_4", at=2)
    assert not score_cache.path(study, "wrn16_4").exists()
    fake.write_fake_study(tmp_path / "running", fake.FakeSpec(n=100, classes=4, runs=2, checkpoints=4, done=2))
    running = Study.open(tmp_path / "running")
    assert not score_cache.keepable(running, "wrn16_4")
    score_cache.page_view(running, "wrn16_4")
    assert not score_cache.path(running, "wrn16_4").exists()
    assert score_cache.keepable(study, "wrn16_4")


def test_a_damaged_file_is_computed_again_and_replaced(study):
    file = score_cache.path(study, "wrn16_4")
    file.parent.mkdir(parents=True)
    file.write_bytes(b"not an npz")
    got = score_cache.page_view(study, "wrn16_4")
    same(got, score_cache.page_view(study, "wrn16_4"))
    with np.load(file) as z:
        assert "meta" in z.files


def test_a_study_that_cannot_be_written_still_gives_its_scores(study):
    (study.root / score_cache.CACHE_DIR).write_text("a file where the folder would go")
    got = score_cache.page_view(study, "wrn16_4")
    same(got, study_scores.compute(study, "wrn16_4", per_run=True,
                                   sample=score_cache.sample(study.n, score_cache.STABILITY_EXAMPLES)))


def test_a_run_trained_again_misses_the_old_file(study, monkeypatch):
    score_cache.page_view(study, "wrn16_4")
    manifests = study.runs("wrn16_4")
    changed = [{**m, "created": "another time"} if m["run"] == 0 else m for m in manifests]
    monkeypatch.setattr(Study, "runs", lambda self, model: changed)
    forbid_computing(monkeypatch)
    with pytest.raises(AssertionError, match="computed again"):
        score_cache.page_view(study, "wrn16_4")
