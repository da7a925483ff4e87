"""Blocks of the averaged-images page (Fig. 2): the mean easy, random and hard image of a class."""

from __future__ import annotations

import numpy as np
import streamlit as st

from easiness import images as imaging
from easiness.store import Study
from easiness.ui import cache
from easiness.ui.controls import View

SIDE = 192  # pixels: averaged images are shown enlarged to about this side


def side_by_side(study: Study, model: str, view: View) -> None:
    """The three averages next to each other, each with its size and uniformity."""
    if study.images is None:
        st.info("This study stores no images, so there is nothing to average.")
        return
    result = cache.averaged(cache.ref(study, model), view.k, view.class_index, view.fraction)
    for column, name in zip(st.columns(3), ("easy", "random", "hard")):
        entry = result[name]
        scale = max(1, SIDE // entry["image"].shape[0])
        picture = imaging.mosaic(entry["image"][None], columns=1, pad=0, scale=scale)
        if picture.shape[-1] == 1:
            picture = np.repeat(picture, 3, axis=-1)
        column.image(picture, output_format="PNG")
        column.markdown(f"**{name}** · {entry['count']:,} images  \nuniformity **{entry['uniformity']:.1f}**")
    _verdict(result)


def _verdict(result: dict) -> None:
    """Say how the three compare, in the paper's terms."""
    order = sorted(("easy", "random", "hard"), key=lambda n: result[n]["uniformity"])
    st.caption("Uniformity is the spatial standard deviation of the averaged image's grey level (0–255 scale): "
               "lower means flatter, i.e. the averaged examples are more diverse. The paper (Fig. 2, CIFAR-10 "
               "horse) finds the hard average the most uniform. Here, from most to least uniform: "
               f"{' < '.join(order)}.")
