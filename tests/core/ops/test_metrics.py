import datetime as dt

import pytest
from sqlalchemy import event, inspect, update

from core.ops import metrics
from core.platform.clock import FixedClock
from core.platform.errors import ValidationError
from core.platform.models import ConversationOutcome
from tests.core.metrics_helpers import make_conversation

NOW = dt.datetime(2026, 3, 18, 12, 0)  # a Wednesday


def day(n: int, hour: int = 10) -> dt.datetime:
    """``n`` days before NOW's date, at ``hour``."""
    return dt.datetime.combine(NOW.date() - dt.timedelta(days=n), dt.time(hour))


def test_definitions_on_one_day(session):
    # 4 closed: 3 contained (one of them with a CSAT of 2), 1 escalated then closed; 1 open
    make_conversation(session, at=day(0), csat=5, booking=True, value=400.0, frt=3, cost=0.02)
    make_conversation(session, at=day(0), csat=2, frt=40, cost=0.02)
    make_conversation(session, at=day(0), down_votes=1, frt=100, cost=0.02)
    make_conversation(session, at=day(0), escalated=True, reason="low_confidence", frt=8, cost=0.02,
                      channel="sms")
    make_conversation(session, at=day(0), status="ai", frt=None, cost=0.0, intent=None, channel="sms")
    clock = FixedClock(NOW)
    assert metrics.rollup(session, clock)["days_rebuilt"] == 1
    board = metrics.dashboard(session, 7, clock=clock)
    k = {name: v["value"] for name, v in board["kpis"].items()}
    assert k["conversations"] == 5
    assert k["containment_rate"] == 0.75  # 3 contained / 4 closed
    assert k["escalation_rate"] == 0.2
    assert k["csat_avg"] == 3.5 and k["csat_responses"] == 2
    assert k["conversion_rate"] == 0.2 and k["booking_value_usd"] == 400.0
    assert k["feedback_rate"] == 0.6  # two CSATs and one down vote
    # successful: the booking, and the contained one with neither a down vote nor a low CSAT
    assert k["successful_outcome_rate"] == 0.2  # only the booking
    assert k["cost_usd"] == 0.08 and k["cost_per_conversation_usd"] == 0.016
    assert k["cost_per_resolution_usd"] == round(0.08 / 3, 4)
    # first response times 3, 8, 40, 100 s: bins (0,5] (5,10] (30,45] (90,120]
    assert 5 < k["frt_p50_s"] <= 10
    assert 90 < k["frt_p90_s"] <= 120
    assert board["csat_distribution"] == {"1": 0, "2": 1, "3": 0, "4": 0, "5": 1}
    assert board["escalations_by_reason"] == [{"reason": "low_confidence", "count": 1}]
    channels = {r["channel"]: r for r in board["by_channel"]}
    assert channels["sms"]["conversations"] == 2 and channels["web"]["conversations"] == 3
    intents = {r["intent"]: r["conversations"] for r in board["by_intent"]}
    assert intents == {"pricing": 4, None: 1}
    models_ = {r["model"]: r["conversations"] for r in board["by_model"]}
    assert models_ == {"extractive": 4, None: 1}
    assert board["series"][-1]["conversations"] == 5 and len(board["series"]) == 7


def test_successful_outcome_follows_the_design(session):
    make_conversation(session, at=day(0), booking=True)  # booked: successful
    make_conversation(session, at=day(0))  # contained, no vote, no CSAT: successful
    make_conversation(session, at=day(0), csat=4)  # contained, CSAT 4: successful
    make_conversation(session, at=day(0), csat=3)  # low CSAT: not
    make_conversation(session, at=day(0), down_votes=2)  # down vote: not
    make_conversation(session, at=day(0), escalated=True)  # handed off: not
    clock = FixedClock(NOW)
    metrics.rollup(session, clock)
    k = metrics.dashboard(session, 1, clock=clock)["kpis"]
    assert k["successful_outcome_rate"]["value"] == 0.5


def test_csat_arriving_three_days_late_corrects_its_day(session):
    conv = make_conversation(session, at=day(3), csat=None, updated_at=day(3))
    make_conversation(session, at=day(3), csat=5, updated_at=day(3))
    make_conversation(session, at=day(1), csat=5, updated_at=day(1))
    clock = FixedClock(day(0, 9))
    first = metrics.rollup(session, clock)
    assert first["full"] and first["days_rebuilt"] == 3
    series = {r["date"]: r for r in metrics.dashboard(session, 7, clock=clock)["series"]}
    d3 = day(3).date().isoformat()
    assert series[d3]["csat_avg"] == 5.0 and series[d3]["csat_responses"] == 1

    # nothing changed: only the day of the newest change is looked at again (the overlap)
    d1 = day(1).date().isoformat()
    assert metrics.rollup(session, clock)["ranges"] == [[d1, d1]]

    # the survey answer comes in three days later
    clock.set(day(0, 11))
    session.execute(
        update(ConversationOutcome)
        .where(ConversationOutcome.conversation_id == conv.id)
        .values(csat=1, updated_at=clock.now())
    )
    result = metrics.rollup(session, clock)
    assert result["ranges"] == [[d3, d3], [d1, d1]]  # day 2 and today are left alone
    series = {r["date"]: r for r in metrics.dashboard(session, 7, clock=clock)["series"]}
    assert series[d3]["csat_avg"] == 3.0 and series[d3]["csat_responses"] == 2
    assert series[d1]["csat_avg"] == 5.0


