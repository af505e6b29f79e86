"""The audit log: who did what to which row, when, with before/after for edits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.models import AuditLog


def record(
    session: Session,
    actor: str,
    action: str,
    entity: str,
    entity_id: Any = None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    clock: Clock | None = None,
) -> AuditLog:
    """Add one audit row (the caller commits, in the same transaction as the change)."""
    row = AuditLog(
        actor=actor,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        before=before,
        after=after,
        created_at=(clock or SystemClock()).now(),
    )
    session.add(row)
    session.flush()
    return row


def history(session: Session, entity: str, entity_id: Any) -> list[AuditLog]:
    """Every audit row of one entity, oldest first."""
    q = (
        select(AuditLog)
        .where(AuditLog.entity == entity, AuditLog.entity_id == str(entity_id))
        .order_by(AuditLog.id)
    )
    return list(session.scalars(q))
