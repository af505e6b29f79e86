"""Shared test factories: acting users and the conversation builders many tests reuse.

No test module imports another test module; what several tests need lives here:

- ``tests.factories`` (this module): the ADMIN / REVIEWER / VIEWER actors, ``make_answer``
  (a question and its answer) and ``make_conversation`` (a conversation with a known outcome);
- ``tests.factories.knowledge``: a small knowledge base, its evaluation questions and the
  hashing embedder that retrieves them;
- ``tests.factories.experiments``: two KB versions and traffic for experiment tests;
- ``tests.factories.training``: training examples and datasets for the training tests;
- ``tests.factories.servers``: real local peers in threads (a fake OpenAI fine-tuning API, a
  webhook receiver, uvicorn serving an app);
- ``tests.factories.dashboard``: Streamlit AppTest pages, logins and dashboard seed data;
- ``tests.factories.browser``: Playwright helpers for the end-to-end dashboard tests;
- ``tests.factories.database``: the PostgreSQL server the tests use.

The local SMTP server is ``tests.smtp`` (with the ``smtp`` fixture of tests/conftest.py).
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from core.platform.actors import Actor
from core.platform.models import Conversation, ConversationOutcome, Message
from core.platform.statuses import Channel, ConversationStatus, MessageRole

ADMIN = Actor(1, "test-admin", "admin")
REVIEWER = Actor(2, "test-reviewer", "reviewer")
VIEWER = Actor(3, "test-viewer", "viewer")


ANSWERED_AT = dt.datetime(2026, 5, 1, 12, 0)  # when make_answer's conversations happen by default
API_NOW = dt.datetime(2026, 3, 18, 12, 0)  # the fixed clock of the API test client (tests/api/conftest.py)


def make_answer(
    session: Session,
    *,
    channel: str = Channel.EMAIL,
    user: str = "cust@example.com",
    question: str = "How much is the hibachi party for 20 people?",
    answer: str = "For 20 guests the price is $60 per adult with a $600 minimum.",
    confidence: float | None = 0.9,
    intent: str | None = None,
    status: str = ConversationStatus.CLOSED,
    at: dt.datetime = ANSWERED_AT,
    metadata: dict | None = None,
) -> tuple[Conversation, Message, Message]:
    """A stored conversation with one question, one assistant answer and an outcome row
    (committed); returns ``(conversation, question, answer)``."""
    conv = Conversation(
        channel=channel,
        external_user_id=user,
        status=status,
        channel_metadata=metadata or {},
        created_at=at,
        updated_at=at,
        intent=intent,
    )
    session.add(conv)
    session.flush()
    q = Message(
        conversation_id=conv.id,
        role=MessageRole.USER,
        raw_content=question,
        redacted_content=question,
        pii_entity_types=[],
        created_at=at,
    )
    a = Message(
        conversation_id=conv.id,
        role=MessageRole.ASSISTANT,
        raw_content=answer,
        redacted_content=answer,
        pii_entity_types=[],
        confidence=confidence,
        created_at=at + dt.timedelta(seconds=5),
    )
    session.add_all([q, a])
    session.add(
        ConversationOutcome(
            conversation_id=conv.id,
            booking_converted=False,
            down_votes=0,
            total_cost_usd=0.0,
            successful_outcome=True,
            updated_at=at,
        )
    )
    session.commit()
    return conv, q, a


_numbers = itertools.count(1)


def make_conversation(
    session: Session,
    *,
    at: dt.datetime,
    channel: str = Channel.WEB,
    status: str = ConversationStatus.CLOSED,
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
    seconds later) with its outcome row, for metrics, alerts and job tests; flushed, not committed."""
    n = next(_numbers)
    closed = status == ConversationStatus.CLOSED
    conv = Conversation(
        external_id=f"conv-{n}-{at.isoformat()}",
        channel=channel,
        external_user_id=f"user-{n}",
        status=ConversationStatus.ESCALATED if escalated and not closed else status,
        created_at=at,
        first_response_at=at + dt.timedelta(seconds=frt) if frt is not None else None,
        escalated_at=at + dt.timedelta(minutes=1) if escalated else None,
        escalation_reason=reason if escalated else None,
        closed_at=at + dt.timedelta(minutes=5) if closed else None,
        intent=intent,
        updated_at=updated_at or at,
    )
    session.add(conv)
    session.flush()
    session.add(Message(conversation_id=conv.id, role=MessageRole.USER, redacted_content="hi", created_at=at))
    if frt is not None:
        session.add(
            Message(
                conversation_id=conv.id,
                role=MessageRole.ASSISTANT,
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


def add_answers(session: Session, conversation_id: int, n: int, at: dt.datetime = ANSWERED_AT) -> list[int]:
    """``n`` more assistant answers in a conversation (committed); returns their ids."""
    rows = [
        Message(conversation_id=conversation_id, role=MessageRole.ASSISTANT, raw_content=f"a{i}",
                redacted_content=f"a{i}", pii_entity_types=[], created_at=at)
        for i in range(n)
    ]
    session.add_all(rows)
    session.commit()
    return [m.id for m in rows]
