"""Widgets and filters every page shares: the sidebar date range and channel, error
messages, score columns and links between pages (UI only, no queries)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import streamlit as st

from core.platform.errors import SupportloopError
from core.platform.models import CHANNELS
from pages.format import plain

DATES_KEY = "filter_dates"
CHANNEL_KEY = "filter_channel"
DEFAULT_DAYS = 30


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
    st.sidebar.selectbox("Channel", ["all", *CHANNELS], key=CHANNEL_KEY,
                         format_func=lambda c: "All channels" if c == "all" else plain(c))


def show_error(exc: SupportloopError) -> None:
    st.error(str(exc), icon=":material/error:")


def score_column(label: str, fmt: str = "%.2f"):
    """A 0-1 score shown as a bar in st.dataframe."""
    return st.column_config.ProgressColumn(label, min_value=0, max_value=1, format=fmt)


def link(page: str, label: str, icon: str | None = None, query_params: dict | None = None) -> None:
    """A link to another page (with ``query_params``, e.g. the conversation to open); a caption
    when the page is not in the navigation (a page tested alone)."""
    try:
        st.page_link(page, label=label, icon=icon, query_params=query_params)
    except Exception:  # noqa: BLE001 - StreamlitPageNotFoundError and friends
        st.caption(f"{icon or ''} {label}: see the sidebar")
