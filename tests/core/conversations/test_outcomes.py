"""core.conversations.outcomes: first response time, cost and the successful-outcome rule, kept current."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select

from core.conversations import outcomes
from core.ops.metric_sql import conversation_rows
from core.ops.rollup import rollup
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation, ConversationOutcome, Feedback, Message, MetricBucket

T0 = dt.datetime(2025, 3, 1, 9, 0, 0)


def _conversation(session, status="closed", escalated=False, roles=("user", "assistant")) -> Conversation:
    conv = Conversation(
        channel="web",
        external_user_id="u",
        status=status,
        created_at=T0,
        escalated_at=T0 if escalated else None,
    )
    for i, role in enumerate(roles):
        conv.messages.append(
            Message(
                role=role,
                redacted_content=f"m{i}",
                created_at=T0 + dt.timedelta(seconds=10 * i),
                cost_usd=0.5,
            )
        )
    session.add(conv)
    session.flush()
    return conv


@pytest.mark.parametrize(
    "booked,status,escalated,down,csat,expected",
    [
        (True, "escalated", True, 3, 1, True),  # a booking is always a success
        (False, "closed", False, 0, None, True),  # contained, no complaints
        (False, "closed", False, 0, 4, True),
        (False, "closed", False, 0, 3, False),  # CSAT below 4
        (False, "closed", False, 1, None, False),  # a down vote
        (False, "closed", True, 0, 5, False),  # handed to a human: not contained
        (False, "ai", False, 0, 5, False),  # still open: not contained
    ],
)
def test_successful_outcome_rule(booked, status, escalated, down, csat, expected):
    assert (
        outcomes.is_successful(
            booking_converted=booked,
            status=status,
            escalated_at=T0 if escalated else None,
            down_votes=down,
            csat=csat,
        )
        is expected
    )


def test_first_response_ignores_replies_before_the_customer_speaks():
    pairs = [
        ("assistant", T0),
        ("system", T0),
        ("user", T0 + dt.timedelta(seconds=5)),
        ("user", T0 + dt.timedelta(seconds=8)),
        ("agent", T0 + dt.timedelta(seconds=65)),
    ]
    assert outcomes.first_response(pairs) == T0 + dt.timedelta(seconds=65)
    assert outcomes.first_response_seconds(pairs) == 60
    assert outcomes.first_response_seconds([("user", T0)]) is None


def test_refresh_outcome_creates_the_row(session):
    conv = _conversation(session, roles=("user", "system", "assistant"))
    row = outcomes.refresh_outcome(session, conv, FixedClock(T0))
    assert row.first_response_time_seconds == 20 and row.total_cost_usd == 1.5
    assert conv.first_response_at == T0 + dt.timedelta(seconds=20)
    assert row.successful_outcome and row.updated_at == T0


def test_csat_arriving_later_flips_success(session):
    conv = _conversation(session)
    assert outcomes.refresh_outcome(session, conv).successful_outcome
    assert not outcomes.record_csat(session, conv.id, 2).successful_outcome
    assert outcomes.record_csat(session, conv.id, 5).successful_outcome


def test_booking_makes_an_escalated_conversation_successful(session):
    conv = _conversation(session, status="escalated", escalated=True)
    assert not outcomes.refresh_outcome(session, conv).successful_outcome
    row = outcomes.record_booking(session, conv.id, True, 1250.0)
    assert row.successful_outcome and row.booking_converted and row.booking_value_usd == 1250.0
    row = outcomes.record_booking(session, conv.id, False, None)
    assert not row.successful_outcome and row.booking_value_usd is None


def test_down_vote_breaks_containment_success(session):
    conv = _conversation(session)
    assert not outcomes.set_down_votes(session, conv.id, 1).successful_outcome
    assert outcomes.set_down_votes(session, conv.id, 0).successful_outcome


def test_outcome_changes_are_persisted(session, db):
    conv = _conversation(session)
    outcomes.record_csat(session, conv.id, 3)
    session.commit()
    with db.session() as other:
        row = other.get(Conversation, conv.id).outcome
        assert row.csat == 3 and not row.successful_outcome


@pytest.mark.parametrize("score", [0, 6, 4.5, True, "5"])
def test_csat_must_be_1_to_5(session, score):
    conv = _conversation(session)
    with pytest.raises(ValidationError, match="1 to 5"):
        outcomes.record_csat(session, conv.id, score)


def test_unknown_conversation_and_bad_values(session):
    with pytest.raises(NotFound):
        outcomes.record_csat(session, 424242, 5)
    with pytest.raises(NotFound):
        outcomes.record_booking(session, 424242, True, 10.0)
    conv = _conversation(session)
    with pytest.raises(ValidationError):
        outcomes.record_booking(session, conv.id, True, -5.0)
    with pytest.raises(ValidationError):
        outcomes.set_down_votes(session, conv.id, -1)


# --- one rule: the Python rule and the SQL roll-up agree on the same rows ---------------------
# intent tag: (status, escalated, booked, down votes, CSAT, successful?); booked None = never reported
RULE_CASES = {
    "booked-escalated-unhappy": ("escalated", True, True, 2, 1, True),  # a booking always succeeds
    "booked-closed": ("closed", False, True, 0, None, True),
    "contained": ("closed", False, None, 0, None, True),
    "contained-not-booked": ("closed", False, False, 0, None, True),
    "contained-csat-4": ("closed", False, None, 0, 4, True),
    "contained-csat-5": ("closed", False, False, 0, 5, True),
    "contained-csat-3": ("closed", False, None, 0, 3, False),  # CSAT below 4
    "contained-csat-1": ("closed", False, False, 0, 1, False),
    "contained-down-vote": ("closed", False, None, 1, None, False),  # a down vote
    "contained-down-vote-csat-5": ("closed", False, None, 2, 5, False),
    "escalated-then-closed": ("closed", True, False, 0, 5, False),  # handed off: not contained
    "escalated-open": ("escalated", True, None, 0, None, False),
    "still-open": ("ai", False, None, 0, 4, False),  # not closed: not contained
}


def test_the_python_rule_and_the_sql_rollup_agree(session):
    clock = FixedClock(T0 + dt.timedelta(hours=2))
    for i, (tag, (status, escalated, booked, downs, csat, expected)) in enumerate(RULE_CASES.items()):
        conv = _conversation(session, status=status, escalated=escalated)
        conv.intent, conv.created_at = tag, T0 + dt.timedelta(minutes=i)
        row = outcomes.refresh_outcome(session, conv, clock)
        if booked is not None:
            row = outcomes.record_booking(session, conv.id, booked, 500.0 if booked else None, clock)
        if downs:
            row = outcomes.set_down_votes(session, conv.id, downs, clock)
        if csat is not None:
            row = outcomes.record_csat(session, conv.id, csat, clock)
        rule = outcomes.is_successful(
            booking_converted=bool(row.booking_converted), status=conv.status,
            escalated_at=conv.escalated_at, down_votes=row.down_votes, csat=row.csat,
        )
        assert rule is row.successful_outcome is expected, tag
    # a closed conversation without an outcome row counts as contained with no complaints
    bare = Conversation(channel="web", external_user_id="u", status="closed", intent="no-outcome-row",
                        created_at=T0 + dt.timedelta(minutes=len(RULE_CASES)))
    session.add(bare)
    session.commit()
    python = {tag: case[-1] for tag, case in RULE_CASES.items()}
    python["no-outcome-row"] = outcomes.is_successful(
        booking_converted=False, status="closed", escalated_at=None, down_votes=0, csat=None
    )
    assert python["no-outcome-row"] is True

    # the per-conversation SQL expression the roll-up and the alert windows sum
    conv_rows = conversation_rows(session, T0, T0 + dt.timedelta(days=1), with_dims=False)
    per_conversation = session.execute(select(conv_rows.c.intent, conv_rows.c.is_successful))
    sql = {intent: bool(ok) for intent, ok in per_conversation}
    assert sql == python
    # the roll-up table the dashboard reads
    rollup(session, clock, full=True)
    session.commit()
    buckets = session.execute(
        select(MetricBucket.intent, func.sum(MetricBucket.conversations), func.sum(MetricBucket.successful))
        .group_by(MetricBucket.intent)
    ).all()
    assert {intent: n for intent, n, _ in buckets} == dict.fromkeys(python, 1)
    assert {intent: bool(ok) for intent, _, ok in buckets} == python


def test_down_votes_are_recounted_from_the_votes(session):
    conv = _conversation(session)
    answer = conv.messages[-1]
    for voter, vote in (("a", "down"), ("b", "down"), ("c", "up")):
        session.add(Feedback(message_id=answer.id, conversation_id=conv.id, voter=voter, vote=vote,
                             source="api", created_at=T0, updated_at=T0))
    session.flush()
    # no outcome row yet: it is created with the count
    assert outcomes.recount_down_votes(session, conv.id, clock=FixedClock(T0)) == 2
    row = session.get(ConversationOutcome, conv.id)
    assert row.down_votes == 2 and not row.successful_outcome
    session.execute(delete(Feedback).where(Feedback.vote == "down"))
    later = T0 + dt.timedelta(hours=1)
    assert outcomes.recount_down_votes(session, conv.id, later) == 0
    session.expire_all()
    row = session.get(ConversationOutcome, conv.id)
    assert row.down_votes == 0 and row.successful_outcome and row.updated_at == later
