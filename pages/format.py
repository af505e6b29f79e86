"""Plain words for the pages: status words as people say them, times in the admin's time zone to
the minute, and dicts or records as table rows (never raw JSON). UI only, no queries. E.g.
``st.dataframe(table(rows, {"created_at": "Started", "status": "Status"}), hide_index=True)``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import streamlit as st

from core.platform.config import get_settings

NONE = "–"
# internal words -> plain words (every other word: underscores to spaces, first letter capital)
PLAIN = {
    "ai": "Answered by the assistant", "escalated": "Handed to a person", "closed": "Closed",
    "pending_approval": "Waiting for approval", "pending": "Waiting", "risky_draft": "Risky draft",
    "presend": "Held draft (not sent yet)", "review": "Answer to review", "open": "Open",
    "down_vote": "Down vote", "low_csat": "Low CSAT", "low_confidence": "Low confidence",
    "stale_chunk": "Outdated KB content", "flagged": "Flagged", "escalation": "Handed to a person",
    "edited": "Edited and approved", "validating_files": "Checking files", "kb_version": "KB version",
    "chat_model": "Chat model", "embedding_model": "Embedding model", "rolled_back": "Rolled back",
    "approved_answer": "Approved answer", "kb_refresh": "KB refresh", "dataset_build": "Dataset build",
    "sms": "SMS", "csat": "CSAT", "user": "Customer", "assistant": "Assistant", "agent": "Agent",
    "up": "Thumbs up", "down": "Thumbs down", "usd": "USD", "frt": "First response time",
}


# words written in capitals wherever they appear in a key ("kb_prune" -> "KB prune")
ACRONYMS = {w.lower(): w for w in ("KB", "CSAT", "SMS", "PII", "API", "URL", "IP", "SLA", "JSONL", "FAQ")}

WORD_COLUMNS = {"status", "kind", "channel", "intent", "role", "reason", "state", "severity", "source"}


def plain(word: Any) -> str:
    """``word`` (a status, kind, reason or key) in plain words: ``pending_approval`` -> "Waiting
    for approval", ``flagged:abuse`` -> "Flagged: abuse", ``containment_rate`` -> "Containment rate"."""
    text = "" if word is None else str(word.value if isinstance(word, Enum) else word)
    if not text:
        return NONE
    if ":" in text:  # "intent:booking", "flagged:profanity"
        head, _, tail = text.partition(":")
        return f"{plain(head)}: {tail.replace('_', ' ')}"
    if text.lower() in PLAIN:
        return PLAIN[text.lower()]
    spaced = " ".join(ACRONYMS.get(w.lower(), w) for w in text.replace("_", " ").split())
    return spaced[:1].upper() + spaced[1:]


def plain_list(words: Iterable[Any]) -> str:
    """Several words in plain words, comma-separated (a reason list)."""
    return ", ".join(plain(w) for w in words) or NONE


def local_zone() -> ZoneInfo:
    """The admin's time zone: the browser's (st.context.timezone), else the ``timezone`` setting."""
    for name in (getattr(st.context, "timezone", None), get_settings().timezone, "UTC"):
        if isinstance(name, str) and name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def when(value: dt.datetime | dt.date | str | None, *, zone: bool = False) -> str:
    """A time as ``2026-12-06 14:05`` in the admin's time zone (a date as ``2026-12-06``);
    ``zone`` adds the zone's abbreviation."""
    if value is None or value == "" or value is pd.NaT:
        return NONE
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    value = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    if not isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d}"
    local = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(local_zone())  # naive: UTC
    return f"{local:%Y-%m-%d %H:%M}" + (f" {local:%Z}" if zone else "")


def number(v: float) -> str:
    """A number as people read it: 12,345 · 12.5 · 0.123."""
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) < 1:
        return f"{v:.3g}"
    return f"{v:,.2f}".rstrip("0").rstrip(".")


def value(v: Any) -> str:
    """Any value as table text: times to the minute, yes/no, rounded numbers, lists and dicts as
    short phrases (never JSON), status words in plain words."""
    if v is None or (isinstance(v, float) and v != v):
        return NONE
    if isinstance(v, dt.datetime | dt.date | pd.Timestamp):
        return when(v)
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return number(v)
    if isinstance(v, Mapping):
        return "; ".join(f"{plain(k)}: {value(x)}" for k, x in v.items()) or NONE
    if isinstance(v, list | tuple | set | frozenset):
        return ", ".join(value(x) for x in v) or NONE
    return plain(v) if isinstance(v, Enum) or (isinstance(v, str) and v.lower() in PLAIN) else str(v)


def dict_rows(d: Mapping[str, Any] | None, *, key: str = "What", val: str = "Value") -> list[dict[str, str]]:
    """A dict (statistics, a report, a job summary) as table rows; nested dicts flattened as
    "Outer · inner". Show with ``st.dataframe(dict_rows(d), hide_index=True)`` or :func:`show_dict`."""
    rows: list[dict[str, str]] = []
    for k, v in (d or {}).items():
        if isinstance(v, Mapping) and v:
            rows += [{key: f"{plain(k)} · {r[key]}", val: r[val]} for r in dict_rows(v, key=key, val=val)]
        else:
            rows.append({key: plain(k), val: value(v)})
    return rows


def table(records: Iterable[Any], columns: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Records (dicts or dataclasses) as a DataFrame of plain text: ``columns`` picks and names
    the columns in order (default: every key, in plain words); values through :func:`value`
    (ids stay bare numbers; status, kind, channel, intent ... columns in plain words)."""
    dicts = [r if isinstance(r, Mapping) else vars(r) for r in records]
    if columns is None:
        keys = list(dict.fromkeys(k for r in dicts for k in r))
        columns = {k: plain(k) for k in keys}
    def cell(k: str, v: Any) -> str:
        if isinstance(v, int) and not isinstance(v, bool) and (k == "id" or k.endswith("_id")):
            return str(v)
        return plain(v) if isinstance(v, str) and k in WORD_COLUMNS else value(v)

    return pd.DataFrame([{label: cell(k, r.get(k)) for k, label in columns.items()} for r in dicts],
                        columns=list(columns.values()))


def show_dict(d: Mapping[str, Any] | None, empty: str = "Nothing recorded yet.") -> None:
    """Show a dict as a two-column table (or ``empty`` as a caption)."""
    rows = dict_rows(d)
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch") if rows else st.caption(empty)
