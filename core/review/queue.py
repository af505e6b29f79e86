"""The review queue, gold training examples and pre-send approval.

Review items are assistant messages an admin should look at: a down vote, a low
confidence, an escalation, a low CSAT, a stale chunk behind the answer, or a profanity/abuse
flag (``core.enrichment.enrich``) on the answer or its question. The queue is
ordered by expected value: how much fixing the answer is worth = the weight of its
reasons x how often similar questions come in (same intent, or the same question text,
over the last 30 days).

Actions (each written to the audit log in the same transaction):

- **approve**: the answer becomes a gold ``training_example`` (redacted text, see
  ``preview``), optionally also a proposed KB chunk for the next refresh;
- **edit**: the edited text is stored on the message as ``human_edit_content`` with reason,
  editor and time, and becomes the gold answer;
- neither creates training data or a KB proposal when the answer or its question is flagged
  or not safe for training (``training_block_reason``; the decision's notes say why);
- **reject**: with a reason; any training example from the message is deactivated.

**Pre-send approval**: a draft in the risk class (confidence below
``presend_confidence_below``, an intent in ``presend_risk_intents``, or flagged by
``core.enrichment.enrich.hold_reasons``) is held: its
delivery stays ``held`` until an admin approves or edits it (then it is released to
``core.review.delivery``) or rejects it (then it is never sent).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, ValidationError
from core.platform.models import (
    REVIEW_KINDS,
    REVIEW_STATUSES,
    Conversation,
    ConversationOutcome,
    Delivery,
    Feedback,
    Message,
    ReviewItem,
    TrainingExample,
)

REASON_WEIGHTS = {
    "down_vote": 3.0,
    "low_csat": 3.0,
    "escalation": 2.0,
    "risky_draft": 2.0,
    "low_confidence": 1.0,
    "stale_chunk": 1.0,
    "flagged": 3.0,
}
DEMAND_DAYS = 30
MAX_EDIT_CHARS = 20_000


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


@dataclass
class Decision:
    """What an approve / edit / reject did."""

    item_id: int
    status: str
    training_example_id: int | None = None
    proposed_chunk_id: int | None = None
    delivery_status: str | None = None
    notes: list[str] = field(default_factory=list)


# --- helpers ------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", (text or "").lower()))


def question_of(session: Session, message: Message) -> Message | None:
    """The customer message an assistant message answered (the last user message before it)."""
    return session.scalar(
        select(Message)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.id < message.id,
            Message.role == "user",
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
        select(Message.redacted_content).where(Message.role == "user", Message.created_at >= since)
    )
    return Counter(_norm(t) for t in rows)


def expected_value(reasons: list[str], demand: int) -> float:
    """Reason weight x (1 + log of demand): a wrong answer to a frequent question first."""
    weight = sum(REASON_WEIGHTS.get(r, 1.0) for r in set(reasons))
    return round(weight * (1.0 + math.log(max(1, demand))), 4)


def _item(session: Session, item_id: int) -> ReviewItem:
    item = session.get(ReviewItem, item_id)
    if item is None:
        raise NotFound(f"Review item {item_id} does not exist; list the queue for current ids.")
    return item


def _snapshot(item: ReviewItem) -> dict:
    return {
        "status": item.status,
        "kind": item.kind,
        "reasons": list(item.reasons or []),
        "message_id": item.message_id,
    }


# --- filling the queue ----------------------------------------------------------------------
def flag_message(
    session: Session,
    message_id: int,
    reason: str,
    *,
    kind: str = "review",
    clock: Clock | None = None,
    counter: Counter | None = None,
) -> ReviewItem:
    """Put an assistant message in the queue for ``reason`` (or add the reason to its item).

    A decided item keeps its decision; the new reason is recorded on it.
    """
    if kind not in REVIEW_KINDS:
        raise ValidationError(f"Unknown review kind {kind!r}; use one of {', '.join(REVIEW_KINDS)}.")
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound(f"Message {message_id} does not exist.")
    if message.role != "assistant":
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
            status="open",
            expected_value=0.0,
            created_at=now,
            updated_at=now,
        )
        session.add(item)
    if reason not in (item.reasons or []):
        item.reasons = [*(item.reasons or []), reason]
        item.expected_value = expected_value(item.reasons, _demand(session, message, now, counter))
        item.updated_at = now
    session.flush()
    return item


def _stale_chunk_message_ids(session: Session, since: dt.datetime) -> set[int]:
    """Assistant messages whose answer used a chunk the knowledge base marks stale."""
    from core.knowledge import chunks as knowledge

    return set(knowledge.messages_with_stale_chunks(session, since=since))


def _flagged_answer_ids(session: Session, since: dt.datetime) -> set[int]:
    """Assistant messages flagged for profanity/abuse (``core.enrichment.enrich``), and the answers to
    flagged customer messages."""
    out = set(session.scalars(
        select(Message.id).where(Message.role == "assistant", Message.created_at >= since,
                                 Message.flagged.is_(True))
    ))
    flagged_questions = session.execute(
        select(Message.id, Message.conversation_id).where(
            Message.role == "user", Message.created_at >= since, Message.flagged.is_(True))
    ).all()
    for qid, cid in flagged_questions:
        answer = session.scalar(
            select(func.min(Message.id)).where(Message.conversation_id == cid, Message.id > qid,
                                               Message.role == "assistant")
        )
        if answer is not None:
            out.add(answer)
    return out


def refresh_queue(session: Session, settings: Settings, clock: Clock | None = None, days: int = 30) -> int:
    """Scan the assistant messages of the last ``days`` days and queue those with a down
    vote, a low confidence, an escalated conversation, a low CSAT, a stale chunk, or a
    profanity/abuse flag on the answer or on the question it answers (``flagged``).
    Returns how many reasons were newly added."""
    now = (clock or SystemClock()).now()
    since = now - dt.timedelta(days=days)
    counter = _question_counter(session, now - dt.timedelta(days=DEMAND_DAYS))
    candidates: dict[int, set[str]] = {}

    def add(mid: int, reason: str) -> None:
        candidates.setdefault(mid, set()).add(reason)

    base = (
        select(Message.id, Message.confidence, Conversation.escalated_at, ConversationOutcome.csat)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Message.role == "assistant", Message.created_at >= since)
    )
    for mid, conf, escalated_at, csat in session.execute(base):
        if conf is not None and conf < settings.review_confidence_below:
            add(mid, "low_confidence")
        if escalated_at is not None:
            add(mid, "escalation")
        if csat is not None and csat < settings.review_csat_below:
            add(mid, "low_csat")
    down = select(Feedback.message_id).where(Feedback.vote == "down", Feedback.created_at >= since).distinct()
    for (mid,) in session.execute(down):
        add(mid, "down_vote")
    for mid in _stale_chunk_message_ids(session, since):
        add(mid, "stale_chunk")
    for mid in _flagged_answer_ids(session, since):
        add(mid, "flagged")

    existing: dict[int, set[str]] = {}
    if candidates:
        ids = list(candidates)
        for i in range(0, len(ids), 500):
            for mid, reasons in session.execute(
                select(ReviewItem.message_id, ReviewItem.reasons).where(
                    ReviewItem.kind == "review", ReviewItem.message_id.in_(ids[i : i + 500])
                )
            ):
                existing[mid] = set(reasons or [])
    added = 0
    for mid, reasons in candidates.items():
        for reason in sorted(reasons - existing.get(mid, set())):
            flag_message(session, mid, reason, clock=clock, counter=counter)
            added += 1
    return added


# --- reading --------------------------------------------------------------------------------
def list_queue(
    session: Session,
    *,
    kind: str | None = None,
    status: str | None = "open",
    limit: int = 50,
    offset: int = 0,
) -> list[ReviewRow]:
    """Queue entries, highest expected value first (redacted text only)."""
    if status is not None and status not in REVIEW_STATUSES:
        raise ValidationError(f"Unknown status {status!r}; use one of {', '.join(REVIEW_STATUSES)}.")
    q = (
        select(ReviewItem, Message, Conversation, Delivery.status)
        .join(Message, Message.id == ReviewItem.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(Delivery, Delivery.message_id == Message.id)
        .order_by(ReviewItem.expected_value.desc(), ReviewItem.created_at, ReviewItem.id)
        .limit(limit)
        .offset(offset)
    )
    if kind:
        q = q.where(ReviewItem.kind == kind)
    if status:
        q = q.where(ReviewItem.status == status)
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
            )
        )
    return rows


def preview(session: Session, item_id: int, edited_text: str | None = None, scrubber=None) -> dict:
    """The redacted question and answer an approval (or an edit) would store as gold data."""
    item = _item(session, item_id)
    msg = session.get(Message, item.message_id)
    q = question_of(session, msg)
    answer = msg.redacted_content
    if edited_text is not None:
        answer = scrubber.scrub(edited_text).text if scrubber is not None else edited_text
    return {"question": q.redacted_content if q else "", "answer": answer}


# --- actions --------------------------------------------------------------------------------
def _example(
    session: Session, item: ReviewItem, msg: Message, answer: str, source: str, actor: str, now: dt.datetime
) -> TrainingExample:
    conv = session.get(Conversation, msg.conversation_id)
    q = question_of(session, msg)
    outcome = session.get(ConversationOutcome, conv.id)
    votes = list(session.scalars(select(Feedback.vote).where(Feedback.message_id == msg.id)))
    rating = None
    if votes:
        rating = 1 if votes.count("up") >= votes.count("down") else -1
    for old in session.scalars(
        select(TrainingExample).where(TrainingExample.message_id == msg.id, TrainingExample.active.is_(True))
    ):
        old.active = False
    ex = TrainingExample(
        message_id=msg.id,
        question=q.redacted_content if q else "",
        answer=answer,
        intent=conv.intent,
        source=source,
        human_verified=True,
        quality_score=1.0 if source == "approved" else 0.9,
        rating=rating,
        led_to_booking=bool(outcome and outcome.booking_converted),
        channel=conv.channel,
        active=True,
        source_message_ids=[m for m in (q.id if q else None, msg.id) if m is not None],
        created_by=actor,
        created_at=now,
    )
    session.add(ex)
    session.flush()
    return ex


def _propose(session: Session, question: str, answer: str, msg: Message, actor: str, clock) -> int | None:
    from core.knowledge import chunks as knowledge

    chunk = knowledge.propose_chunk(
        session, question=question, answer=answer, source_message_id=msg.id, proposed_by=actor, clock=clock
    )
    return chunk.id


def training_block_reason(session: Session, msg: Message) -> str | None:
    """Why an approved or edited answer must not become a training example or a KB chunk
    (``core.enrichment.enrich.eligible_for_training``), or None when it may."""
    from core.enrichment import enrich

    if enrich.eligible_for_training(session, msg):
        return None
    q = question_of(session, msg)
    if msg.flagged or (q is not None and q.flagged):
        what = "the answer" if msg.flagged else "the customer's question"
        return (f"not added to training data or the knowledge base: {what} is flagged for "
                "profanity or abuse")
    return ("not added to training data or the knowledge base: the answer may contain personal "
            "data the scrubber was unsure about (not safe for training)")


def _check_actor(actor: str) -> None:
    if not isinstance(actor, str) or not actor.strip():
        raise ValidationError("Every review action needs the admin's name (actor).")


def _decide(item: ReviewItem, status: str, actor: str, reason: str | None, now: dt.datetime) -> None:
    if item.status != "open":
        raise Conflict(
            f"Review item {item.id} was already {item.status} by {item.decided_by}; refresh the queue."
        )
    item.status = status
    item.decided_by = actor
    item.decided_at = now
    item.decision_reason = reason
    item.updated_at = now


def _release(session: Session, item: ReviewItem, notifier, settings, clock) -> str | None:
    """After approve/edit of a held draft: make its delivery pending and send it if we can."""
    d = session.scalar(select(Delivery).where(Delivery.message_id == item.message_id))
    if d is None:
        return None
    from core.review import delivery

    delivery.release(session, d.id, clock=clock)
    if notifier is not None and settings is not None:
        return delivery.deliver(session, d.id, notifier, settings, clock=clock).status
    return d.status


def approve(
    session: Session,
    item_id: int,
    actor: str,
    *,
    propose_chunk: bool = False,
    notifier=None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> Decision:
    """Approve the answer: it becomes a gold training example (its redacted text), and with
    ``propose_chunk`` a proposed KB chunk, unless the answer or its question is flagged for
    profanity/abuse or not safe for training (then ``Decision.notes`` says why and nothing is
    created). A held draft is released (and sent when a ``notifier`` is given)."""
    _check_actor(actor)
    now = (clock or SystemClock()).now()
    item = _item(session, item_id)
    before = _snapshot(item)
    _decide(item, "approved", actor, None, now)
    msg = session.get(Message, item.message_id)
    blocked = training_block_reason(session, msg)
    ex = None
    if blocked is None:
        ex = _example(session, item, msg, msg.redacted_content, "approved", actor, now)
        item.training_example_id = ex.id
        if propose_chunk:
            item.proposed_chunk_id = _propose(session, ex.question, ex.answer, msg, actor, clock)
    dstatus = _release(session, item, notifier, settings, clock) if item.kind == "presend" else None
    audit.record(
        session,
        actor,
        "review.approve",
        "review_item",
        item.id,
        before=before,
        after={
            **_snapshot(item),
            "training_example_id": ex.id if ex else None,
            "proposed_chunk_id": item.proposed_chunk_id,
            "delivery": dstatus,
            **({"note": blocked} if blocked else {}),
        },
        clock=clock,
    )
    session.flush()
    return Decision(item.id, item.status, ex.id if ex else None, item.proposed_chunk_id, dstatus,
                    notes=[blocked] if blocked else [])


def edit(
    session: Session,
    item_id: int,
    actor: str,
    new_text: str,
    reason: str,
    *,
    scrubber=None,
    propose_chunk: bool = False,
    notifier=None,
    settings: Settings | None = None,
    clock: Clock | None = None,
    enricher=None,
) -> Decision:
    """Replace the answer with ``new_text``: stored on the message as human_edit_content with
    ``reason``, editor and time; its redacted form (``scrubber``) becomes the gold answer. A
    held draft is released with the edited text. With an ``enricher`` the message is
    enriched again, so its flags describe the edited text. Nothing becomes training data or
    a KB proposal when the answer or its question is flagged or not safe for training
    (``Decision.notes`` says why)."""
    _check_actor(actor)
    if not isinstance(new_text, str) or not new_text.strip():
        raise ValidationError("The edited answer is empty; write the answer the customer should get.")
    if len(new_text) > MAX_EDIT_CHARS:
        raise ValidationError(
            f"The edited answer is {len(new_text)} characters; the limit is {MAX_EDIT_CHARS}."
        )
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("Say why the answer was edited (reason); it is kept with the edit.")
    now = (clock or SystemClock()).now()
    item = _item(session, item_id)
    before = {**_snapshot(item)}
    msg = session.get(Message, item.message_id)
    before["human_edit_content"] = msg.human_edit_content
    _decide(item, "edited", actor, reason.strip(), now)
    msg.human_edited = True
    msg.human_edit_content = new_text.strip()
    msg.edit_reason = reason.strip()
    msg.edited_by = actor
    msg.edited_at = now
    redacted = scrubber.scrub(new_text.strip()).text if scrubber is not None else new_text.strip()
    if enricher is not None:  # the flags and tone score now describe the edited text
        from core.enrichment import enrich

        enrich.enrich_message(session, msg.id, enricher, clock)
    blocked = training_block_reason(session, msg)
    ex = None
    if blocked is None:
        ex = _example(session, item, msg, redacted, "edited", actor, now)
        item.training_example_id = ex.id
        if propose_chunk:
            item.proposed_chunk_id = _propose(session, ex.question, ex.answer, msg, actor, clock)
    dstatus = _release(session, item, notifier, settings, clock) if item.kind == "presend" else None
    audit.record(
        session,
        actor,
        "review.edit",
        "review_item",
        item.id,
        before=before,
        after={
            **_snapshot(item),
            "human_edit_content": msg.human_edit_content,
            "edit_reason": msg.edit_reason,
            "training_example_id": ex.id if ex else None,
            "delivery": dstatus,
            **({"note": blocked} if blocked else {}),
        },
        clock=clock,
    )
    session.flush()
    return Decision(item.id, item.status, ex.id if ex else None, item.proposed_chunk_id, dstatus,
                    notes=[blocked] if blocked else [])


def reject(
    session: Session, item_id: int, actor: str, reason: str, *, clock: Clock | None = None
) -> Decision:
    """Reject the answer with a reason: it never becomes gold data (earlier examples from it
    are deactivated) and a held draft is cancelled, never sent."""
    _check_actor(actor)
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("Say why the answer is rejected (reason).")
    now = (clock or SystemClock()).now()
    item = _item(session, item_id)
    before = _snapshot(item)
    _decide(item, "rejected", actor, reason.strip(), now)
    for ex in session.scalars(
        select(TrainingExample).where(
            TrainingExample.message_id == item.message_id, TrainingExample.active.is_(True)
        )
    ):
        ex.active = False
    dstatus = None
    if item.kind == "presend":
        from core.review import delivery

        d = session.scalar(select(Delivery).where(Delivery.message_id == item.message_id))
        if d is not None:
            dstatus = delivery.cancel(session, d.id, reason.strip(), clock=clock).status
    audit.record(
        session,
        actor,
        "review.reject",
        "review_item",
        item.id,
        before=before,
        after={**_snapshot(item), "reason": reason.strip(), "delivery": dstatus},
        clock=clock,
    )
    session.flush()
    return Decision(item.id, item.status, None, None, dstatus)


# --- pre-send approval ------------------------------------------------------------------------
def risk_reasons(settings: Settings, confidence: float | None, intent: str | None) -> list[str]:
    """Why a draft must be held for approval (empty: it may go out at once)."""
    reasons = []
    if confidence is not None and confidence < settings.presend_confidence_below:
        reasons.append("low_confidence")
    risky = {i.strip().lower() for i in settings.presend_risk_intents.split(",") if i.strip()}
    if intent and intent.strip().lower() in risky:
        reasons.append(f"intent:{intent.strip().lower()}")
    return reasons


def hold_draft(
    session: Session, message_id: int, reasons: list[str], clock: Clock | None = None
) -> ReviewItem:
    """Queue a held draft for pre-send approval."""
    item = None
    for r in reasons or ["risky_draft"]:
        item = flag_message(session, message_id, r, kind="presend", clock=clock)
    if "risky_draft" not in item.reasons:
        item.reasons = [*item.reasons, "risky_draft"]
        session.flush()
    return item


def training_examples(
    session: Session, *, active: bool | None = True, limit: int = 1000
) -> list[TrainingExample]:
    """Gold training examples, newest first."""
    q = select(TrainingExample).order_by(TrainingExample.id.desc()).limit(limit)
    if active is not None:
        q = q.where(TrainingExample.active.is_(active))
    return list(session.scalars(q))
