"""Ablation: how much of the training set can you drop? Remove easy, hard, random or stepwise
fractions, retrain, compare test accuracy (Fig. 4 of arXiv:1911.10739); by easiness or by any
other difficulty score (EL2N, forgetting, AUM...), their curves drawn together."""

from pathlib import Path

import streamlit as st

from easiness import ablate, ablation, ablation_view, jobs, scores, study_scores
from easiness.errors import EasinessError
from easiness.store import Study
from easiness.ui import controls, guard, roots, urlstate
from easiness.ui.tables import STATUS_ICONS

FRACTION_CHOICES = [round(0.1 * i, 1) for i in range(1, 10)]


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
    return [j for j in jobs.list_jobs(root) if j.out == str(path) and (j.active or not active_only)][:1]


def _draw(root: Path, path: Path) -> None:
    with guard.notices(root, f"The ablation {path.name}"):  # why here: the live fragment reruns alone
        _chart_and_readout(root, path)


def _chart_and_readout(root: Path, path: Path) -> None:
    loaded = ablation_view.load(path)
    st.caption(ablation_view.summary_line(loaded))
    for job in _jobs_for(root, path, active_only=False):
        _job_progress(root, job)
    if not loaded.rows:
        st.info("No point has finished yet; the chart appears with the first one.")
        return
    st.altair_chart(ablation_view.chart(ablation_view.aggregate(loaded.rows)), width="stretch")
    st.caption("Mean test accuracy over seeds, error bars ±1 standard deviation; every curve starts at the "
               "full data (dotted line). The paper: removing hard examples hurts most, removing too many easy "
               "ones hurts too, and stepwise removal beats random (dashed).")
    st.subheader("Read-out")
    st.dataframe(ablation_view.readout_table(loaded), hide_index=True, column_config={
        "removed": st.column_config.NumberColumn(format="percent"),
        "test accuracy": st.column_config.NumberColumn(format="%.4f"),
        "± std": st.column_config.NumberColumn(format="%.4f"),
        "vs random": st.column_config.NumberColumn(format="%+.4f"),
        "worth (random examples)": st.column_config.NumberColumn(format="%+.0f", help=(
            "extra randomly kept examples the random curve needs to reach this accuracy (interpolated)")),
        "break-even trainings": st.column_config.NumberColumn(format="%.1f")})
    st.caption(ablation_view.ledger_text(loaded))
    st.download_button("ablation.csv", (path / ablation_view.CSV_FILE).read_bytes(), file_name=f"{path.name}.csv",
                       mime="text/csv", help="kept ids of every point: kept/<strategy>_f<fraction>_s<seed>.txt")


def _job_progress(root: Path, job: jobs.Job) -> None:
    """The job adding points to this ablation: state, progress, cancel."""
    text, button = st.columns([5, 1])
    state, message = STATUS_ICONS.get(job.state, job.state), roots.redact(job.message, root)
    if job.total:
        text.progress(min(job.progress, 1.0), text=f"{state} · {job.done} of {job.total} epochs · {message}")
    else:
        text.caption(f"{state} · {message}")
    if job.active and button.button("Cancel", key=f"cancel-{job.id}"):
        jobs.cancel(job.id, root)
        st.rerun()


