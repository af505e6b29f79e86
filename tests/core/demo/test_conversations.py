"""core.demo.conversations: the deterministic demo conversations of core.demo.business."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from core.demo.business import DAYS, SIZES
from core.demo.conversations import generate_conversations
from core.platform.errors import ValidationError
from core.platform.statuses import Channel

NOW = dt.datetime(2025, 6, 15, 18, 30)
SEED = 11


def test_generator_is_deterministic_and_seeded():
    a = generate_conversations("small", SEED, NOW)
    assert a == generate_conversations("small", SEED, NOW)
    assert a != generate_conversations("small", SEED + 1, NOW)
    assert len(a) == SIZES["small"]


def test_generated_conversations_are_realistic():
    convs = generate_conversations("full", SEED, NOW)
    assert len(convs) == SIZES["full"] == 2700
    assert {c.channel for c in convs} == set(Channel)
    start = NOW - dt.timedelta(days=DAYS)
    for c in convs:
        assert 2 <= len(c.messages) <= 8
        assert c.messages[0].role == "user"
        times = [m.created_at for m in c.messages]
        assert start <= c.created_at <= times[0] and times == sorted(times) and times[-1] <= NOW
        if c.status == "escalated":
            assert c.escalated_at and c.closed_at is None and c.assigned_agent and c.escalation_reason
        if c.escalated_at:
            assert any(m.role == "agent" for m in c.messages)
        if c.outcome.booking_converted:
            assert c.outcome.booking_value_usd >= 600
    n = len(convs)
    assert 0.12 <= sum(c.outcome.booking_converted for c in convs) / n <= 0.20
    assert 0.08 <= sum(1 for c in convs if c.escalated_at) / n <= 0.25
    assert sum(c.status == "closed" for c in convs) / n > 0.9
    csat = Counter(c.outcome.csat for c in convs if c.outcome.csat)
    assert csat[5] + csat[4] > 3 * (csat[1] + csat[2] + csat[3]) > 0
    # weekends busier than mid-week, evenings (Pacific) busier than mornings, growth over time
    local = [c.created_at - dt.timedelta(hours=7) for c in convs]
    by_day = Counter(t.weekday() for t in local)
    assert by_day[5] + by_day[6] > by_day[1] + by_day[2]
    hours = Counter(t.hour for t in local)
    assert sum(hours[h] for h in range(18, 22)) > 2 * sum(hours[h] for h in range(6, 10))
    first_month = sum(1 for c in convs if c.created_at < start + dt.timedelta(days=30))
    last_month = sum(1 for c in convs if c.created_at >= NOW - dt.timedelta(days=30))
    assert last_month > 1.3 * first_month
    # assistant messages carry model metadata and cost
    ai = [m for c in convs for m in c.messages if m.role == "assistant"]
    assert all(m.model_used and m.cost_usd > 0 and 0 <= m.confidence <= 1 and m.tokens_in for m in ai)


def test_unknown_size():
    with pytest.raises(ValidationError, match="small, full"):
        generate_conversations("huge", 1, NOW)
