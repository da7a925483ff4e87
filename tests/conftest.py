"""Shared test hygiene."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _model_registry_restored():
    """Models a test registers (``models.register``, ``--model FILE.py:FUNCTION``, a logged
    study's spec) leave the zoo's registry as they found it, so later tests see the zoo alone.
    Touches nothing when the zoo (and so TensorFlow) was never imported."""
    zoo = sys.modules.get("easiness.models")
    before = dict(zoo._REGISTERED) if zoo is not None else {}
    yield
    zoo = sys.modules.get("easiness.models")
    if zoo is not None:
        zoo._REGISTERED.clear()
        zoo._REGISTERED.update(before)
