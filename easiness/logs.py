"""Where progress lines go.

A :data:`Log` is anything that takes one line of text: ``print`` on the command line, a list's
``append`` in tests, a status writer in a background job. The trainer, the retraining and the
ablation all take one, so that none of them prints on its own.
"""

from __future__ import annotations

from typing import Callable

Log = Callable[[str], None]
