"""Matching rates: do models (and runs) agree on the easy and hard sets? (Fig. 3, Table 1)"""

import streamlit as st

from easiness.ui import controls, matching

study, model = controls.study_and_model()
models = matching.scored_models(study)
st.title("Matching rates")
left, middle, right = st.columns([2, 1, 1])
with left:
    k, _ = controls.checkpoint(study, models)
with middle:
    fraction = controls.fraction()
with right:
    points = controls.points(matching.common_count(study, models), default=matching.default_points(study, models))

st.subheader("Between models over training (Fig. 3)")
if len(models) > 1:
    matching.curves(study, models, fraction, points)
else:
    st.info("Fig. 3 compares models; this study has one model with scored checkpoints.")

st.subheader("Beginning vs end of training (Table 1)")
matching.table_1(study, models, fraction)

if len(models) > 1:
    st.subheader("Between models at T")
    matching.model_matrices(study, models, k, fraction)

st.subheader(f"Between runs of {model} at T")
matching.run_matrices(study, model, k, fraction)
