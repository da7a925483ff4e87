"""Fig. 3 compares models at the epochs both were scored, not at the same checkpoint index."""

from __future__ import annotations

import numpy as np
import pytest

from easiness import agreement_report
from easiness.analysis import checkpoints, metrics, report
from easiness.store import Study, create_study

N = 200


def _write_model(writer, model: str, epochs: list[float], rows: np.ndarray, runs: int = 2) -> None:
    plan = [{"epoch": e, "step": int(round(e * 10))} for e in epochs]
    for r in range(runs):
        run = writer.run(model, r, config={"model": model}, seed=r, planned=plan, dtype="float32",
                         provenance={"test": "checkpoints"})
        for k, row in enumerate(rows):
            run.write_row(k, (row + 0.01 * r).astype(np.float32))
        run.commit(done=len(rows))
        run.finish()
        run.close()


@pytest.fixture
def mixed(tmp_path):
    """Model "fine" scored every half epoch (0.5 .. 3), "coarse" every epoch (1 .. 3). The
    easiest examples change with the epoch, so comparing by index gives other rates than by epoch."""
    rng = np.random.default_rng(0)
    by_epoch = {e: rng.permutation(N).astype(np.float32) for e in (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)}
    writer = create_study(tmp_path / "s", dataset="test", fingerprint="f", ids=np.arange(N).astype(str),
                          labels=np.arange(N) % 4, class_names=list("abcd"))
    _write_model(writer, "fine", list(by_epoch), np.stack(list(by_epoch.values())))
    _write_model(writer, "coarse", [1.0, 2.0, 3.0], np.stack([by_epoch[e] for e in (1.0, 2.0, 3.0)]))
    return Study.open(tmp_path / "s")


def test_shared_gives_each_models_checkpoint_at_the_common_epochs(mixed):
    epochs, at = checkpoints.shared(mixed, ["coarse", "fine"])
    assert epochs == [1.0, 2.0, 3.0]
    assert at == {"coarse": [0, 1, 2], "fine": [1, 3, 5]}


def test_the_same_losses_at_the_same_epoch_match_fully(mixed):
    _, at = checkpoints.shared(mixed, ["coarse", "fine"])
    curves = metrics.matching_curves({m: mixed.losses(m) for m in ("coarse", "fine")}, checkpoints=at)
    np.testing.assert_allclose(curves[("coarse", "fine")]["easy"], 1.0)
    np.testing.assert_allclose(curves[("coarse", "fine")]["hard"], 1.0)
    by_index = metrics.matching_curves({m: mixed.losses(m) for m in ("coarse", "fine")})
    assert by_index[("coarse", "fine")]["easy"][0] < 0.5  # index 0 is epoch 1 against epoch 0.5


def test_per_model_checkpoints_must_name_every_model_with_one_length(mixed):
    losses = {m: mixed.losses(m) for m in ("coarse", "fine")}
    with pytest.raises(ValueError, match="as many checkpoints"):
        metrics.matching_curves(losses, checkpoints={"coarse": [0, 1], "fine": [1]})
    with pytest.raises(ValueError, match="given for"):
        metrics.matching_curves(losses, checkpoints={"coarse": [0]})
    with pytest.raises(ValueError, match="out of range"):
        metrics.matching_curves(losses, checkpoints={"coarse": [3], "fine": [5]})


def test_the_report_and_the_summary_compare_by_epoch(mixed, capsys):
    lines = report.matching_by_checkpoint(mixed, ["coarse", "fine"])
    rows = [line.split() for line in lines[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert all(row[1:] == ["1.00", "/", "1.00"] for row in rows)
    summary = report.summary(mixed)
    pair = next(line for line in summary.splitlines() if "coarse vs fine" in line)
    assert pair.split()[-6:] == ["1.00", "/", "1.00", "1.00", "/", "1.00"]
    assert agreement_report.main([str(mixed.root)]) == 0
    assert "1.00 / 1.00" in capsys.readouterr().out


def test_models_never_scored_at_one_epoch_say_so(tmp_path):
    writer = create_study(tmp_path / "s", dataset="test", fingerprint="f", ids=np.arange(N).astype(str),
                          labels=np.arange(N) % 4, class_names=list("abcd"))
    rows = np.stack([np.arange(N, dtype=np.float32)] * 2)
    _write_model(writer, "a", [0.5, 1.5], rows)
    _write_model(writer, "b", [1.0, 2.0], rows)
    study = Study.open(tmp_path / "s")
    assert checkpoints.shared(study, ["a", "b"]) == ([], {"a": [], "b": []})
    assert "never scored at the same epoch" in report.matching_by_checkpoint(study, ["a", "b"])[0]
    assert "never scored at the same epoch" in report.summary(study)


@pytest.mark.parametrize(("count", "points", "expected"), [
    (5, 20, [0, 1, 2, 3, 4]),
    (3, 10, [0, 1, 2]),
    (30, 4, [0, 10, 19, 29]),
    (300, 2, [0, 299]),
    (7, 1, [6]),
    (0, 5, []),
])
def test_spread_keeps_the_first_and_the_last(count, points, expected):
    assert checkpoints.spread(count, points) == expected


def test_spread_is_even_and_unique():
    points = checkpoints.spread(300, 25)
    assert points[0] == 0 and points[-1] == 299 and len(points) == 25 and points == sorted(set(points))
    assert max(np.diff(points)) - min(np.diff(points)) <= 1


def test_the_matching_page_draws_fig_3_at_the_shared_epochs(mixed, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EASINESS_RUNS", str(mixed.root.parent))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/matching.py")
    at.query_params.update({"study": mixed.root.name})
    at.run()
    assert not at.exception and not at.error, ([e.value for e in at.exception], [e.value for e in at.error])
    assert any("of the 3 epochs every model was scored" in c.value for c in at.caption)


def test_a_checkpoint_at_different_epochs_is_noted_in_the_export_and_the_app(mixed, monkeypatch):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from easiness.analysis import tables

    frame = tables.easiness_table(mixed, checkpoint=0)
    assert any("coarse epoch 1, fine epoch 0.5" in note for note in frame.attrs["notes"])
    assert checkpoints.mismatch({"a": 2.0, "b": 2.0000000001}, 2) is None
    monkeypatch.setenv("EASINESS_RUNS", str(mixed.root.parent))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=60)
    at.run()
    at.switch_page("pages/matching.py")
    at.query_params.update({"study": mixed.root.name, "t": "2"})
    at.run()
    assert not at.exception
    assert any("lies at different epochs" in w.value and "fine epoch 1" in w.value for w in at.warning)
