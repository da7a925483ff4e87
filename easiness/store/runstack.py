"""A lazy ``[M, C, N]`` view over the per-run ``losses.npy`` files of one model.

M runs x C common checkpoints x N training examples. CIFAR-10 at 300 epochs x 10 runs is 600 MB
and ImageNet about 10 GB, so the stack never loads everything: each run is a read-only memory
map and indexing touches only the rows it returns. ``np.asarray(stack)`` materialises the whole
array on purpose.

Indexing follows numpy's result for the same key on the materialised array. Supported keys:
``stack[m]``, ``stack[m, k]``, ``stack[:, k]``, ``stack[:, a:b]``, ``stack[:, k, idx]``,
``stack[:, :, i]`` and, in general, an int, slice or integer/boolean array on the run axis
followed by any basic or advanced index on the other two; ``...`` is expanded. Refused (numpy
would pair the arrays element-wise across the run axis, rarely what is meant): an array on the run
axis together with an array on a later axis, and ``None``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


class RunStack:
    """Lazy ``[M, C, N]`` stack of the first C rows of M runs' memory-mapped loss arrays."""

    def __init__(self, arrays: Sequence[np.ndarray], *, count: int, n: int,
                 runs: Sequence[int] | None = None) -> None:
        """``arrays``: per run, a ``[>=count, n]`` (memory-mapped) array; only rows ``< count``
        are part of the stack. ``runs``: the run indices, for display (default 0..M-1)."""
        self._arrays = [np.asarray(a)[:count] for a in arrays]  # why asarray: plain views, no memmap subclass
        self._count = int(count)
        self._n = int(n)
        self.runs: list[int] = list(runs) if runs is not None else list(range(len(arrays)))
        dtypes = [a.dtype for a in self._arrays] or [np.dtype(np.float32)]
        self._dtype = np.result_type(*dtypes)

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(M, C, N)``."""
        return (len(self._arrays), self._count, self._n)

    @property
    def dtype(self) -> np.dtype:
        """The common dtype of the runs (float32 or float16)."""
        return self._dtype

    @property
    def ndim(self) -> int:
        """Always 3."""
        return 3

    def __len__(self) -> int:
        """M, the number of runs."""
        return len(self._arrays)

    def __repr__(self) -> str:
        m, c, n = self.shape
        return f"RunStack(runs={self.runs}, checkpoints={c}, examples={n}, dtype={self.dtype})"

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """The whole ``[M, C, N]`` array in memory (explicit materialisation: always a copy)."""
        if copy is False:
            raise ValueError("a RunStack cannot be viewed as one array without copying")
        out = self._stack(self._arrays, ())
        return out if dtype is None else out.astype(dtype, copy=False)

    def __getitem__(self, key: Any) -> np.ndarray:
        """Index like the materialised ``[M, C, N]`` array (see the module docstring)."""
        first, rest = _split_key(key)
        if isinstance(first, (int, np.integer)):
            array = self._arrays[_run_index(int(first), len(self._arrays))]
            out = np.asarray(array[rest])
            if len(rest) == 2 and isinstance(rest[0], slice) and _is_array_index(rest[1]):
                # why: numpy moves the advanced axes first when an int and an array are
                # separated by a slice (x[0, :, idx] is [len(idx), C]); match it
                out = np.moveaxis(out, 0, -1)
            return out.astype(self._dtype, copy=False)
        if any(_is_array_index(k) for k in rest) and not isinstance(first, slice):
            raise IndexError("an index array on the run axis cannot be combined with an index "
                             "array on a later axis; index the runs first")
        chosen = [self._arrays[i] for i in _run_selection(first, len(self._arrays))]
        return self._stack(chosen, rest)

    def _stack(self, arrays: list[np.ndarray], rest: tuple) -> np.ndarray:
        """Apply ``rest`` to each run and stack along a new first axis."""
        if not arrays:
            # why: np.stack needs at least one array; a zero-size stand-in yields numpy's shape
            return np.empty((0, self._count, self._n), self._dtype)[(slice(None),) + rest]
        return np.stack([np.asarray(a[rest]) for a in arrays]).astype(self._dtype, copy=False)


def _split_key(key: Any) -> tuple[Any, tuple]:
    """Normalise ``key`` to (run-axis index, indices for the checkpoint and example axes)."""
    key = key if isinstance(key, tuple) else (key,)
    if any(k is None for k in key):
        raise IndexError("RunStack does not support None (np.newaxis) in an index")
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        fill = (slice(None),) * (3 - (len(key) - 1))
        key = key[:at] + fill + key[at + 1:]
    if len(key) > 3:
        raise IndexError(f"too many indices for a 3-dimensional RunStack: {len(key)}")
    if not key:
        return slice(None), ()
    return key[0], tuple(key[1:])


def _is_array_index(k: Any) -> bool:
    """Whether ``k`` is an advanced (list or array) index rather than an int or slice."""
    return isinstance(k, (list, np.ndarray))


def _run_index(i: int, m: int) -> int:
    """A run position, negative allowed, checked against M."""
    if not -m <= i < m:
        raise IndexError(f"run index {i} is out of range for {m} runs")
    return i % m


def _run_selection(first: Any, m: int) -> list[int]:
    """The run positions chosen by a slice, integer array or boolean mask on the run axis."""
    if isinstance(first, slice):
        return list(range(m))[first]
    index = np.asarray(first)
    if index.dtype == bool:
        if index.shape != (m,):
            raise IndexError(f"boolean run mask has shape {index.shape}, expected ({m},)")
        return [int(i) for i in np.flatnonzero(index)]
    if index.ndim != 1 or (index.size and not np.issubdtype(index.dtype, np.integer)):
        raise IndexError("runs must be selected by an int, a slice or a 1-D integer/boolean array")
    return [_run_index(int(i), m) for i in index]
