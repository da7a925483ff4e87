"""Scores: every per-example difficulty score of a model (easiness, learning speed, correctness,
forgetting, AUM, EL2N, data maps), how they agree, how many runs each needs, the hardest by each."""

import streamlit as st

from easiness.ui import controls, scores

study, model = controls.study_and_model()
st.title(f"Difficulty scores · {model}")
view = controls.view(study, model, classes="none")
result = scores.load(study, model, view.k)
scores.missing_notice(result)

st.subheader("How the scores agree at T")
scores.agreement(study, model, view.k, view.fraction)

st.subheader("Data map: confidence against variability")
scores.data_map(study, model, view.k)
scores.example(study, model, result)

st.subheader("How many runs does each score need?")
scores.runs_needed(study, model, view.k, result)

st.subheader("The hardest examples by each score")
scores.hardest(study, model, result)

st.subheader("Across models")
scores.across_models(study, model, view.k)