def test_new_conversations_after_an_empty_first_rollup_are_picked_up(session):
    clock = FixedClock(NOW)
    assert metrics.rollup(session, clock)["days_rebuilt"] == 0
    make_conversation(session, at=day(0), updated_at=NOW)
    assert metrics.rollup(session, clock)["days_rebuilt"] == 1
    assert metrics.dashboard(session, 1, clock=clock)["kpis"]["conversations"]["value"] == 1


def test_change_against_the_previous_period_and_channel_filter(session):
    for _ in range(4):
        make_conversation(session, at=day(2), channel="email")  # this week, contained
    make_conversation(session, at=day(9), channel="email", escalated=True)  # last week
    make_conversation(session, at=day(9), channel="email")
    make_conversation(session, at=day(2), channel="sms", escalated=True)
    clock = FixedClock(NOW)
    metrics.rollup(session, clock)
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
    metrics.rollup(session, clock)
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
    metrics.rollup(session, clock)
    board = metrics.dashboard(session, 14, clock=clock)
    assert sum(w["conversations"] for w in board["weekly"]) == 14
    assert all(w["week_start"] <= NOW.date().isoformat() for w in board["weekly"])


def test_histogram_percentiles_combine():
    a = [0] * metrics.FRT_BINS
    b = [0] * metrics.FRT_BINS
    a[0] = 10  # ten answers within 5 s
    b[6] = 10  # ten answers within 45-60 s
    both = [x + y for x, y in zip(a, b, strict=True)]
    assert metrics.histogram_percentile(a, 0.9) <= 5
    assert 45 < metrics.histogram_percentile(both, 0.9) <= 60
    assert metrics.histogram_percentile([0] * metrics.FRT_BINS, 0.5) is None
    overflow = [0] * metrics.FRT_BINS
    overflow[-1] = 3
    assert metrics.histogram_percentile(overflow, 0.5) == 86400.0


@pytest.mark.parametrize("days, channel", [(0, None), (10_000, None), (7, "carrier-pigeon")])
def test_dashboard_rejects_bad_input(session, days, channel):
    with pytest.raises(ValidationError):
        metrics.dashboard(session, days, channel=channel, clock=FixedClock(NOW))


def test_window_metrics_match_the_rollup(session):
    for i in range(6):
        make_conversation(session, at=NOW - dt.timedelta(minutes=10 * i + 1), csat=3 + (i % 3),
                          escalated=i == 0)
    w = metrics.window_metrics(session, NOW - dt.timedelta(hours=1), NOW)
    clock = FixedClock(NOW)
    metrics.rollup(session, clock)
    k = metrics.dashboard(session, 1, clock=clock)["kpis"]
    for name in ("conversations", "containment_rate", "csat_avg", "frt_p90_s", "cost_usd"):
        assert w[name] == k[name]["value"]
    assert w["closed"] == 6


def test_training_pace(session):
    if not inspect(session.connection()).has_table("training_example"):
        pytest.skip("training_example table not migrated yet")
    from core.platform.models import TrainingExample

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


def test_splits_combine_whole_months_and_partial_days(session):
    intents = ("pricing", "menu", "booking")
    expected = {}
    for n in range(0, 120, 3):  # one conversation every third day for four months
        intent = intents[(n // 3) % 3]
        make_conversation(session, at=day(n), intent=intent, model="gpt" if (n // 3) % 2 else "extractive",
                          channel="sms" if n < 40 else "web")
        if n < 100:
            expected[intent] = expected.get(intent, 0) + 1
    clock = FixedClock(NOW)
    metrics.rollup(session, clock)
    board = metrics.dashboard(session, 100, clock=clock)
    assert {r["intent"]: r["conversations"] for r in board["by_intent"]} == expected
    assert sum(r["conversations"] for r in board["by_model"]) == sum(expected.values())
    assert board["kpis"]["conversations"]["value"] == sum(expected.values())
    sms = metrics.dashboard(session, 100, channel="sms", clock=clock)
    assert sum(r["conversations"] for r in sms["by_intent"]) == 14  # days 0, 3, ..., 39
    months, ranges = metrics._split_periods(dt.date(2025, 12, 9), dt.date(2026, 3, 18))
    assert months == [dt.date(2026, 1, 1), dt.date(2026, 2, 1)]
    assert ranges == [(dt.date(2025, 12, 9), dt.date(2025, 12, 31)),
                      (dt.date(2026, 3, 1), dt.date(2026, 3, 18))]
    assert metrics._split_periods(dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == ([dt.date(2026, 3, 1)], [])
    # a late change to one day updates its month too
    conv = make_conversation(session, at=day(60), intent="menu", updated_at=NOW)
    metrics.rollup(session, clock)
    again = metrics.dashboard(session, 100, clock=clock)
    assert {r["intent"]: r["conversations"] for r in again["by_intent"]}["menu"] == expected["menu"] + 1
    assert conv.id
