"""Reading conversations: lists with filters and redacted transcripts for the dashboard, and
the read-back of the API and CLI (:func:`conversation_page`, :func:`conversation_detail`).

The read-back shows redacted text only (never ``raw_content``) and leaves out personal
identifiers (the customer's ``external_user_id``, ``channel_metadata``, the agent's name).
Pages are keyset-paginated on the conversation id, newest stored first: the opaque cursor
holds the last id of the page, so conversations stored meanwhile (higher ids) never shift or
repeat a page.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.platform.errors import NotFound, ValidationError
from core.platform.models import CHANNELS, CONVERSATION_STATUSES, Conversation, ConversationOutcome, Message

MAX_PAGE = 200
DEFAULT_PAGE = 50
_CURSOR_PREFIX = "c1:"


@dataclass
class ConversationRow:
    id: int
    channel: str
    status: str
    created_at: dt.datetime
    messages: int
    intent: str | None
    escalation_reason: str | None
    booked: bool
    csat: int | None
    first_message: str


def list_conversations(
    session: Session,
    *,
    channel: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[ConversationRow]:
    """Conversations newest first with their outcome and first (redacted) customer line."""
    counts = (
        select(Message.conversation_id, func.count().label("n"), func.min(Message.id).label("first_id"))
        .group_by(Message.conversation_id)
        .subquery()
    )
    q = (
        select(Conversation, ConversationOutcome, counts.c.n, Message.redacted_content)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .outerjoin(counts, counts.c.conversation_id == Conversation.id)
        .outerjoin(Message, Message.id == counts.c.first_id)
        .order_by(Conversation.created_at.desc(), Conversation.id.desc())
        .limit(limit)
        .offset(offset)
    )
    if channel:
        q = q.where(Conversation.channel == channel)
    if status:
        q = q.where(Conversation.status == status)
    if since:
        q = q.where(Conversation.created_at >= since)
    rows = []
    for conv, outcome, n, first in session.execute(q):
        rows.append(
            ConversationRow(
                id=conv.id,
                channel=conv.channel,
                status=conv.status,
                created_at=conv.created_at,
                messages=n or 0,
                intent=conv.intent,
                escalation_reason=conv.escalation_reason,
                booked=bool(outcome and outcome.booking_converted),
                csat=outcome.csat if outcome else None,
                first_message=(first or "")[:200],
            )
        )
    return rows


def transcript(session: Session, conversation_id: int, *, raw: bool = False) -> list[dict]:
    """The messages of a conversation, redacted unless ``raw`` (callers audit raw views)."""
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    return [
        {
            "id": m.id,
            "role": m.role,
            "text": (m.raw_content if raw and m.raw_content is not None else m.redacted_content),
            "created_at": m.created_at,
            "pii": m.pii_entity_types,
            "confidence": m.confidence,
        }
        for m in conv.messages
    ]


def count_by_channel(session: Session) -> dict[str, int]:
    q = select(Conversation.channel, func.count()).group_by(Conversation.channel)
    return {ch: n for ch, n in session.execute(q)}


# --- read-back (API and CLI) ----------------------------------------------------------------
@dataclass
class ConversationPage:
    """One page of conversations (newest stored first) and the cursor of the next one."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    """The opaque cursor that continues after conversation ``last_id``."""
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The last id of the previous page; ValidationError for a cursor this API did not give."""
    bad = ValidationError(
        f"cursor {cursor[:60]!r} is not one this API gave out; use the next_cursor of the previous "
        "page, or leave cursor out to start from the newest conversation."
    )
    if not cursor or len(cursor) > 64:
        raise bad
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad from None
    if not text.startswith(_CURSOR_PREFIX) or not text[len(_CURSOR_PREFIX):].isdigit():
        raise bad
    value = int(text[len(_CURSOR_PREFIX):])
    if value < 1 or value > 2**31 - 1:
        raise bad
    return value


