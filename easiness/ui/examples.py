"""Blocks of the examples page: easiest and hardest examples as image grids (Fig. 1), the
easiness histogram with the easy and hard cuts, the class mix of the sets, and one example's
loss in every run."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import streamlit as st

from easiness.analysis import ground_truth as truth
from easiness.analysis import images as imaging
from easiness.analysis import metrics
from easiness.analysis import tables as table_files
from easiness.store import Study
from easiness.ui import cache, charts, tables, urlstate
from easiness.ui.controls import View

SHOWN = 48  # examples per grid at most: a grid shows the easy (hard) set, or its first 48
COLUMNS = 12  # tiles per mosaic row
TILE = 72  # target tile side in pixels: 32-px images are enlarged 2x, 8-px thumbnails 9x
MAX_CLASSES_CHARTED = 20


def grids(study: Study, model: str, view: View) -> None:
    """The easy and the hard set at T, globally or in the chosen class: the whole set when it
    holds at most :data:`SHOWN` examples, else its :data:`SHOWN` easiest (hardest)."""
    r = cache.ref(study, model)
    values = cache.easiness(r, view.k)
    scope = "all classes" if view.class_index is None else f"class {study.class_names[view.class_index]}"
    pool = study.n if view.class_index is None else int(np.count_nonzero(np.asarray(study.labels) == view.class_index))
    size = metrics.set_size(max(pool, 1), fraction=view.fraction)
    count = min(size, SHOWN)
    for hardest, title in ((False, "Easiest"), (True, "Hardest")):
        st.subheader(f"{title} {count} of {scope}")
        st.caption(grid_note(size, count, view.fraction, scope, hardest=hardest))
        shown = cache.ranking(r, view.k, view.class_index, count, hardest)
        _grid(study, shown, values, key="hard" if hardest else "easy")


def grid_note(size: int, count: int, fraction: float, scope: str, *, hardest: bool) -> str:
    """Which part of the set a grid shows, and why not all of it."""
    which = "hard" if hardest else "easy"
    if count >= size:
        return f"The whole {which} set: the {fraction:.0%} {'hardest' if hardest else 'easiest'} of {scope}."
    return (f"The {which} set ({fraction:.0%} of {scope}) holds {size:,} examples; a grid shows at most {SHOWN}, "
            f"so these are its {count} {'hardest' if hardest else 'easiest'}; the download at the bottom of the "
            "page lists every example.")


def _grid(study: Study, shown: np.ndarray, values: np.ndarray, *, key: str) -> None:
    """One mosaic image and its caption table; picking a row looks that example up below."""
    caption = tables.examples(shown, ids=study.ids, labels=study.labels, class_names=study.class_names,
                              values=values)
    left, right = st.columns([3, 2])
    if study.images is None:
        left.info("This study stores no images: ids and labels only.")
    else:
        left.image(mosaic(study.images, shown), caption="rank order: left to right, top to bottom",
                   output_format="PNG")
    with right:
        event = st.dataframe(caption, hide_index=True, height=300, key=f"grid-{key}", on_select="rerun",
                             selection_mode="single-row",
                             column_config={"rank": st.column_config.NumberColumn(width="small"),
                                            "easiness": st.column_config.NumberColumn(format="%.4g", width="small")})
        _follow_selection(event, caption, key)


def mosaic(images: np.ndarray, shown: np.ndarray, *, columns: int = COLUMNS) -> np.ndarray:
    """The ``shown`` images as one enlarged (or, for big images, thinned) mosaic array."""
    order = np.argsort(shown)
    tiles = np.empty((len(shown), *images.shape[1:]), dtype=np.uint8)
    tiles[order] = np.asarray(images[shown[order]])  # rows read in ascending order
    side = tiles.shape[1]
    if side > TILE:
        step = -(-side // TILE)
        tiles = tiles[:, ::step, ::step]
    if tiles.shape[-1] == 1:
        tiles = np.repeat(tiles, 3, axis=-1)
    return imaging.mosaic(tiles, columns=columns, pad=2, scale=max(1, TILE // tiles.shape[1]))


def _follow_selection(event, caption: pd.DataFrame, key: str) -> None:
    """When a row of a caption table is newly picked, make it the example looked up below."""
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    picked = str(caption["id"].iloc[rows[0]]) if rows else None
    memory = f"_picked_{key}"
    if picked and st.session_state.get(memory) != picked:
        st.session_state["example"] = picked
    st.session_state[memory] = picked


def histogram(study: Study, model: str, view: View) -> None:
    """Easiness histogram of all examples (or the class), with the easy and hard cuts."""
    data = cache.histogram(cache.ref(study, model), view.k, view.class_index, view.fraction)
    st.altair_chart(charts.histogram(data["bins"], data["easy"], data["hard"], log=data["log"]), width="stretch")
    diverged = f" · {data['infinite']:,} with an infinite or NaN loss (hardest, not drawn)" if data["infinite"] else ""
    st.caption(f"{data['n']:,} examples · easy set: easiness ≤ {data['easy']:.4g} · "
               f"hard set: easiness ≥ {data['hard']:.4g} ({view.fraction:.0%} each){diverged}")


def class_mix(study: Study, model: str, view: View) -> None:
    """Which classes the (global) easy and hard sets are made of, against the whole dataset."""
    frame = cache.class_mix(cache.ref(study, model), view.k, view.fraction)
    if study.num_classes > MAX_CLASSES_CHARTED:
        frame = _most_skewed(frame, MAX_CLASSES_CHARTED // 2)
        st.caption(f"The {MAX_CLASSES_CHARTED} classes most over-represented in the easy or the hard set.")
    st.altair_chart(charts.class_mix(frame), width="stretch")


def _most_skewed(frame: pd.DataFrame, per_set: int) -> pd.DataFrame:
    """Keep the ``per_set`` classes with the highest share ratio in each set."""
    wide = frame.pivot(index="class", columns="set", values="share")
    base = wide["all examples"].clip(lower=1e-12)
    keep = {name for column in ("easy set", "hard set") for name in (wide[column] / base).nlargest(per_set).index}
    return frame[frame["class"].isin(keep)]


def example_detail(study: Study, model: str, view: View) -> None:
    """One example (picked in a table or typed in): its image, label, easiness and loss curves."""
    r = cache.ref(study, model)
    example_id = urlstate.text("Example id", key="example", what="example id",
                               placeholder="pick a row in a table above, or type an id",
                               valid=lambda x: cache.find_example(r.path, r.token, x) is not None)
    if not example_id:
        return
    index = cache.find_example(r.path, r.token, example_id)
    if index is None:
        st.warning(f"No example with id {example_id!r} in this study.")
        return
    left, right = st.columns([1, 3])
    with left:
        _example_card(study, r, view, index)
    with right:
        count = len(study.checkpoints(model))
        losses = cache.example_losses(r, index, count)
        epochs = [p["epoch"] for p in study.checkpoints(model)]
        st.altair_chart(charts.loss_curve(tables.loss_curve(losses, epochs, r.runs)), width="stretch")


def _example_card(study: Study, r: cache.Ref, view: View, index: int) -> None:
    """The example's picture and facts at T."""
    if study.images is not None:
        st.image(imaging.mosaic(np.asarray(study.images[index:index + 1]), columns=1,
                                scale=max(1, 160 // study.images.shape[1])), output_format="PNG")
    values = cache.easiness(r, view.k)
    rank = int(np.count_nonzero(values < values[index])) + 1
    st.markdown(f"**{study.ids[index]}** · label **{study.class_names[int(study.labels[index])]}**  \n"
                f"easiness at T: **{values[index]:.4g}** (rank {rank:,} of {study.n:,}, 1 = easiest)")
    if cache.ground_truth_problem(r.path, r.token) is None:  # why: damaged ground truth is named in the sidebar
        groups = truth.groups(study.extras)
        if groups is not None:
            codes, names = groups
            st.caption(f"ground truth: {names[int(codes[index])]}")


def download(study: Study, model: str, view: View) -> None:
    """The whole table behind the page (all N examples, not the grids) at T as CSV: easiness,
    rank and easy/hard flags over all classes, for this model or every model with checkpoint T."""
    every = st.checkbox("every model", key="download-every", help="a group of columns per model")
    models = tuple(m for m in study.models if len(study.checkpoints(m)) > view.k) if every else (model,)
    name = f"{study.root.name}-{'all-models' if every else model}-t{view.k + 1}.csv"
    build = functools.partial(table_csv, study, models, view.k, view.fraction)
    label = f"Download all {study.n:,} examples (CSV)"
    if deferred_downloads():
        # why a callable: Streamlit builds the file only on click, on another thread; ImageNet's
        # 1.28M rows take seconds per model, too slow for every rerun of the page
        st.download_button(label, key="download", file_name=name, data=build, mime="text/csv",
                           on_click="ignore", icon=":material/download:")
    else:
        _prepared_download(label, f"{name}:{view.fraction}", name, build)
    st.caption(f"id, label, class, then easiness, rank (1 = easiest) and easy/hard flags ({view.fraction:.0%}, "
               f"over all classes) of {', '.join(models)}; `python -m easiness.export` writes the same table, "
               "plus the other difficulty scores (`--scores`).")


def deferred_downloads() -> bool:
    """Whether this Streamlit takes a callable as a download's data, run on click (recent
    versions; older ones need the bytes up front). No flag tells: its docstring does."""
    return "callable" in (st.download_button.__doc__ or "")


def _prepared_download(label: str, view_key: str, name: str, build) -> None:
    """Older Streamlit: build the file only when asked, and keep only the latest view's file."""
    memory = "_download"
    if st.button("Prepare the download", key="download-prepare"):
        st.session_state[memory] = (view_key, build())
    kept = st.session_state.get(memory)
    if kept and kept[0] == view_key:  # why: never offer a file built for another model or T
        st.download_button(label, key="download", file_name=name, data=kept[1], mime="text/csv")


def table_csv(study: Study, models: tuple[str, ...], k: int, fraction: float) -> bytes:
    """The easiness table of ``models`` at checkpoint ``k`` as CSV bytes (no Streamlit calls:
    it runs on the download's own thread)."""
    return table_files.csv_bytes(table_files.easiness_table(study, models=list(models), checkpoint=k,
                                                            fraction=fraction))
