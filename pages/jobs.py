"""Scoring jobs: start `python -m easiness.score` in the background, follow it, cancel it."""

import streamlit as st

from easiness.ui import controls, job_views

root = controls.runs_root()
st.title("Scoring jobs")
st.caption("Each job is a separate process (`python -m easiness.score`); it keeps running when this page "
           "is reloaded or closed. Cancelling stops it after its current step; starting the same study "
           "again resumes it from its last checkpoint.")

job_views.start_form(root)
st.subheader("Jobs")
job_views.job_list(root)