def _naive_utc(value: dt.datetime) -> dt.datetime:
    try:
        return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
    except OverflowError:
        raise ValidationError(f"since {value.isoformat()} is out of range.") from None


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _outcome(o: ConversationOutcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {
        "booking_converted": bool(o.booking_converted),
        "booking_value_usd": o.booking_value_usd,
        "successful_outcome": bool(o.successful_outcome),
        "csat": o.csat,
        "down_votes": o.down_votes or 0,
        "first_response_time_seconds": o.first_response_time_seconds,
        "total_cost_usd": o.total_cost_usd,
    }


def _summary(conv: Conversation, outcome: ConversationOutcome | None, n: int, first: str | None) -> dict:
    return {
        "id": conv.id,
        "external_id": conv.external_id,
        "channel": conv.channel,
        "status": conv.status,
        "created_at": _iso(conv.created_at),
        "updated_at": _iso(conv.updated_at),
        "first_response_at": _iso(conv.first_response_at),
        "escalated_at": _iso(conv.escalated_at),
        "escalation_reason": conv.escalation_reason,
        "closed_at": _iso(conv.closed_at),
        "resolution": conv.resolution,
        "intent": conv.intent,
        "messages": n,
        "first_message": (first or "")[:200],
        "outcome": _outcome(outcome),
    }


def conversation_page(
    session: Session,
    *,
    channel: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> ConversationPage:
    """A page of conversations, newest stored first (by id), optionally of one channel, one
    status, or started at or after ``since``; ``cursor`` (a previous page's ``next_cursor``)
    continues after that page. Raises ValidationError for a bad filter, limit or cursor."""
    if channel is not None and channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}.")
    if status is not None and status not in CONVERSATION_STATUSES:
        raise ValidationError(f"Unknown status {status!r}; use one of {', '.join(CONVERSATION_STATUSES)}.")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be a whole number from 1 to {MAX_PAGE}, not {limit!r}.")
    q = (
        select(Conversation, ConversationOutcome)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .order_by(Conversation.id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        q = q.where(Conversation.id < decode_cursor(cursor))
    if channel is not None:
        q = q.where(Conversation.channel == channel)
    if status is not None:
        q = q.where(Conversation.status == status)
    if since is not None:
        q = q.where(Conversation.created_at >= _naive_utc(since))
    rows = session.execute(q).all()
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [conv.id for conv, _ in rows]
    stats: dict[int, tuple[int, int]] = {}
    firsts: dict[int, str] = {}
    if ids:
        stats = {
            cid: (n, first)
            for cid, n, first in session.execute(
                select(Message.conversation_id, func.count(), func.min(Message.id))
                .where(Message.conversation_id.in_(ids))
                .group_by(Message.conversation_id)
            )
        }
        first_ids = [first for _, first in stats.values()]
        firsts = {
            cid: text
            for cid, text in session.execute(
                select(Message.conversation_id, Message.redacted_content).where(Message.id.in_(first_ids))
            )
        }
    items = [
        _summary(conv, outcome, stats.get(conv.id, (0, 0))[0], firsts.get(conv.id)) for conv, outcome in rows
    ]
    return ConversationPage(items, encode_cursor(ids[-1]) if more and ids else None)


def conversation_detail(session: Session, conversation_id: int) -> dict[str, Any]:
    """One conversation with its outcome and its messages (redacted text only); NotFound for an
    unknown id."""
    conv = session.get(Conversation, conversation_id) if 0 < conversation_id <= 2**31 - 1 else None
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    messages = [
        {
            "id": m.id,
            "role": m.role,
            "text": m.redacted_content,
            "created_at": _iso(m.created_at),
            "pii_entity_types": list(m.pii_entity_types or []),
            "confidence": m.confidence,
            "model_used": m.model_used,
            "cost_usd": m.cost_usd,
        }
        for m in conv.messages
    ]
    first = messages[0]["text"] if messages else None
    return {**_summary(conv, conv.outcome, len(messages), first), "transcript": messages}
