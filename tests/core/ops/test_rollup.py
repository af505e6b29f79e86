"""The incremental roll-up (core.ops.rollup): touched days only, late changes, month splits."""

import datetime as dt

from sqlalchemy import update

from core.ops import metrics
from core.ops.rollup import rollup
from core.platform.clock import FixedClock
from core.platform.models import ConversationOutcome
from tests.factories import make_conversation

NOW = dt.datetime(2026, 3, 18, 12, 0)  # a Wednesday


def day(n: int, hour: int = 10) -> dt.datetime:
    """``n`` days before NOW's date, at ``hour``."""
    return dt.datetime.combine(NOW.date() - dt.timedelta(days=n), dt.time(hour))


def test_csat_arriving_three_days_late_corrects_its_day(session):
    conv = make_conversation(session, at=day(3), csat=None, updated_at=day(3))
    make_conversation(session, at=day(3), csat=5, updated_at=day(3))
    make_conversation(session, at=day(1), csat=5, updated_at=day(1))
    clock = FixedClock(day(0, 9))
    first = rollup(session, clock)
    assert first["full"] and first["days_rebuilt"] == 3
    series = {r["date"]: r for r in metrics.dashboard(session, 7, clock=clock)["series"]}
    d3 = day(3).date().isoformat()
    assert series[d3]["csat_avg"] == 5.0 and series[d3]["csat_responses"] == 1

    # nothing changed: only the day of the newest change is looked at again (the overlap)
    d1 = day(1).date().isoformat()
    assert rollup(session, clock)["ranges"] == [[d1, d1]]

    # the survey answer comes in three days later
    clock.set(day(0, 11))
    session.execute(
        update(ConversationOutcome)
        .where(ConversationOutcome.conversation_id == conv.id)
        .values(csat=1, updated_at=clock.now())
    )
    result = rollup(session, clock)
    assert result["ranges"] == [[d3, d3], [d1, d1]]  # day 2 and today are left alone
    series = {r["date"]: r for r in metrics.dashboard(session, 7, clock=clock)["series"]}
    assert series[d3]["csat_avg"] == 3.0 and series[d3]["csat_responses"] == 2
    assert series[d1]["csat_avg"] == 5.0


def test_new_conversations_after_an_empty_first_rollup_are_picked_up(session):
    clock = FixedClock(NOW)
    assert rollup(session, clock)["days_rebuilt"] == 0
    make_conversation(session, at=day(0), updated_at=NOW)
    assert rollup(session, clock)["days_rebuilt"] == 1
    assert metrics.dashboard(session, 1, clock=clock)["kpis"]["conversations"]["value"] == 1


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
    rollup(session, clock)
    board = metrics.dashboard(session, 100, clock=clock)
    assert {r["intent"]: r["conversations"] for r in board["by_intent"]} == expected
    assert sum(r["conversations"] for r in board["by_model"]) == sum(expected.values())
    assert board["kpis"]["conversations"]["value"] == sum(expected.values())
    sms = metrics.dashboard(session, 100, channel="sms", clock=clock)
    assert sum(r["conversations"] for r in sms["by_intent"]) == 14  # days 0, 3, ..., 39
    # a late change to one day updates its month too
    conv = make_conversation(session, at=day(60), intent="menu", updated_at=NOW)
    rollup(session, clock)
    again = metrics.dashboard(session, 100, clock=clock)
    assert {r["intent"]: r["conversations"] for r in again["by_intent"]}["menu"] == expected["menu"] + 1
    assert conv.id
