"""What a human agent's reply teaches: a handed-off question and the agent's answer to it become a
KB proposal, without waiting for an admin's review.

When the assistant hands a question off, a person answers it. That reply is often the knowledge
the KB lacked, written by the business itself; otherwise it reaches the KB only when an admin picks
the conversation from the review queue (a budget of a few hundred a week). It is opt-in
(``kb_learn_from_agent_answers``, off by default): agents also write replies that only fit one
customer ("I've refunded your card"), and nobody reviews these proposals before the gate, which
measures retrieval, not whether a text is general knowledge. Turn it on where agents answer with
reusable knowledge. :func:`propose_agent_answers` runs before each weekly refresh
(``core.ops.tasks.kb_refresh``) when the setting is on: for every conversation handed off in the
last ``kb_agent_answer_days`` days, the agent's first reply and the customer's question before it
are proposed as a chunk (``core.knowledge.chunks.propose_chunk``: title = the question cleaned of
greetings, names and contact details; text = the reply; both scrubbed; source ``agent_answer``;
category = that of a chunk with the same text, else the conversation's intent when an admin set
it, else ``general``: never the classifier's unreviewed guess, which would file the answer under
a wrong topic). The refresh's evaluation gate decides whether
they go live, and it leaves a proposal that makes the KB worse in the review queue.

Left out, and counted by reason: a reply that is itself a hand-off, escalation or apology text (the
hand-off detector), a reply addressed to a named person (its redacted text holds ``<PERSON>``:
written for one customer), a conversation whose customer gave a CSAT below ``review_csat_below``, a
flagged message (profanity, abuse, a risky draft), a reply or question the scrubber marked unsafe
for training, and a conversation with no customer question before the reply. A reply is proposed
once (its message id is the chunk's ``source_message_id``), so running again proposes only new
replies.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from core.knowledge.chunks import propose_chunk
from core.knowledge.handoff import agent_reply_left_out
from core.platform.actors import Actor
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import ValidationError
from core.platform.models import Chunk, Conversation, ConversationOutcome, Message
from core.platform.services import Scrubber
from core.platform.statuses import ChunkSource, ChunkStatus, MessageRole
from core.review.queue import question_of

BATCH = 200


@dataclass
class AgentAnswerReport:
    """What one run proposed and what it left out (reason -> count)."""

    proposed: int = 0
    left_out: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"proposed": self.proposed, "left_out": dict(self.left_out)}


def _first_replies(session: Session, since: dt.datetime, after_id: int) -> list[Message]:
    """The first agent message of each conversation handed off since ``since`` whose reply is not
    a chunk's source yet, in id order from ``after_id``, ``BATCH`` at a time."""
    first = (
        select(func.min(Message.id).label("id"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.role == MessageRole.AGENT, Conversation.escalated_at.is_not(None),
               Conversation.escalated_at >= since)
        .group_by(Message.conversation_id)
        .subquery()
    )
    learned = exists().where(Chunk.source_message_id == Message.id)
    return list(session.scalars(
        select(Message).join(first, first.c.id == Message.id)
        .where(Message.id > after_id, ~learned).order_by(Message.id).limit(BATCH)
    ))


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _known_texts(session: Session) -> dict[str, str]:
    """Normalised text -> category of the active and proposed chunks (an agent's canned reply is
    often a KB text word for word)."""
    rows = session.execute(select(Chunk.text, Chunk.category).where(
        Chunk.status.in_((ChunkStatus.ACTIVE, ChunkStatus.PROPOSED))).order_by(Chunk.id))
    known: dict[str, str] = {}
    for text, category in rows:
        known.setdefault(_norm(text), category)
    return known


def _category(session: Session, reply: Message, known: dict[str, str]) -> str:
    """The topic of a reply: that of a chunk with the same text; else the conversation's intent
    when an admin set it; else ``general``. The classifier's guess is not used: unreviewed, a
    wrong topic would make the chunk answer other questions."""
    if (same := known.get(_norm(reply.redacted_content or ""))) is not None:
        return same
    conv = session.get(Conversation, reply.conversation_id)
    return conv.intent if conv.intent and conv.intent_source == "admin" else "general"


def _why_not(session: Session, settings: Settings, reply: Message,
             question: Message | None) -> str | None:
    """Why this reply must not become knowledge (None when it may)."""
    if question is None:
        return "no customer question before it"
    if (why := agent_reply_left_out(reply.redacted_content or "")) is not None:
        return why
    if reply.flagged or question.flagged:
        return "flagged"
    if not (reply.safe_for_training and question.safe_for_training):
        return "personal data the scrubber was unsure of"
    csat = session.scalar(select(ConversationOutcome.csat).where(
        ConversationOutcome.conversation_id == reply.conversation_id))
    return "low CSAT" if csat is not None and csat < settings.review_csat_below else None


def propose_agent_answers(
    session: Session,
    settings: Settings,
    *,
    actor: Actor,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> AgentAnswerReport:
    """Propose the agents' replies to handed-off questions as KB chunks (see the module
    docstring); nothing when ``kb_learn_from_agent_answers`` is off. ``actor`` needs
    ``manage_kb`` (the job runner's ``SYSTEM``). Joins the caller's transaction."""
    report = AgentAnswerReport()
    if not settings.kb_learn_from_agent_answers:
        return report
    clock = clock or SystemClock()
    since = clock.now() - dt.timedelta(days=settings.kb_agent_answer_days)
    left_out: Counter[str] = Counter()
    known = _known_texts(session)
    after = 0
    while replies := _first_replies(session, since, after):
        for reply in replies:
            after = reply.id
            question = question_of(session, reply)
            if (why := _why_not(session, settings, reply, question)) is not None:
                left_out[why] += 1
                continue
            try:
                with session.begin_nested():
                    chunk = propose_chunk(session, actor=actor, question=question.redacted_content,
                                          answer=reply.redacted_content, source_message_id=reply.id,
                                          category=_category(session, reply, known),
                                          source_type=ChunkSource.AGENT_ANSWER, scrubber=scrubber,
                                          clock=clock, metadata={"conversation_id": reply.conversation_id})
            except ValidationError:
                left_out["refused by the proposal's checks"] += 1
                continue
            if chunk.source_message_id != reply.id:  # the same title and text wait as a proposal
                left_out["already proposed"] += 1
                continue
            report.proposed += 1
        session.flush()
    report.left_out = dict(left_out)
    return report


__all__ = ["AgentAnswerReport", "propose_agent_answers"]
