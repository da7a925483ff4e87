"""Compare scores: does another per-example score (forgetting, EL2N, AUM, a confidence...) agree
with easiness? A scatter at T, Spearman's rho over training, the easy and hard tails' matching rates."""

import streamlit as st

from easiness.ui import compare, controls

study, model = controls.study_and_model()
st.title(f"Compare scores · {model}")
source = compare.choose_source(controls.runs_root(), study)
if source is None:
    st.info(f"No score file yet: upload one, or put a .csv, .npz or .parquet keyed by 'id' in "
            f"{study.root.name}/ or in the runs root (`python -m easiness.export` writes one).")
    st.stop()
parsed = compare.load(study, source)

left, middle, right, far = st.columns([2, 1, 1, 1])
with left:
    k, _ = controls.checkpoint(study, [model])
with middle:
    column = compare.choose_column(parsed)
with right:
    higher = compare.choose_easier()
with far:
    fraction = controls.fraction()
joined = compare.join(study, source, column)

st.subheader("Matching rates and rank correlation at T")
compare.rates_table(study, k, source, column, higher, fraction, joined)

left, right = st.columns(2)
with left:
    st.subheader("Easiness against the score")
    compare.scatter(study, model, k, source, column, higher, fraction, joined)
with right:
    st.subheader("Spearman's rho over training")
    points = controls.points(len(study.checkpoints(model)), default=compare.default_points(study, model))
    compare.curve(study, model, points, source, column, higher, joined)
