"""Folder datasets decode every image mode correctly or refuse the file by name: 16-bit images are
scaled (not turned white), palettes, CMYK and alpha are converted as documented, and names that
are not UTF-8, broken links and FIFOs end in one line instead of a traceback or a hang."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from easiness import data
from easiness.data.types import DataError
from easiness.data.folders import _decode


def encoded(img: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("name, img, fmt, expected", [
    ("16-bit grey", Image.fromarray(np.full((4, 4), 32896, dtype=np.uint16)), "PNG", [128, 128, 128]),
    ("16-bit white", Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)), "PNG", [255, 255, 255]),
    ("palette", None, "PNG", [10, 200, 30]),
    ("CMYK", Image.new("CMYK", (4, 4), (0, 255, 255, 0)), "TIFF", [255, 0, 0]),
    ("RGBA half", Image.new("RGBA", (4, 4), (255, 0, 0, 128)), "PNG", [128, 0, 0]),
    ("LA clear", Image.new("LA", (4, 4), (255, 0)), "PNG", [0, 0, 0]),
    ("grey", Image.new("L", (4, 4), 77), "PNG", [77, 77, 77]),
    ("bilevel", Image.new("1", (4, 4), 1), "PNG", [255, 255, 255]),
])
def test_every_mode_becomes_the_documented_rgb(name, img, fmt, expected):
    if img is None:
        img = Image.new("P", (4, 4))
        img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
        img.putpixel((0, 0), 1)
    rgb = _decode(encoded(img, fmt), "x.png", "folder", None)
    assert rgb.dtype == np.uint8 and rgb.shape == (4, 4, 3)
    assert rgb[0, 0].tolist() == expected, name


def test_a_float_image_is_refused_by_name():
    with pytest.raises(DataError, match="cannot decode image cls/f.tif in folder: a floating-point image"):
        _decode(encoded(Image.new("F", (4, 4), 0.5), "TIFF"), "cls/f.tif", "folder", None)


def make_folder(root, extra=None):
    for cls in ("a", "b"):
        (root / "train" / cls).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (40 * i, 90, 20)).save(root / "train" / cls / f"{i}.png")
    if extra is not None:
        extra(root / "train" / "a")
    return root


def test_a_16_bit_png_in_a_folder_is_scaled_not_white(tmp_path, monkeypatch):
    monkeypatch.setenv("EASINESS_CACHE", str(tmp_path / "cache"))

    def sixteen(folder):
        Image.fromarray(np.full((8, 8), 16448, dtype=np.uint16)).save(folder / "deep.png")

    dataset = data.load(f"folder:{make_folder(tmp_path / 'd', sixteen)}")
    at = list(dataset.train.ids).index("train/a/deep.png")
    assert dataset.train.images[at].max() == 64  # 16448 / 257


def fifo(folder):
    os.mkfifo(folder / "pipe.png")


def dangling(folder):
    os.symlink(folder / "nowhere.png", folder / "broken.png")


def not_utf8(folder):
    Image.new("RGB", (8, 8)).save(os.path.join(os.fsencode(folder), b"caf\xe9.png"))


@pytest.mark.parametrize("extra, message", [
    (fifo, "cannot read image train/a/pipe.png in .*: not a regular file"),
    (dangling, "cannot read image train/a/broken.png in .*: not a regular file"),
    (not_utf8, r"the name train/a/caf\\udce9.png in .* is not valid UTF-8; rename it"),
])
def test_bad_entries_are_refused_by_name(tmp_path, monkeypatch, extra, message):
    monkeypatch.setenv("EASINESS_CACHE", str(tmp_path / "cache"))
    folder = make_folder(tmp_path / "d", extra)
    with pytest.raises(DataError, match=message) as err:
        data.load(f"folder:{folder}")
    assert "\n" not in str(err.value)
