"""The pre-send policy: which drafts wait for approval, and which answers may become training data.

A draft in the risk class (confidence below ``presend_confidence_below``, an intent in
``presend_risk_intents``, or flagged by ``core.enrichment.enrich.hold_reasons``) is held: its
delivery (``core.review.delivery``) stays ``held`` and the draft waits in the queue as a
``presend`` item until an admin approves or edits it (then it is released) or rejects it (then it
is never sent; ``core.review.decisions``).

An approved or edited answer becomes gold training data and a KB proposal only when neither it
nor its question is flagged and it is safe for training (:func:`training_block_reason`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.enrichment import enrich
from core.platform.actors import Actor
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.models import Message, ReviewItem
from core.platform.statuses import ReviewKind
from core.review.queue import Reason, flag_message, question_of


def risk_reasons(settings: Settings, confidence: float | None, intent: str | None) -> list[str]:
    """Why a draft must be held for approval (empty: it may go out at once)."""
    reasons = []
    if confidence is not None and confidence < settings.presend_confidence_below:
        reasons.append(Reason.LOW_CONFIDENCE)
    risky = {i.strip().lower() for i in settings.presend_risk_intents.split(",") if i.strip()}
    if intent and intent.strip().lower() in risky:
        reasons.append(f"intent:{intent.strip().lower()}")
    return reasons


def hold_draft(
    session: Session, message_id: int, reasons: list[str], *, actor: Actor, clock: Clock | None = None
) -> ReviewItem:
    """Queue a held draft for pre-send approval (``actor`` needs the review right; the reply
    pipeline holds drafts as ``SYSTEM``)."""
    item = None
    for r in reasons or [Reason.RISKY_DRAFT]:
        item = flag_message(session, message_id, r, actor=actor, kind=ReviewKind.PRESEND, clock=clock)
    if Reason.RISKY_DRAFT not in item.reasons:
        item.reasons = [*item.reasons, str(Reason.RISKY_DRAFT)]
        session.flush()
    return item


def training_block_reason(session: Session, msg: Message) -> str | None:
    """Why an approved or edited answer must not become a training example or a KB chunk
    (``core.enrichment.enrich.eligible_for_training``), or None when it may."""
    if enrich.eligible_for_training(session, msg):
        return None
    q = question_of(session, msg)
    if msg.flagged or (q is not None and q.flagged):
        what = "the answer" if msg.flagged else "the customer's question"
        return (f"not added to training data or the knowledge base: {what} is flagged for "
                "profanity or abuse")
    return ("not added to training data or the knowledge base: the answer may contain personal "
            "data the scrubber was unsure about (not safe for training)")
