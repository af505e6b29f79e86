"""Sending assistant replies through their channel.

E-mail replies go out over SMTP (``core.platform.notify``) with the signed feedback footer; every
other channel is POSTed as JSON to the outbound webhook configured for it
(``settings.reply_webhooks``, e.g. an SMS gateway). A reply is ``sent`` only when delivery
succeeded. A failed round is recorded (attempts, the error, a log of every round) and
retried later with a doubling wait (``retry_due``) until ``delivery_max_attempts`` rounds
have failed; then it stays ``failed``.

Statuses: ``held`` (a risky or flagged draft waiting for pre-send approval, see
``core.review.policy``), ``pending`` (to send, at ``next_attempt_at``), ``sent``, ``failed``,
``cancelled`` (rejected). Releasing or cancelling a held draft is a reviewer's decision
(``core.review.decisions``) and needs the ``review`` right; queueing and sending replies is the
reply pipeline's and the runner's work.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enrichment import enrich
from core.feedback.links import email_footer
from core.platform.actors import SYSTEM, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, ProviderError, ValidationError
from core.platform.models import Conversation, Delivery, Message
from core.platform.notify import validate_address
from core.platform.pii import get_scrubber
from core.platform.services import Enricher, Notifier
from core.platform.statuses import Channel, DeliveryStatus, MessageRole
from core.review.policy import hold_draft, risk_reasons


@dataclass
class RetryReport:
    """What ``retry_due`` did."""

    attempted: int = 0
    sent: int = 0
    failed: int = 0  # gave up for good this round


def _get(session: Session, delivery_id: int) -> Delivery:
    d = session.get(Delivery, delivery_id)
    if d is None:
        raise NotFound(f"Delivery {delivery_id} does not exist.")
    return d


def queue_reply(
    session: Session,
    message_id: int,
    settings: Settings,
    *,
    intent: str | None = None,
    clock: Clock | None = None,
    enricher: Enricher | None = None,
) -> Delivery:
    """Create the delivery of an assistant message: ``held`` for pre-send approval when the
    draft is risky (low confidence, a risky intent, or flagged for profanity/abuse by
    ``core.enrichment.enrich``), else ``pending``. A draft not enriched yet is enriched first when an
    ``enricher`` is given. Idempotent."""
    msg = session.get(Message, message_id)
    if msg is None:
        raise NotFound(f"Message {message_id} does not exist.")
    if msg.role not in (MessageRole.ASSISTANT, MessageRole.AGENT):
        raise ValidationError(f"Message {message_id} is a {msg.role} message; only replies are sent.")
    existing = session.scalar(select(Delivery).where(Delivery.message_id == message_id))
    if existing is not None:
        return existing
    conv = session.get(Conversation, msg.conversation_id)
    now = (clock or SystemClock()).now()
    reasons = []
    if msg.role == MessageRole.ASSISTANT:
        if enricher is not None and msg.enriched_at is None:
            enrich.enrich_message(session, msg.id, enricher, clock)
        reasons = risk_reasons(settings, msg.confidence, intent or conv.intent)
        reasons += enrich.hold_reasons(msg)
    d = Delivery(
        message_id=message_id,
        channel=conv.channel,
        status=DeliveryStatus.HELD if reasons else DeliveryStatus.PENDING,
        attempts=0,
        attempt_log=[],
        next_attempt_at=None if reasons else now,
        created_at=now,
        updated_at=now,
    )
    session.add(d)
    session.flush()
    if reasons:  # the reply pipeline holds the draft, no user
        hold_draft(session, message_id, reasons, actor=SYSTEM, clock=clock)
    return d


def release(session: Session, delivery_id: int, *, actor: Actor, clock: Clock | None = None) -> Delivery:
    """Let a held draft go out (after approval): held -> pending. ``actor`` needs the review right."""
    require(actor, "review")
    d = _get(session, delivery_id)
    if d.status == DeliveryStatus.HELD:
        now = (clock or SystemClock()).now()
        d.status, d.next_attempt_at, d.updated_at = DeliveryStatus.PENDING, now, now
        session.flush()
    return d


def cancel(
    session: Session, delivery_id: int, reason: str, *, actor: Actor, clock: Clock | None = None
) -> Delivery:
    """Never send this reply (a rejected draft). ``actor`` needs the review right."""
    require(actor, "review")
    d = _get(session, delivery_id)
    if d.status == DeliveryStatus.SENT:
        raise Conflict(f"Delivery {delivery_id} was already sent; it cannot be cancelled.")
    now = (clock or SystemClock()).now()
    d.status, d.last_error, d.next_attempt_at, d.updated_at = (
        DeliveryStatus.CANCELLED, f"cancelled: {reason}", None, now
    )
    session.flush()
    return d


def reply_text(msg: Message) -> str:
    """The text that goes to the customer: the admin's edit when there is one."""
    if msg.human_edited and msg.human_edit_content:
        return msg.human_edit_content
    return msg.raw_content if msg.raw_content is not None else msg.redacted_content


def _email_address(conv: Conversation) -> str:
    meta = conv.channel_metadata or {}
    for candidate in (meta.get("email"), meta.get("from"), conv.external_user_id):
        if candidate:
            try:
                return validate_address(str(candidate), "customer address")
            except ValidationError:
                continue
    raise ValidationError(
        f"Conversation {conv.id} has no customer e-mail address (channel_metadata.email or an "
        "address as external_user_id); the reply cannot be e-mailed."
    )


