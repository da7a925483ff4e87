"""The model zoo's names without the zoo: the preset names and shape forms of :mod:`easiness.models`
(the top-level ``models/`` folder in a clone), as plain strings.

``python -m easiness.score --list`` and ``--help`` answer from this table, so they never import
Keras or TensorFlow (seconds of start-up and native log lines). ``tests/test_zoo_names.py`` keeps it
equal to the zoo's own registry. Pure Python.
"""

from __future__ import annotations

# The zoo's presets (models/__init__.py's _PRESETS), sorted: the paper's seven CNNs and small kin.
PRESETS: tuple[str, ...] = (
    "alexnet", "densenet121", "densenet_bc100_k12", "densenet_bc40_k12", "resnet18", "resnet50",
    "resnext11_2x16d", "resnext29_4x64d", "wrn10_1", "wrn16_4",
)

# The CIFAR shape forms (models/__init__.py's _SHAPES), as its error messages show them.
SHAPE_FORMS: tuple[str, ...] = (
    "wrn{depth}_{width}", "densenet_bc{depth}_k{growth}", "resnext{depth}_{cardinality}x{width}d",
)
