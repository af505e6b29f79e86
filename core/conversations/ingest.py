"""Storing conversations and messages, with PII scrubbing at write time.

Every message is scrubbed before it is written: the redacted text, the PII entity types
found and the safe-for-training flag are stored with it; the raw text only when
``settings.store_raw_content`` allows (``core.conversations.retention`` purges it after the retention
window). Escalation reasons are scrubbed too; personal identifiers (the external user id when
it is an e-mail or phone, contact fields of ``channel_metadata``) are hashed by the retention
purge. Each conversation gets its outcome row (``core.conversations.outcomes``).

``store_conversations`` is the bulk path (imports, demo data, API batches): it scrubs every
message text in one ``scrub_batch`` call and writes with multi-row inserts.
``add_message`` appends one message to an existing conversation. ``import_file`` reads a
file (see ``core.conversations.importers`` and docs/import.md). The shapes stored and their
validation are in ``core.conversations.schemas``. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.conversations import lifecycle, outcomes
from core.conversations.importers import detect_format, parse_file
from core.conversations.schemas import (
    ConversationIn,
    ImportReport,
    MessageIn,
    OutcomeIn,
    StoreReport,
    validate_conversation,
    validate_message,
)
from core.enrichment import enrich
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, ImportFailed, NotFound, ValidationError
from core.platform.models import Conversation, ConversationOutcome, Message
from core.platform.services import Scrubber

_ID_CHUNK = 500  # ids per IN (...) query


# --- writing ----------------------------------------------------------------------------
def _existing(session: Session, model, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (channel, external_id) pairs of ``keys`` already stored on ``model`` (Message or
    Conversation: external ids are unique per channel)."""
    by_channel: dict[str, list[str]] = {}
    for channel, ext in keys:
        by_channel.setdefault(channel, []).append(ext)
    found: set[tuple[str, str]] = set()
    for channel, ids in by_channel.items():
        for i in range(0, len(ids), _ID_CHUNK):
            q = select(model.external_id).where(model.channel == channel,
                                                model.external_id.in_(ids[i : i + _ID_CHUNK]))
            found |= {(channel, ext) for ext in session.scalars(q)}
    return found


