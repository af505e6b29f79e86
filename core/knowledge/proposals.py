"""Deciding on proposed chunks: reject one, archive any chunk, give a proposal a better title,
and list proposals with the reason each one waits.

- :func:`reject_proposal` (``supportloop kb reject ID``): a proposed chunk never joins the KB;
  it is archived with the reviewer's reason in its metadata (``rejected``). Needs ``review``
  (reviewers decide on the proposals their approvals create).
- :func:`archive` (``supportloop kb archive ID``): any chunk leaves the KB from the next
  version on. Needs ``manage_kb``.
- :func:`retitle` (``supportloop kb title ID TITLE``): the reviewer edits a proposal's title
  (``review``); any other chunk's title needs ``manage_kb``.

Each is audited in the caller's transaction; an unknown id is ``NotFound``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.knowledge.attribution import gate_reason
from core.knowledge.chunks import MAX_TITLE, archive_chunk, get_chunk, update_chunk
from core.knowledge.index import content_hash
from core.platform import audit
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import Conflict, ValidationError
from core.platform.models import Chunk
from core.platform.pii import get_scrubber
from core.platform.services import Scrubber
from core.platform.statuses import ChunkStatus

MAX_REASON = 500


@dataclass
class Proposal:
    """A proposed chunk as the review of proposals shows it."""

    id: int
    title: str
    text: str
    category: str
    update_of: int | None
    waits_because: str | None  # the gate's blame, or None (it joins the next refresh)
    question: str | None


def list_proposals(session: Session, limit: int = 500) -> list[Proposal]:
    """Proposed chunks, oldest first, with why each waits (the gate's blame) when it does."""
    q = select(Chunk).where(Chunk.status == ChunkStatus.PROPOSED).order_by(Chunk.id).limit(limit)
    return [
        Proposal(c.id, c.title, c.text, c.category, c.duplicate_of_id, gate_reason(c),
                 (c.chunk_metadata or {}).get("question"))
        for c in session.scalars(q)
    ]


def reject_proposal(
    session: Session, chunk_id: int, *, actor: Actor, reason: str, scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> Chunk:
    """Reject a proposed chunk with a reason (scrubbed): it is archived and never joins the KB."""
    require(actor, "review")
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError("Say why the proposal is rejected (reason).")
    if len(reason) > MAX_REASON:
        raise ValidationError(f"The reason is {len(reason)} characters; the limit is {MAX_REASON}.")
    chunk = get_chunk(session, chunk_id)
    if chunk.status != ChunkStatus.PROPOSED:
        raise Conflict(f"Chunk {chunk_id} is {chunk.status}, not a proposal; archive it instead.")
    now = (clock or SystemClock()).now()
    note = (scrubber or get_scrubber()).scrub(reason.strip()).text
    chunk.status, chunk.updated_at = ChunkStatus.ARCHIVED, now
    chunk.chunk_metadata = {
        **(chunk.chunk_metadata or {}),
        "rejected": {"by": actor.name, "reason": note, "at": now.isoformat()},
    }
    session.flush()
    audit.record(session, actor.name, "reject", "chunk", chunk.id, before={"status": ChunkStatus.PROPOSED},
                 after={"status": chunk.status, "reason": note}, clock=clock)
    return chunk


def archive(session: Session, chunk_id: int, *, actor: Actor, clock: Clock | None = None) -> Chunk:
    """Archive any chunk (``manage_kb``): it leaves the KB from the next version on."""
    require(actor, "manage_kb")
    chunk = get_chunk(session, chunk_id)
    if chunk.status == ChunkStatus.ARCHIVED:
        raise Conflict(f"Chunk {chunk_id} is already archived.")
    return archive_chunk(session, chunk_id, actor=actor, clock=clock)


def retitle(
    session: Session, chunk_id: int, title: str, *, actor: Actor, scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> Chunk:
    """Give a chunk a new title (scrubbed). A reviewer may retitle a proposal; any other chunk
    needs ``manage_kb``. A blamed proposal is tried again at the next refresh (new content hash)."""
    chunk = get_chunk(session, chunk_id)
    require(actor, "review" if chunk.status == ChunkStatus.PROPOSED else "manage_kb")
    title = (title or "").strip()
    if not title:
        raise ValidationError("The title is empty; write the question this chunk answers.")
    if len(title) > MAX_TITLE:
        raise ValidationError(f"The title is {len(title)} characters; the limit is {MAX_TITLE}.")
    title = (scrubber or get_scrubber()).scrub(title).text
    if actor.can("manage_kb"):
        return update_chunk(session, chunk_id, actor=actor, clock=clock, title=title)
    before = chunk.title
    chunk.title, chunk.updated_at = title, (clock or SystemClock()).now()
    chunk.content_hash = content_hash(chunk.title, chunk.text)
    session.flush()
    audit.record(session, actor.name, "retitle", "chunk", chunk.id, before={"title": before},
                 after={"title": title}, clock=clock)
    return chunk
