"""Ablation by any difficulty score: rank-normalised removal values, deterministic top-k pruning,
the score recorded per point (several scores share one folder and its baselines), and one-line
refusals of unknown scores and of scores a study cannot give. No training here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from easiness import ablate
from easiness import config as cfg
from easiness.analysis import ablation, ablation_folder, ablation_plan, ablation_view, study_scores
from easiness.training.ablation_run import Ablation
from easiness.analysis.ablation import AblationError
from easiness.store import Study, create_study

TINY = "synthetic:classes=3,per_class=32,test_per_class=8,seed=1"
MODEL = "wrn10_1"


# --------------------------------------------------------------------------- removal values


def test_easiness_is_weighted_exactly_as_before():
    e = np.array([0.5, 0.0, 2.0, np.inf])
    np.testing.assert_array_equal(ablation.removal_values("easiness", e), e)


def test_other_scores_are_rank_normalised_hardness():
    el2n = np.array([0.3, 0.1, 1.2, 0.1])  # higher = harder; two tie at the easy end
    np.testing.assert_allclose(ablation.removal_values("el2n", el2n), [3 / 4, 1.5 / 4, 4 / 4, 1.5 / 4])
    aum = np.array([2.0, -1.0, 0.5])  # lower = harder
    np.testing.assert_allclose(ablation.removal_values("aum", aum), [1 / 3, 3 / 3, 2 / 3])
    assert (ablation.removal_values("forgetting", np.zeros(5)) > 0).all()  # all tied: uniform, never zero


@pytest.mark.parametrize("score, values, message", [
    ("speed", np.ones(3), "unknown score 'speed'; choose one of easiness"),
    ("el2n", np.array([1.0, np.nan]), "el2n must be a non-empty 1-D array without NaN"),
    ("easiness", np.array([1.0, -1.0]), "non-negative"),
])
def test_bad_scores_are_one_line_errors(score, values, message):
    with pytest.raises(AblationError, match=message):
        ablation.removal_values(score, values)


# --------------------------------------------------------------------------- top-k


V = np.array([0.9, 0.1, 0.5, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 1.0])


def test_easy_topk_removes_the_k_easiest_and_hard_topk_the_k_hardest():
    easy = ablation.sample_removal(V, fraction=0.3, strategy="easy-topk", seed=0)
    hard = ablation.sample_removal(V, fraction=0.3, strategy="hard-topk", seed=0)
    assert easy.tolist() == [1, 3, 5] and hard.tolist() == [0, 6, 9]  # 0.1 0.3 0.2 / 0.9 0.8 1.0
    assert ablation.sample_removal(V, fraction=0.3, strategy="easy-topk", seed=7).tolist() == [1, 3, 5]


def test_topk_breaks_ties_by_the_seed():
    tied = np.array([0.0] * 6 + [1.0] * 4)
    drawn = {tuple(ablation.sample_removal(tied, fraction=0.3, strategy="easy-topk", seed=s)) for s in range(8)}
    assert all(set(d) <= set(range(6)) and len(d) == 3 for d in drawn) and len(drawn) > 1
    assert ablation.sample_removal(tied, fraction=0.4, strategy="hard-topk", seed=3).tolist() == [6, 7, 8, 9]


def test_topk_balanced_takes_each_class_quota_from_its_easiest():
    labels = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    removed = ablation.sample_removal(V, fraction=0.4, strategy="easy-topk", seed=0, labels=labels, balanced=True)
    assert removed.tolist() == [1, 3, 5, 7]  # class 0: 0.1, 0.3; class 1: 0.2, 0.4


# --------------------------------------------------------------------------- rows and curves


def test_points_of_other_scores_have_their_own_curves_and_files():
    assert ablation.curve("stepwise") == "stepwise" and ablation.curve("easy-topk", "el2n") == "easy-topk by el2n"
    assert ablation.curve("random", "el2n") == "random" and ablation.curve("full", "aum") == "full"
    assert ablation.point_name("easy-topk", 0.3, 1, "el2n") == "easy-topk-by-el2n_f0.3_s1"
    assert ablation.point_name("random", 0.3, 1, "el2n") == "random_f0.3_s1"
    assert ablation.point_key("easy", 0.3, 0, "aum") != ablation.point_key("easy", 0.3, 0)
    assert ablation.point_key("random", 0.3, 0, "aum") == ablation.point_key("random", 0.3, 0)


def row(strategy, fraction, accuracy, score="easiness", seed=0, n=100):
    kept = n - round(fraction * n)
    return {"strategy": strategy, "target_fraction": fraction, "removed_fraction": fraction, "seed": seed,
            "kept": kept, "removed": n - kept, "test_accuracy": accuracy, "test_loss": 0.5, "epochs": 2,
            "seconds": 1.0, "status": "done", "score": ablation.point_score(strategy, score),
            "kept_file": f"kept/{ablation.point_name(strategy, fraction, seed, score)}.txt"}


ROWS = [row("full", 0.0, 0.9), row("random", 0.3, 0.8), row("stepwise", 0.3, 0.86),
        row("easy-topk", 0.3, 0.84, "el2n"), row("easy-topk", 0.3, 0.82, "forgetting")]


def test_the_score_round_trips_and_old_files_read_as_easiness():
    back = ablation.parse_rows(ablation.format_rows(ROWS))
    assert [r["score"] for r in back] == ["", "", "easiness", "el2n", "forgetting"]
    old = "strategy,target_fraction,removed_fraction,seed,kept,removed,test_accuracy\nhard,0.3,0.3,0,70,30,0.7\n"
    assert ablation.parse_rows(old)[0]["score"] == "easiness"


def test_the_read_out_compares_every_score_with_one_random_curve():
    out = {r["curve"]: r for r in ablation.readout(ablation.summarise(ROWS))}
    assert set(out) == {"full", "random", "stepwise", "easy-topk by el2n", "easy-topk by forgetting"}
    assert out["easy-topk by el2n"]["vs_random"] == pytest.approx(0.04)
    assert out["easy-topk by forgetting"]["score"] == "forgetting" and out["random"]["score"] == ""
    text = ablation.format_readout(ablation.readout(ablation.summarise(ROWS)))
    assert "easy-topk by forgetting   0.300" in text


def test_the_chart_draws_every_score_from_the_full_data():
    frame = ablation_view.aggregate(ROWS)
    starts = frame[frame["removed_fraction"] == 0]
    assert sorted(starts["curve"]) == ["easy-topk by el2n", "easy-topk by forgetting", "full", "random", "stepwise"]
    domain, colours = ablation_view.curve_colours(list(frame["curve"].unique()))
    assert domain[:3] == ["full", "random", "stepwise"] and len(set(colours)) == len(colours)
    spec = ablation_view.chart(frame).to_dict()
    assert spec["layer"] and "easy-topk by el2n" in json.dumps(spec)


# --------------------------------------------------------------------------- the command


def write_study(root: Path, *, records=("margins", "el2n"), n: int = 96, runs: int = 2) -> Path:
    """A finished study of made-up losses (and margins and EL2N implied by them, if recorded)."""
    rng = np.random.default_rng(0)
    config = cfg.Config(dataset=TINY, models=(MODEL,), runs=runs, epochs=2, batch_size=16)
    writer = create_study(root, dataset=TINY, fingerprint="f" * 64, ids=np.array([f"train/{i:06d}" for i in range(n)]),
                          labels=np.arange(n) % 3, class_names=["disc", "square", "triangle"])
    plan = [{"epoch": float(k + 1), "step": (k + 1) * (n // 16)} for k in range(2)]
    for m in range(runs):
        run = writer.run(MODEL, m, config=config.run_config(MODEL), seed=m, planned=plan,
                         records={a: "float32" for a in records})
        for k in range(2):
            losses = rng.gamma(0.5, 1.0, n).astype(np.float32)
            run.write_row(k, losses, {a: (1.0 - losses if a == "margins" else losses / 4) for a in records})
        run.commit(done=2, history=[{"epoch": k + 1} for k in range(2)])
        run.finish()
        run.close()
    return root


@pytest.fixture(scope="module")
def recorded(tmp_path_factory) -> Path:
    return write_study(tmp_path_factory.mktemp("rec") / "study")


@pytest.fixture(scope="module")
def old(tmp_path_factory) -> Path:
    return write_study(tmp_path_factory.mktemp("old") / "study", records=())


def plan_of(study: Path, out: Path, *args: str) -> ablation_plan.Plan:
    parsed = ablate.build_parser().parse_args(["--study", str(study), "--model", MODEL, "--out", str(out), *args])
    return ablation_plan.resolve(ablate.request_of(parsed))


@pytest.mark.parametrize("args, message", [
    (["--score", "speed"], "unknown score 'speed'; choose from easiness, mean_loss, correctness"),
    (["--score", "aum"], "score aum needs margins, which wrn10_1 in study did not record ("),
    (["--score", "aum"], "score it again into a new --out to get them)"),
    (["--score", "el2n", "--strategy", "easy-topk"], "score el2n needs el2n, which wrn10_1 in study"),
    (["--strategy", "top"], "invalid choice: 'top'"),
])
def test_bad_scores_are_one_line_exit_2_and_nothing_written(old, tmp_path, capsys, args, message):
    out, status = tmp_path / "ablation", tmp_path / "status.json"
    code = ablate.main(["--study", str(old), "--model", MODEL, *args, "--out", str(out), "--status-file", str(status)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err and message in err
    assert not out.exists() and not status.exists()


def test_an_old_study_still_ablates_by_the_scores_it_can_give(old, tmp_path):
    for score in ("easiness", "mean_loss", "confidence", "variability"):
        assert plan_of(old, tmp_path / score, "--score", score).score == score


def test_removal_by_el2n_uses_its_rank_normalised_run_mean(recorded, tmp_path):
    job = Ablation(plan_of(recorded, tmp_path / "out", "--score", "el2n", "--strategy", "easy-topk"))
    el2n = study_scores.compute(Study.open(recorded), MODEL, names=["el2n"]).mean["el2n"]
    np.testing.assert_allclose(job.values, ablation.removal_values("el2n", el2n))
    removed = job._removal("easy-topk", 0.25, 0)
    assert removed.size == 24 and el2n[removed].max() <= np.sort(el2n)[23]


def test_easiness_values_are_unchanged_by_the_score_option(recorded, tmp_path):
    from easiness.analysis import metrics

    job = Ablation(plan_of(recorded, tmp_path / "out"))
    np.testing.assert_array_equal(job.values, metrics.easiness(Study.open(recorded).losses(MODEL), checkpoint=-1))


def test_a_second_score_into_one_folder_shares_the_baselines(recorded, tmp_path):
    out = tmp_path / "out"
    first = Ablation(plan_of(recorded, out, "--strategy", "stepwise", "random", "--fractions", "0.2",
                                    "--seeds", "1"))
    out.mkdir()
    first.write_json()
    done = [row(s, f, 0.8, seed=seed) for s, f, seed in first.points()]
    (out / "ablation.csv").write_text(ablation.format_rows(done))
    plan = plan_of(recorded, out, "--score", "el2n", "--strategy", "easy-topk", "random", "--fractions", "0.2",
                   "--seeds", "1")
    assert ablation_plan.check_out(plan)["requested"]["score"] == "easiness"  # the same settings: accepted
    assert Ablation(plan).pending() == [("easy-topk", 0.2, 0)]  # full and random are shared


def test_the_command_names_the_score_it_removes_by(recorded, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--score", "el2n", "--strategy", "easy-topk", "--fractions", "0.2", "--seeds", "1"]
    job = Ablation(plan_of(recorded, out, *args))
    out.mkdir()
    job.write_json()
    (out / "ablation.csv").write_text(ablation.format_rows([row(s, f, 0.8, "el2n", seed) for s, f, seed in job.points()]))
    code = ablate.main(["--study", str(recorded), "--model", MODEL, "--out", str(out), *args])
    assert code == 0  # every point recorded: nothing to train
    printed = capsys.readouterr().out
    assert f"({MODEL}, el2n over M=2 runs 0, 1, T=2) into {out}: 0 points to train, 2 already done" in printed
    assert "easiness" not in printed.splitlines()[0]


def test_stepwise_by_a_score_records_what_it_needs_and_uses_its_own_chain(old, recorded, tmp_path):
    plan = plan_of(recorded, tmp_path / "o", "--score", "aum", "--strategy", "stepwise", "--fractions", "0.2")
    assert "margins" in plan.rescore.record
    losses_only = cfg.with_overrides(cfg.Config(), {"record": ()})  # a study scored with --record losses
    assert ablation_plan.recording(losses_only, ("margins",)).record == ("margins",)
    assert ablation_plan.recording(cfg.with_overrides(cfg.Config(), {"record": ("el2n",)}), ("margins",)).record == (
        "margins", "el2n")
    assert ablation_plan.recording(losses_only, ()).record == ()  # easiness needs nothing more
    assert ablation_folder.step_dir(tmp_path, 1, "aum") == tmp_path / "stepwise-aum" / "step-01"
    assert ablation_folder.step_dir(tmp_path, 1) == tmp_path / "stepwise" / "step-01"


def test_an_intermediate_study_without_the_array_fails_clearly(recorded, tmp_path):
    out = tmp_path / "out"
    job = Ablation(plan_of(recorded, out, "--score", "aum", "--strategy", "stepwise", "--fractions", "0.2"))
    kept = np.arange(10, 96)
    folder = ablation_folder.step_dir(out, 1, "aum")
    _write_subset(folder, np.asarray(Study.open(recorded).ids)[kept])  # as a trainer recording losses only
    with pytest.raises(AblationError, match=r"stepwise by aum: the intermediate study .*step-01 lacks what the "
                                            r"score needs \(score aum needs margins.*delete .* trained again"):
        job._rescore(1, kept)


def _write_subset(root: Path, ids: np.ndarray) -> None:
    """A finished intermediate study of ``ids`` with losses only."""
    writer = create_study(root, dataset=TINY, fingerprint="g" * 64, ids=ids, labels=np.arange(ids.size) % 3,
                          class_names=["disc", "square", "triangle"])
    for m in range(2):
        run = writer.run(MODEL, m, config={"model": MODEL}, seed=m, planned=[{"epoch": 1.0, "step": 5}])
        run.write_row(0, np.ones(ids.size, dtype=np.float32))
        run.commit(done=1)
        run.finish()
        run.close()


def test_the_form_passes_the_score():
    args = ablation_plan.Request(study="s", model=MODEL, out="o", strategies=["easy-topk"], fractions=[0.3],
                                 seeds=1, score="forgetting").argv()
    assert args[args.index("--score") + 1] == "forgetting"
    parsed = ablate.build_parser().parse_args(args)
    assert parsed.score == "forgetting" and parsed.strategies == ["easy-topk"]


# --------------------------------------------------------------------------- training (slow)


@pytest.mark.slow
def test_end_to_end_el2n_topk_then_stepwise_by_aum_into_one_folder(tmp_path):
    import os
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(repo)}

    def run(module: str, *args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", module, *args], cwd=repo, env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    study, out = tmp_path / "study", tmp_path / "ablation"
    run("easiness.score", "--dataset", TINY, "--model", MODEL, "--runs", "2", "--epochs", "2", "--batch-size", "16",
        "--score-batch-size", "48", "--out", str(study))
    assert Study.open(study).recorded(MODEL) == ["margins", "el2n"]
    common = ["--study", str(study), "--model", MODEL, "--fractions", "0.2", "--seeds", "1", "--out", str(out)]
    first = run("easiness.ablate", *common, "--score", "el2n", "--strategy", "easy-topk", "random")
    assert "3 points to train" in first.stdout and "easy-topk by el2n" in first.stdout
    second = run("easiness.ablate", *common, "--score", "aum", "--strategy", "stepwise", "random")
    assert "1 points to train, 2 already done" in second.stdout  # full and random are shared

    rows = ablation.parse_rows((out / "ablation.csv").read_text())
    assert sorted((r["strategy"], r["score"]) for r in rows) == [
        ("easy-topk", "el2n"), ("full", ""), ("random", ""), ("stepwise", "aum")]
    kept = {r["strategy"]: np.load(out / r["kept_file"].replace(".txt", ".npy")) for r in rows}
    el2n = study_scores.compute(Study.open(study), MODEL, names=["el2n"]).mean["el2n"]
    removed = np.setdiff1d(np.arange(96), kept["easy-topk"])
    assert removed.size == 19 and el2n[removed].max() <= el2n[kept["easy-topk"]].min()  # the easiest went
    step = Study.open(out / "stepwise-aum" / "step-01")
    assert step.n == 86 and "margins" in step.recorded(MODEL)
    assert "stepwise by aum" in second.stdout


# --------------------------------------------------------------------------- the page's form


def test_the_page_form_offers_the_recorded_scores_and_passes_the_choice(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from easiness import fake
    from easiness.ui import jobs

    runs = tmp_path / "runs"
    fake.write_fake_study(runs / "new", fake.FakeSpec(n=600, models=(MODEL,), runs=2, checkpoints=3))
    fake.write_fake_study(runs / "old", fake.FakeSpec(n=600, models=(MODEL,), runs=2, checkpoints=3, records=False))
    monkeypatch.setenv("EASINESS_RUNS", str(runs))
    started = []
    monkeypatch.setattr(jobs, "start", lambda args, root, **kw: started.append(args) or "job-1")
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "pages" / "ablation.py"), default_timeout=30)
    at.run()
    assert at.selectbox(key="study").value == "new" and len(at.selectbox(key="ablate_score").options) == 9
    at.selectbox(key="ablate_score").set_value("el2n").run()
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    args, = started
    assert args[args.index("--score") + 1] == "el2n"
    at.selectbox(key="study").set_value("old").run()
    offered = [o.split(" (")[0] for o in at.selectbox(key="ablate_score").options]  # "el2n (Paul et al. 2021)"
    assert offered == ["easiness", "mean_loss", "confidence", "variability"]
    assert any("did not record margins or el2n" in c.value for c in at.caption)
