"""Blocks of the averaged-images page (Fig. 2): the mean easy, random and hard image of a class."""

from __future__ import annotations

import numpy as np
import streamlit as st

from easiness.analysis import images as imaging
from easiness.store import Study
from easiness.ui import cache
from easiness.ui.controls import View

SIDE = 192  # pixels: averaged images are shown enlarged to about this side
SETS = ("easy", "random", "hard")


def side_by_side(study: Study, model: str, view: View) -> None:
    """The three averages next to each other, each with its size and contrast."""
    if study.images is None:
        st.info("This study stores no images, so there is nothing to average.")
        return
    result = cache.averaged(cache.ref(study, model), view.k, view.class_index, view.fraction)
    for column, name in zip(st.columns(3), SETS):
        entry = result[name]
        scale = max(1, SIDE // entry["image"].shape[0])
        picture = imaging.mosaic(entry["image"][None], columns=1, pad=0, scale=scale)
        if picture.shape[-1] == 1:
            picture = np.repeat(picture, 3, axis=-1)
        column.image(picture, output_format="PNG")
        column.markdown(f"**{name}** · {entry['count']:,} images  \ncontrast **{entry['contrast']:.1f}**")
    st.caption(verdict({name: result[name]["contrast"] for name in SETS}))


def verdict(contrasts: dict[str, float]) -> str:
    """What the number is, and how the three averages compare, in the paper's terms."""
    order = sorted(SETS, key=lambda name: contrasts[name])
    return ("Contrast: the standard deviation of the averaged image's grey level over its pixels (RMS contrast, "
            "0–255 scale; 0 = a flat, perfectly uniform image). Averaging examples that look alike keeps their "
            "common picture; averaging diverse ones washes it out, so the lower the contrast, the more diverse "
            "the examples averaged. The paper (Fig. 2, CIFAR-10 horse) finds the hard average the most uniform: "
            f"hard examples are diverse. Here, from flattest to most contrasted: {' < '.join(order)}.")
