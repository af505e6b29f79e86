"""The conversation lifecycle: hand-off, close, reopen and the idle close (one meaning everywhere).

- A conversation is **open** while its status is ``ai`` or ``escalated``.
- It was **handed off** when a human agent wrote in it: the first ``agent`` message sets
  ``escalated_at`` (and ``escalation_reason`` "agent replied" when none was given) and the
  status ``escalated``, whatever path the message came through (file import of any format,
  ingest API, chat, OpenAI-compatible route). :func:`handoff_fields` decides it for a whole
  conversation being stored, :func:`note_message` for one message appended; both apply the
  same rule. The responder's own hand-off (a low-confidence answer) goes through
  :func:`hand_off` too.
- It is **closed** explicitly (:func:`close_conversation`: ``POST /api/v1/conversations/{id}/close``
  or ``supportloop conversations close``), with an optional resolution, or by the job runner
  (:func:`close_idle`, task ``conversation_idle_close``) once ``conversation_idle_minutes``
  passed without a message. Closing recomputes the outcome (``core.conversations.outcomes``),
  so a closed conversation without a hand-off counts as contained.
- A new **customer** message on a closed conversation **reopens** it (status back to
  ``escalated`` if it was handed off, else ``ai``; ``closed_at`` and the resolution cleared;
  outcome recomputed). Messages of other roles do not reopen it (an agent's note after closing
  still marks the hand-off). Where a message arrives without a conversation id (the
  OpenAI-compatible route without a thread header) it continues the user's open conversation
  only within the idle window; after it a new conversation starts.

Nothing here commits, except that :func:`close_idle` is called batch by batch by the runner.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.conversations import outcomes
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation, Message
from core.platform.statuses import ConversationStatus, MessageRole

HANDOFF_REASON = "agent replied"
OPEN_STATUSES = (ConversationStatus.AI, ConversationStatus.ESCALATED)
MAX_RESOLUTION_CHARS = 200
IDLE_BATCH = 500  # conversations closed per committed batch of the idle task


# --- hand-off ----------------------------------------------------------------------------
def first_agent_at(messages: Iterable[tuple[str, dt.datetime | None]]) -> tuple[bool, dt.datetime | None]:
    """(whether any message is an agent's, when the first one was sent)."""
    for role, at in messages:
        if role == MessageRole.AGENT:
            return True, at
    return False, None


def handoff_fields(
    status: str,
    escalated_at: dt.datetime | None,
    reason: str | None,
    messages: Iterable[tuple[str, dt.datetime | None]],
    default_at: dt.datetime | None = None,
) -> tuple[str, dt.datetime | None, str | None]:
    """``(status, escalated_at, escalation_reason)`` of a conversation about to be stored with
    ``messages`` (``(role, created_at)`` pairs in order): the first agent message marks the
    hand-off when the source did not (``default_at`` when that message has no time). A given
    ``escalated_at`` and reason are kept; a closed conversation stays closed."""
    has_agent, at = first_agent_at(messages)
    if not has_agent:
        return status, escalated_at, reason
    if escalated_at is None:
        escalated_at = at or default_at
        reason = reason or HANDOFF_REASON
    if status == ConversationStatus.AI:
        status = ConversationStatus.ESCALATED
    return status, escalated_at, reason


def hand_off(conversation: Conversation, at: dt.datetime, reason: str) -> bool:
    """Mark ``conversation`` handed off to a human at ``at`` (idempotent: a conversation handed
    off before keeps its time and reason). An open conversation becomes ``escalated``; a closed
    one stays closed (it no longer counts as contained). Returns whether anything changed."""
    changed = False
    if conversation.escalated_at is None:
        conversation.escalated_at = at
        conversation.escalation_reason = conversation.escalation_reason or reason
        changed = True
    if conversation.status == ConversationStatus.AI:
        conversation.status = ConversationStatus.ESCALATED
        changed = True
    return changed


def note_handoff(conversation: Conversation, message: Message) -> bool:
    """The hand-off rule for one stored message: an ``agent`` message hands the conversation
    off (:func:`hand_off` with reason "agent replied"). Returns whether anything changed."""
    if message.role != MessageRole.AGENT:
        return False
    return hand_off(conversation, message.created_at, HANDOFF_REASON)


def reopen(conversation: Conversation) -> bool:
    """Reopen a closed conversation (a customer wrote again): status ``escalated`` when it was
    handed off, else ``ai``; ``closed_at`` and the resolution cleared."""
    if conversation.status != ConversationStatus.CLOSED:
        return False
    conversation.status = (
        ConversationStatus.ESCALATED if conversation.escalated_at is not None else ConversationStatus.AI
    )
    conversation.closed_at = None
    conversation.resolution = None
    return True


def note_message(conversation: Conversation, message: Message) -> bool:
    """What a newly appended message does to the lifecycle: a customer message reopens a closed
    conversation, an agent message hands it off. The caller refreshes the outcome."""
    changed = False
    if message.role == MessageRole.USER:
        changed = reopen(conversation)
    return note_handoff(conversation, message) or changed


# --- closing ------------------------------------------------------------------------------
def _close(conversation: Conversation, at: dt.datetime, now: dt.datetime, resolution: str | None) -> None:
    conversation.status = ConversationStatus.CLOSED
    conversation.closed_at = at
    conversation.resolution = resolution
    conversation.updated_at = now


def close_conversation(
    session: Session,
    conversation_id: int,
    *,
    actor: Actor,
    resolution: str | None = None,
    channel: str | None = None,
    clock: Clock | None = None,
) -> Conversation:
    """Close one conversation now, with an optional ``resolution`` (up to 200 characters), and
    recompute its outcome. ``actor`` needs the ``review`` right. With ``channel`` (an ingest
    key's channel) a conversation of another channel is reported as unknown (NotFound), so the
    key learns nothing about it. Closing a closed conversation changes nothing (its first close
    time and resolution stay). The caller commits."""
    require(actor, "review")
    if resolution is not None:
        resolution = resolution.strip() or None
        if resolution is not None and len(resolution) > MAX_RESOLUTION_CHARS:
            raise ValidationError(
                f"The resolution is {len(resolution)} characters; the limit is {MAX_RESOLUTION_CHARS}."
            )
    conv = session.get(Conversation, conversation_id)
    if conv is None or (channel is not None and conv.channel != channel):
        raise NotFound(f"Conversation {conversation_id} does not exist; check the id.")
    if conv.status == ConversationStatus.CLOSED:
        return conv
    now = (clock or SystemClock()).now()
    _close(conv, now, now, resolution)
    session.flush()
    outcomes.refresh_outcome(session, conv, clock)
    return conv


def idle_cutoff(settings: Settings, clock: Clock | None = None) -> dt.datetime:
    """Open conversations whose last message is older than this are idle."""
    return (clock or SystemClock()).now() - dt.timedelta(minutes=settings.conversation_idle_minutes)


def close_idle(
    session: Session,
    settings: Settings,
    clock: Clock | None = None,
    *,
    actor: Actor,
    limit: int = IDLE_BATCH,
) -> int:
    """Close up to ``limit`` open conversations that had no message for
    ``settings.conversation_idle_minutes`` (a conversation without messages counts from its
    creation); returns how many. Each is closed at its last message + the idle window (never
    later than now) and its outcome recomputed. ``actor`` needs the ``run_jobs`` right. The
    caller commits; the runner calls it until it closes fewer than ``limit``."""
    require(actor, "run_jobs")
    now = (clock or SystemClock()).now()
    window = dt.timedelta(minutes=settings.conversation_idle_minutes)
    last = (
        select(func.max(Message.created_at))
        .where(Message.conversation_id == Conversation.id)
        .correlate(Conversation)
        .scalar_subquery()
    )
    activity = func.coalesce(last, Conversation.created_at)
    rows = session.execute(
        select(Conversation, activity.label("last_at"))
        .where(Conversation.status.in_(OPEN_STATUSES), activity < now - window)
        .order_by(Conversation.id)
        .limit(limit)
    ).all()
    for conv, last_at in rows:
        _close(conv, min(now, _as_datetime(last_at) + window), now, None)
    session.flush()
    for conv, _ in rows:
        outcomes.refresh_outcome(session, conv, clock)
    return len(rows)


def _as_datetime(value: dt.datetime | str) -> dt.datetime:
    """SQLite returns max() of a DateTime column as text."""
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value
