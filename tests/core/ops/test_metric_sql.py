"""The metric definitions (core.ops.metric_sql): what each KPI counts, on rows with known outcomes."""

import datetime as dt

from core.ops import metrics
from core.ops.metric_sql import histogram_percentile, window_metrics
from core.ops.rollup import rollup
from core.platform.clock import FixedClock
from core.platform.models import FRT_BINS
from tests.factories import make_conversation

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
    assert rollup(session, clock)["days_rebuilt"] == 1
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
    assert k["cost_per_resolution_usd"] == 0.026667  # micro-dollars
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
    rollup(session, clock)
    k = metrics.dashboard(session, 1, clock=clock)["kpis"]
    assert k["successful_outcome_rate"]["value"] == 0.5


def test_histogram_percentiles_combine():
    a = [0] * FRT_BINS
    b = [0] * FRT_BINS
    a[0] = 10  # ten answers within 5 s
    b[6] = 10  # ten answers within 45-60 s
    both = [x + y for x, y in zip(a, b, strict=True)]
    assert histogram_percentile(a, 0.9) <= 5
    assert 45 < histogram_percentile(both, 0.9) <= 60
    assert histogram_percentile([0] * FRT_BINS, 0.5) is None
    overflow = [0] * FRT_BINS
    overflow[-1] = 3
    assert histogram_percentile(overflow, 0.5) == 86400.0


def test_window_metrics_match_the_rollup(session):
    for i in range(6):
        make_conversation(session, at=NOW - dt.timedelta(minutes=10 * i + 1), csat=3 + (i % 3),
                          escalated=i == 0)
    w = window_metrics(session, NOW - dt.timedelta(hours=1), NOW)
    clock = FixedClock(NOW)
    rollup(session, clock)
    k = metrics.dashboard(session, 1, clock=clock)["kpis"]
    for name in ("conversations", "containment_rate", "csat_avg", "frt_p90_s", "cost_usd"):
        assert w[name] == k[name]["value"]
    assert w["closed"] == 6
