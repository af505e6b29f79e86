"""Retention: personal data is kept raw only for the retention window; the purge clears it.

``purge`` (``supportloop purge --actor NAME``, and the daily ``retention_purge`` job as the
system actor; it needs the ``run_jobs`` right) handles every row created before
``now - settings.retention_days``, table by table:

- **raw text dropped**: ``message.raw_content`` becomes NULL (the redacted text stays);
- **identifiers hashed** (keyed hash with the signing secret, ``h:`` + 32 hex characters, so the
  same person still counts once): ``conversation.external_user_id`` when it is an e-mail or phone
  number, the contact fields of ``conversation.channel_metadata`` (e-mail, phone, name,
  address... and any value shaped like an e-mail or phone), ``feedback.voter``,
  ``experiment_exposure.user_key`` and ``shadow_answer.user_key`` when they are e-mails or phones;
- **free text scrubbed again** (for rows written before they were scrubbed at write time, and
  the raw edit kept for delivery): ``message.human_edit_content``, ``message.edit_reason``,
  ``conversation.escalation_reason``, ``feedback.comment``, ``survey.comment``,
  ``survey.last_error``, ``delivery.last_error``, ``review_item.decision_reason`` and the
  ``human_edit_content`` / ``edit_reason`` of ``review.edit`` audit rows.

Identifiers, free text and JSON are re-read only for rows created since the previous purge's
cutoff (the ``retention.purged`` event records it), so a daily purge does not re-scrub all
history; the raw message text is cleared by one UPDATE over everything older.
``PurgeReport.cleared`` says, per ``table.field``, how many values it changed; a
``retention.purged`` event records the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.platform import events
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.models import (
    AuditLog,
    Conversation,
    Delivery,
    Event,
    ExperimentExposure,
    Feedback,
    Message,
    ReviewItem,
    ShadowAnswer,
    Survey,
)
from core.platform.pii import get_scrubber
from core.platform.secrets import signing_secret
from core.platform.services import Scrubber

HASH_PREFIX = "h:"
CONTACT_KEYS = frozenset({
    "email", "e_mail", "mail", "phone", "phone_number", "mobile", "tel", "telephone", "caller",
    "caller_id", "from", "to", "reply_to", "name", "first_name", "last_name", "full_name",
    "display_name", "profile_name", "username", "handle", "address", "street", "contact",
    "customer", "customer_name", "customer_email", "customer_phone", "sender", "recipient",
})
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE = re.compile(r"\+?[\d\s().\-]{7,}(?:\s*(?:x|ext\.?)\s*\d+)?", re.IGNORECASE)


@dataclass
class PurgeReport:
    """What one purge changed: ``cleared["table.field"]`` = values changed; the cutoff used."""

    cutoff: dt.datetime
    cleared: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.cleared.values())

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff.isoformat(), "cleared": dict(self.cleared), "total": self.total}

    def summary(self, days: int) -> str:
        lines = [f"purged personal data older than {days} days (before {self.cutoff:%Y-%m-%d %H:%M}):"]
        lines += [f"  {k}: {v}" for k, v in self.cleared.items()]
        return "\n".join(lines) if self.total else lines[0] + " nothing to clear"


def retention_cutoff(settings: Settings, clock: Clock | None = None) -> dt.datetime:
    """Rows created before this moment lose their raw personal data."""
    return (clock or SystemClock()).now() - dt.timedelta(days=settings.retention_days)


def is_contact(value: Any) -> bool:
    """Whether a stored identifier is an e-mail address or a phone number (7+ digits)."""
    if not isinstance(value, str) or value.startswith(HASH_PREFIX):
        return False
    v = value.strip()
    if _EMAIL.fullmatch(v):
        return True
    return bool(_PHONE.fullmatch(v)) and sum(c.isdigit() for c in v) >= 7


def keyed_hash(secret: str, value: str) -> str:
    """``h:`` + the first 32 hex characters of HMAC-SHA256(secret, normalised value)."""
    norm = value.strip().lower()
    return HASH_PREFIX + hmac.new(secret.encode(), norm.encode(), hashlib.sha256).hexdigest()[:32]


def _previous_cutoff(session: Session) -> dt.datetime | None:
    ev = session.scalars(
        select(Event).where(Event.kind == "retention.purged").order_by(Event.id.desc()).limit(1)
    ).first()
    cutoff = (ev.details or {}).get("cutoff") if ev is not None else None
    return dt.datetime.fromisoformat(cutoff) if cutoff else None


def _metadata(meta: dict, hasher: Callable[[str], str]) -> tuple[dict, bool]:
    out, changed = {}, False
    for k, v in (meta or {}).items():
        if isinstance(v, dict):
            v2, c = _metadata(v, hasher)
        elif isinstance(v, str) and not v.startswith(HASH_PREFIX) and (
            str(k).lower() in CONTACT_KEYS or is_contact(v) or _EMAIL.search(v)
        ):
            v2, c = hasher(v), True
        else:
            v2, c = v, False
        out[k] = v2
        changed = changed or c
    return out, changed


def purge(
    session: Session,
    settings: Settings,
    clock: Clock | None = None,
    *,
    actor: Actor,
    scrubber: Scrubber | None = None,
) -> PurgeReport:
    """Clear the personal data of rows older than the retention window (see the module
    docstring); returns what was cleared per ``table.field``. ``actor`` needs ``run_jobs``.
    Records a ``retention.purged`` event; the caller commits."""
    require(actor, "run_jobs")
    cutoff = retention_cutoff(settings, clock)
    since = _previous_cutoff(session)
    report = PurgeReport(cutoff)
    secret = signing_secret(settings)
    scrub_cache: dict[str, str] = {}

    def hasher(v: str) -> str:
        return keyed_hash(secret, v)

    def scrub(texts: list[str]) -> dict[str, str]:
        todo = [t for t in dict.fromkeys(texts) if t not in scrub_cache]
        if todo:
            nonlocal scrubber
            scrubber = scrubber or get_scrubber(settings)
            scrub_cache.update({t: r.text for t, r in zip(todo, scrubber.scrub_batch(todo), strict=True)})
        return scrub_cache

    def count(key: str, n: int) -> None:
        if n:
            report.cleared[key] = report.cleared.get(key, 0) + n

    def window(created):  # noqa: ANN001, ANN202 - a column
        return (created < cutoff) if since is None else ((created < cutoff) & (created >= since))

    # 1. raw text: one UPDATE
    res = session.execute(
        update(Message).where(Message.raw_content.is_not(None), Message.created_at < cutoff)
        .values(raw_content=None).execution_options(synchronize_session=False)
    )
    count("message.raw_content", res.rowcount or 0)

    # 2. identifiers
    for model, col, created in (
        (Conversation, Conversation.external_user_id, Conversation.created_at),
        (Feedback, Feedback.voter, Feedback.created_at),
        (ExperimentExposure, ExperimentExposure.user_key, ExperimentExposure.created_at),
        (ShadowAnswer, ShadowAnswer.user_key, ShadowAnswer.created_at),
    ):
        for row in session.scalars(select(model).where(window(created), ~col.startswith(HASH_PREFIX))):
            if is_contact(getattr(row, col.key)):
                setattr(row, col.key, hasher(getattr(row, col.key)))
                count(f"{model.__tablename__}.{col.key}", 1)
    for conv in session.scalars(select(Conversation).where(window(Conversation.created_at))):
        meta, changed = _metadata(conv.channel_metadata or {}, hasher)
        if changed:
            conv.channel_metadata = meta
            count("conversation.channel_metadata", 1)

    # 3. free text, scrubbed again
    for model, cols, created in (
        (Message, (Message.human_edit_content, Message.edit_reason), Message.created_at),
        (Conversation, (Conversation.escalation_reason,), Conversation.created_at),
        (Feedback, (Feedback.comment,), Feedback.created_at),
        (Survey, (Survey.comment, Survey.last_error), Survey.created_at),
        (Delivery, (Delivery.last_error,), Delivery.created_at),
        (ReviewItem, (ReviewItem.decision_reason,), ReviewItem.created_at),
    ):
        present = or_(*[c.is_not(None) for c in cols])
        rows = list(session.scalars(select(model).where(window(created), present)))
        done = scrub([getattr(r, c.key) for r in rows for c in cols if getattr(r, c.key)])
        for r in rows:
            for c in cols:
                v = getattr(r, c.key)
                if v and done[v] != v:
                    setattr(r, c.key, done[v])
                    count(f"{model.__tablename__}.{c.key}", 1)
    audit_rows = list(session.scalars(
        select(AuditLog).where(window(AuditLog.created_at), AuditLog.action == "review.edit")
    ))
    keys = ("human_edit_content", "edit_reason")
    done = scrub([d[k] for r in audit_rows for d in (r.before or {}, r.after or {}) for k in keys
                  if isinstance(d.get(k), str) and d.get(k)])
    for r in audit_rows:
        for part in ("before", "after"):
            d = dict(getattr(r, part) or {})
            changed = [k for k in keys if isinstance(d.get(k), str) and d[k] and done[d[k]] != d[k]]
            if changed:
                d.update({k: done[d[k]] for k in changed})
                setattr(r, part, d)
                count(f"audit_log.{part}", 1)

    session.flush()
    events.record(
        session,
        "retention.purged",
        f"retention purge: {report.total} value(s) older than {settings.retention_days} days cleared",
        details={
            "messages": report.cleared.get("message.raw_content", 0),
            "cleared": dict(report.cleared),
            "cutoff": cutoff.isoformat(),
            "retention_days": settings.retention_days,
        },
        clock=clock,
    )
    return report
