"""Conversation outcomes: first response time, total cost and the successful-outcome rule.

One meaning per metric (shared/DESIGN.md):

- **First response time** = first assistant or agent message - first customer (user) message.
- **Contained** = closed without a hand-off to a human: status ``closed`` and ``escalated_at`` empty.
- **Successful outcome** = ended in a booking, or contained with no down vote and no CSAT below 4.

The pure functions here are what ``core.conversations.ingest`` uses for bulk writes, and
:func:`is_successful` is the one successful-outcome rule (``core.ops.metrics`` expresses the same
rule in SQL for its roll-ups; a test proves both agree). ``refresh_outcome``, the ``record_*``
functions and :func:`recount_down_votes` keep the stored row current when messages, bookings,
votes or CSAT arrive later. They touch the outcome row only: crediting chunks or queueing
answers for review after a booking, a vote or a CSAT is ``core.learning.loop``'s job. None of
them commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation, ConversationOutcome, Feedback, Message
from core.platform.statuses import ConversationStatus, MessageRole, Vote

CUSTOMER_ROLES = (MessageRole.USER,)
RESPONDER_ROLES = (MessageRole.ASSISTANT, MessageRole.AGENT)


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
    return status == ConversationStatus.CLOSED and escalated_at is None


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
    row.total_cost_usd = round(float(sum(m.cost_usd or 0.0 for m in msgs)), 6)  # micro-dollars
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
) -> ConversationOutcome:
    """Record whether a conversation ended in a booking (and its value), keeping
    successful_outcome current."""
    if value_usd is not None and value_usd < 0:
        raise ValidationError(f"Booking value must be 0 or more, got {value_usd}.")
    conv = _conversation(session, conversation_id)
    row = _outcome_row(session, conv)
    row.booking_converted = bool(converted)
    row.booking_value_usd = value_usd if converted else None
    return refresh_outcome(session, conv, clock)


def record_csat(
    session: Session, conversation_id: int, score: int, clock: Clock | None = None
) -> ConversationOutcome:
    """Record the 1-5 CSAT survey score of a conversation, keeping successful_outcome current."""
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise ValidationError(f"CSAT must be a whole number from 1 to 5, got {score!r}.")
    conv = _conversation(session, conversation_id)
    row = _outcome_row(session, conv)
    row.csat = score
    return refresh_outcome(session, conv, clock)


def set_down_votes(
    session: Session, conversation_id: int, down_votes: int, clock: Clock | None = None
) -> ConversationOutcome:
    """Set how many down votes a conversation's messages have, keeping successful_outcome
    current (:func:`recount_down_votes` counts them from the votes)."""
    if down_votes < 0:
        raise ValidationError(f"Down votes must be 0 or more, got {down_votes}.")
    conv = _conversation(session, conversation_id)
    row = _outcome_row(session, conv)
    row.down_votes = down_votes
    return refresh_outcome(session, conv, clock)


# --- the down-vote recount of the vote path (Core statements, built once) ------------------
_OUT = ConversationOutcome.__table__
_CONV = Conversation.__table__
_FB = Feedback.__table__
_LOCK_OUTCOME = (
    select(_OUT.c.booking_converted, _OUT.c.csat, _CONV.c.status, _CONV.c.escalated_at)
    .select_from(_OUT.join(_CONV, _CONV.c.id == _OUT.c.conversation_id))
    .where(_OUT.c.conversation_id == bindparam("cid"))
    .with_for_update(of=_OUT)
)
_LOCK_CONVERSATION = (
    update(_CONV).where(_CONV.c.id == bindparam("cid")).values(updated_at=_CONV.c.updated_at)
)
_COUNT_DOWNS = (
    select(func.count())
    .select_from(_FB)
    .where(_FB.c.conversation_id == bindparam("cid"), _FB.c.vote == Vote.DOWN)
)
_SET_DOWNS = (
    update(_OUT)
    .where(_OUT.c.conversation_id == bindparam("cid"))
    .values(down_votes=bindparam("downs"), successful_outcome=bindparam("ok"), updated_at=bindparam("now"))
)


def recount_down_votes(
    session: Session, conversation_id: int, now: dt.datetime | None = None, clock: Clock | None = None
) -> int:
    """Recount a conversation's down votes from its votes (never increment) and recompute its
    successful outcome; returns the count.

    Runs under a lock on the outcome row (PostgreSQL ``SELECT ... FOR UPDATE``; on SQLite the
    vote's write already holds the database write lock), so a concurrent vote on the same
    conversation waits, then counts this one too. ``now`` (default: ``clock``'s time) is the
    row's ``updated_at``. Without an outcome row it locks the conversation and creates the row.
    """
    now = now or (clock or SystemClock()).now()
    conn = session.connection()
    cid = conversation_id
    row = conn.execute(_LOCK_OUTCOME, {"cid": cid}).first()
    if row is None:  # no outcome row yet: lock the conversation and create the row
        conn.execute(_LOCK_CONVERSATION, {"cid": cid})
        downs = int(conn.execute(_COUNT_DOWNS, {"cid": cid}).scalar_one())
        set_down_votes(session, cid, downs, clock)
        return downs
    downs = int(conn.execute(_COUNT_DOWNS, {"cid": cid}).scalar_one())
    ok = is_successful(
        booking_converted=bool(row.booking_converted),
        status=row.status,
        escalated_at=row.escalated_at,
        down_votes=downs,
        csat=row.csat,
    )
    conn.execute(_SET_DOWNS, {"cid": cid, "downs": downs, "ok": ok, "now": now})
    return downs
