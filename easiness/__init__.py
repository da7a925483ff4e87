"""easiness: which training examples a CNN learns first, which it struggles with, and whether
different architectures agree (Kishida & Nakayama, arXiv:1911.10739).

Importing this package is cheap and never imports TensorFlow: the study reader and the analysis
modules are numpy only. Training lives in :mod:`easiness.training.train` and :mod:`easiness.score`.
"""

from easiness.analysis import metrics
from easiness.errors import EasinessError
from easiness.store import Study

__all__ = ["EasinessError", "Study", "metrics", "scores_table"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """``easiness.scores_table`` (:func:`easiness.analysis.study_scores.scores_table`), imported on first
    use: it needs pandas, which a plain ``import easiness`` does not pay for."""
    if name == "scores_table":
        from easiness.analysis.study_scores import scores_table

        return scores_table
    raise AttributeError(f"module 'easiness' has no attribute {name!r}")
