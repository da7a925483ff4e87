"""Blocks of the jobs page (and of the start page's demo button): start, follow, cancel jobs.

The form accepts only what the command line would (the dataset spec is checked before a job
starts); a job that failed shows its one-line error; command lines, messages and logs name files
relative to the runs root."""

from __future__ import annotations

import datetime
from pathlib import Path

import streamlit as st

from easiness import config as cfg
from easiness.data import spec as dataset_spec
from easiness.ui import jobs
from easiness.errors import EasinessError
from easiness.ui import guard, roots
from easiness.ui.tables import STATUS_LABELS

# The zoo's preset names, as the presets use them (the app cannot import the zoo: it imports
# Keras). Other names of the zoo's shape forms can be typed in.
KNOWN_MODELS = sorted({m for p in cfg.PRESETS.values() for m in p.config.models})
DEMO_NAME = "demo"


def demo_button(root: Path) -> None:
    """One button that starts the small demo study (unless one is already being made)."""
    if any(j.active and j.out == str(root / DEMO_NAME) for j in jobs.list_jobs(root)):
        st.info("The demo study is being made; it appears here when its first epoch is scored.")
        return
    st.write("Create the demo study: the built-in synthetic dataset (shapes with a majority and two "
             "minority modes per class, 3% flipped labels), two small CNNs, **2 runs × 2 epochs** each: "
             "a small version of the `demo` preset, about a minute or two on a 2-core CPU (the full preset, "
             "`python -m easiness.score`, trains 4 runs × 3 epochs).")
    if st.button("Create the demo study", type="primary", icon=":material/play_arrow:"):
        jobs.start([*jobs.DEMO_ARGS, "--out", str(root / DEMO_NAME)], root)
        st.rerun()


def start_form(root: Path) -> None:
    """The form that starts ``python -m easiness.score`` with the chosen settings."""
    with st.form("score"):
        st.subheader("Start a scoring job")
        left, right = st.columns(2)
        preset = left.selectbox("Preset", list(cfg.PRESETS), help="\n\n".join(
            f"**{n}**: {p.description} ({p.expected})" for n, p in cfg.PRESETS.items()))
        name = right.text_input("Study name", value="my-study", help=f"a new folder under {roots.describe_root(root)}")
        dataset = st.text_input("Dataset (empty: the preset's)", placeholder="synthetic", help="synthetic[:k=v,...] | "
                                "folder:PATH | tfds:NAME | npz:PATH; relative paths start from the runs root's "
                                "parent folder")
        models = st.multiselect("Models (empty: the preset's)", KNOWN_MODELS, accept_new_options=True)
        a, b, c = st.columns(3)
        runs = a.number_input("Runs per model (0: preset's)", 0, cfg.MAX_RUNS, 0)
        epochs = b.number_input("Epochs (0: preset's)", 0, cfg.MAX_EPOCHS, 0)
        per_class = c.number_input("Examples per class (0: all)", 0, 10_000_000, 0)
        if st.form_submit_button("Start", type="primary"):
            _submit(root, name, preset=preset, dataset=dataset, models=models, runs=runs, epochs=epochs,
                    per_class=per_class)


def _submit(root: Path, name: str, **fields) -> None:
    """Validate the form's study name and dataset spec, and start the job (errors shown in place)."""
    out = roots.inside(root, name.strip())
    if out is None:
        st.error("The study name must be one folder name: letters, digits, '_', '.', '-'.")
        return
    try:
        fields["dataset"] = dataset_spec.check(fields["dataset"], base=root.parent)  # where the job runs
        job_id = jobs.start(jobs.score_args(out=out, **fields), root)
    except EasinessError as e:
        st.error(roots.redact(e, root))
        return
    st.success(f"Started job {job_id}.")


def job_list(root: Path) -> None:
    """The jobs with their state; refreshes itself every 2 s while one is active."""
    if any(j.active for j in jobs.list_jobs(root)):
        _live_jobs(root)
    else:
        _draw_jobs(root, live=False)


@st.fragment(run_every=2)
def _live_jobs(root: Path) -> None:
    with guard.notices(root, "The job list"):  # why here: a fragment reruns alone, outside the page's guard
        _draw_jobs(root, live=True)


def _draw_jobs(root: Path, *, live: bool) -> None:
    """Every job: state, progress, last message, its study, a cancel button and its log."""
    listed = jobs.list_jobs(root)
    if not listed:
        st.caption("No job yet.")
    for job in listed:
        job_row(root, job)
    progress = tuple((j.id, j.state, j.done) for j in listed)
    changed = st.session_state.get("_jobs_progress", progress) != progress
    st.session_state["_jobs_progress"] = progress
    if live and changed:
        st.rerun()  # an epoch was scored or a job ended: redraw the page (its study listing too)


def job_row(root: Path, job: jobs.Job) -> None:
    """One job in a bordered box: its state, progress, a cancel button and its log; a failed one
    with its one-line error. The jobs page lists these; the Ablation page shows its job's."""
    with st.container(border=True):
        started = datetime.datetime.fromtimestamp(job.created).strftime("%Y-%m-%d %H:%M:%S")
        title, button = st.columns([5, 1])
        title.markdown(f"**{Path(job.out).name if job.out else job.id}** · {STATUS_LABELS.get(job.state, job.state)}"
                       f" · started {started} · job `{job.id}`")
        if job.active and button.button("Cancel", key=f"cancel-{job.id}"):
            jobs.cancel(job.id, root)
            st.rerun()
        message = roots.redact(job.message, root)
        if job.state in ("failed", "died"):
            st.error(message or "It ended without a message; its log below may say why.", icon=":material/error:")
        elif job.total:
            st.progress(min(job.progress, 1.0), text=f"{job.done} of {job.total} epochs · {message}")
        elif message:
            st.caption(message)
        with st.expander("command and log (paths relative to the runs root)"):
            st.code(roots.redact(f"python -m {job.module} " + " ".join(job.args), root), language="bash")
            st.code(roots.redact(jobs.log_tail(job.id, root, lines=30), root) or "(no output yet)", language="text")
