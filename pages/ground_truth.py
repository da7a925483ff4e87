"""Ground truth (synthetic studies): easiness by appearance mode and for flipped labels."""

import streamlit as st

from easiness.ui import controls, truth

study, model = controls.study_and_model()
st.title(f"Ground truth · {model}")

if truth.has_ground_truth(study):
    view = controls.view(study, model, classes="none")
    truth.summary(study, model, view)
else:
    truth.explain_missing(study)
