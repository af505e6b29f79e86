"""The knowledge base: chunks, their performance, staleness, import and export.

A chunk is one piece of knowledge (title, text, category, optional external id). Its status
is ``proposed`` (waits for the next refresh), ``active`` (part of the next KB version) or
``archived``. What customers are served comes from the *active KB version* (see
``core.knowledge.versions``), rebuilt by ``weekly_refresh`` (``core.knowledge.refresh``).

Performance: every answer updates ``times_retrieved`` / ``times_used_in_response`` of its
chunks (``core.answering.responder.record_answer``); votes, CSAT and bookings of the conversation
update the chunks the answer used (``record_chunk_feedback``). The performance score is
the seed formula 0.7 x booking rate + 0.3 x average rating / 5, with each part smoothed
toward 0.5 by ``kb_score_prior_weight`` pseudo-observations (see ``performance_score``).

This module re-exports the knowledge base's main entry points, so callers can
``from core import knowledge`` and find them all here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, not_, or_, select, update
from sqlalchemy.orm import Session

from core.knowledge.evaluation import add_question, import_questions, read_jsonl  # noqa: F401 - re-export
from core.knowledge.index import SearchHit, content_hash
from core.knowledge.refresh import RefreshReport, gate_version, weekly_refresh  # noqa: F401 - re-export
from core.knowledge.versions import (  # noqa: F401 - re-exported entry points
    activate_version,
    active_version,
    build_version,
    list_versions,
    rollback,
)
from core.platform import audit
from core.platform.clock import Clock, SystemClock
from core.platform.errors import Conflict, ImportFailed, ImportProblem, NotFound, ValidationError
from core.platform.models import (
    CHUNK_SOURCE_TYPES,
    CHUNK_STATUSES,
    Chunk,
    Conversation,
    EvaluationQuestion,
    Message,
    MessageChunk,
)

MAX_TITLE = 300
MAX_TEXT = 20_000


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
    title: str = "",
    category: str = "general",
    external_id: str | None = None,
    metadata: dict | None = None,
    status: str = "active",
    source_type: str = "manual",
    source_message_id: int | None = None,
    actor: str = "admin",
    clock: Clock | None = None,
) -> Chunk:
    """Add one chunk (active by default: it is served from the next KB version on)."""
    if status not in CHUNK_STATUSES:
        raise ValidationError(f"Unknown chunk status {status!r}; use one of {', '.join(CHUNK_STATUSES)}.")
    if source_type not in CHUNK_SOURCE_TYPES:
        raise ValidationError(
            f"Unknown source type {source_type!r}; use one of {', '.join(CHUNK_SOURCE_TYPES)}."
        )
    try:
        rec = _clean_record(
            {
                "text": text,
                "title": title,
                "category": category,
                "external_id": external_id,
                "metadata": metadata,
            }
        )
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
        created_by=actor,
        created_at=now,
        updated_at=now,
    )
    session.add(chunk)
    session.flush()
    return chunk


def update_chunk(
    session: Session, chunk_id: int, *, actor: str, clock: Clock | None = None, **changes: Any
) -> Chunk:
    """Change a chunk's title, text, category, metadata or status (audited). A text change
    gives it a new content hash: the next build embeds it again."""
    chunk = get_chunk(session, chunk_id)
    allowed = {"title", "text", "category", "metadata", "status"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(
            f"Cannot change {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(allowed))}."
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
        session, actor, "update", "chunk", chunk.id, before=before, after=_snapshot(chunk), clock=clock
    )
    return chunk


def archive_chunk(session: Session, chunk_id: int, *, actor: str, clock: Clock | None = None) -> Chunk:
    """Take a chunk out of the knowledge base from the next KB version on."""
    return update_chunk(session, chunk_id, actor=actor, clock=clock, status="archived")


def mark_reviewed(session: Session, chunk_id: int, *, actor: str, clock: Clock | None = None) -> Chunk:
    """Record that an admin checked a chunk is still right (clears its stale flag)."""
    chunk = get_chunk(session, chunk_id)
    chunk.last_reviewed_at = (clock or SystemClock()).now()
    chunk.stale_flagged_at = None
    session.flush()
    audit.record(session, actor, "review", "chunk", chunk.id, clock=clock)
    return chunk


def _snapshot(chunk: Chunk) -> dict:
    return {
        "title": chunk.title,
        "text": chunk.text,
        "category": chunk.category,
        "status": chunk.status,
        "content_hash": chunk.content_hash,
    }


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[ImportProblem] = field(default_factory=list)
    chunk_ids: list[int] = field(default_factory=list)


def import_chunks(
    session: Session,
    records: Sequence[Any],
    *,
    actor: str = "cli",
    status: str = "active",
    source_type: str = "imported",
    file: str = "<records>",
    skip_invalid: bool = False,
    scrubber=None,
    clock: Clock | None = None,
) -> ImportReport:
    """Import chunk records (JSONL lines: title, text, category, optional external_id and
    metadata). A record with a known external id updates that chunk; one without an
    external id whose text already exists is skipped. All or nothing unless
    ``skip_invalid``: then invalid lines are returned in ``rejected``. ``scrubber`` (a
    core.platform.pii scrubber) redacts title and text when given."""
    clock = clock or SystemClock()
    report = ImportReport()
    clean: list[tuple[int, dict]] = []
    seen_ext: set[str] = set()
    for n, obj in enumerate(records, start=1):
        try:
            rec = _clean_record(obj)
            if rec["external_id"]:
                if rec["external_id"] in seen_ext:
                    raise ValueError(f"external_id: {rec['external_id']!r} appears twice in the file")
                seen_ext.add(rec["external_id"])
            clean.append((n, rec))
        except ValueError as exc:
            fld, _, msg = str(exc).partition(": ") if ": " in str(exc) else (None, "", str(exc))
            report.rejected.append(ImportProblem(file, n, fld, msg or str(exc)))
    if report.rejected and not skip_invalid:
        raise ImportFailed(report.rejected)
    if scrubber is not None:
        for _, rec in clean:
            rec["title"] = scrubber.scrub(rec["title"]).text if rec["title"] else ""
            rec["text"] = scrubber.scrub(rec["text"]).text
    existing_hashes = set(session.scalars(select(Chunk.content_hash).where(Chunk.status != "archived")))
    for _, rec in clean:
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
        chunk = add_chunk(
            session,
            text=rec["text"],
            title=rec["title"],
            category=rec["category"],
            external_id=rec["external_id"],
            metadata=rec["metadata"],
            status=status,
            source_type=source_type,
            actor=actor,
            clock=clock,
        )
        existing_hashes.add(h)
        report.created += 1
        report.chunk_ids.append(chunk.id)
    if clean:
        audit.record(
            session,
            actor,
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


def import_chunks_file(session: Session, path: Path, **kwargs: Any) -> ImportReport:
    """``import_chunks`` over a JSONL file."""
    return import_chunks(session, read_jsonl(Path(path)), file=str(path), **kwargs)


def export_chunks(session: Session, *, statuses: Iterable[str] = ("active",)) -> list[dict]:
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
    text: str | None = None,
    title: str | None = None,
    question: str | None = None,
    answer: str | None = None,
    category: str | None = None,
    source_message_id: int | None = None,
    external_id: str | None = None,
    metadata: dict | None = None,
    source_type: str = "approved_answer",
    proposed_by: str = "admin",
    scrubber=None,
    clock: Clock | None = None,
) -> Chunk:
    """Propose a chunk for the next refresh (status ``proposed``).

    Give ``text`` (and optionally ``title``), or an approved ``question`` and ``answer``
    (title = question, cut to 300 characters when longer: the whole question is kept in the
    metadata, text = answer). The category defaults to the intent of the source
    message's conversation. The next ``weekly_refresh`` deduplicates it against the KB:
    near-identical to an existing chunk, it becomes an update proposal for that chunk.
    Proposing the same text twice returns the first proposal. Text is expected redacted;
    pass ``scrubber`` to redact it here.
    """
    text = text if text is not None else answer
    from_question = title is None
    title = title if title is not None else (question or "")
    if not text or not str(text).strip():
        raise ValidationError("A proposed chunk needs text (or the approved answer).")
    if scrubber is not None:
        text = scrubber.scrub(text).text
        title = scrubber.scrub(title).text if title else title
    if from_question and len(title.strip()) > MAX_TITLE:
        # a long customer question: the title keeps its start, the metadata the whole question
        title = title.strip()[: MAX_TITLE - 1].rstrip() + "…"
    if category is None and source_message_id is not None:
        category = session.scalar(
            select(Conversation.intent)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.id == source_message_id)
        )
    h = content_hash(title.strip(), str(text).strip())
    twin = session.scalars(select(Chunk).where(Chunk.content_hash == h, Chunk.status == "proposed")).first()
    if twin is not None:
        return twin
    meta = dict(metadata or {})
    if question and title != question:
        meta.setdefault("question", question)
    return add_chunk(
        session,
        text=str(text),
        title=title,
        category=category or "general",
        external_id=external_id,
        metadata=meta,
        status="proposed",
        source_type=source_type,
        source_message_id=source_message_id,
        actor=proposed_by,
        clock=clock,
    )


def list_update_proposals(session: Session) -> list[Chunk]:
    """Proposed chunks the refresh found near-identical to an existing chunk."""
    q = select(Chunk).where(Chunk.status == "proposed", Chunk.duplicate_of_id.is_not(None)).order_by(Chunk.id)
    return list(session.scalars(q))


def apply_update_proposal(
    session: Session, proposal_id: int, *, actor: str, clock: Clock | None = None
) -> Chunk:
    """Accept an update proposal: the existing chunk takes the proposal's title and text
    (re-embedded at the next refresh) and the proposal is archived."""
    proposal = get_chunk(session, proposal_id)
    if proposal.status != "proposed" or proposal.duplicate_of_id is None:
        raise Conflict(f"Chunk {proposal_id} is not an update proposal (status {proposal.status}).")
    target = update_chunk(
        session,
        proposal.duplicate_of_id,
        actor=actor,
        clock=clock,
        title=proposal.title or get_chunk(session, proposal.duplicate_of_id).title,
        text=proposal.text,
    )
    target.last_reviewed_at = (clock or SystemClock()).now()
    update_chunk(session, proposal.id, actor=actor, clock=clock, status="archived")
    return target


# --- stale content ----------------------------------------------------------------------
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
        .where(Chunk.stale_flagged_at.is_not(None), or_(Chunk.status != "active", not_(untouched)))
        .values(stale_flagged_at=None)
        .execution_options(synchronize_session="fetch")
    )
    out = []
    q = select(Chunk).where(Chunk.status == "active", untouched).order_by(Chunk.id)
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
    q = select(Chunk).where(Chunk.stale_flagged_at.is_not(None), Chunk.status == "active")
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


# --- demo -------------------------------------------------------------------------------
DATA_DIR = Path(__file__).resolve().parents[1] / "demo" / "data"


def _demo_records() -> tuple[list[dict], list[dict]]:
    try:
        from core.demo import business as demo
    except ImportError:
        demo = None
    kb = getattr(demo, "demo_kb_entries", None)
    ev = getattr(demo, "demo_eval_questions", None)
    kb_rows = list(kb()) if kb else read_jsonl(DATA_DIR / "demo_kb.jsonl")
    ev_rows = list(ev()) if ev else read_jsonl(DATA_DIR / "demo_eval.jsonl")
    return kb_rows, ev_rows


def load_demo_knowledge(
    session: Session,
    embedder,
    settings,
    clock: Clock | None = None,
    *,
    kb_records: Sequence[dict] | None = None,
    eval_records: Sequence[dict] | None = None,
    actor: str = "demo",
):
    """Import the demo KB (core/demo/data/demo_kb.jsonl) as active chunks and the demo golden
    questions (core/demo/data/demo_eval.jsonl) as the evaluation set, then run a refresh that
    builds, evaluates and activates the first KB version. Safe to run again (chunks are
    matched by external id; demo questions are added once). Returns the RefreshReport."""
    if kb_records is None or eval_records is None:
        default_kb, default_ev = _demo_records()
        kb_records = default_kb if kb_records is None else kb_records
        eval_records = default_ev if eval_records is None else eval_records
    import_chunks(session, kb_records, actor=actor, source_type="imported", file="demo_kb.jsonl", clock=clock)
    has_demo_qs = session.scalar(
        select(func.count()).select_from(EvaluationQuestion).where(EvaluationQuestion.source == "demo")
    )
    if not has_demo_qs:
        import_questions(
            session, eval_records, source="demo", created_by=actor, file="demo_eval.jsonl", clock=clock
        )
    return weekly_refresh(session, embedder, settings, clock, actor=actor, reason="demo knowledge base")


def search(
    session: Session, query: str, k: int = 5, *, embedder, settings, index_cache=None
) -> list[SearchHit]:
    """The k chunks of the active KB version closest to ``query`` (see core.answering.responder)."""
    from core.answering.responder import search as _search

    return _search(session, query, k, embedder=embedder, settings=settings, index_cache=index_cache)
