"""Stale content: active chunks nobody has updated or reviewed for ``kb_stale_days``.

``flag_stale_chunks`` (the job runner's daily task, ``supportloop kb stale`` and the end of
every refresh) sets ``stale_flagged_at`` on such chunks and clears it on chunks touched
since; ``core.knowledge.chunks.mark_reviewed`` or any edit clears it too. The review queue
asks ``messages_with_stale_chunks`` which recent answers relied on a stale chunk.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, not_, or_, select, update
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.models import Chunk, Message, MessageChunk
from core.platform.statuses import ChunkStatus


def _last_touched(chunk: Chunk) -> dt.datetime:
    return max(d for d in (chunk.updated_at, chunk.last_reviewed_at, chunk.created_at) if d is not None)


def flag_stale_chunks(session: Session, settings, clock: Clock | None = None) -> list[dict]:
    """Flag active chunks not updated or reviewed for more than ``kb_stale_days`` (the
    daily stale-content task) and clear the flag of chunks touched since. Returns every
    stale chunk (id, external_id, title, category, last_touched, days, newly_flagged)."""
    now = (clock or SystemClock()).now()
    cutoff = now - dt.timedelta(days=settings.kb_stale_days)
    untouched = and_(
        Chunk.updated_at < cutoff, or_(Chunk.last_reviewed_at.is_(None), Chunk.last_reviewed_at < cutoff)
    )
    session.execute(
        update(Chunk)
        .where(Chunk.stale_flagged_at.is_not(None), or_(Chunk.status != ChunkStatus.ACTIVE, not_(untouched)))
        .values(stale_flagged_at=None)
        .execution_options(synchronize_session="fetch")
    )
    out = []
    q = select(Chunk).where(Chunk.status == ChunkStatus.ACTIVE, untouched).order_by(Chunk.id)
    for chunk in session.scalars(q):
        newly = chunk.stale_flagged_at is None
        if newly:
            chunk.stale_flagged_at = now
        touched = _last_touched(chunk)
        out.append(
            {
                "id": chunk.id,
                "external_id": chunk.external_id,
                "title": chunk.title,
                "category": chunk.category,
                "last_touched": touched.isoformat(),
                "days": (now - touched).days,
                "newly_flagged": newly,
            }
        )
    session.flush()
    return out


def stale_chunks(session: Session) -> list[Chunk]:
    """Chunks currently flagged stale, oldest flag first (the review list)."""
    q = select(Chunk).where(Chunk.stale_flagged_at.is_not(None), Chunk.status == ChunkStatus.ACTIVE)
    return list(session.scalars(q.order_by(Chunk.stale_flagged_at, Chunk.id)))


def messages_with_stale_chunks(session: Session, since: dt.datetime | None = None) -> list[int]:
    """Assistant messages (since a time) whose answer used a chunk now flagged stale."""
    q = (
        select(MessageChunk.message_id)
        .join(Chunk, Chunk.id == MessageChunk.chunk_id)
        .join(Message, Message.id == MessageChunk.message_id)
        .where(MessageChunk.used.is_(True), Chunk.stale_flagged_at.is_not(None))
    )
    if since is not None:
        q = q.where(Message.created_at >= since)
    return list(session.scalars(q.distinct()))
