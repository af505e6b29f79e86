"""core.conversations.retention: raw text older than the retention window is purged; redacted text stays."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.conversations.retention import purge_raw, retention_cutoff
from core.platform import events
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock
from core.platform.errors import PermissionDenied
from core.platform.models import Conversation, Message
from core.platform.statuses import Channel, MessageRole
from tests.factories import ADMIN, REVIEWER

NOW = dt.datetime(2025, 6, 1, 12, 0, 0)


def _messages(session, ages_days: list[float]) -> list[int]:
    conv = Conversation(channel=Channel.SMS, external_user_id="u", created_at=NOW)
    for age in ages_days:
        conv.messages.append(
            Message(
                role=MessageRole.USER,
                raw_content=f"raw {age}",
                redacted_content=f"red {age}",
                created_at=NOW - dt.timedelta(days=age),
            )
        )
    session.add(conv)
    session.flush()
    return [m.id for m in conv.messages]


def test_purge_nulls_only_old_raw_text(session, settings):
    settings.retention_days = 30
    ids = _messages(session, [0, 29.9, 30.1, 400])
    clock = FixedClock(NOW)
    assert retention_cutoff(settings, clock) == NOW - dt.timedelta(days=30)
    assert purge_raw(session, settings, clock, actor=ADMIN) == 2
    session.commit()
    rows = {m.id: m for m in session.scalars(select(Message).execution_options(populate_existing=True))}
    assert [rows[i].raw_content is None for i in ids] == [False, False, True, True]
    assert all(rows[i].redacted_content.startswith("red") for i in ids)
    assert events.recent(session, kind="retention.")[0].details["messages"] == 2


def test_purge_is_repeatable_and_follows_the_clock(session, settings):
    _messages(session, [10, 100])
    clock = FixedClock(NOW)
    assert purge_raw(session, settings, clock, actor=SYSTEM) == 1  # default window: 90 days
    assert purge_raw(session, settings, clock, actor=SYSTEM) == 0
    clock.advance(days=81)
    assert purge_raw(session, settings, clock, actor=SYSTEM) == 1
    assert len(events.recent(session, kind="retention.purged")) == 2


def test_purging_needs_the_run_jobs_right(session, settings):
    ids = _messages(session, [400])
    with pytest.raises(PermissionDenied, match="run_jobs"):
        purge_raw(session, settings, FixedClock(NOW), actor=REVIEWER)
    assert session.get(Message, ids[0]).raw_content == "raw 400"
