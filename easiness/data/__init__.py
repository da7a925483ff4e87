"""Datasets: specs, loading, fixed example ids, subsets and input pipelines.

The TensorFlow boundary runs through this package:

- numpy only: :mod:`~easiness.data.types` (``Split``, ``Dataset``, ``DataError``),
  :mod:`~easiness.data.spec` (checking a spec), :mod:`~easiness.data.folders` (class folders and
  archives), :mod:`~easiness.data.synthetic` (the built-in biased data set),
  :mod:`~easiness.data.prepared` (what ``python -m easiness.prepare`` downloads and where the
  presets find it);
- numpy at import, TensorFlow when called: :mod:`~easiness.data.download` (CIFAR through tfds or
  keras.datasets into one ``.npz``);
- TensorFlow: :mod:`~easiness.data.loading` (``load``, ``fingerprint``, ``select``),
  :mod:`~easiness.data.augment` (the input pipeline), :mod:`~easiness.data.resident`.

Importing ``easiness.data`` is cheap: ``easiness.data.load`` and the other names of
:mod:`~easiness.data.loading` import TensorFlow on first use.
"""

from __future__ import annotations

from typing import Any

from easiness.data.types import DataError, Dataset, Split

__all__ = ["DataError", "Dataset", "Split", "fingerprint", "load", "pipeline", "select"]


# the names of easiness.data.loading (TensorFlow), imported on first use
_LOADING = frozenset({"SPEC_FORMS", "fingerprint", "gcn", "load", "pipeline", "select", "subset", "subset_per_class"})


def __getattr__(name: str) -> Any:
    if name not in _LOADING:  # why: submodules (``from easiness.data import folders``) must not load TensorFlow
        raise AttributeError(f"module 'easiness.data' has no attribute {name!r}")
    from easiness.data import loading

    return getattr(loading, name)
