"""Blocks of the runs page: how each run trained, and how it was configured. Text from the
manifests (a failure's reason, the command line in the provenance) is shown with paths relative
to the runs root, the study's parent folder."""

from __future__ import annotations

import json
import numbers
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from easiness.store import Study
from easiness.ui import charts, roots, tables


def accuracy_chart(manifests: list[dict]) -> None:
    """Train and test accuracy over epochs, one line per run and split (``manifests``: the
    model's runs, from ``study.runs(model)``)."""
    frame = tables.accuracy([m["history"] for m in manifests], [m["run"] for m in manifests])
    if frame.empty:
        st.info("No epoch has finished yet.")
        return
    st.altair_chart(charts.accuracy(frame), width="stretch")


def runs_table(study: Study, manifests: list[dict]) -> None:
    """One row per run: seed, status, checkpoints, last accuracies, the reason of a failure."""
    frame = tables.runs(manifests)
    frame["reason"] = frame["reason"].map(lambda text: _redacted(text, study))
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"train accuracy": st.column_config.NumberColumn(format="%.3f"),
                                "test accuracy": st.column_config.NumberColumn(format="%.3f")})


def models_summary(study: Study) -> None:
    """Every model side by side: runs, checkpoints and final test accuracy (mean ± std)."""
    rows = []
    for model in study.models:
        histories = study.history(model)
        finals = [h[-1].get("test_accuracy") for h in histories if h]
        finals = [a for a in finals if isinstance(a, numbers.Real) and not isinstance(a, bool)]
        rows.append({"model": model, "runs": len(histories), "checkpoints": len(study.checkpoints(model)),
                     "test accuracy": f"{np.mean(finals):.3f} ± {np.std(finals):.3f}" if finals else "n/a"})
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


def config_and_provenance(study: Study, manifests: list[dict]) -> None:
    """The resolved config and the provenance of the first run (and where other runs differ)."""
    first = manifests[0]
    left, right = st.columns(2)
    with left.expander("Config (saved with every run)", expanded=True):
        st.json(readable(_redacted(first.get("config", {}), study)))
        st.caption(f"{milestones_note(first.get('config', {}))}Numbers are rounded here; the run's "
                   "manifest.json keeps them exact.")
    with right.expander("Provenance: versions, commit, machine", expanded=True):
        st.json(readable(_redacted(first.get("provenance", {}), study)))
    differing = [m["run"] for m in manifests[1:] if not _same(m, first)]
    if differing:
        st.warning(f"Runs {differing} were made with a different config or code version than run {first['run']}.")
    dataset = roots.redact(study.dataset, study.root.parent)
    st.caption(f"Dataset {dataset} · fingerprint `{study.fingerprint[:16]}…` · study folder `{study.root.name}`")


def _redacted(value: Any, study: Study) -> Any:
    """``value`` (JSON) with every string's paths made relative to the runs root."""
    if isinstance(value, str):
        return roots.redact(value, study.root.parent)
    if isinstance(value, dict):
        return {k: _redacted(v, study) for k, v in value.items()}
    if isinstance(value, list):
        return [_redacted(v, study) for v in value]
    return value


def readable(value: Any, *, digits: int = 3) -> Any:
    """``value`` (JSON) with every float rounded for people: ``digits`` significant digits below
    1 (0.8333333333333334 -> 0.833, 0.0001 stays), ``digits`` decimals from 1 on (123.4567 ->
    123.457). Only what is shown: the stored config is not touched."""
    if isinstance(value, float) and np.isfinite(value):
        return float(f"{value:.{digits}g}") if abs(value) < 1 else round(value, digits)
    if isinstance(value, dict):
        return {k: readable(v, digits=digits) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v, digits=digits) for v in value]
    return value


def milestones_note(config: dict) -> str:
    """Where the learning rate drops, in epochs (the config stores fractions of the epochs), as a
    sentence; empty when the config does not say."""
    fractions, epochs = config.get("lr_milestones"), config.get("epochs")
    if not isinstance(fractions, list) or not fractions or not all(_real(x) for x in [*fractions, epochs]):
        return ""
    at = ", ".join(f"{f * epochs:.3g}" for f in fractions)
    return f"lr_milestones are fractions of the {epochs:g} epochs (here {at} epochs in). "


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _same(a: dict, b: dict) -> bool:
    """Whether two runs share config and code version (git commit, easiness version)."""
    keys = ("git_commit", "easiness")
    prov_a, prov_b = a.get("provenance", {}), b.get("provenance", {})
    return (json.dumps(a.get("config"), sort_keys=True) == json.dumps(b.get("config"), sort_keys=True)
            and all(prov_a.get(k) == prov_b.get(k) for k in keys))
