"""Conversation outcomes: first response time, total cost and the successful-outcome rule.

One meaning per metric (shared/DESIGN.md):

- **First response time** = first assistant or agent message - first customer (user) message.
- **Contained** = closed without a hand-off to a human: status ``closed`` and ``escalated_at`` empty.
- **Successful outcome** = ended in a booking, or contained with no down vote and no CSAT below 4.

The pure functions here are what ``core.conversations.ingest`` uses for bulk writes; ``refresh_outcome`` and
the ``record_*`` functions keep the stored row current when messages, bookings, votes or CSAT
arrive later. None of them commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation, ConversationOutcome, Message

CUSTOMER_ROLES = ("user",)
RESPONDER_ROLES = ("assistant", "agent")


def first_response(messages: Iterable[tuple[str, dt.datetime | None]]) -> dt.datetime | None:
    """When the first assistant/agent message after the first customer message was sent.

    ``messages`` are ``(role, created_at)`` pairs in conversation order.
    """
    first_user: dt.datetime | None = None
    for role, at in messages:
        if at is None:
            continue
        if first_user is None:
            if role in CUSTOMER_ROLES:
                first_user = at
        elif role in RESPONDER_ROLES and at >= first_user:
            return at
    return None


def first_response_seconds(messages: Iterable[tuple[str, dt.datetime | None]]) -> float | None:
    """Seconds from the first customer message to the first assistant/agent reply (None if none)."""
    pairs = list(messages)
    reply = first_response(pairs)
    if reply is None:
        return None
    first_user = next(at for role, at in pairs if role in CUSTOMER_ROLES and at is not None)
    return (reply - first_user).total_seconds()


def is_contained(status: str, escalated_at: dt.datetime | None) -> bool:
    """Closed without a hand-off to a human."""
    return status == "closed" and escalated_at is None


def is_successful(
    *,
    booking_converted: bool,
    status: str,
    escalated_at: dt.datetime | None,
    down_votes: int,
    csat: int | None,
) -> bool:
    """Booked, or contained with no down vote and no CSAT below 4."""
    if booking_converted:
        return True
    return is_contained(status, escalated_at) and not down_votes and (csat is None or csat >= 4)


def _outcome_row(session: Session, conversation: Conversation) -> ConversationOutcome:
    row = conversation.outcome
    if row is None:
        row = ConversationOutcome(
            conversation_id=conversation.id, booking_converted=False, down_votes=0, total_cost_usd=0.0
        )
        conversation.outcome = row
        session.add(row)
    return row


def refresh_outcome(
    session: Session, conversation: Conversation, clock: Clock | None = None
) -> ConversationOutcome:
    """Recompute first response, total cost and successful_outcome of one conversation.

    Creates the outcome row when it does not exist yet; also sets the conversation's
    ``first_response_at``. Call it after anything that changes messages, status, escalation,
    booking, votes or CSAT.
    """
    msgs = list(
        session.execute(
            select(Message.role, Message.created_at, Message.cost_usd)
            .where(Message.conversation_id == conversation.id)
            .order_by(Message.id)
        )
    )
    pairs = [(m.role, m.created_at) for m in msgs]
    conversation.first_response_at = first_response(pairs)
    row = _outcome_row(session, conversation)
    row.first_response_time_seconds = first_response_seconds(pairs)
    row.total_cost_usd = float(sum(m.cost_usd or 0.0 for m in msgs))
    row.successful_outcome = is_successful(
        booking_converted=bool(row.booking_converted),
        status=conversation.status,
        escalated_at=conversation.escalated_at,
        down_votes=row.down_votes or 0,
        csat=row.csat,
    )
    row.updated_at = (clock or SystemClock()).now()
    session.flush()
    return row


def _conversation(session: Session, conversation_id: int) -> Conversation:
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist; check the id.")
    return conv


def record_booking(
    session: Session,
    conversation_id: int,
    converted: bool,
    value_usd: float | None = None,
    clock: Clock | None = None,
    *,
    settings=None,
) -> ConversationOutcome:
    """Record whether a conversation ended in a booking (and its value), keeping
    successful_outcome current. The first time a conversation is booked, the KB chunks its
    answers used are credited with the booking (``core.knowledge.scoring``); repeating the report
    credits nothing more. ``settings`` gives the chunk score's smoothing."""
    if value_usd is not None and value_usd < 0:
        raise ValidationError(f"Booking value must be 0 or more, got {value_usd}.")
    conv = _conversation(session, conversation_id)
    row = _outcome_row(session, conv)
    newly_booked = bool(converted) and not row.booking_converted
    row.booking_converted = bool(converted)
    row.booking_value_usd = value_usd if converted else None
    out = refresh_outcome(session, conv, clock)
    if newly_booked:
        from core.knowledge import scoring

        scoring.record_conversation_feedback(session, conv.id, booked=True, settings=settings, clock=clock)
    return out


def record_csat(
    session: Session, conversation_id: int, score: int, clock: Clock | None = None, *, settings=None
) -> ConversationOutcome:
    """Record the 1-5 CSAT survey score of a conversation, keeping successful_outcome current.
    The KB chunks its answers used are credited with the score once per conversation (a
    changed score replaces the earlier one; the same score again changes nothing)."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError(f"CSAT must be a whole number from 1 to 5, got {score!r}.")
    conv = _conversation(session, conversation_id)
    row = _outcome_row(session, conv)
    previous = row.csat
    row.csat = score
    out = refresh_outcome(session, conv, clock)
    if previous != score:
        from core.knowledge import scoring

        if previous is None:
            scoring.record_conversation_feedback(
                session, conv.id, rating=score, settings=settings, clock=clock
            )
        else:
            scoring.change_conversation_feedback(
                session, conv.id, previous=previous, rating=score, settings=settings, clock=clock
            )
    return out


def set_down_votes(
    session: Session, conversation_id: int, down_votes: int, clock: Clock | None = None
) -> ConversationOutcome:
    """Set how many down votes a conversation's messages have (the feedback code counts them),
    keeping successful_outcome current."""
    if down_votes < 0:
        raise ValidationError(f"Down votes must be 0 or more, got {down_votes}.")
    conv = _conversation(session, conversation_id)
    row = _outcome_row(session, conv)
    row.down_votes = down_votes
    return refresh_outcome(session, conv, clock)
