"""Start: the studies under the runs root, or a button that creates the demo study."""

import streamlit as st

from easiness.ui import controls, job_views, roots, start

root = controls.runs_root()
start.intro(root)

entries = roots.studies(root)  # not the cached listing: this is where a new study should appear
if entries:
    start.study_table(entries)
if not roots.readable(entries):
    st.subheader("No study yet")
    job_views.demo_button(root)

st.subheader("Scoring jobs")
job_views.job_list(root)
st.page_link("pages/jobs.py", label="Start a scoring job", icon=":material/play_circle:")
