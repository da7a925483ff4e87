"""Ablation: how much of the training set can you drop? Remove easy, hard, random or stepwise
fractions, retrain, compare test accuracy (Fig. 4 of arXiv:1911.10739); by easiness or by any
other difficulty score (EL2N, forgetting, AUM...), their curves drawn together."""

import streamlit as st

from easiness.ui import ablation, controls

root = controls.runs_root()
st.title("Ablation: how much data can you drop?")
st.caption(ablation.INTRO)
study, model = ablation.study_and_model(root)

shown = ablation.choose(root, study, model)
if shown is not None:
    ablation.results(root, shown)

with st.expander("Start an ablation", expanded=shown is None):
    ablation.start_form(root, study, model)
