"""What every page shares: resources loaded once per process (st.cache_resource), cached
queries (st.cache_data), the login guard and the sidebar filters.

Session-state keys (tests set ``AUTH_KEY`` to log in inside AppTest):

- ``auth_token``: the bearer token from ``core.auth.authenticate``;
- ``filter_dates``: ``(start, end)`` dates of the shared date range;
- ``filter_channel``: a channel name or ``"all"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from core import auth
from core.config import Settings, get_settings
from core.dashboard_queries import ensure_message_search
from core.db import make_engine, session_factory, session_scope
from core.errors import SupportloopError
from core.models import CHANNELS

AUTH_KEY = "auth_token"
DATES_KEY = "filter_dates"
CHANNEL_KEY = "filter_channel"
DEFAULT_DAYS = 30
CACHE_TTL_S = get_settings().dashboard_cache_seconds


@st.cache_resource(show_spinner=False)
def database():
    """The engine and session factory of the configured database (one per process)."""
    engine = make_engine(get_settings().database_url)
    ensure_message_search(engine)
    return engine, session_factory(engine)


@st.cache_resource(show_spinner="Loading the embedding model...")
def _settings_embedder():
    from core.embeddings import get_embedder

    return get_embedder(get_settings())


def embedder():
    """The embedder production serves: a promoted embedding model when an experiment promoted
    one, else the settings' model (each loaded once per process)."""
    from core.experiments import production_embedder

    with session() as s:
        return production_embedder(s, get_settings(), base=_settings_embedder)


@st.cache_resource(show_spinner=False)
def index_cache():
    """The loaded FAISS index of the active KB version (reloaded when the active version changes)."""
    from core.kb_index import IndexCache

    return IndexCache()


@st.cache_resource(show_spinner="Loading the PII scrubber...")
def scrubber():
    """The PII scrubber (spaCy + Presidio), loaded on first use only."""
    from core.pii import get_scrubber

    return get_scrubber(get_settings())


def settings() -> Settings:
    return get_settings()


def session() -> Session:
    """A plain session for reads (use ``with session() as s:``)."""
    return database()[1]()


@contextmanager
def transaction() -> Iterator[Session]:
    """One write transaction: commits at the end, rolls back on error."""
    with session_scope(database()[1]) as s:
        yield s


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _cached(key: str, _fn: Callable[..., Any], **kwargs: Any) -> Any:
    with session() as s:
        return _fn(s, **kwargs)


def query(fn: Callable[..., Any], **kwargs: Any) -> Any:
    """``fn(session, **kwargs)`` cached for a minute (keyword arguments form the cache key)."""
    return _cached(f"{fn.__module__}.{fn.__qualname__}@{get_settings().database_url}", fn, **kwargs)


def refresh_data() -> None:
    """Forget cached query results (after a write, or when the user asks)."""
    _cached.clear()


def run_action(label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any | None:
    """Run a write ``fn(session, *args, **kwargs)`` in one transaction; show core errors as messages."""
    try:
        with transaction() as s:
            result = fn(s, *args, **kwargs)
    except SupportloopError as exc:
        st.error(f"{label} failed: {exc}")
        return None
    refresh_data()
    return result


# --- login -----------------------------------------------------------------------------
def current_user() -> auth.CurrentUser | None:
    """The logged-in user of this browser session, or None (unknown or expired login)."""
    token = st.session_state.get(AUTH_KEY)
    if not token:
        return None
    with session() as s:
        user = auth.current_user(s, token)
    if user is None:
        st.session_state.pop(AUTH_KEY, None)
    return user


def login_required(permission: str = "view") -> auth.CurrentUser:
    """The current user when they hold ``permission``; otherwise show why and stop the page."""
    user = current_user()
    if user is None:
        st.warning("Please log in to see this page.", icon=":material/lock:")
        st.stop()
    if not user.can(permission):
        st.error(f"You are logged in as a {user.role}; this page needs the '{permission}' right.",
                 icon=":material/block:")
        st.stop()
    return user


# --- shared filters --------------------------------------------------------------------
@dataclass(frozen=True)
class Filters:
    start: dt.date
    end: dt.date
    channel: str | None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time())

    @property
    def until(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time())


def default_dates() -> tuple[dt.date, dt.date]:
    end = dt.datetime.now(dt.UTC).date()
    return end - dt.timedelta(days=DEFAULT_DAYS - 1), end


def filters() -> Filters:
    """The shared date range and channel (defaults: the last 30 days, every channel)."""
    dates = st.session_state.get(DATES_KEY) or default_dates()
    if not isinstance(dates, list | tuple) or len(dates) != 2:  # half-picked range
        dates = (dates[0], dates[0]) if dates else default_dates()
    channel = st.session_state.get(CHANNEL_KEY, "all")
    return Filters(dates[0], dates[1], None if channel in (None, "all") else channel)


def sidebar_filters() -> None:
    """Render the shared filters in the sidebar (the router calls this once per run)."""
    st.session_state.setdefault(DATES_KEY, default_dates())
    st.session_state.setdefault(CHANNEL_KEY, "all")
    st.sidebar.date_input("Date range", key=DATES_KEY, format="YYYY-MM-DD")
    st.sidebar.selectbox("Channel", ["all", *CHANNELS], key=CHANNEL_KEY)


def show_error(exc: SupportloopError) -> None:
    st.error(str(exc), icon=":material/error:")


def score_column(label: str, fmt: str = "%.2f"):
    """A 0-1 score shown as a bar in st.dataframe."""
    return st.column_config.ProgressColumn(label, min_value=0, max_value=1, format=fmt)


def link(page: str, label: str, icon: str | None = None) -> None:
    """A link to another page; a caption when the page is not in the navigation (a page tested alone)."""
    try:
        st.page_link(page, label=label, icon=icon)
    except Exception:  # noqa: BLE001 - StreamlitPageNotFoundError and friends
        st.caption(f"{icon or ''} {label}: see the sidebar")
