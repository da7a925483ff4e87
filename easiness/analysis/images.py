"""Averaged images of easy, random and hard examples (Fig. 2 of arXiv:1911.10739) and mosaics.

Numpy only: this module never imports TensorFlow.

The paper averages 500 easy, 500 random and 500 hard CIFAR-10 "horse" images and observes that
the hard average is the most uniform (the flattest): hard examples are diverse, easy ones share a
majority mode. :func:`contrast` puts a number on that observation: the lower an average's
contrast, the flatter it is, and the more diverse the images averaged.

Images are ``[N, H, W, C]`` arrays, usually a ``np.memmap`` of the whole training set; only the
rows that are averaged are read, in ascending index order and in chunks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from easiness.analysis.metrics import _easiness_vector, _easy_hard, _fraction, _labels

__all__ = ["averaged_images", "contrast", "mosaic"]

# Rows gathered per read when averaging: bounds memory for ImageNet-sized classes (1300 images);
# 256 uint8 rows of 224 x 224 x 3 are 38 MB, summed into one float64 [H, W, C] accumulator.
_CHUNK_ROWS = 256


def averaged_images(
    images: Any,
    easiness: np.ndarray,
    labels: np.ndarray,
    *,
    class_index: int,
    fraction: float = 0.1,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Fig. 2: mean image of the easy, a random and the hard examples of one class.

    Args:
        images: [N, H, W, C] pixels on a 0..255 scale (uint8 ndarray, np.memmap, or any object
            with ``.shape`` whose ``images[sorted_int_array]`` returns those rows).
        easiness: [N] easiness (Eq. 1).
        labels: [N] integer class labels.
        class_index: the class to average.
        fraction: share of that class's examples in each set (the paper: 500 of 5000 horses).
        seed: seed of the random set, drawn without replacement from the class.

    Returns:
        {"easy", "random", "hard"}: [H, W, C] float32 means on the 0..255 scale, and
        {"easy_indices", "random_indices", "hard_indices"}: int64 example indices (easy
        easiest-first, hard hardest-first, random ascending).
    """
    shape = getattr(images, "shape", None)
    if shape is None or len(shape) != 4:
        raise ValueError(f"images must have shape [N, H, W, C], got {shape}")
    values = _easiness_vector(easiness)
    if int(shape[0]) != values.size:
        raise ValueError(f"images hold {shape[0]} examples but easiness has {values.size}")
    classes = _labels(labels, n=values.size)
    members = np.flatnonzero(classes == class_index)
    if members.size == 0:
        raise ValueError(f"class {class_index} has no examples")
    return _averaged_images(images, values, members, _fraction(fraction), seed)


def _averaged_images(
    images: Any, values: np.ndarray, members: np.ndarray, fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """``members``: [K] indices of the class; ``values``: [N] easiness."""
    easy, hard = _easy_hard(values[members], fraction)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(members.size, size=easy.size, replace=False))
    sets = {"easy": members[easy], "random": members[chosen], "hard": members[hard]}
    out: dict[str, np.ndarray] = {}
    for name, idx in sets.items():
        out[name] = _mean_rows(images, idx)
        out[f"{name}_indices"] = idx.astype(np.int64)
    return out


def _mean_rows(images: Any, indices: np.ndarray) -> np.ndarray:
    """Mean of ``images[indices]``: [H, W, C] float32, reading sorted chunks of rows."""
    rows = np.sort(indices)
    total = np.zeros(tuple(int(s) for s in images.shape[1:]), dtype=np.float64)
    for start in range(0, rows.size, _CHUNK_ROWS):
        chunk = np.asarray(images[rows[start:start + _CHUNK_ROWS]])
        total += chunk.sum(axis=0, dtype=np.float64)
    return (total / rows.size).astype(np.float32)


def contrast(image: np.ndarray) -> float:
    """The RMS contrast of an (averaged) image: the spatial standard deviation of its grey level.

    The image is made grey by the plain mean over its channels, then the population standard
    deviation (ddof=0) of that grey level over all H x W positions is returned, in the units of
    the input (0..255 for images from :func:`averaged_images`): 0 for a flat (perfectly uniform)
    image, 127.5 for a half-black, half-white one. Averaging diverse images washes them out, so
    the paper's Fig. 2 predicts contrast(hard) < contrast(random) < contrast(easy): the hard
    average is the most uniform.

    Args:
        image: [H, W, C] or [H, W] real array.
    """
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise ValueError(f"image must have shape [H, W, C] or [H, W], got {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"image must be numeric, got dtype {arr.dtype}")
    grey = arr.astype(np.float64).mean(axis=2) if arr.ndim == 3 else arr.astype(np.float64)
    if not np.isfinite(grey).all():
        raise ValueError("image must be finite")
    return float(grey.std())


def mosaic(
    images: np.ndarray, *, columns: int, pad: int = 1, fill: int = 255, scale: int = 1
) -> np.ndarray:
    """Tile K images into one picture, so a page shows hundreds of examples as one image.

    Args:
        images: [K, H, W, C] uint8, or float on the 0..255 scale (rounded and clipped).
        columns: tiles per row; the last row is completed with ``fill``.
        pad: pixels of ``fill`` between tiles (after scaling); none around the border.
        fill: grey level 0..255 of padding and empty cells.
        scale: each pixel becomes a scale x scale block (nearest-neighbour enlargement).

    Returns:
        [rows * (H*scale + pad) - pad, columns * (W*scale + pad) - pad, C] uint8,
        rows = ceil(K / columns), tiles in row-major order.
    """
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[0] == 0:
        raise ValueError(f"images must have shape [K, H, W, C] with K >= 1, got {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"images must be numeric, got dtype {arr.dtype}")
    for name, value, low in (("columns", columns, 1), ("pad", pad, 0), ("scale", scale, 1)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if isinstance(fill, bool) or not isinstance(fill, (int, np.integer)) or not 0 <= fill <= 255:
        raise ValueError(f"fill must be an integer in [0, 255], got {fill!r}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise ValueError("images must be finite")
    return _mosaic(_to_uint8(arr), int(columns), int(pad), int(fill), int(scale))


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)


def _mosaic(tiles: np.ndarray, columns: int, pad: int, fill: int, scale: int) -> np.ndarray:
    if scale > 1:
        tiles = tiles.repeat(scale, axis=1).repeat(scale, axis=2)
    k, h, w, c = tiles.shape
    rows = -(-k // columns)
    # Pad each tile on its bottom and right, and append empty tiles up to a full grid, then
    # interleave the grid axes: [rows, cols, h, w, c] -> [rows, h, cols, w, c].
    cells = np.full((rows * columns, h + pad, w + pad, c), fill, dtype=np.uint8)
    cells[:k, :h, :w] = tiles
    grid = cells.reshape(rows, columns, h + pad, w + pad, c).transpose(0, 2, 1, 3, 4)
    grid = grid.reshape(rows * (h + pad), columns * (w + pad), c)
    return np.ascontiguousarray(grid[: grid.shape[0] - pad, : grid.shape[1] - pad])
