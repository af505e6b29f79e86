"""What every page shares: resources loaded once per process (st.cache_resource), cached
queries (st.cache_data) and the login guard. The sidebar filters and small shared widgets
are in pages/widgets.py.

Session-state keys (tests set ``AUTH_KEY`` to log in inside AppTest): ``auth_token``, the
bearer token from ``core.access.auth.authenticate``; pages/widgets.py keeps ``filter_dates`` and
``filter_channel``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy.orm import Session

from core.access import auth
from core.answering.routing import production_embedder
from core.knowledge.index import IndexCache
from core.ops.dashboard import ensure_message_search
from core.platform.actors import Actor
from core.platform.config import Settings, get_settings
from core.platform.db import make_engine, session_factory, session_scope
from core.platform.embeddings import get_embedder
from core.platform.errors import SupportloopError
from core.platform.pii import get_scrubber

AUTH_KEY = "auth_token"
CACHE_TTL_S = get_settings().dashboard_cache_seconds


@st.cache_resource(show_spinner=False)
def database():
    """The engine and session factory of the configured database (one per process)."""
    engine = make_engine(get_settings().database_url)
    ensure_message_search(engine)
    return engine, session_factory(engine)


@st.cache_resource(show_spinner="Loading the embedding model...")
def _settings_embedder():
    return get_embedder(get_settings())


def embedder():
    """The embedder production serves: a promoted embedding model when an experiment promoted
    one, else the settings' model (each loaded once per process)."""
    with session() as s:
        return production_embedder(s, get_settings(), base=_settings_embedder)


@st.cache_resource(show_spinner=False)
def index_cache():
    """The loaded FAISS index of the active KB version (reloaded when the active version changes)."""
    return IndexCache()


@st.cache_resource(show_spinner="Loading the PII scrubber...")
def scrubber():
    """The PII scrubber (spaCy + Presidio), loaded on first use only."""
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
def current_user() -> Actor | None:
    """The logged-in user of this browser session, or None (unknown or expired login)."""
    token = st.session_state.get(AUTH_KEY)
    if not token:
        return None
    with session() as s:
        user = auth.current_user(s, token)
    if user is None:
        st.session_state.pop(AUTH_KEY, None)
    return user


def login_required(permission: str = "view") -> Actor:
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
