"""Failures as notices: a page that meets something it cannot show (a study damaged in a way no
check foresaw, a file changed while it was read) draws one line naming the problem, never a
traceback with the server's paths; the traceback goes to the server's log instead."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator

import streamlit as st

from easiness.errors import EasinessError
from easiness.errors import one_line
from easiness.ui import roots

_LOG = logging.getLogger(__name__)


def explain(error: BaseException, root: Path) -> str:
    """One line for a page: a user-facing error's own message, else its type and message, with
    paths relative to the runs root ``root``."""
    text = str(error) if isinstance(error, EasinessError) else f"{type(error).__name__}: {error}"
    return roots.redact(one_line(text), root)


@contextlib.contextmanager
def notices(root: Path, what: str = "This view") -> Iterator[None]:
    """Run a block; an exception in it ends the block with an error notice naming the problem.

    Streamlit's own stop and rerun are BaseExceptions, so they pass through untouched."""
    try:
        yield
    except Exception as error:  # why broad: whatever a damaged study breaks, the page must not show a traceback
        _LOG.warning("%s failed", what, exc_info=True)
        st.error(f"{what} cannot be shown: {explain(error, root)}", icon=":material/error:")
