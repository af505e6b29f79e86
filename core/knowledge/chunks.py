"""Chunks of the knowledge base: add, edit, archive, import and export them, and proposals.

A chunk is one piece of knowledge (title, text, category, optional external id). Its status
is ``proposed`` (waits for the next refresh), ``active`` (part of the next KB version) or
``archived``. What customers are served comes from the *active KB version*
(``core.knowledge.versions``), rebuilt by ``core.knowledge.refresh.weekly_refresh``; how each
chunk performs is kept by ``core.knowledge.scoring``, and which chunks are stale by
``core.knowledge.staleness``.

Every function that changes chunks takes the acting user and checks the ``manage_kb`` right;
proposing a chunk from an approved answer (the review queue) needs only ``review``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.knowledge.evaluation import read_jsonl
from core.knowledge.handoff import handoff_reason
from core.knowledge.index import content_hash
from core.knowledge.titles import clean_title
from core.platform import audit, pii_check
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, ImportFailed, ImportProblem, NotFound, ValidationError
from core.platform.models import CHUNK_SOURCE_TYPES, CHUNK_STATUSES, Chunk, Conversation, Message
from core.platform.pii import get_scrubber
from core.platform.services import Scrubber
from core.platform.statuses import ChunkSource, ChunkStatus

MAX_TITLE = 300
MAX_TEXT = 20_000
EDITABLE = frozenset({"title", "text", "category", "metadata", "status"})


# --- chunks ---------------------------------------------------------------------------
def _clean_record(obj: Any) -> dict:
    """Validate one chunk record (an import line). Raises ValueError naming the field."""
    if not isinstance(obj, dict):
        raise ValueError("each line must be a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("text: required, non-empty text")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text: longer than {MAX_TEXT} characters")
    title = obj.get("title") or ""
    if not isinstance(title, str) or len(title) > MAX_TITLE:
        raise ValueError(f"title: text of at most {MAX_TITLE} characters")
    category = obj.get("category") or "general"
    if not isinstance(category, str) or len(category) > 100:
        raise ValueError("category: text of at most 100 characters")
    ext = obj.get("external_id")
    if ext is not None and (not isinstance(ext, str | int) or not str(ext).strip() or len(str(ext)) > 200):
        raise ValueError("external_id: text of at most 200 characters")
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ValueError("metadata: must be a JSON object")
    return {
        "external_id": str(ext).strip() if ext is not None else None,
        "title": title.strip(),
        "text": text.strip(),
        "category": category.strip().lower(),
        "metadata": meta,
    }


def chunk_by_external_id(session: Session, external_id: str) -> Chunk | None:
    return session.scalars(select(Chunk).where(Chunk.external_id == external_id)).first()


def get_chunk(session: Session, chunk_id: int) -> Chunk:
    chunk = session.get(Chunk, chunk_id)
    if chunk is None:
        raise NotFound(f"Chunk {chunk_id} does not exist.")
    return chunk


def add_chunk(
    session: Session,
    *,
    text: str,
    actor: Actor,
    title: str = "",
    category: str = "general",
    external_id: str | None = None,
    metadata: dict | None = None,
    status: str = ChunkStatus.ACTIVE,
    source_type: str = ChunkSource.MANUAL,
    source_message_id: int | None = None,
    clock: Clock | None = None,
) -> Chunk:
    """Add one chunk (active by default: it is served from the next KB version on)."""
    require(actor, "manage_kb")
    record = {"text": text, "title": title, "category": category, "external_id": external_id}
    return _insert(
        session,
        {**record, "metadata": metadata},
        status=status,
        source_type=source_type,
        source_message_id=source_message_id,
        created_by=actor.name,
        clock=clock,
    )


def _insert(
    session: Session,
    record: dict,
    *,
    status: str,
    source_type: str,
    source_message_id: int | None,
    created_by: str,
    clock: Clock | None,
) -> Chunk:
    """Validate and add one chunk (the caller has checked the actor's right)."""
    if status not in CHUNK_STATUSES:
        raise ValidationError(f"Unknown chunk status {status!r}; use one of {', '.join(CHUNK_STATUSES)}.")
    if source_type not in CHUNK_SOURCE_TYPES:
        raise ValidationError(
            f"Unknown source type {source_type!r}; use one of {', '.join(CHUNK_SOURCE_TYPES)}."
        )
    try:
        rec = _clean_record(record)
    except ValueError as exc:
        raise ValidationError(f"Invalid chunk: {exc}.") from None
    if rec["external_id"] and chunk_by_external_id(session, rec["external_id"]):
        raise Conflict(f"A chunk with external id {rec['external_id']!r} exists; update it instead.")
    now = (clock or SystemClock()).now()
    chunk = Chunk(
        external_id=rec["external_id"],
        title=rec["title"],
        text=rec["text"],
        category=rec["category"],
        chunk_metadata=rec["metadata"],
        content_hash=content_hash(rec["title"], rec["text"]),
        status=status,
        source_type=source_type,
        source_message_id=source_message_id,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(chunk)
    session.flush()
    return chunk


def update_chunk(
    session: Session, chunk_id: int, *, actor: Actor, clock: Clock | None = None, **changes: Any
) -> Chunk:
    """Change a chunk's title, text, category, metadata or status (audited). A text change
    gives it a new content hash: the next build embeds it again."""
    require(actor, "manage_kb")
    chunk = get_chunk(session, chunk_id)
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationError(
            f"Cannot change {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(EDITABLE))}."
        )
    if "status" in changes and changes["status"] not in CHUNK_STATUSES:
        raise ValidationError(
            f"Unknown chunk status {changes['status']!r}; use one of {', '.join(CHUNK_STATUSES)}."
        )
    before = _snapshot(chunk)
    now = (clock or SystemClock()).now()
    merged = {
        "text": changes.get("text", chunk.text),
        "title": changes.get("title", chunk.title),
        "category": changes.get("category", chunk.category),
        "metadata": changes.get("metadata", chunk.chunk_metadata),
    }
    try:
        rec = _clean_record(merged)
    except ValueError as exc:
        raise ValidationError(f"Invalid chunk: {exc}.") from None
    chunk.title, chunk.text, chunk.category = rec["title"], rec["text"], rec["category"]
    chunk.chunk_metadata = rec["metadata"]
    chunk.content_hash = content_hash(chunk.title, chunk.text)
    if "status" in changes:
        chunk.status = changes["status"]
    chunk.updated_at = now
    chunk.stale_flagged_at = None
    session.flush()
    audit.record(
        session, actor.name, "update", "chunk", chunk.id, before=before, after=_snapshot(chunk), clock=clock
    )
    return chunk


def archive_chunk(session: Session, chunk_id: int, *, actor: Actor, clock: Clock | None = None) -> Chunk:
    """Take a chunk out of the knowledge base from the next KB version on."""
    return update_chunk(session, chunk_id, actor=actor, clock=clock, status=ChunkStatus.ARCHIVED)


def mark_reviewed(session: Session, chunk_id: int, *, actor: Actor, clock: Clock | None = None) -> Chunk:
    """Record that an admin checked a chunk is still right (clears its stale flag)."""
    require(actor, "manage_kb")
    chunk = get_chunk(session, chunk_id)
    chunk.last_reviewed_at = (clock or SystemClock()).now()
    chunk.stale_flagged_at = None
    session.flush()
    audit.record(session, actor.name, "review", "chunk", chunk.id, clock=clock)
    return chunk


def _snapshot(chunk: Chunk) -> dict:
    return {
        "title": chunk.title,
        "text": chunk.text,
        "category": chunk.category,
        "status": chunk.status,
        "content_hash": chunk.content_hash,
    }


# --- import and export ------------------------------------------------------------------
@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[ImportProblem] = field(default_factory=list)
    chunk_ids: list[int] = field(default_factory=list)


def _parse_records(records: Sequence[Any], file: str, report: ImportReport) -> list[dict]:
    """The clean records; invalid lines go to ``report.rejected``."""
    clean: list[dict] = []
    seen_ext: set[str] = set()
    for n, obj in enumerate(records, start=1):
        try:
            rec = _clean_record(obj)
            if rec["external_id"]:
                if rec["external_id"] in seen_ext:
                    raise ValueError(f"external_id: {rec['external_id']!r} appears twice in the file")
                seen_ext.add(rec["external_id"])
            clean.append(rec)
        except ValueError as exc:
            fld, _, msg = str(exc).partition(": ") if ": " in str(exc) else (None, "", str(exc))
            report.rejected.append(ImportProblem(file, n, fld, msg or str(exc)))
    return clean


def import_chunks(
    session: Session,
    records: Sequence[Any],
    *,
    actor: Actor,
    status: str = ChunkStatus.ACTIVE,
    source_type: str = ChunkSource.IMPORTED,
    file: str = "<records>",
    skip_invalid: bool = False,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> ImportReport:
    """Import chunk records (JSONL lines: title, text, category, optional external_id and
    metadata). A record with a known external id updates that chunk; one without an
    external id whose text already exists is skipped. All or nothing unless
    ``skip_invalid``: then invalid lines are returned in ``rejected``. ``scrubber`` (a
    core.platform.pii scrubber) redacts title and text when given."""
    require(actor, "manage_kb")
    clock = clock or SystemClock()
    report = ImportReport()
    clean = _parse_records(records, file, report)
    if report.rejected and not skip_invalid:
        raise ImportFailed(report.rejected)
    if scrubber is not None:
        for rec in clean:
            rec["title"] = scrubber.scrub(rec["title"]).text if rec["title"] else ""
            rec["text"] = scrubber.scrub(rec["text"]).text
    existing_hashes = set(
        session.scalars(select(Chunk.content_hash).where(Chunk.status != ChunkStatus.ARCHIVED))
    )
    for rec in clean:
        h = content_hash(rec["title"], rec["text"])
        chunk = chunk_by_external_id(session, rec["external_id"]) if rec["external_id"] else None
        if chunk is not None:
            same = (
                chunk.content_hash == h
                and chunk.category == rec["category"]
                and (chunk.chunk_metadata or {}) == rec["metadata"]
                and chunk.status == status
            )
            if same:
                report.unchanged += 1
            else:
                update_chunk(
                    session,
                    chunk.id,
                    actor=actor,
                    clock=clock,
                    title=rec["title"],
                    text=rec["text"],
                    category=rec["category"],
                    metadata=rec["metadata"],
                    status=status,
                )
                report.updated += 1
            report.chunk_ids.append(chunk.id)
            continue
        if not rec["external_id"] and h in existing_hashes:
            report.unchanged += 1
            continue
        chunk = _insert(
            session,
            rec,
            status=status,
            source_type=source_type,
            source_message_id=None,
            created_by=actor.name,
            clock=clock,
        )
        existing_hashes.add(h)
        report.created += 1
        report.chunk_ids.append(chunk.id)
    if clean:
        audit.record(
            session,
            actor.name,
            "import",
            "chunk",
            None,
            clock=clock,
            after={
                "file": file,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": len(report.rejected),
            },
        )
    return report


def import_chunks_file(session: Session, path: Path, *, actor: Actor, **kwargs: Any) -> ImportReport:
    """``import_chunks`` over a JSONL file."""
    return import_chunks(session, read_jsonl(Path(path)), actor=actor, file=str(path), **kwargs)


def export_chunks(session: Session, *, statuses: Iterable[str] = (ChunkStatus.ACTIVE,)) -> list[dict]:
    """Chunks as JSON-ready records (the import format plus status and performance)."""
    q = select(Chunk).where(Chunk.status.in_(list(statuses))).order_by(Chunk.id)
    out = []
    for c in session.scalars(q):
        rec = {
            "external_id": c.external_id,
            "title": c.title,
            "text": c.text,
            "category": c.category,
            "metadata": c.chunk_metadata or {},
            "status": c.status,
            "source_type": c.source_type,
            "performance_score": round(c.performance_score, 4),
            "times_retrieved": c.times_retrieved,
            "times_used_in_response": c.times_used_in_response,
            "times_led_to_booking": c.times_led_to_booking,
            "avg_user_rating": c.avg_user_rating,
            "id": c.id,
        }
        out.append(rec)
    return out


def export_checked(
    session: Session, *, statuses: Iterable[str] = (ChunkStatus.ACTIVE,), settings: Settings | None = None
) -> list[dict]:
    """``export_chunks`` after the independent PII check (``core.platform.pii_check``) over every
    exported chunk: ValidationError naming each flagged chunk and entity type, unless approved."""
    rows = export_chunks(session, statuses=statuses)
    chunks = [session.get(Chunk, r["id"]) for r in rows]
    refuse_flagged(session, chunks, "The KB export", settings)
    return rows


def list_chunks(
    session: Session, *, status: str | None = None, category: str | None = None, limit: int = 200
) -> list[Chunk]:
    q = select(Chunk).order_by(Chunk.id).limit(limit)
    if status:
        q = q.where(Chunk.status == status)
    if category:
        q = q.where(Chunk.category == category)
    return list(session.scalars(q))


# --- proposals --------------------------------------------------------------------------
def propose_chunk(
    session: Session,
    *,
    actor: Actor,
    text: str | None = None,
    title: str | None = None,
    question: str | None = None,
    answer: str | None = None,
    category: str | None = None,
    source_message_id: int | None = None,
    external_id: str | None = None,
    metadata: dict | None = None,
    source_type: str = ChunkSource.APPROVED_ANSWER,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> Chunk:
    """Propose a chunk for the next refresh (status ``proposed``).

    Give ``text`` (and optionally ``title``), or an approved ``question`` and ``answer``
    (title = the question cleaned of greetings, names, placeholders and contact details by
    ``core.knowledge.titles.clean_title``: the whole question is kept in the metadata; text =
    answer; the reviewer can change the title, ``core.knowledge.proposals.retitle``). The
    category defaults to the intent of the source message's conversation. The next
    ``weekly_refresh`` deduplicates it against the KB: near-identical to an existing chunk, it
    becomes an update proposal for that chunk. Proposing the same text twice returns the first
    proposal. A hand-off, escalation or apology text (``core.knowledge.handoff``) is refused
    (ValidationError). Title, text and question are scrubbed here (``scrubber``, the process
    scrubber when None). An approved answer may be
    proposed by a reviewer (``review``); any other proposal needs ``manage_kb``.
    """
    require(actor, "review" if source_type == ChunkSource.APPROVED_ANSWER else "manage_kb")
    text = text if text is not None else answer
    from_question = title is None
    title = title if title is not None else (question or "")
    if not text or not str(text).strip():
        raise ValidationError("A proposed chunk needs text (or the approved answer).")
    if (why := handoff_reason(str(text))) is not None:
        raise ValidationError(f"Not proposed: the text {why}; knowledge must answer the question.")
    # proposals come from conversations: title, text and the kept question are always scrubbed
    scrubber = scrubber or get_scrubber()
    text = scrubber.scrub(str(text)).text
    question = scrubber.scrub(question).text if question else question
    if from_question:
        # the customer's question without greetings, names and contact details; the metadata
        # keeps the whole (redacted) question
        title = clean_title(question or "") or clean_title(text)
    else:
        title = scrubber.scrub(title).text if title else title
    if category is None and source_message_id is not None:
        category = session.scalar(
            select(Conversation.intent)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.id == source_message_id)
        )
    h = content_hash(title.strip(), str(text).strip())
    twin = session.scalars(
        select(Chunk).where(Chunk.content_hash == h, Chunk.status == ChunkStatus.PROPOSED)
    ).first()
    if twin is not None:
        return twin
    meta = dict(metadata or {})
    if question and title != question:
        meta.setdefault("question", question)
    record = {
        "text": str(text),
        "title": title,
        "category": category or "general",
        "external_id": external_id,
        "metadata": meta,
    }
    return _insert(
        session,
        record,
        status=ChunkStatus.PROPOSED,
        source_type=source_type,
        source_message_id=source_message_id,
        created_by=actor.name,
        clock=clock,
    )


def question_answer_pairs(session: Session) -> list[tuple[str, str]]:
    """(question, answer) of every active chunk that came from a conversation (an approved answer
    or an agent's reply): the customer's whole redacted question when the metadata keeps it,
    else the title. Redacted text only; training data for the local embedding fine-tune."""
    rows = session.execute(
        select(Chunk.title, Chunk.text, Chunk.chunk_metadata).where(
            Chunk.status == ChunkStatus.ACTIVE,
            Chunk.source_type.in_((ChunkSource.APPROVED_ANSWER, ChunkSource.AGENT_ANSWER)),
        ).order_by(Chunk.id)
    )
    pairs = []
    for title, text, meta in rows:
        question = (meta or {}).get("question") or title
        if question and text:
            pairs.append((str(question), str(text)))
    return pairs


def list_update_proposals(session: Session) -> list[Chunk]:
    """Proposed chunks the refresh found near-identical to an existing chunk."""
    q = (
        select(Chunk)
        .where(Chunk.status == ChunkStatus.PROPOSED, Chunk.duplicate_of_id.is_not(None))
        .order_by(Chunk.id)
    )
    return list(session.scalars(q))


def check_text(chunk: Chunk) -> str:
    """What the independent PII check reads of a chunk (and what an admin's approval covers)."""
    return f"{chunk.title}\n{chunk.text}"


def refuse_flagged(
    session: Session, chunks: Sequence[Chunk], what: str, settings: Settings | None = None
) -> None:
    """ValidationError naming every chunk the independent PII check flags (unless approved)."""
    flagged = pii_check.flagged_texts(session, [check_text(c) for c in chunks], settings)
    if flagged:
        shown = [pii_check.LineFindings(chunks[f.line - 1].id, f.text_sha256, f.findings) for f in flagged]
        raise ValidationError(
            pii_check.refusal_message(what, shown, "`supportloop pii approve --chunk ID`", label="chunk")
        )


def approve_chunk_text(
    session: Session, chunk_id: int, *, actor: Actor, clock: Clock | None = None
) -> str:
    """An admin approves a chunk's current title and text after the independent PII check
    flagged them: promotion and export let exactly this text pass (``view_raw`` right)."""
    chunk = get_chunk(session, chunk_id)
    return pii_check.approve_text(session, check_text(chunk), actor=actor, subject=f"chunk {chunk.id}",
                                  clock=clock)


def apply_update_proposal(
    session: Session, proposal_id: int, *, actor: Actor, clock: Clock | None = None
) -> Chunk:
    """Accept an update proposal: the existing chunk takes the proposal's title and text
    (re-embedded at the next refresh) and the proposal is archived."""
    require(actor, "manage_kb")
    proposal = get_chunk(session, proposal_id)
    if proposal.status != ChunkStatus.PROPOSED or proposal.duplicate_of_id is None:
        raise Conflict(f"Chunk {proposal_id} is not an update proposal (status {proposal.status}).")
    refuse_flagged(session, [proposal], f"The update from proposal {proposal.id}")
    target = update_chunk(
        session,
        proposal.duplicate_of_id,
        actor=actor,
        clock=clock,
        title=proposal.title or get_chunk(session, proposal.duplicate_of_id).title,
        text=proposal.text,
    )
    target.last_reviewed_at = (clock or SystemClock()).now()
    update_chunk(session, proposal.id, actor=actor, clock=clock, status=ChunkStatus.ARCHIVED)
    return target
