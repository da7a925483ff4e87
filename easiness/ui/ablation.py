"""Blocks of the Ablation page: choose an ablation, draw its curves and read-out while a job adds
points to it, and the form that starts ``python -m easiness.ablate`` in the background.

The study and model are the sidebar's, bound to the URL as on every study page; the form checks
its choices as the command would (:func:`easiness.analysis.ablation_plan.job_argv`) before a job
starts, and a job's row (progress, log, cancel) is the jobs page's own
(:func:`easiness.ui.job_views.job_row`). Every text names files relative to the runs root.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import streamlit as st

from easiness.analysis import ablation_plan, ablation_view, scores, study_scores
from easiness.analysis.ablation import ALL_STRATEGIES, EASY_WEIGHTINGS, STRATEGIES
from easiness.errors import EasinessError
from easiness.store import Study
from easiness.ui import cache, controls, guard, job_views, jobs, roots, urlstate

FRACTION_CHOICES = [round(0.1 * i, 1) for i in range(1, 10)]
INTRO = ("Remove a fraction of the training set chosen by easiness (easy, hard, or easy in 10% steps with "
         "easiness recomputed: stepwise) or at random, retrain the model on the rest with its full schedule, "
         "and compare test accuracy (Kishida & Nakayama, Fig. 4). Any other difficulty score (EL2N, forgetting, "
         "AUM...) can choose instead, also by pruning its k easiest (easy-topk, as Data Diet does); the curves of "
         "every score run into one ablation are drawn together.")


# --------------------------------------------------------------------------- choosing


def study_and_model(root: Path) -> tuple[Study | None, str | None]:
    """Sidebar: the study and model (``study``, ``model`` in the URL) whose scores a new ablation
    removes by; (None, None) when no study can be opened. The page goes on either way: the
    ablations already made stay readable."""
    study = controls.choose_study(root)
    if study is None:
        return None, None
    for problem in controls.study_problems(root, study):
        st.sidebar.warning(problem, icon=":material/warning:")
    return study, controls.choose_model(study)


def choose(root: Path, study: Study | None, model: str | None) -> Path | None:
    """The ablation to show (``ablation`` in the URL), by default one of the chosen study and
    model; None, with a pointer to the form, when there is none."""
    listed = ablation_view.list_ablations(root)
    names = [e["name"] for e in listed if e["problem"] is None and roots.inside(root, e["name"]) is not None]
    broken = {e["name"]: f"cannot be read ({roots.redact(e['problem'], root)})" for e in listed if e["problem"]}
    if broken:
        st.caption("Not shown: " + "; ".join(f"{name}, which {why}" for name, why in broken.items()) + ".")
    if not names:
        urlstate.forget("ablation")
        st.info(f"No ablation under {roots.describe_root(root)} yet: start one below.")
        return None
    mine = [e["name"] for e in listed if e["name"] in names and study is not None
            and (e["study"], e["model"]) == (study.root.name, model)]
    picked = urlstate.select("Ablation", names, key="ablation", default=(mine or names)[0], what="the ablation",
                             parse=str, explain=broken.get)
    return roots.inside(root, picked)


# --------------------------------------------------------------------------- results


def results(root: Path, path: Path) -> None:
    """The chosen ablation; it redraws itself every 2 s while a job is adding points to it."""
    if _jobs_for(root, path, active_only=True):
        _live(root, path)
    else:
        _draw(root, path)


@st.fragment(run_every=2)
def _live(root: Path, path: Path) -> None:
    _draw(root, path)
    if not _jobs_for(root, path, active_only=True):
        st.rerun()  # the job ended: draw the final state once more, without polling


def _jobs_for(root: Path, path: Path, *, active_only: bool) -> list[jobs.Job]:
    """The newest job adding points to ``path`` (only a running one, with ``active_only``)."""
    return [j for j in jobs.list_jobs(root) if j.out == str(path) and (j.active or not active_only)][:1]


def _draw(root: Path, path: Path) -> None:
    with guard.notices(root, f"The ablation {path.name}"):  # why here: the live fragment reruns alone
        _chart_and_readout(root, path)


def _chart_and_readout(root: Path, path: Path) -> None:
    loaded = ablation_view.load(path)
    st.caption(ablation_view.summary_line(loaded))
    for job in _jobs_for(root, path, active_only=False):
        job_views.job_row(root, job)
    if not loaded.rows:
        st.info("No point has finished yet; the chart appears with the first one.")
        return
    st.altair_chart(ablation_view.chart(ablation_view.aggregate(loaded.rows)), width="stretch")
    st.caption("Mean test accuracy over seeds, error bars ±1 standard deviation; every curve starts at the "
               "full data (dotted line). The paper: removing hard examples hurts most, removing too many easy "
               "ones hurts too, and stepwise removal beats random (dashed).")
    st.subheader("Read-out")
    readout(loaded)
    st.caption(ablation_view.ledger_text(loaded))
    st.download_button("ablation.csv", (path / ablation_view.CSV_FILE).read_bytes(), file_name=f"{path.name}.csv",
                       mime="text/csv", help="kept ids of every point: kept/<strategy>_f<fraction>_s<seed>.txt")


def readout(loaded: ablation_view.Loaded) -> None:
    """The read-out table, every row in view (no inner scrolling) and the notes in full."""
    table = ablation_view.readout_table(loaded)
    st.dataframe(ablation_view.styled_readout(table), hide_index=True, height="content", column_config={
        "worth (random examples)": st.column_config.Column(help=(
            "extra randomly kept examples the random curve needs to reach this accuracy (interpolated)")),
        "break-even trainings": st.column_config.Column(help=(
            "trainings on the smaller set that pay back what scoring cost")),
        "note": st.column_config.TextColumn(width="large")})


# --------------------------------------------------------------------------- the form


def start_form(root: Path, study: Study | None, model: str | None) -> None:
    """The points to remove and retrain for the sidebar's study and model; the job runs
    ``python -m easiness.ablate``."""
    _not_offered(root)
    if study is None:
        st.info("An ablation needs a finished study: create one on the Scoring jobs page.")
        return
    if model is None:
        st.info(f"{study.root.name} has no scored model yet.")
        return
    st.caption(f"Removes by the scores of {model} in {study.root.name} and retrains {model} (choose both in the "
               "sidebar).")
    controls.nonfinite_notice(study, [model], len(study.checkpoints(model)) - 1)
    score = _score_choice(study, model)
    with st.form("ablate"):
        strategies = st.multiselect("Strategies", list(ALL_STRATEGIES), default=list(STRATEGIES),
                                    help="easy / hard / stepwise sample by the score (the paper's rules); "
                                         "easy-topk / hard-topk remove the k easiest / hardest (Data Diet, forgetting)")
        fractions = st.multiselect("Fractions to remove", FRACTION_CHOICES,
                                   default=list(ablation_plan.DEFAULT_FRACTIONS))
        a, b, c = st.columns(3)
        seeds = a.number_input("Seeds", 1, ablation_plan.MAX_SEEDS, ablation_plan.DEFAULT_SEEDS)
        epochs = b.number_input("Epochs per retraining (0: the study's)", 0, 10_000, 0)
        weighting = c.selectbox("Easy weighting", list(EASY_WEIGHTINGS),
                                help="inverse: 1/(e+eps), the paper's hard rule mirrored; exp: exp(-e/mean e); "
                                     "rank: linear in the easiness rank")
        balanced = st.checkbox("Class-balanced (remove the same share of every class)")
        name = st.text_input("Ablation name", value=f"{study.root.name}-ablation-{model}",
                             help=f"a folder under {roots.describe_root(root)}; the same name continues it")
        if st.form_submit_button("Start", type="primary"):
            _submit(root, name, ablation_plan.Request(
                study=study.root, model=model, strategies=tuple(strategies), score=score, fractions=tuple(fractions),
                seeds=int(seeds), epochs=int(epochs) or None, balanced=balanced, easy_weighting=weighting))


def _not_offered(root: Path) -> None:
    """Name the studies that cannot be opened, and why (the listing's reasons, no server paths)."""
    lines = [f"{e['name']} ({e['problem']})" for e in cache.listing(str(root)) if e["status"] == "unreadable"]
    if lines:
        st.caption(f"Not offered, since they cannot be opened: {'; '.join(lines)}.")


def _score_choice(study: Study, model: str) -> str:
    """The score that chooses the examples, among those the model's runs recorded what for."""
    options = study_scores.available(study, model)
    score = st.selectbox("Remove by", options, key="ablate_score",
                         format_func=lambda n: f"{n} ({scores.SCORES[n].citation})",
                         help="run the form again with another score and the same ablation name to draw both "
                              "scores' curves together")
    note = study_scores.note(model, study_scores.lacking(study, model))
    if note:
        st.caption(f"Not offered: {note}.")
    return score


def _submit(root: Path, name: str, request: ablation_plan.Request) -> None:
    """Check the form as the command would, then start the job (errors shown in place)."""
    out = roots.inside(root, name.strip())
    if out is None:
        st.error("The ablation name must be one folder name: letters, digits, '_', '.', '-'.")
        return
    if _jobs_for(root, out, active_only=True):
        st.error(f"A job is already adding points to {name}.")
        return
    try:
        args = ablation_plan.job_argv(dataclasses.replace(request, out=out))
        job_id = jobs.start(args, root, module="easiness.ablate")
    except EasinessError as e:
        st.error(roots.redact(e, root))
        return
    st.success(roots.redact(f"Started job {job_id}: python -m easiness.ablate {' '.join(args)}", root))
