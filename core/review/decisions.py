"""Decisions on a review item: approve, edit, reject (each needs the ``review`` right).

- **approve**: the answer becomes a gold ``training_example`` (its redacted text, see
  ``core.review.queue.preview``), optionally also a proposed KB chunk for the next refresh;
- **edit**: the edited text is stored on the message as ``human_edit_content`` (raw only when
  ``store_raw_content`` allows, and only for the retention window) with its reason (scrubbed),
  editor and time; its redacted form becomes the gold answer and is what the audit row keeps;
- approve and edit share one code path (:func:`_accept`): neither creates training data or a
  KB proposal when the answer or its question is flagged or not safe for training
  (``core.review.policy.training_block_reason``), or when the answer is a hand-off, escalation
  or apology that answers nothing (``core.knowledge.handoff``; the decision's notes say why);
  the example is rated by the admin's decision (``ADMIN_RATING``), whatever the customer said
  about the original answer (that vote stays on the message), and both
  release a held draft (``core.review.delivery``), sending it when a notifier is given;
- **reject**: with a reason (scrubbed, like every review note); any training example from the
  message is deactivated and a held draft is cancelled, never sent.

Each decision is written to the audit log (``actor.name``) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enrichment import enrich
from core.knowledge.chunks import propose_chunk as propose_kb_chunk
from core.knowledge.handoff import handoff_reason
from core.platform import audit
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, ValidationError
from core.platform.models import (
    Conversation,
    ConversationOutcome,
    Delivery,
    Message,
    ReviewItem,
    TrainingExample,
)
from core.platform.pii import get_scrubber
from core.platform.services import Enricher, Notifier, Scrubber
from core.platform.statuses import ReviewKind, ReviewStatus, TrainingSource
from core.review import delivery
from core.review.policy import training_block_reason
from core.review.queue import get_item, question_of

MAX_EDIT_CHARS = 20_000
ADMIN_RATING = 1  # an approved or edited answer is rated up by the admin's decision


@dataclass
class Decision:
    """What an approve / edit / reject did."""

    item_id: int
    status: str
    training_example_id: int | None = None
    proposed_chunk_id: int | None = None
    delivery_status: str | None = None
    notes: list[str] = field(default_factory=list)


def _snapshot(item: ReviewItem) -> dict:
    return {
        "status": item.status,
        "kind": item.kind,
        "reasons": list(item.reasons or []),
        "message_id": item.message_id,
    }


def _decide(item: ReviewItem, status: str, actor: Actor, reason: str | None, now: dt.datetime) -> None:
    if item.status != ReviewStatus.OPEN:
        raise Conflict(
            f"Review item {item.id} was already {item.status} by {item.decided_by}; refresh the queue."
        )
    item.status = status
    item.decided_by = actor.name
    item.decided_at = now
    item.decision_reason = reason
    item.updated_at = now


def _deactivate_examples(session: Session, message_id: int) -> None:
    for ex in session.scalars(
        select(TrainingExample).where(
            TrainingExample.message_id == message_id, TrainingExample.active.is_(True)
        )
    ):
        ex.active = False


def _example(
    session: Session, msg: Message, answer: str, source: str, actor: Actor, now: dt.datetime
) -> TrainingExample:
    """The gold training example of a decided answer (replacing earlier ones of the message)."""
    conv = session.get(Conversation, msg.conversation_id)
    q = question_of(session, msg)
    outcome = session.get(ConversationOutcome, conv.id)
    _deactivate_examples(session, msg.id)
    ex = TrainingExample(
        message_id=msg.id,
        question=q.redacted_content if q else "",
        answer=answer,
        intent=conv.intent,
        source=source,
        human_verified=True,
        quality_score=1.0 if source == TrainingSource.APPROVED else 0.9,
        # the rating of the text it holds: the admin approved or wrote it, so it is gold whatever
        # the customer said about the original (that vote stays on the message's feedback rows)
        rating=ADMIN_RATING,
        led_to_booking=bool(outcome and outcome.booking_converted),
        channel=conv.channel,
        active=True,
        source_message_ids=[m for m in (q.id if q else None, msg.id) if m is not None],
        created_by=actor.name,
        created_at=now,
    )
    session.add(ex)
    session.flush()
    return ex


def _release(
    session: Session, item: ReviewItem, actor: Actor, notifier: Notifier | None, settings: Settings | None,
    clock,
) -> str | None:
    """After approve/edit of a held draft: make its delivery pending and send it if we can."""
    d = session.scalar(select(Delivery).where(Delivery.message_id == item.message_id))
    if d is None:
        return None
    delivery.release(session, d.id, actor=actor, clock=clock)
    if notifier is not None and settings is not None:
        return delivery.deliver(session, d.id, notifier, settings, clock=clock).status
    return d.status


def _accept(
    session: Session,
    item: ReviewItem,
    msg: Message,
    actor: Actor,
    *,
    action: str,
    answer: str,
    source: str,
    propose_chunk: bool,
    notifier: Notifier | None,
    settings: Settings | None,
    clock: Clock | None,
    now: dt.datetime,
    before: dict,
    audit_extra: dict,
) -> Decision:
    """The shared tail of approve and edit: gold example and KB proposal unless blocked, the
    release of a held draft, the audit row."""
    blocked = training_block_reason(session, msg) or handoff_reason(answer)
    ex = None
    if blocked is None:
        ex = _example(session, msg, answer, source, actor, now)
        item.training_example_id = ex.id
        if propose_chunk:
            chunk = propose_kb_chunk(
                session, question=ex.question, answer=ex.answer, source_message_id=msg.id,
                actor=actor, clock=clock,
            )
            item.proposed_chunk_id = chunk.id
    dstatus = (
        _release(session, item, actor, notifier, settings, clock) if item.kind == ReviewKind.PRESEND else None
    )
    audit.record(
        session,
        actor.name,
        action,
        "review_item",
        item.id,
        before=before,
        after={
            **_snapshot(item),
            **audit_extra,
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


def approve(
    session: Session,
    item_id: int,
    actor: Actor,
    *,
    propose_chunk: bool = False,
    notifier: Notifier | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> Decision:
    """Approve the answer: it becomes a gold training example (its redacted text), and with
    ``propose_chunk`` a proposed KB chunk, unless the answer or its question is flagged for
    profanity/abuse or not safe for training (then ``Decision.notes`` says why and nothing is
    created). A held draft is released (and sent when a ``notifier`` is given)."""
    require(actor, "review")
    now = (clock or SystemClock()).now()
    item = get_item(session, item_id)
    before = _snapshot(item)
    _decide(item, ReviewStatus.APPROVED, actor, None, now)
    msg = session.get(Message, item.message_id)
    return _accept(
        session, item, msg, actor, action="review.approve", answer=msg.redacted_content,
        source=TrainingSource.APPROVED, propose_chunk=propose_chunk,
        notifier=notifier, settings=settings, clock=clock, now=now, before=before, audit_extra={},
    )


def edit(
    session: Session,
    item_id: int,
    actor: Actor,
    new_text: str,
    reason: str,
    *,
    scrubber: Scrubber | None = None,
    propose_chunk: bool = False,
    notifier: Notifier | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
    enricher: Enricher | None = None,
) -> Decision:
    """Replace the answer with ``new_text``: stored on the message as human_edit_content with
    ``reason``, editor and time; its redacted form (``scrubber``) becomes the gold answer. A
    held draft is released with the edited text. With an ``enricher`` the message is
    enriched again, so its flags describe the edited text. Nothing becomes training data or
    a KB proposal when the answer or its question is flagged or not safe for training
    (``Decision.notes`` says why)."""
    require(actor, "review")
    if not isinstance(new_text, str) or not new_text.strip():
        raise ValidationError("The edited answer is empty; write the answer the customer should get.")
    if len(new_text) > MAX_EDIT_CHARS:
        raise ValidationError(
            f"The edited answer is {len(new_text)} characters; the limit is {MAX_EDIT_CHARS}."
        )
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("Say why the answer was edited (reason); it is kept with the edit.")
    now = (clock or SystemClock()).now()
    item = get_item(session, item_id)
    before = _snapshot(item)
    msg = session.get(Message, item.message_id)
    scrubber = scrubber or get_scrubber(settings)
    redacted = scrubber.scrub(new_text.strip()).text
    note = scrubber.scrub(reason.strip()).text
    keep_raw = settings.store_raw_content if settings is not None else True
    before["human_edit_content"] = (
        scrubber.scrub(msg.human_edit_content).text if msg.human_edit_content else None
    )
    _decide(item, ReviewStatus.EDITED, actor, note, now)
    msg.human_edited = True
    # the text the customer gets: raw only while raw text may be kept (purged after the retention
    # window, core.conversations.retention); the audit row and the gold answer get the redacted one
    msg.human_edit_content = new_text.strip() if keep_raw else redacted
    msg.edit_reason = note
    msg.edited_by = actor.name
    msg.edited_at = now
    if enricher is not None:  # the flags and tone score now describe the edited text
        enrich.enrich_message(session, msg.id, enricher, clock)
    return _accept(
        session, item, msg, actor, action="review.edit", answer=redacted,
        source=TrainingSource.EDITED, propose_chunk=propose_chunk,
        notifier=notifier, settings=settings, clock=clock, now=now, before=before,
        audit_extra={"human_edit_content": redacted, "edit_reason": msg.edit_reason},
    )


def reject(
    session: Session, item_id: int, actor: Actor, reason: str, *, clock: Clock | None = None,
    scrubber: Scrubber | None = None,
) -> Decision:
    """Reject the answer with a reason: it never becomes gold data (earlier examples from it
    are deactivated) and a held draft is cancelled, never sent."""
    require(actor, "review")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("Say why the answer is rejected (reason).")
    now = (clock or SystemClock()).now()
    item = get_item(session, item_id)
    before = _snapshot(item)
    reason = (scrubber or get_scrubber()).scrub(reason.strip()).text  # review notes are scrubbed too
    _decide(item, ReviewStatus.REJECTED, actor, reason, now)
    _deactivate_examples(session, item.message_id)
    dstatus = None
    if item.kind == ReviewKind.PRESEND:
        d = session.scalar(select(Delivery).where(Delivery.message_id == item.message_id))
        if d is not None:
            dstatus = delivery.cancel(session, d.id, reason.strip(), actor=actor, clock=clock).status
    audit.record(
        session,
        actor.name,
        "review.reject",
        "review_item",
        item.id,
        before=before,
        after={**_snapshot(item), "reason": reason.strip(), "delivery": dstatus},
        clock=clock,
    )
    session.flush()
    return Decision(item.id, item.status, None, None, dstatus)
