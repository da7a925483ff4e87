"""Blocks of the start page: the studies under the runs root."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import streamlit as st

from easiness.ui import roots, tables

EXPLORE_PAGE = "pages/examples.py"


def intro(root: Path) -> None:
    """What the app is for, in two lines."""
    st.title("easiness")
    st.write("Which training examples do CNNs learn first, which do they struggle with, and do different "
             "architectures agree? (Kishida & Nakayama, *Empirical Study of Easy and Hard Examples in CNN "
             "Training*, arXiv:1911.10739.) Easiness of an example = its cross-entropy averaged over M runs.")
    st.caption(f"Studies under `{roots.describe_root(root)}` (set with `streamlit run app.py -- --runs DIR` "
               "or $EASINESS_RUNS).")


def study_table(entries: Sequence[Mapping[str, Any]]) -> None:
    """The listing as a table, and a link into each readable study."""
    st.dataframe(tables.studies(entries), hide_index=True, width="stretch")
    readable = roots.readable(entries)
    columns = st.columns(min(4, max(1, len(readable))))
    for i, name in enumerate(readable):
        columns[i % len(columns)].page_link(EXPLORE_PAGE, label=f"Explore {name}", icon=":material/search:",
                                            query_params={"study": name})
