"""Which runs of a model a command averages, M of them, and refusing damaged or failed ones.

Easiness (Eq. 1 of arXiv:1911.10739) is a mean over the M runs of a model. A run that is damaged
on disk (an unreadable manifest or losses: a line of :attr:`easiness.store.Study.problems`) or
that failed (a non-finite loss stopped it) would otherwise be left out without a word, and the
numbers would be a mean over fewer runs than the study holds. So ``python -m easiness.ablate``,
``export`` and ``compare`` all follow one rule:

* a model with such a run is refused, one line naming the runs, exit status 2;
* ``--skip-damaged`` asks to average its other runs instead; the runs left out are named;
* the M used is always stated (in the printed output, and in ablation.json / the JSON of compare).

Pure Python over an opened study; no TensorFlow.
"""

from __future__ import annotations

import dataclasses
from typing import Mapping, Sequence

from easiness.errors import EasinessError
from easiness.store.layout import parse_run_dirname
from easiness.store import Study

OPTION = "--skip-damaged"
HELP = ("when some runs of a model are damaged (unreadable) or failed, average its other runs instead "
        "of refusing; the runs left out are named and the M used is stated")


@dataclasses.dataclass(frozen=True)
class Choice:
    """The runs of one model that a command averages."""

    model: str
    runs: tuple[int, ...]  # the run indices averaged, M = len(runs)
    left_out: tuple[str, ...] = ()  # one "run N: why" per damaged or failed run not averaged

    @property
    def m(self) -> int:
        """M, the number of runs averaged."""
        return len(self.runs)

    def note(self) -> str | None:
        """``wrn16_4: M=2 (left out: run 1: failed: non-finite loss ...)``, None when none was left out."""
        if not self.left_out:
            return None
        return f"{self.model}: M={self.m} (left out: {'; '.join(self.left_out)})"


def damaged(study: Study, model: str) -> list[str]:
    """``run N: why`` for every run folder of ``model`` that cannot be read."""
    found = []
    for problem in study.problems:
        where, _, why = problem.partition(": ")
        folder_model, _, folder = where.partition("/")
        index = parse_run_dirname(folder)
        if folder_model == model and index is not None:
            found.append((index, f"run {index}: {why}"))
    return [text for _, text in sorted(found)]


def models_with_runs(study: Study) -> list[str]:
    """Every model with a run folder, readable or damaged, sorted."""
    named = {p.partition(": ")[0].partition("/")[0] for p in study.problems}
    return sorted(set(study.models) | {m for m in named if m})


def choose(study: Study, model: str, *, skip_damaged: bool, finished: bool = False) -> Choice:
    """The runs of ``model`` to average: every readable run that did not fail (``finished``:
    every run that is done). EasinessError naming the damaged and failed runs unless
    ``skip_damaged``; EasinessError when no run is left."""
    manifests = study.runs(model) if model in study.models else []
    failed = [f"run {m['run']}: failed ({m.get('reason') or 'no reason recorded'})"
              for m in manifests if m["status"] == "failed"]
    bad = damaged(study, model) + failed
    wanted = "done" if finished else None
    runs = tuple(m["run"] for m in manifests
                 if m["status"] != "failed" and (wanted is None or m["status"] == wanted))
    if bad and not skip_damaged:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        others = f"average the other {len(runs)} run(s)" if runs else "skip them (no other run is left)"
        raise EasinessError(f"{study.root} has damaged or failed runs of {model}: {bad[0]}{more}; "
                            f"move the damaged ones aside, or give {OPTION} to {others}")
    if not runs:
        state = "finished " if finished else ""
        raise EasinessError(f"{model} has no {state}run in {study.root} that is neither damaged nor failed")
    return Choice(model, runs, tuple(bad))


def describe(runs: Mapping[str, Sequence[int]]) -> str:
    """``M=3 runs`` (of one model, or of each of several), else ``M: a 3, b 2``."""
    counts = {len(r) for r in runs.values()}
    if len(counts) == 1:
        m = counts.pop()
        return f"M={m} run{'s' if m != 1 else ''}" + (" per model" if len(runs) > 1 else "")
    return "M: " + ", ".join(f"{model} {len(r)}" for model, r in runs.items())
