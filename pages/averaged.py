"""Averaged images: for a class and T, the averaged easy, random and hard images (Fig. 2)."""

import streamlit as st

from easiness.ui import averages, controls

study, model = controls.study_and_model()
st.title(f"Averaged images · {model}")
view = controls.view(study, model, classes="one")

averages.side_by_side(study, model, view)
