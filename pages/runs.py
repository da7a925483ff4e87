"""Runs: how every run of a model trained (accuracy over epochs), its config and provenance."""

import streamlit as st

from easiness.ui import controls, training

study, model = controls.study_and_model()
runs = study.runs(model)
st.title(f"Runs of {model}")

controls.nonfinite_notice(study, [model], len(study.checkpoints(model)) - 1)
training.accuracy_chart(runs)
training.runs_table(study, runs)

st.subheader("All models")
training.models_summary(study)

st.subheader("How the runs were made")
training.config_and_provenance(study, runs)
