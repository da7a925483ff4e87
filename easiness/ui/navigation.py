"""The app's pages: one table, so the frame, the page links and the tests agree on them."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import streamlit as st

from easiness.ui import guard, roots, urlstate


@dataclasses.dataclass(frozen=True)
class PageSpec:
    """A page: its script under ``pages/``, its title, icon and URL path (part of a shared link)."""

    script: str
    title: str
    icon: str
    url_path: str
    section: str
    params: tuple[str, ...]  # the query parameters that define this page's view


_STUDY = ("study", "model")
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/start.py", "Studies", ":material/home:", "start", "easiness", ()),
    PageSpec("pages/jobs.py", "Scoring jobs", ":material/play_circle:", "jobs", "easiness", ()),
    PageSpec("pages/runs.py", "Runs", ":material/show_chart:", "runs", "Study", _STUDY),
    PageSpec("pages/examples.py", "Easy & hard examples", ":material/grid_view:", "examples", "Study",
             (*_STUDY, "t", "class", "frac", "example")),
    PageSpec("pages/averaged.py", "Averaged images", ":material/blur_on:", "averaged", "Study",
             (*_STUDY, "t", "class", "frac")),
    PageSpec("pages/matching.py", "Matching rates", ":material/join_inner:", "matching", "Study",
             (*_STUDY, "t", "frac", "points")),
    PageSpec("pages/ground_truth.py", "Ground truth", ":material/verified:", "ground-truth", "Study",
             (*_STUDY, "t", "frac")),
    PageSpec("pages/scores.py", "Difficulty scores", ":material/leaderboard:", "scores", "Study",
             (*_STUDY, "t", "frac", "matrix", "example", "across")),
    PageSpec("pages/compare.py", "Compare scores", ":material/compare_arrows:", "compare", "Study",
             (*_STUDY, "t", "frac", "points", "scores", "column", "easier")),
    PageSpec("pages/ablation.py", "Ablation", ":material/content_cut:", "ablation", "Study", (*_STUDY, "ablation")),
)
VIEW_PARAMS = frozenset(p for spec in PAGES for p in spec.params)


def pages_home() -> Path:
    """The folder that holds ``pages/``: the repository in a clone (or an editable install), the
    package itself once installed (pyproject.toml installs ``pages/`` as ``easiness/pages``)."""
    package = Path(__file__).resolve().parents[1]
    return package if (package / "pages").is_dir() else package.parent


def script_path(spec: PageSpec) -> Path:
    """The absolute path of a page's script: Streamlit resolves relative page paths against the
    main script's folder, which is not the repository when the app starts via ``python -m easiness.app``."""
    return pages_home() / spec.script


def available() -> list[PageSpec]:
    """The pages whose scripts exist (the ablation page ships with the ablation feature)."""
    return [spec for spec in PAGES if script_path(spec).is_file()]


def frame() -> st.Page:
    """The frame around every page: page setup and the navigation; returns the current page."""
    st.set_page_config(page_title="easiness", page_icon=":material/explore:", layout="wide")
    return navigation()


def show(page: st.Page) -> None:
    """Run ``page``; whatever it fails on ends it with a notice, not a traceback (:mod:`guard`)."""
    with guard.notices(roots.runs_root(sys.argv[1:], os.environ)):
        page.run()


def ensure_frame() -> None:
    """Run the page through the frame when Streamlit ran its script without ``app.py``.

    Why: Streamlit runs an app with a ``pages/`` folder in its old multipage mode (each file a
    page, the main script skipped) until the first call of ``st.navigation`` in the process. A
    shared link opened right after the server starts (and every ``AppTest`` page switch) would
    then show the page without the frame. Here the frame is drawn (its ``st.navigation`` turns
    the old mode off for good), the page it resolves for the same URL (the same script) runs
    inside it as it would from ``app.py``, and the frameless run stops. Every page calls this
    before drawing anything. The flag read is Streamlit's own.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the old mode
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        show(frame())
        st.stop()


def navigation() -> st.Page:
    """Register every page with ``st.navigation`` (sections in the sidebar) and return the
    current one, with the URL cleared of view parameters that page does not use (a link then
    names exactly the view it shows)."""
    sections: dict[str, list[st.Page]] = {}
    by_path: dict[str, PageSpec] = {}
    for i, spec in enumerate(available()):
        page = st.Page(script_path(spec), title=spec.title, icon=spec.icon, url_path=spec.url_path, default=i == 0)
        sections.setdefault(spec.section, []).append(page)
        by_path[page.url_path] = spec
    current = st.navigation(sections)
    spec = by_path.get(current.url_path, PAGES[0])
    for key in VIEW_PARAMS - set(spec.params):
        urlstate.forget(key)
    return current