def _send(session: Session, d: Delivery, notifier: Notifier, settings: Settings, clock) -> str:
    msg = session.get(Message, d.message_id)
    conv = session.get(Conversation, msg.conversation_id)
    text = reply_text(msg)
    footer = (
        email_footer(msg.id, session=session, settings=settings, clock=clock)
        if msg.role == MessageRole.ASSISTANT
        else None
    )
    if d.channel == Channel.EMAIL:
        meta = conv.channel_metadata or {}
        subject = str(meta.get("subject") or "your question").replace("\r", " ").replace("\n", " ")[:200]
        if not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        headers = {}
        if meta.get("message_id"):
            headers = {"In-Reply-To": str(meta["message_id"]), "References": str(meta["message_id"])}
        body_html = "".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n"))
        return notifier.send_email(
            _email_address(conv),
            subject,
            text + ("\n\n" + footer.text if footer else ""),
            html=body_html + (footer.html if footer else ""),
            headers=headers,
        )
    url = (settings.reply_webhooks or {}).get(d.channel)
    if not url:
        raise ValidationError(
            f"No outbound webhook is configured for channel {d.channel!r}; set SUPPORTLOOP_REPLY_WEBHOOKS, "
            f'e.g. {{"{d.channel}": "https://gateway.example/{d.channel}"}}.'
        )
    payload = {
        "delivery_id": d.id,
        "message_id": msg.id,
        "conversation_id": conv.id,
        "external_conversation_id": conv.external_id,
        "channel": conv.channel,
        "to": conv.external_user_id,
        "text": text,
    }
    if footer:
        payload["feedback"] = {"up": footer.up_url, "down": footer.down_url}
    status = notifier.send_webhook(url, payload, headers={"Idempotency-Key": f"supportloop-delivery-{d.id}"})
    return f"HTTP {status}"


def deliver(
    session: Session, delivery_id: int, notifier: Notifier, settings: Settings, clock: Clock | None = None
) -> Delivery:
    """Try to send one reply now. Success -> ``sent``; a failure is recorded and the delivery
    is retried later (``pending`` with a later ``next_attempt_at``) or, after the last
    round, ``failed``. A held or cancelled reply is never sent (Conflict)."""
    d = _get(session, delivery_id)
    if d.status == DeliveryStatus.SENT:
        return d
    if d.status in (DeliveryStatus.HELD, DeliveryStatus.CANCELLED):
        raise Conflict(
            f"Delivery {delivery_id} is {d.status}: "
            + (
                "it waits for pre-send approval in the review queue."
                if d.status == DeliveryStatus.HELD
                else "the draft was rejected and is never sent."
            )
        )
    now = (clock or SystemClock()).now()
    d.attempts = (d.attempts or 0) + 1
    try:
        ref = _send(session, d, notifier, settings, clock)
    except (ProviderError, ValidationError) as exc:
        # provider errors quote addresses and numbers ("recipient jo@x.com rejected"): scrubbed
        error = get_scrubber(settings).scrub(str(exc)[:2000]).text
        d.last_error = error
        d.attempt_log = [
            *(d.attempt_log or []),
            {"at": now.isoformat(), "ok": False, "error": error[:500]},
        ]
        permanent = isinstance(exc, ValidationError)
        if permanent or d.attempts >= settings.delivery_max_attempts:
            d.status, d.next_attempt_at = DeliveryStatus.FAILED, None
        else:
            d.status = DeliveryStatus.PENDING
            d.next_attempt_at = now + dt.timedelta(
                minutes=settings.delivery_retry_minutes * 2 ** (d.attempts - 1)
            )
    else:
        d.status, d.sent_at, d.provider_ref, d.last_error, d.next_attempt_at = (
            DeliveryStatus.SENT,
            now,
            str(ref)[:300],
            None,
            None,
        )
        d.attempt_log = [*(d.attempt_log or []), {"at": now.isoformat(), "ok": True, "ref": str(ref)[:300]}]
    d.updated_at = now
    session.flush()
    return d


def send_reply(
    session: Session,
    message_id: int,
    notifier: Notifier,
    settings: Settings,
    *,
    intent: str | None = None,
    clock: Clock | None = None,
    enricher: Enricher | None = None,
) -> Delivery:
    """Queue a reply and send it now unless it is held for approval."""
    d = queue_reply(session, message_id, settings, intent=intent, clock=clock, enricher=enricher)
    if d.status == DeliveryStatus.PENDING:
        d = deliver(session, d.id, notifier, settings, clock)
    return d


def retry_due(
    session: Session, notifier: Notifier, settings: Settings, clock: Clock | None = None, limit: int = 100
) -> RetryReport:
    """Send every pending delivery whose time has come (the job runner calls this)."""
    now = (clock or SystemClock()).now()
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at)
            .limit(limit)
        )
    )
    report = RetryReport()
    for did in ids:
        d = deliver(session, did, notifier, settings, clock)
        report.attempted += 1
        report.sent += d.status == DeliveryStatus.SENT
        report.failed += d.status == DeliveryStatus.FAILED
    return report


def delivery_for(session: Session, message_id: int) -> Delivery | None:
    """The delivery of a message, if it has one."""
    return session.scalar(select(Delivery).where(Delivery.message_id == message_id))
