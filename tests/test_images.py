"""easiness.analysis.images: averaged images (Fig. 2), their contrast (low = uniform), and mosaics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from easiness.analysis import images as im

REPO = Path(__file__).resolve().parents[1]

# Six 1x2 grey images. Class 0 = examples 0..3; with fraction 0.5 each set holds 2 of them.
# Example 4 has the lowest easiness overall but is class 1, so it must never be picked.
PIXELS = np.array([[0, 200], [50, 50], [100, 0], [20, 220], [255, 255], [7, 7]], dtype=np.uint8)
IMAGES = PIXELS.reshape(6, 1, 2, 1)
EASINESS = np.array([0.1, 0.4, 0.3, 0.2, 0.0, 9.0])
LABELS = np.array([0, 0, 0, 0, 1, 1])


class RowReader:
    """An image store that allows only sorted row gathers and records them."""

    def __init__(self, arr: np.ndarray):
        self._arr = arr
        self.shape = arr.shape
        self.rows: list[int] = []

    def __getitem__(self, key):
        key = np.asarray(key)
        assert key.ndim == 1 and key.dtype.kind == "i" and np.all(np.diff(key) > 0), key
        self.rows.extend(key.tolist())
        return self._arr[key]

    def __array__(self, *args, **kwargs):
        raise AssertionError("all images were loaded")


def test_averaged_images_hand_computed():
    out = im.averaged_images(IMAGES, EASINESS, LABELS, class_index=0, fraction=0.5)
    np.testing.assert_array_equal(out["easy_indices"], [0, 3])
    np.testing.assert_array_equal(out["hard_indices"], [1, 2])
    np.testing.assert_array_equal(out["easy"][0, :, 0], [10, 210])
    np.testing.assert_array_equal(out["hard"][0, :, 0], [75, 25])
    for name in ("easy", "random", "hard"):
        assert out[name].dtype == np.float32 and out[name].shape == (1, 2, 1)
        assert out[f"{name}_indices"].dtype == np.int64


def test_averaged_images_random_set_is_seeded_and_within_class():
    draws = set()
    for seed in range(10):
        out = im.averaged_images(IMAGES, EASINESS, LABELS, class_index=0, fraction=0.5, seed=seed)
        idx = out["random_indices"]
        assert idx.size == 2 and set(idx) <= {0, 1, 2, 3} and np.all(np.diff(idx) > 0)
        np.testing.assert_allclose(out["random"], IMAGES[idx].mean(axis=0))
        again = im.averaged_images(IMAGES, EASINESS, LABELS, class_index=0, fraction=0.5, seed=seed)
        np.testing.assert_array_equal(again["random_indices"], idx)
        draws.add(tuple(idx))
    assert len(draws) > 1


def test_averaged_images_from_memmap(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, IMAGES)
    mapped = np.load(path, mmap_mode="r")
    out = im.averaged_images(mapped, EASINESS, LABELS, class_index=1, fraction=0.5)
    np.testing.assert_array_equal(out["easy_indices"], [4])
    np.testing.assert_array_equal(out["hard"][0, :, 0], [7, 7])


def test_averaged_images_reads_only_the_needed_rows(monkeypatch):
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(40, 2, 2, 3), dtype=np.uint8)
    labels = np.arange(40) % 4
    easiness = rng.random(40)
    monkeypatch.setattr(im, "_CHUNK_ROWS", 1)  # force several chunks
    reader = RowReader(pixels)
    out = im.averaged_images(reader, easiness, labels, class_index=2, fraction=0.2)
    assert set(reader.rows) <= set(np.flatnonzero(labels == 2).tolist())
    np.testing.assert_allclose(out["easy"], pixels[out["easy_indices"]].mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(out["hard"], pixels[out["hard_indices"]].mean(axis=0), rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    {"class_index": 7},
    {"class_index": 0, "fraction": 1.0},
    {"class_index": 0, "images": IMAGES[:5]},
    {"class_index": 0, "images": IMAGES[:, :, :, 0]},
    {"class_index": 0, "labels": LABELS[:5]},
    {"class_index": 0, "easiness": np.full(6, np.nan)},
])
def test_averaged_images_rejects_bad_inputs(kwargs):
    args = {"images": IMAGES, "easiness": EASINESS, "labels": LABELS, **kwargs}
    with pytest.raises(ValueError):
        im.averaged_images(args.pop("images"), args.pop("easiness"), args.pop("labels"), **args)


# --------------------------------------------------------------------------- contrast


def test_contrast_values():
    assert im.contrast(np.full((4, 4, 3), 90.0)) == 0.0  # a flat image: perfectly uniform
    assert im.contrast(np.array([[0, 0], [255, 255]])) == pytest.approx(127.5)
    rgb = np.zeros((1, 2, 3))
    rgb[0, 0] = (255, 0, 0)  # grey 85 next to grey 0
    assert im.contrast(rgb) == pytest.approx(42.5)


def test_contrast_grows_as_an_image_gets_less_uniform():
    flat, faint, strong = np.full((4, 4), 128.0), np.full((4, 4), 128.0), np.full((4, 4), 128.0)
    faint[0, 0], strong[0, 0] = 138.0, 255.0
    assert im.contrast(flat) < im.contrast(faint) < im.contrast(strong)
    assert not hasattr(im, "uniformity")  # the old name said the opposite of what the number does


def _majority_minority_class():
    """100 8x8 images: 60 identical (square top-left, easy), 40 with the square moved (hard)."""
    imgs = np.zeros((100, 8, 8, 1), dtype=np.uint8)
    imgs[:60, 0:2, 0:2] = 255
    for j in range(40):
        r, c = divmod(j % 16, 4)
        imgs[60 + j, 2 * r:2 * r + 2, 2 * c:2 * c + 2] = 255
    easiness = np.concatenate([np.arange(60) * 0.01, 1.0 + np.arange(40) * 0.01])
    return imgs, easiness, np.zeros(100, dtype=np.int64)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hard_average_is_most_uniform(seed):
    imgs, easiness, labels = _majority_minority_class()
    out = im.averaged_images(imgs, easiness, labels, class_index=0, fraction=0.1, seed=seed)
    easy, rand, hard = (im.contrast(out[k]) for k in ("easy", "random", "hard"))
    assert hard < rand < easy
    assert easy == pytest.approx(255 * np.sqrt(1 / 16 * 15 / 16))  # one bright square in 16
    assert hard == pytest.approx(25.5 * np.sqrt(40 / 64 * 24 / 64))  # 10 squares, 1/10 each


@pytest.mark.parametrize("bad", [np.zeros(4), np.zeros((1, 1, 1, 1)), np.array([[np.nan]]),
                                 np.array([["a"]])])
def test_contrast_rejects_bad_images(bad):
    with pytest.raises(ValueError):
        im.contrast(bad)


# --------------------------------------------------------------------------- mosaic


def _tiles():
    return np.stack([np.full((2, 2, 1), 10 * (t + 1), dtype=np.uint8) for t in range(3)])


def test_mosaic_grid_padding_and_empty_cells():
    grid = im.mosaic(_tiles(), columns=2)
    expected = np.array([
        [10, 10, 255, 20, 20],
        [10, 10, 255, 20, 20],
        [255, 255, 255, 255, 255],
        [30, 30, 255, 255, 255],
        [30, 30, 255, 255, 255],
    ], dtype=np.uint8)[:, :, None]
    np.testing.assert_array_equal(grid, expected)
    assert grid.dtype == np.uint8


def test_mosaic_scale_and_fill():
    grid = im.mosaic(_tiles(), columns=3, pad=0, scale=2)
    assert grid.shape == (4, 12, 1)
    np.testing.assert_array_equal(grid[:, :4], 10)
    np.testing.assert_array_equal(grid[:, 8:], 30)
    grid = im.mosaic(_tiles(), columns=2, fill=0)
    assert grid[2, 0, 0] == 0 and grid[4, 4, 0] == 0


def test_mosaic_floats_and_colour():
    floats = np.array([254.6, -3.0, 127.4]).reshape(3, 1, 1, 1)
    np.testing.assert_array_equal(im.mosaic(floats, columns=3, pad=0)[0, :, 0], [255, 0, 127])
    rgb = np.zeros((5, 4, 3, 3), dtype=np.uint8)
    assert im.mosaic(rgb, columns=2, pad=2).shape == (3 * 6 - 2, 2 * 5 - 2, 3)


@pytest.mark.parametrize("images, kwargs", [
    (_tiles(), {"columns": 0}),
    (_tiles(), {"columns": 2, "pad": -1}),
    (_tiles(), {"columns": 2, "scale": 0}),
    (_tiles(), {"columns": 2, "fill": 256}),
    (_tiles()[:, :, :, 0], {"columns": 2}),
    (np.zeros((0, 2, 2, 1)), {"columns": 2}),
    (np.full((1, 1, 1, 1), np.nan), {"columns": 1}),
])
def test_mosaic_rejects_bad_arguments(images, kwargs):
    with pytest.raises(ValueError):
        im.mosaic(images, **kwargs)


# --------------------------------------------------------------------------- import hygiene
