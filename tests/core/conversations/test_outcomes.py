"""core.conversations.outcomes: first response time, cost and the successful-outcome rule, kept current."""

from __future__ import annotations

import datetime as dt

import pytest

from core.conversations import outcomes
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation, Message

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