def _existing_messages(session: Session, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return _existing(session, Message, keys)


def _existing_conversations(session: Session, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    return _existing(session, Conversation, keys)


def micro_dollars(value: float | None) -> float | None:
    """A cost in US dollars rounded to micro-dollars (the precision costs are kept at)."""
    return None if value is None else round(float(value), 6)


def _message_row(msg: MessageIn, channel: str, result, at: dt.datetime, settings: Settings) -> dict[str, Any]:
    ext = msg.external_id or None  # "" is no id (ids are unique per channel)
    return {
        "external_id": ext,
        "channel": channel if ext else None,  # the key of the uniqueness (the conversation's channel)
        "role": msg.role,
        "raw_content": msg.content if settings.store_raw_content else None,
        "redacted_content": result.text,
        "pii_entity_types": list(result.entity_types),
        "safe_for_training": bool(result.safe),
        "confidence": msg.confidence,
        "model_used": msg.model_used,
        "latency_ms": msg.latency_ms,
        "tokens_in": None if msg.tokens_in is None else int(msg.tokens_in),
        "tokens_out": None if msg.tokens_out is None else int(msg.tokens_out),
        "cost_usd": micro_dollars(msg.cost_usd),
        "human_edited": False,
        "created_at": at,
    }


def store_conversations(
    session: Session,
    convs: list[ConversationIn],
    scrubber: Scrubber,
    settings: Settings,
    clock: Clock | None = None,
    enricher: enrich.Enricher | None = None,
) -> StoreReport:
    """Validate, scrub and write conversations with their messages and outcome rows.

    Conversations whose ``external_id`` is already stored in the same channel (or repeats one
    earlier in ``convs``) are skipped and counted; the same id in another channel is another
    conversation. A conversation with an ``agent`` message is marked handed off
    (``core.conversations.lifecycle.handoff_fields``). Raises ``ValidationError`` listing every problem
    when any conversation is invalid (nothing is written then). Message texts are scrubbed
    in one ``scrubber.scrub_batch`` call; rows go in with multi-row inserts.
    Missing timestamps default to the conversation's ``created_at``, else the clock.
    With an ``enricher`` (``core.enrichment.enrich.get_enricher``) the new conversations are enriched
    (intents, flags, tone scores) in the same transaction.
    """
    now = (clock or SystemClock()).now()
    problems = []
    for n, conv in enumerate(convs):
        for fld, msg in validate_conversation(conv, settings):
            problems.append(f"conversation {n} ({conv.external_id or 'no id'}): {fld}: {msg}")
    if problems:
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        raise ValidationError(
            "Invalid conversation(s), nothing was stored: " + "; ".join(problems[:10]) + more
        )

    report = StoreReport()
    keys = [(c.channel, c.external_id) for c in convs if c.external_id]
    seen = _existing_conversations(session, keys) if keys else set()
    todo: list[ConversationIn] = []
    for conv in convs:
        if conv.external_id:
            if (conv.channel, conv.external_id) in seen:
                report.conversations_skipped += 1
                continue
            seen.add((conv.channel, conv.external_id))
        todo.append(conv)
    if not todo:
        return report

    # message ids are unique per channel: an id another channel uses is no clash (and the answer
    # never names what another channel holds)
    msg_keys = [(c.channel, m.external_id) for c in todo for m in c.messages if m.external_id]
    if msg_keys:
        if len(set(msg_keys)) != len(msg_keys):
            raise Conflict("A message external_id repeats within the batch; message ids must be unique.")
        taken = sorted(ext for _, ext in _existing_messages(session, msg_keys))
        if taken:
            raise Conflict(
                f"Message external id(s) already stored in other conversations: {taken[:5]}; "
                "message ids must be unique."
            )

    # Identical texts (templated replies, "thanks!", "yes") are scrubbed once.
    texts = [m.content for c in todo for m in c.messages]
    unique = list(dict.fromkeys(texts))
    t0 = time.perf_counter()
    scrubbed = dict(zip(unique, scrubber.scrub_batch(unique), strict=True))
    report.scrub_seconds = time.perf_counter() - t0
    report.texts_scrubbed = len(unique)
    results = [scrubbed[t] for t in texts]
    # escalation reasons are free text shown to viewers: scrubbed like messages
    given = list(dict.fromkeys(c.escalation_reason for c in todo if c.escalation_reason))
    cleaned = scrubber.scrub_batch(given) if given else []
    reasons = {r: res.text for r, res in zip(given, cleaned, strict=True)}

    conv_rows, msg_groups, outcome_rows = [], [], []
    k = 0
    for conv in todo:
        created = conv.created_at or next((m.created_at for m in conv.messages if m.created_at), None) or now
        rows, pairs, cost = [], [], 0.0
        for msg in conv.messages:
            at = msg.created_at or created
            res = results[k]
            k += 1
            rows.append(_message_row(msg, conv.channel, res, at, settings))
            pairs.append((msg.role, at))
            cost += msg.cost_usd or 0.0
            report.unsafe_messages += 0 if res.safe else 1
        out = conv.outcome or OutcomeIn()
        cost = micro_dollars(cost)
        status, escalated_at, reason = lifecycle.handoff_fields(
            conv.status, conv.escalated_at, conv.escalation_reason, pairs, default_at=created
        )
        conv_rows.append(
            {
                "external_id": conv.external_id or None,
                "channel": conv.channel,
                "external_user_id": conv.external_user_id,
                "status": status,
                "channel_metadata": dict(conv.channel_metadata or {}),
                "created_at": created,
                "first_response_at": outcomes.first_response(pairs),
                "escalated_at": escalated_at,
                "closed_at": conv.closed_at,
                "assigned_agent": conv.assigned_agent,
                "escalation_reason": reasons.get(reason, reason) if reason else reason,
                "intent": conv.intent,
                "updated_at": now,
            }
        )
        msg_groups.append(rows)
        outcome_rows.append(
            {
                "booking_converted": bool(out.booking_converted),
                "booking_value_usd": out.booking_value_usd if out.booking_converted else None,
                "csat": out.csat,
                "tone_score": out.tone_score,
                "down_votes": 0,
                "first_response_time_seconds": outcomes.first_response_seconds(pairs),
                "total_cost_usd": cost,
                "successful_outcome": outcomes.is_successful(
                    booking_converted=bool(out.booking_converted),
                    status=status,
                    escalated_at=escalated_at,
                    down_votes=0,
                    csat=out.csat,
                ),
                "updated_at": now,
            }
        )

    # Core inserts on the tables: multi-row INSERT ... VALUES batches on both databases
    # (the ORM bulk path falls back to one statement per row for some row shapes).
    conv_table = Conversation.__table__
    new_ids = list(
        session.execute(
            insert(conv_table).returning(conv_table.c.id, sort_by_parameter_order=True), conv_rows
        ).scalars()
    )
    all_msgs = []
    for cid, rows, out in zip(new_ids, msg_groups, outcome_rows, strict=True):
        for row in rows:
            row["conversation_id"] = cid
        all_msgs.extend(rows)
        out["conversation_id"] = cid
    msg_table, out_table = Message.__table__, ConversationOutcome.__table__
    session.execute(insert(msg_table), all_msgs)
    session.execute(insert(out_table), outcome_rows)
    report.conversations_created = len(new_ids)
    report.messages_created = len(all_msgs)
    report.conversation_ids = new_ids
    if enricher is not None and new_ids:
        enrich.enrich_conversations(session, new_ids, enricher, clock)
    return report


def add_message(
    session: Session,
    conversation_id: int,
    msg: MessageIn,
    scrubber: Scrubber,
    settings: Settings,
    clock: Clock | None = None,
    enricher: enrich.Enricher | None = None,
) -> Message:
    """Scrub and append one message to a stored conversation; refreshes its outcome.

    The message moves the conversation's lifecycle (``core.conversations.lifecycle.note_message``):
    a customer message reopens a closed conversation, an agent message hands it off.

    Idempotent on ``msg.external_id``: a message already stored with that id in this
    conversation is returned unchanged (a retry); in another conversation of the same channel it
    is a Conflict. Ids are unique per channel: one that another channel uses is a new message.
    With an ``enricher`` the new message is enriched (``core.enrichment.enrich.enrich_message``).
    """
    problems = validate_message(msg, settings)
    if problems:
        raise ValidationError("Invalid message: " + "; ".join(f"{f}: {m}" for f, m in problems))
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist; create it first.")
    existing = _stored_message(session, conv, msg)
    if existing is not None:
        return existing
    now = (clock or SystemClock()).now()
    result = scrubber.scrub(msg.content)
    fields = _message_row(msg, conv.channel, result, msg.created_at or now, settings)
    row = Message(conversation_id=conversation_id, **fields)
    conv.updated_at = now
    session.flush()  # a write first: SQLite's savepoint below then nests in this transaction
    try:
        # A savepoint: when a concurrent request stored the same id first (its insert won the
        # unique constraint), this one is a retry of it, answered like one, not a server error.
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        existing = _stored_message(session, conv, msg)
        if existing is None:
            raise
        return existing
    lifecycle.note_message(conv, row)
    session.flush()
    outcomes.refresh_outcome(session, conv, clock)
    if enricher is not None:
        enrich.enrich_message(session, row.id, enricher, clock)
    return row


def _stored_message(session: Session, conv: Conversation, msg: MessageIn) -> Message | None:
    """The message already stored with ``msg``'s external id in ``conv``'s channel (a retry),
    None when there is none; Conflict when it belongs to another conversation."""
    if not msg.external_id:
        return None
    existing = session.scalar(
        select(Message).where(Message.channel == conv.channel, Message.external_id == msg.external_id)
    )
    if existing is not None and existing.conversation_id != conv.id:
        raise Conflict(
            f"Message {msg.external_id!r} already belongs to conversation "
            f"{existing.conversation_id}; message ids must be unique."
        )
    return existing


# --- file imports -------------------------------------------------------------------------
_BATCH_MESSAGES = 1000  # messages per store_conversations call during an import


def _write_rejects(path: Path, rejects: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for r in rejects:
            fh.write(json.dumps(r, default=str) + "\n")


def import_file(
    session: Session,
    path: str | Path,
    scrubber: Scrubber,
    settings: Settings,
    fmt: str | None = None,
    skip_invalid: bool = False,
    rejects_path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    clock: Clock | None = None,
    enricher: enrich.Enricher | None = None,
) -> ImportReport:
    """Import one file of conversations (jsonl, csv, vtt or turns; see docs/import.md).

    Every row is parsed and validated before anything is written. With any invalid row the
    import raises ``ImportFailed`` (file, line and field of every problem) and writes
    nothing, unless ``skip_invalid``: then the valid conversations are written and the
    rejected rows go to ``rejects_path`` (default ``<file>.rejects.jsonl``), one JSON object
    per row with line, field, message and the raw row; a conversation is accepted or rejected
    whole. Conversations already imported (same channel and external id) are skipped, so
    re-importing a file creates no duplicates.
    ``progress(done, total)`` is called with message counts as batches are written.
    With an ``enricher`` every imported conversation is enriched batch by batch.
    """
    started = time.perf_counter()
    path = Path(path)
    fmt = detect_format(path, fmt)
    parsed = parse_file(path, fmt, settings, clock=clock)
    report = ImportReport(file=str(path), format=fmt)

    good, rejects = [], []
    for item in parsed.conversations:
        problems = list(item.problems)
        if item.conversation is not None:
            known = {(p.line, p.field) for p in problems}
            for fld, msg in validate_conversation(item.conversation, settings):
                p = item.problem(fld, msg)
                if (p.line, p.field) not in known:  # the parser already said what is wrong there
                    problems.append(p)
        if problems:
            report.problems.extend(problems)
            report.rejected_conversations += 1
            rejects.extend(item.rejects(problems))
        else:
            good.append(item.conversation)
    if parsed.file_problems:  # the file as a whole is unusable (missing column, no header)
        raise ImportFailed(parsed.file_problems + report.problems)
    if report.problems and not skip_invalid:
        raise ImportFailed(report.problems)

    total = sum(len(c.messages) for c in good)
    done = 0
    if progress:
        progress(0, total)
    batch: list[ConversationIn] = []

    def flush() -> None:
        nonlocal done
        res = store_conversations(session, batch, scrubber, settings, clock, enricher=enricher)
        report.conversations_created += res.conversations_created
        report.conversations_skipped += res.conversations_skipped
        report.messages_created += res.messages_created
        report.unsafe_messages += res.unsafe_messages
        report.scrub_seconds += res.scrub_seconds
        report.texts_scrubbed += res.texts_scrubbed
        done += sum(len(c.messages) for c in batch)
        batch.clear()
        if progress:
            progress(done, total)

    size = 0
    for conv in good:
        batch.append(conv)
        size += len(conv.messages)
        if size >= _BATCH_MESSAGES:
            flush()
            size = 0
    if batch:
        flush()
    session.flush()

    if rejects:
        out = Path(rejects_path) if rejects_path else path.with_name(path.name + ".rejects.jsonl")
        _write_rejects(out, rejects)
        report.rejects_path = str(out)
        report.rejected_rows = len(rejects)
    report.seconds = time.perf_counter() - started
    return report
