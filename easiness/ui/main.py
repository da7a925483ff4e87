"""The app's main script when it starts through ``python -m easiness.app`` (installed or not).

The same two lines as the repository's ``app.py``: draw the frame, run the chosen page (its
failures shown as notices).
"""

from easiness.ui.navigation import frame, show

show(frame())
