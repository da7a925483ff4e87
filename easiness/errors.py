"""User-facing errors.

Anything a user can cause by bad input (a wrong dataset spec, an unknown model, an empty folder)
raises :class:`EasinessError`. Command-line entry points catch it, print its message on one line
and exit with status 2; they never show a traceback for it.
"""


class EasinessError(Exception):
    """A problem with the user's input, reported as one line and exit status 2."""

    exit_code = 2


class JobFailed(EasinessError):
    """The input was fine but the work failed (every run diverged, say): one line, exit status 1."""

    exit_code = 1


def one_line(message: object) -> str:
    """``message`` (an exception or a text) on one line: its lines joined and its whitespace
    collapsed, so what a user sees of an error is one line and nothing of it is lost."""
    text = " ".join(str(message).split())
    return text or (type(message).__name__ if isinstance(message, BaseException) else "")
