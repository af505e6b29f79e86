"""The one event log: every part records what happened here (refresh rejected,
fine-tune failed, job missed, ...). The alerting code turns events into notifications.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.errors import ValidationError
from core.platform.models import SEVERITIES, Event
from core.platform.statuses import Severity


def record(
    session: Session,
    kind: str,
    subject: str,
    *,
    severity: str = Severity.INFO,
    details: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> Event:
    """Add one event (the caller commits)."""
    if severity not in SEVERITIES:
        raise ValidationError(f"Unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}.")
    if not kind:
        raise ValidationError("An event needs a kind, e.g. 'kb.refresh_rejected'.")
    ev = Event(
        kind=kind,
        severity=severity,
        subject=subject[:300],
        details=details or {},
        created_at=(clock or SystemClock()).now(),
    )
    session.add(ev)
    session.flush()
    return ev


def recent(
    session: Session,
    *,
    kind: str | None = None,
    since: dt.datetime | None = None,
    min_severity: str | None = None,
    limit: int = 100,
) -> list[Event]:
    """Events newest first, optionally filtered by kind prefix, time and severity."""
    q = select(Event).order_by(Event.created_at.desc(), Event.id.desc()).limit(limit)
    if kind:
        q = q.where(Event.kind.startswith(kind))
    if since:
        q = q.where(Event.created_at >= since)
    if min_severity:
        q = q.where(Event.severity.in_(SEVERITIES[SEVERITIES.index(min_severity) :]))
    return list(session.scalars(q))
