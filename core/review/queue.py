"""The review queue: which assistant answers an admin should look at, in which order.

Review items are assistant messages with a reason: a down vote, a low confidence, an
escalation, a low CSAT, a stale chunk behind the answer, a risky draft held before sending, or
a profanity/abuse flag (``core.enrichment.enrich``) on the answer or its question. The queue is
ordered by expected value: how much fixing the answer is worth = the weight of its reasons x
how often similar questions come in (same intent, or the same question text, over the last
30 days).

Filling the queue (:func:`flag_message`, :func:`refresh_queue`) needs the ``review`` right;
``core.learning.loop`` flags down-voted and low-CSAT answers as ``SYSTEM``. Reading it:
:func:`list_queue` (filtered and paged; :func:`count_queue` counts the same filters),
:func:`preview`. The decisions on an item are in
``core.review.decisions``, the pre-send policy in ``core.review.policy``.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from core.knowledge.handoff import agent_reply_left_out
from core.knowledge.scoring import messages_with_flagged_chunks
from core.knowledge.staleness import messages_with_stale_chunks
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import NotFound, ValidationError
from core.platform.models import (
    Conversation,
    ConversationOutcome,
    Delivery,
    Feedback,
    Message,
    ReviewItem,
)
from core.platform.services import Scrubber
from core.platform.statuses import MessageRole, ReviewKind, ReviewStatus, Vote


class Reason(StrEnum):
    """Why an answer is in the queue (a held draft also carries ``intent:<name>`` and
    ``flagged:<reason>`` reasons from the pre-send policy)."""

    DOWN_VOTE = "down_vote"
    LOW_CSAT = "low_csat"
    ESCALATION = "escalation"
    RISKY_DRAFT = "risky_draft"
    LOW_CONFIDENCE = "low_confidence"
    STALE_CHUNK = "stale_chunk"
    POOR_CHUNK = "poor_chunk"  # used a chunk customers rate poorly (core.knowledge.scoring.flagged_chunks)
    FLAGGED = "flagged"


REASON_WEIGHTS = {
    Reason.DOWN_VOTE: 3.0,
    Reason.LOW_CSAT: 3.0,
    Reason.ESCALATION: 2.0,
    Reason.RISKY_DRAFT: 2.0,
    Reason.LOW_CONFIDENCE: 1.0,
    Reason.STALE_CHUNK: 1.0,
    Reason.POOR_CHUNK: 2.0,
    Reason.FLAGGED: 3.0,
}
FLAG_BATCH = 25  # reasons added between two checkpoints of refresh_queue
DEMAND_DAYS = 30


@dataclass
class ReviewRow:
    """One queue entry as the dashboard shows it (redacted text only)."""

    id: int
    kind: str
    status: str
    reasons: list[str]
    expected_value: float
    message_id: int
    conversation_id: int
    channel: str
    intent: str | None
    question: str
    answer: str
    confidence: float | None
    delivery_status: str | None
    created_at: dt.datetime
    decided_by: str | None = None
    decision_reason: str | None = None
    decided_at: dt.datetime | None = None


# --- helpers ------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", (text or "").lower()))


def question_of(session: Session, message: Message) -> Message | None:
    """The customer message an assistant's (or agent's) message answered: the last user message
    before it."""
    return session.scalar(
        select(Message)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.id < message.id,
            Message.role == MessageRole.USER,
        )
        .order_by(Message.id.desc())
        .limit(1)
    )


def _demand(session: Session, message: Message, now: dt.datetime, counter: Counter | None = None) -> int:
    """How often similar questions came in over the last DEMAND_DAYS days (at least 1)."""
    conv = session.get(Conversation, message.conversation_id)
    since = now - dt.timedelta(days=DEMAND_DAYS)
    if conv is not None and conv.intent:
        n = session.scalar(
            select(func.count())
            .select_from(Conversation)
            .where(Conversation.intent == conv.intent, Conversation.created_at >= since)
        )
        return max(1, int(n or 0))
    q = question_of(session, message)
    if q is None:
        return 1
    if counter is None:
        # One message flagged on the hot path (a vote): counting the same text would scan
        # every recent message, so start at 1; refresh_queue recounts with its counter.
        return 1
    return max(1, counter.get(_norm(q.redacted_content), 0))


def _question_counter(session: Session, since: dt.datetime) -> Counter:
    rows = session.scalars(
        select(Message.redacted_content).where(Message.role == MessageRole.USER, Message.created_at >= since)
    )
    return Counter(_norm(t) for t in rows)


def expected_value(reasons: list[str], demand: int) -> float:
    """Reason weight x (1 + log of demand): a wrong answer to a frequent question first."""
    weight = sum(REASON_WEIGHTS.get(r, 1.0) for r in set(reasons))
    return round(weight * (1.0 + math.log(max(1, demand))), 4)


def get_item(session: Session, item_id: int) -> ReviewItem:
    """The review item ``item_id``; NotFound when there is none."""
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"Review item {item_id} does not exist; list the queue for current ids.")
    return item


# --- filling the queue ----------------------------------------------------------------------
def flag_message(
    session: Session,
    message_id: int,
    reason: str,
    *,
    actor: Actor,
    kind: str = ReviewKind.REVIEW,
    clock: Clock | None = None,
    counter: Counter | None = None,
) -> ReviewItem:
    """Put an assistant message in the queue for ``reason`` (or add the reason to its item).

    A decided item keeps its decision; the new reason is recorded on it. ``actor`` needs the
    review right.
    """
    require(actor, "review")
    if kind not in tuple(ReviewKind):
        raise ValidationError(f"Unknown review kind {kind!r}; use one of {', '.join(ReviewKind)}.")
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"Message {message_id} does not exist.")
    if message.role != MessageRole.ASSISTANT:
        raise ValidationError(f"Message {message_id} is not an assistant answer; only answers are reviewed.")
    now = (clock or SystemClock()).now()
    item = session.scalar(
        select(ReviewItem).where(ReviewItem.message_id == message_id, ReviewItem.kind == kind)
    )
    if item is None:
        item = ReviewItem(
            message_id=message_id,
            kind=kind,
            reasons=[],
            status=ReviewStatus.OPEN,
            expected_value=0.0,
            created_at=now,
            updated_at=now,
        )
        session.add(item)
    if reason not in (item.reasons or []):
        item.reasons = [*(item.reasons or []), str(reason)]
        item.expected_value = expected_value(item.reasons, _demand(session, message, now, counter))
        item.updated_at = now
    session.flush()
    return item


def _flagged_answer_ids(session: Session, since: dt.datetime) -> set[int]:
    """Assistant messages flagged for profanity/abuse (``core.enrichment.enrich``), and the answers to
    flagged customer messages."""
    out = set(session.scalars(
        select(Message.id).where(Message.role == MessageRole.ASSISTANT, Message.created_at >= since,
                                 Message.flagged.is_(True))
    ))
    flagged_questions = session.execute(
        select(Message.id, Message.conversation_id).where(
            Message.role == MessageRole.USER, Message.created_at >= since, Message.flagged.is_(True))
    ).all()
    for qid, cid in flagged_questions:
        answer = session.scalar(
            select(func.min(Message.id)).where(Message.conversation_id == cid, Message.id > qid,
                                               Message.role == MessageRole.ASSISTANT)
        )
        if answer is not None:
            out.add(answer)
    return out


def _agent_answered(session: Session, since: dt.datetime) -> set[int]:
    """Conversations a human agent replied in since ``since`` with a reply the KB can learn
    (``core.learning.agent_answers`` leaves out hand-off texts, replies to a named person,
    flagged and unsafe ones: those conversations stay in the queue)."""
    rows = session.execute(
        select(Message.conversation_id, Message.redacted_content).where(
            Message.role == MessageRole.AGENT, Message.created_at >= since,
            Message.safe_for_training.is_(True), Message.flagged.is_(False))
    )
    return {cid for cid, text in rows if agent_reply_left_out(text or "") is None}


def refresh_queue(
    session: Session, settings: Settings, clock: Clock | None = None, days: int = 30, *, actor: Actor,
    checkpoint: Callable[[], None] | None = None,
) -> int:
    """Scan the assistant messages of the last ``days`` days and queue those with a down
    vote, a low confidence, an escalated conversation, a low CSAT, a stale chunk, or a
    profanity/abuse flag on the answer or on the question it answers (``flagged``). With
    ``kb_learn_from_agent_answers`` on, a handed-off conversation a human agent replied in is
    not queued for its escalation or its low confidence: the agent's reply already goes to the
    KB's gate (``core.learning.agent_answers``), and the admins' time goes to answers no person
    has seen (its other reasons, a down vote or a low CSAT, still queue it).
    ``actor`` needs the review right (the runner acts as ``SYSTEM``). Returns how many reasons
    were newly added. ``checkpoint()`` (``session.commit`` on a live database) is called after
    every ``FLAG_BATCH`` reasons added, so the write lock is never held for long."""
    require(actor, "review")
    now = (clock or SystemClock()).now()
    since = now - dt.timedelta(days=days)
    counter = _question_counter(session, now - dt.timedelta(days=DEMAND_DAYS))
    candidates: dict[int, set[str]] = {}

    def add(mid: int, reason: str) -> None:
        candidates.setdefault(mid, set()).add(reason)

    base = (
        select(Message.id, Message.conversation_id, Message.confidence, Conversation.escalated_at,
               ConversationOutcome.csat)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Message.role == MessageRole.ASSISTANT, Message.created_at >= since)
    )
    learned = _agent_answered(session, since) if settings.kb_learn_from_agent_answers else set()
    for mid, cid, conf, escalated_at, csat in session.execute(base):
        handled = escalated_at is not None and cid in learned
        if conf is not None and conf < settings.review_confidence_below and not handled:
            add(mid, Reason.LOW_CONFIDENCE)
        if escalated_at is not None and not handled:
            add(mid, Reason.ESCALATION)
        if csat is not None and csat < settings.review_csat_below:
            add(mid, Reason.LOW_CSAT)
    down = (
        select(Feedback.message_id).where(Feedback.vote == Vote.DOWN, Feedback.created_at >= since).distinct()
    )
    for (mid,) in session.execute(down):
        add(mid, Reason.DOWN_VOTE)
    for mid in messages_with_stale_chunks(session, since=since):
        add(mid, Reason.STALE_CHUNK)
    for mid in messages_with_flagged_chunks(session, settings, since=since):
        add(mid, Reason.POOR_CHUNK)
    for mid in _flagged_answer_ids(session, since):
        add(mid, Reason.FLAGGED)

    existing: dict[int, set[str]] = {}
    if candidates:
        ids = list(candidates)
        for i in range(0, len(ids), 500):
            for mid, reasons in session.execute(
                select(ReviewItem.message_id, ReviewItem.reasons).where(
                    ReviewItem.kind == ReviewKind.REVIEW, ReviewItem.message_id.in_(ids[i : i + 500])
                )
            ):
                existing[mid] = set(reasons or [])
    added = 0
    for mid, reasons in candidates.items():
        for reason in sorted(reasons - existing.get(mid, set())):
            flag_message(session, mid, reason, actor=actor, clock=clock, counter=counter)
            added += 1
            if checkpoint is not None and added % FLAG_BATCH == 0:
                checkpoint()
    return added


# --- reading --------------------------------------------------------------------------------
def _filtered(
    q, *, kind: str | None, status: str | None, reason: str | None, channel: str | None,
    intent: str | None, since: dt.datetime | None, until: dt.datetime | None,
):  # noqa: ANN001, ANN202 - a Select over ReviewItem, Message and Conversation in, the same out
    """``q`` narrowed to the queue filters (shared by the list and its count)."""
    if status is not None and status not in tuple(ReviewStatus):
        raise ValidationError(f"Unknown status {status!r}; use one of {', '.join(ReviewStatus)}.")
    if kind is not None and kind not in tuple(ReviewKind):
        raise ValidationError(f"Unknown kind {kind!r}; use one of {', '.join(ReviewKind)}.")
    if reason is not None and reason not in tuple(Reason):
        raise ValidationError(f"Unknown reason {reason!r}; use one of {', '.join(Reason)}.")
    if kind:
        q = q.where(ReviewItem.kind == kind)
    if status:
        q = q.where(ReviewItem.status == status)
    if reason:  # a JSON list: match the quoted word ("flagged" also matches "flagged:<why>")
        q = q.where(cast(ReviewItem.reasons, String).like(f'%"{reason}%'))
    if channel:
        q = q.where(Conversation.channel == channel)
    if intent:
        q = q.where(Conversation.intent == intent)
    if since is not None:
        q = q.where(ReviewItem.created_at >= since)
    if until is not None:
        q = q.where(ReviewItem.created_at < until)
    return q


def count_queue(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = ReviewStatus.OPEN,
    reason: str | None = None,
    channel: str | None = None,
    intent: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> int:
    """How many queue entries match the filters (the true total behind a page of :func:`list_queue`)."""
    q = (
        select(func.count(ReviewItem.id))
        .select_from(ReviewItem)
        .join(Message, Message.id == ReviewItem.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
    )
    q = _filtered(q, kind=kind, status=status, reason=reason, channel=channel, intent=intent,
                  since=since, until=until)
    return int(session.scalar(q) or 0)


def queue_intents(session: Session, *, status: str | None = ReviewStatus.OPEN) -> list[str]:
    """The intents of the conversations behind queue entries with ``status`` (a filter's choices)."""
    q = (
        select(Conversation.intent)
        .join(Message, Message.conversation_id == Conversation.id)
        .join(ReviewItem, ReviewItem.message_id == Message.id)
        .where(Conversation.intent.is_not(None))
        .distinct()
    )
    if status:
        q = q.where(ReviewItem.status == status)
    return sorted(i for i in session.scalars(q) if i)


def list_queue(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = ReviewStatus.OPEN,
    reason: str | None = None,
    channel: str | None = None,
    intent: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    held_first: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> list[ReviewRow]:
    """Queue entries, highest expected value first (redacted text only); ``held_first`` puts
    held drafts (pre-send) before answers to review. Filters: ``reason`` (a :class:`Reason`),
    ``channel`` and ``intent`` of the conversation, ``since``/``until`` on when the entry was
    queued. :func:`count_queue` counts the same filters."""
    order = [ReviewItem.expected_value.desc(), ReviewItem.created_at, ReviewItem.id]
    if held_first:
        order.insert(0, (ReviewItem.kind == ReviewKind.PRESEND).desc())
    q = (
        select(ReviewItem, Message, Conversation, Delivery.status)
        .join(Message, Message.id == ReviewItem.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Delivery, Delivery.message_id == Message.id)
        .order_by(*order)
        .limit(limit)
        .offset(offset)
    )
    q = _filtered(q, kind=kind, status=status, reason=reason, channel=channel, intent=intent,
                  since=since, until=until)
    return _rows(session, q)


def list_decided(
    session: Session, *, channel: str | None = None, since: dt.datetime | None = None, limit: int = 20
) -> list[ReviewRow]:
    """The latest decisions (approved, edited or rejected), newest first; ``since`` on the decision time."""
    q = (
        select(ReviewItem, Message, Conversation, Delivery.status)
        .join(Message, Message.id == ReviewItem.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Delivery, Delivery.message_id == Message.id)
        .where(ReviewItem.status != ReviewStatus.OPEN, ReviewItem.decided_at.is_not(None))
        .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
        .limit(limit)
    )
    if channel:
        q = q.where(Conversation.channel == channel)
    if since is not None:
        q = q.where(ReviewItem.decided_at >= since)
    return _rows(session, q)


def _rows(session: Session, q) -> list[ReviewRow]:  # noqa: ANN001 - the Select of list_queue
    rows = []
    for item, msg, conv, dstatus in session.execute(q):
        question = question_of(session, msg)
        rows.append(
            ReviewRow(
                id=item.id,
                kind=item.kind,
                status=item.status,
                reasons=list(item.reasons or []),
                expected_value=item.expected_value,
                message_id=msg.id,
                conversation_id=conv.id,
                channel=conv.channel,
                intent=conv.intent,
                question=question.redacted_content if question else "",
                answer=msg.redacted_content,
                confidence=msg.confidence,
                delivery_status=dstatus,
                created_at=item.created_at,
                decided_by=item.decided_by,
                decision_reason=item.decision_reason,
                decided_at=item.decided_at,
            )
        )
    return rows


def preview(
    session: Session, item_id: int, edited_text: str | None = None, scrubber: Scrubber | None = None
) -> dict:
    """The redacted question and answer an approval (or an edit) would store as gold data."""
    item = get_item(session, item_id)
    msg = session.get(Message, item.message_id)
    q = question_of(session, msg)
    answer = msg.redacted_content
    if edited_text is not None:
        answer = scrubber.scrub(edited_text).text if scrubber is not None else edited_text
    return {"question": q.redacted_content if q else "", "answer": answer}

