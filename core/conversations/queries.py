"""Reading conversations: lists with filters and redacted transcripts for the dashboard."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.platform.errors import NotFound
from core.platform.models import Conversation, ConversationOutcome, Message


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
