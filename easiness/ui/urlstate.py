"""Widgets bound to the URL's query parameters, so a copied URL reopens the same view.

Every view-defining widget has a key that is also its query parameter. Before a bound widget is
drawn, its value is decided in this order: the widget's own value from the previous rerun (if
still valid: options change when another study is chosen), the URL's value on the first run
that sees the key, the value last chosen on another page, the default. An invalid URL value
(a study that is not in the listing, a checkpoint out of range) falls back with a notice drawn
where the widget is. After the widget is drawn its value is written back to the URL, defaults
included, so a link never depends on what the defaults happen to be when it is opened.

Why not Streamlit's own ``bind="query-params"``: it drops values equal to the default from the
URL (a study still being written changes its default checkpoint) and ignores invalid values
silently, and the issue asks for a notice.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence, TypeVar

import streamlit as st

T = TypeVar("T")
Explain = Callable[[str], "str | None"]
_MEMORY = "_view_memory"  # session_state: key -> the value last chosen, across pages


def decide(key: str, options: Sequence[T], default: T, *, parse: Callable[[str], T | None],
           what: str, fmt: Callable[[T], str] = str, explain: Explain | None = None) -> T:
    """Put the value the widget ``key`` starts from into ``st.session_state`` and return it.

    explain: why a value from the URL is not an option (a damaged study, say), for the notice;
    None (or a None answer) keeps the generic "which this view does not have"."""
    state = st.session_state
    remembered = state.setdefault(_MEMORY, {}).get(key)
    fallback = remembered if remembered in options else default
    if key in state:
        value = state[key] if state[key] in options else fallback
    else:
        value = _from_url(key, options, fallback, parse=parse, what=what, fmt=fmt, explain=explain)
    state[key] = value
    return value


def _from_url(key: str, options: Sequence[T], fallback: T, *, parse: Callable[[str], T | None],
              what: str, fmt: Callable[[T], str], explain: Explain | None = None) -> T:
    """The URL's value for ``key`` if it names a valid option; else ``fallback`` (with a notice
    when the URL had a value)."""
    raw = st.query_params.get(key)
    if raw is None:
        return fallback
    value = _safe_parse(parse, raw)
    if value is not None and value in options:
        return value
    reason = (explain(raw) if explain else None) or "this view does not have"
    st.warning(f"The link asks for {what} {raw!r}, which {reason}; showing {fmt(fallback)} instead.",
               icon=":material/warning:")
    return fallback


def _safe_parse(parse: Callable[[str], T | None], raw: str) -> T | None:
    """``parse(raw)``, or None when it raises."""
    try:
        return parse(raw)
    except (TypeError, ValueError):
        return None


def publish(key: str, value: Any, fmt: Callable[[Any], str] = str) -> None:
    """Remember ``value`` across pages and write it to the URL (only when it changed)."""
    st.session_state.setdefault(_MEMORY, {})[key] = value
    text = fmt(value)
    if st.query_params.get(key) != text:
        st.query_params[key] = text


def forget(key: str) -> None:
    """Drop ``key`` from the URL (a view that does not use it)."""
    if key in st.query_params:
        del st.query_params[key]


def select(label: str, options: Sequence[T], *, key: str, default: T, what: str,
           parse: Callable[[str], T | None], fmt: Callable[[T], str] = str,
           format_func: Callable[[T], str] | None = None, help: str | None = None,
           explain: Explain | None = None) -> T:
    """A selectbox bound to the query parameter ``key`` (``explain`` as for :func:`decide`)."""
    decide(key, options, default, parse=parse, what=what, fmt=fmt, explain=explain)
    value = st.selectbox(label, options, key=key, format_func=format_func or fmt, help=help)
    publish(key, value, fmt)
    return value


def int_slider(label: str, low: int, high: int, *, key: str, default: int, what: str,
               format: str | None = None, help: str | None = None) -> int:
    """An integer slider bound to ``key``; a caption instead when ``low == high``."""
    value = decide(key, range(low, high + 1), default, parse=int, what=what)
    if low < high:
        value = st.slider(label, low, high, key=key, format=format, help=help)
    else:
        st.caption(f"{label}: {value} (the only one)")
    publish(key, value)
    return int(value)


def text(label: str, *, key: str, valid: Callable[[str], bool], what: str,
         placeholder: str = "", help: str | None = None) -> str:
    """A text input bound to ``key``; a value that ``valid`` rejects is cleared with a notice."""
    state = st.session_state
    if key not in state:
        raw = st.query_params.get(key, "")
        if raw and not valid(raw):
            st.warning(f"The link asks for {what} {raw!r}, which this study does not have.", icon=":material/warning:")
            raw = ""
        state[key] = raw
    value = st.text_input(label, key=key, placeholder=placeholder, help=help).strip()
    if value:
        publish(key, value)
    else:
        forget(key)
    return value
