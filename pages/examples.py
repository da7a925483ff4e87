"""Examples: the easiest and hardest examples at checkpoint T, globally or per class (Fig. 1)."""

import streamlit as st

from easiness.ui import controls, examples

study, model = controls.study_and_model()
st.title(f"Easy and hard examples · {model}")
view = controls.view(study, model)

examples.grids(study, model, view)

left, right = st.columns(2)
with left:
    st.subheader("Easiness histogram")
    examples.histogram(study, model, view)
with right:
    st.subheader("Class mix of the easy and hard sets")
    examples.class_mix(study, model, view)

st.subheader("One example in every run")
examples.example_detail(study, model, view)

st.subheader("All examples as a table")
examples.download(study, model, view)
