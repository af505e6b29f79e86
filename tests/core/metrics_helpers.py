"""Builders of conversations with known outcomes for metrics, alerts and job tests."""

from __future__ import annotations

import datetime as dt

from core.platform.models import Conversation, ConversationOutcome, Message

_counter = {"n": 0}


def make_conversation(
    session,
    *,
    at: dt.datetime,
    channel: str = "web",
    status: str = "closed",
    escalated: bool = False,
    reason: str | None = None,
    csat: int | None = None,
    booking: bool = False,
    value: float | None = None,
    frt: float | None = 10.0,
    cost: float = 0.01,
    intent: str | None = "pricing",
    model: str | None = "extractive",
    down_votes: int = 0,
    updated_at: dt.datetime | None = None,
) -> Conversation:
    """One conversation started at ``at`` (a customer message, an assistant reply ``frt``
    seconds later) with its outcome row; flushed, not committed."""
    _counter["n"] += 1
    conv = Conversation(
        external_id=f"conv-{_counter['n']}-{at.isoformat()}",
        channel=channel,
        external_user_id=f"user-{_counter['n']}",
        status="escalated" if escalated and status != "closed" else status,
        created_at=at,
        first_response_at=at + dt.timedelta(seconds=frt) if frt is not None else None,
        escalated_at=at + dt.timedelta(minutes=1) if escalated else None,
        escalation_reason=reason if escalated else None,
        closed_at=at + dt.timedelta(minutes=5) if status == "closed" else None,
        intent=intent,
        updated_at=updated_at or at,
    )
    session.add(conv)
    session.flush()
    session.add(Message(conversation_id=conv.id, role="user", redacted_content="hi", created_at=at))
    if frt is not None:
        session.add(
            Message(
                conversation_id=conv.id,
                role="assistant",
                redacted_content="hello",
                model_used=model,
                cost_usd=cost,
                created_at=at + dt.timedelta(seconds=frt),
            )
        )
    session.add(
        ConversationOutcome(
            conversation_id=conv.id,
            booking_converted=booking,
            booking_value_usd=value,
            csat=csat,
            down_votes=down_votes,
            first_response_time_seconds=frt,
            total_cost_usd=cost,
            successful_outcome=False,
            updated_at=updated_at or at,
        )
    )
    session.flush()
    return conv
