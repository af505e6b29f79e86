"""Retention: raw (unredacted) message text is kept only for the retention window.

``purge_raw`` sets ``raw_content`` to NULL on every message older than
``settings.retention_days``; the redacted text, entity types and everything else stay.
`supportloop purge --actor NAME` runs it now (an admin: it needs the ``run_jobs`` right); the
job runner runs it on its schedule as the system actor.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.platform import events
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.models import Message


def retention_cutoff(settings: Settings, clock: Clock | None = None) -> dt.datetime:
    """Messages created before this moment lose their raw text."""
    return (clock or SystemClock()).now() - dt.timedelta(days=settings.retention_days)


def purge_raw(session: Session, settings: Settings, clock: Clock | None = None, *, actor: Actor) -> int:
    """Null the raw text of messages older than the retention window; returns how many.

    ``actor`` needs the ``run_jobs`` right. One UPDATE statement; records a
    ``retention.purged`` event when anything was purged. The caller commits.
    """
    require(actor, "run_jobs")
    cutoff = retention_cutoff(settings, clock)
    result = session.execute(
        update(Message)
        .where(Message.raw_content.is_not(None), Message.created_at < cutoff)
        .values(raw_content=None)
        .execution_options(synchronize_session=False)
    )
    count = result.rowcount or 0
    if count:
        events.record(
            session,
            "retention.purged",
            f"raw text of {count} message(s) older than {settings.retention_days} days purged",
            details={
                "messages": count,
                "cutoff": cutoff.isoformat(),
                "retention_days": settings.retention_days,
            },
            clock=clock,
        )
    return count
