"""Reading the metrics (core.ops.metrics): dashboard figures from the roll-up tables, the training pace."""

import datetime as dt

import pytest
from sqlalchemy import event

from core.ops import metrics
from core.ops.rollup import rollup
from core.platform.clock import FixedClock
from core.platform.errors import ValidationError
from core.platform.models import TrainingExample
from tests.factories import make_conversation

NOW = dt.datetime(2026, 3, 18, 12, 0)  # a Wednesday


def day(n: int, hour: int = 10) -> dt.datetime:
    """``n`` days before NOW's date, at ``hour``."""
    return dt.datetime.combine(NOW.date() - dt.timedelta(days=n), dt.time(hour))


def test_change_against_the_previous_period_and_channel_filter(session):
    for _ in range(4):
        make_conversation(session, at=day(2), channel="email")  # this week, contained
    make_conversation(session, at=day(9), channel="email", escalated=True)  # last week
    make_conversation(session, at=day(9), channel="email")
    make_conversation(session, at=day(2), channel="sms", escalated=True)
    clock = FixedClock(NOW)
    rollup(session, clock)
    board = metrics.dashboard(session, 7, channel="email", clock=clock)
    cont = board["kpis"]["containment_rate"]
    assert cont["value"] == 1.0 and cont["previous"] == 0.5 and cont["change"] == 0.5
    assert cont["change_pct"] == 1.0
    assert board["kpis"]["conversations"]["value"] == 4
    assert [r["channel"] for r in board["by_channel"]] == ["email"]
    everything = metrics.dashboard(session, 7, clock=clock)
    assert everything["kpis"]["conversations"]["value"] == 5
    assert everything["kpis"]["containment_rate"]["value"] == 0.8


def test_dashboard_reads_only_rollup_tables(db, session):
    make_conversation(session, at=day(1))
    clock = FixedClock(NOW)
    rollup(session, clock)
    session.flush()
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement.lower())

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        metrics.dashboard(session, 30, clock=clock)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    data = [s for s in statements if "metric_" in s or " from " in s]
    assert data, statements
    for s in data:
        for raw in (" conversation ", " message ", " conversation_outcome ", "from conversation",
                    "from message", "join message", "join conversation"):
            assert raw not in s.replace('"', " ").replace("\n", " "), s


def test_weekly_series_sums_days(session):
    for n in range(14):
        make_conversation(session, at=day(n))
    clock = FixedClock(NOW)
    rollup(session, clock)
    board = metrics.dashboard(session, 14, clock=clock)
    assert sum(w["conversations"] for w in board["weekly"]) == 14
    assert all(w["week_start"] <= NOW.date().isoformat() for w in board["weekly"])


@pytest.mark.parametrize("days, channel", [(0, None), (10_000, None), (7, "carrier-pigeon")])
def test_dashboard_rejects_bad_input(session, days, channel):
    with pytest.raises(ValidationError):
        metrics.dashboard(session, days, channel=channel, clock=FixedClock(NOW))


def test_training_pace(session):
    for _ in range(3):
        session.add(TrainingExample(question="q", answer="a", source="approved", human_verified=True,
                                    created_at=day(5)))
    session.add(TrainingExample(question="q", answer="a", source="auto", human_verified=False,
                                created_at=day(5)))
    session.flush()
    pace = metrics.training_pace(session, NOW, 200)
    assert pace["approved"] == 3 and pace["quarter_start"] == "2026-01-01"
    assert pace["quarter_end"] == "2026-03-31"
    assert 150 < pace["expected_by_now"] < 200 and pace["behind_by"] > 100
    assert metrics.quarter_end(dt.date(2026, 11, 5)) == dt.date(2027, 1, 1)


def test_split_periods_are_whole_months_and_day_ranges():
    months, ranges = metrics._split_periods(dt.date(2025, 12, 9), dt.date(2026, 3, 18))
    assert months == [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert ranges == [(dt.date(2025, 12, 9), dt.date(2025, 12, 31)),
                      (dt.date(2026, 3, 1), dt.date(2026, 3, 18))]
    assert metrics._split_periods(dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == ([dt.date(2026, 3, 1)], [])
