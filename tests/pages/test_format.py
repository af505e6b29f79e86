"""pages/format.py: plain words for status words, times in the admin's time zone to the minute,
dicts and records as table text (never JSON)."""

import datetime as dt

from core.platform.config import get_settings
from core.platform.statuses import ConversationStatus, DatasetStatus
from pages.format import dict_rows, plain, plain_list, table, value, when


def test_internal_words_become_plain_words():
    assert plain(DatasetStatus.PENDING_APPROVAL) == "Waiting for approval"
    assert plain(ConversationStatus.AI) == "Answered by the assistant"
    assert plain("risky_draft") == "Risky draft"
    assert plain("containment_rate") == "Containment rate"
    assert plain("kb_prune") == "KB prune" and plain("pii_scan_url") == "PII scan URL"
    assert plain("flagged:abuse_words") == "Flagged: abuse words"
    assert plain(None) == plain("") == "–"
    assert plain_list(["down_vote", "low_csat"]) == "Down vote, Low CSAT"


def test_times_are_in_the_admins_time_zone_to_the_minute(monkeypatch):
    monkeypatch.setenv("SUPPORTLOOP_TIMEZONE", "America/Chicago")
    get_settings.cache_clear()
    try:
        stored = dt.datetime(2026, 1, 2, 12, 0, 59, 123456)  # naive UTC, as the database keeps it
        assert when(stored) == "2026-01-02 06:00"
        assert when(stored, zone=True) == "2026-01-02 06:00 CST"
        assert when(dt.date(2026, 1, 2)) == "2026-01-02" and when(None) == "–"
    finally:
        get_settings.cache_clear()


def test_dicts_and_records_become_table_text_without_json():
    stats = {"examples": 1234, "left_out": {"pii": 3, "low_rating": 0.25}, "status": "pending_approval",
             "models": ["gpt-4o-mini"], "ok": True}
    rows = dict_rows(stats)
    assert rows == [
        {"What": "Examples", "Value": "1,234"},
        {"What": "Left out · PII", "Value": "3"},
        {"What": "Left out · Low rating", "Value": "0.25"},
        {"What": "Status", "Value": "Waiting for approval"},
        {"What": "Models", "Value": "gpt-4o-mini"},
        {"What": "Ok", "Value": "yes"},
    ]
    assert "{" not in value({"a": {"b": 1}}) and value(12.5) == "12.5" and value(12345.6) == "12,346"
    df = table([{"id": 12345, "status": "ai", "created_at": dt.datetime(2026, 1, 2, 3, 4, 5)}],
               {"id": "#", "status": "Status", "created_at": "Started"})
    assert list(df.columns) == ["#", "Status", "Started"]
    assert df.iloc[0].tolist()[:2] == ["12345", "Answered by the assistant"]