def start_form(root: Path) -> None:
    """Choose a study and model, then the points; the job runs ``python -m easiness.ablate``."""
    entries = roots.studies(root)
    names = roots.readable(entries)
    if not names:
        st.info("An ablation needs a finished study: create one on the Scoring jobs page.")
        return
    left, right = st.columns(2)
    study_name = left.selectbox("Study", names, index=names.index(roots.default_study(entries)), key="ablate_study")
    _not_offered(entries)
    study = controls.open_listed(root, study_name)
    if study is None:
        return
    for problem in controls.study_problems(root, study):
        st.warning(problem, icon=":material/warning:")
    models = [m for m in study.models if study.checkpoints(m)]
    if not models:
        st.info(f"{study_name} has no scored model yet.")
        return
    model = right.selectbox("Model (its scores; the model retrained)", models, key="ablate_model")
    controls.nonfinite_notice(study, [model], len(study.checkpoints(model)) - 1)
    score = _score_choice(study, model)
    with st.form("ablate"):
        strategies = st.multiselect("Strategies", list(ablation.ALL_STRATEGIES), default=list(ablation.STRATEGIES),
                                    help="easy / hard / stepwise sample by the score (the paper's rules); "
                                         "easy-topk / hard-topk remove the k easiest / hardest (Data Diet, forgetting)")
        fractions = st.multiselect("Fractions to remove", FRACTION_CHOICES, default=[0.1, 0.3, 0.5])
        a, b, c = st.columns(3)
        seeds = a.number_input("Seeds", 1, ablate.MAX_SEEDS, 3)
        epochs = b.number_input("Epochs per retraining (0: the study's)", 0, 10_000, 0)
        weighting = c.selectbox("Easy weighting", list(ablation.EASY_WEIGHTINGS),
                                help="inverse: 1/(e+eps), the paper's hard rule mirrored; exp: exp(-e/mean e); "
                                     "rank: linear in the easiness rank")
        balanced = st.checkbox("Class-balanced (remove the same share of every class)")
        name = st.text_input("Ablation name", value=f"{study_name}-ablation-{model}",
                             help=f"a folder under {roots.describe_root(root)}; the same name continues it")
        if st.form_submit_button("Start", type="primary"):
            _submit(root, name, study=roots.inside(root, study_name), model=model, strategies=strategies,
                    fractions=fractions, seeds=seeds, epochs=epochs, balanced=balanced, easy_weighting=weighting,
                    score=score)


def _not_offered(entries: list[dict]) -> None:
    """Name the studies that cannot be opened, and why (the listing's reasons, no server paths)."""
    lines = [f"{e['name']} ({e['problem']})" for e in entries if e["status"] == "unreadable"]
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


def _submit(root: Path, name: str, **fields) -> None:
    """Check the form with the CLI's own validation, then start the job (errors shown in place)."""
    out = roots.inside(root, name.strip())
    if out is None:
        st.error("The ablation name must be one folder name: letters, digits, '_', '.', '-'.")
        return
    if not fields["strategies"] or not fields["fractions"]:
        st.error("Choose at least one strategy and one fraction.")
        return
    if _jobs_for(root, out, active_only=True):
        st.error(f"A job is already adding points to {name}.")
        return
    args = ablation_view.ablate_args(out=out, **fields)
    try:
        ablate.check_out(ablate.resolve(ablate.build_parser().parse_args(args)))
        job_id = jobs.start(args, root, module="easiness.ablate")
    except EasinessError as e:
        st.error(roots.redact(e, root))
        return
    st.success(roots.redact(f"Started job {job_id}: python -m easiness.ablate {' '.join(args)}", root))


root = controls.runs_root()
st.title("Ablation: how much data can you drop?")
st.caption("Remove a fraction of the training set chosen by easiness (easy, hard, or easy in 10% steps with "
           "easiness recomputed: stepwise) or at random, retrain the model on the rest with its full schedule, "
           "and compare test accuracy (Kishida & Nakayama, Fig. 4). Any other difficulty score (EL2N, forgetting, "
           "AUM...) can choose instead, also by pruning its k easiest (easy-topk, as Data Diet does); the curves of "
           "every score run into one ablation are drawn together.")

listed = ablation_view.list_ablations(root)
chosen = [e["name"] for e in listed if e["problem"] is None and roots.inside(root, e["name"]) is not None]
broken = {e["name"]: f"cannot be read ({roots.redact(e['problem'], root)})" for e in listed if e["problem"]}
if broken:
    st.caption("Not shown: " + "; ".join(f"{name}, which {why}" for name, why in broken.items()) + ".")
if chosen:
    picked = urlstate.select("Ablation", chosen, key="ablation", default=chosen[0], what="the ablation", parse=str,
                             explain=broken.get)
    results(root, roots.inside(root, picked))
else:
    urlstate.forget("ablation")
    st.info(f"No ablation under {roots.describe_root(root)} yet: start one below.")

with st.expander("Start an ablation", expanded=not chosen):
    start_form(root)
