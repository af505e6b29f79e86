"""Storing conversations and messages, with PII scrubbing at write time.

Every message is scrubbed before it is written: the redacted text, the PII entity types
found and the safe-for-training flag are stored with it; the raw text only when
``settings.store_raw_content`` allows (``core.conversations.retention`` purges it after the retention
window). Each conversation gets its outcome row (``core.conversations.outcomes``).

``store_conversations`` is the bulk path (imports, demo data, API batches): it scrubs every
message text in one ``scrub_batch`` call and writes with multi-row inserts.
``add_message`` appends one message to an existing conversation. ``import_file`` reads a
file (see ``core.conversations.importers`` and docs/import.md). Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core.conversations import outcomes
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, ImportFailed, ImportProblem, NotFound, ValidationError
from core.platform.models import (
    CHANNELS,
    CONVERSATION_STATUSES,
    ROLES,
    Conversation,
    ConversationOutcome,
    Message,
)

_ID_CHUNK = 500  # ids per IN (...) query


@dataclass
class MessageIn:
    """One message to store (raw text; it is scrubbed on write)."""

    role: str
    content: str
    created_at: dt.datetime | None = None
    external_id: str | None = None
    confidence: float | None = None
    model_used: str | None = None
    latency_ms: float | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    cost_usd: float | None = None


@dataclass
class OutcomeIn:
    """What is known about how a conversation ended when it is stored."""

    booking_converted: bool = False
    booking_value_usd: float | None = None
    csat: int | None = None
    tone_score: float | None = None


@dataclass
class ConversationIn:
    """One conversation to store, with its messages in order."""

    channel: str
    external_user_id: str
    messages: list[MessageIn]
    external_id: str | None = None
    status: str = "ai"
    channel_metadata: dict = field(default_factory=dict)
    created_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    escalation_reason: str | None = None
    assigned_agent: str | None = None
    intent: str | None = None
    outcome: OutcomeIn | None = None


@dataclass
class StoreReport:
    """What ``store_conversations`` wrote."""

    conversations_created: int = 0
    conversations_skipped: int = 0  # external id already stored (or repeated in the batch)
    messages_created: int = 0
    conversation_ids: list[int] = field(default_factory=list)
    unsafe_messages: int = 0
    scrub_seconds: float = 0.0
    texts_scrubbed: int = 0  # distinct message texts (identical texts are scrubbed once)


@dataclass
class ImportReport:
    """What ``import_file`` did."""

    file: str
    format: str
    conversations_created: int = 0
    conversations_skipped: int = 0
    messages_created: int = 0
    rejected_rows: int = 0
    rejected_conversations: int = 0
    rejects_path: str | None = None
    problems: list[ImportProblem] = field(default_factory=list)
    unsafe_messages: int = 0
    seconds: float = 0.0
    scrub_seconds: float = 0.0
    texts_scrubbed: int = 0

    def summary(self) -> str:
        """One human-readable paragraph."""
        lines = [
            f"{self.file} ({self.format}): {self.conversations_created} conversation(s) and "
            f"{self.messages_created} message(s) imported in {self.seconds:.1f}s",
            f"{self.conversations_skipped} conversation(s) already present (skipped)",
            f"{self.unsafe_messages} message(s) flagged unsafe for training",
        ]
        if self.rejected_rows:
            lines.append(
                f"{self.rejected_rows} row(s) in {self.rejected_conversations} conversation(s) rejected; "
                f"see {self.rejects_path}"
            )
        return "\n".join(lines)


# --- validation -------------------------------------------------------------------------
_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable_chars(value: str) -> str | None:
    """Why a text cannot be stored (PostgreSQL refuses NUL characters and lone surrogates,
    and both are signs of a broken encoding upstream), or None when it can."""
    if "\x00" in value:
        return (f"contains a NUL character (\\u0000) at position {value.index(chr(0))}; "
                "remove it (it usually means binary data or a broken encoding)")
    m = _SURROGATE.search(value)
    if m:
        return (f"contains a lone surrogate (\\u{ord(m.group()):04x}) at position {m.start()}; "
                "send valid UTF-8 text (it usually means a broken encoding)")
    return None


def _check_text(value: Any, name: str, problems: list, limit: int = 200, required: bool = False) -> None:
    if value is None or value == "":
        if required:
            problems.append((name, "is missing or empty"))
        return
    if not isinstance(value, str):
        problems.append((name, f"must be text, got {type(value).__name__}"))
    elif len(value) > limit:
        problems.append((name, f"is {len(value)} characters long; the limit is {limit}"))
    elif (why := unstorable_chars(value)) is not None:
        problems.append((name, why))


def validate_message(msg: MessageIn, settings: Settings, prefix: str = "") -> list[tuple[str, str]]:
    """Problems of one message as ``(field, message)`` pairs; empty when valid."""
    problems: list[tuple[str, str]] = []
    if msg.role not in ROLES:
        problems.append((f"{prefix}role", f"unknown role {msg.role!r}; use one of {', '.join(ROLES)}"))
    if not isinstance(msg.content, str):
        problems.append((f"{prefix}content", f"must be text, got {type(msg.content).__name__}"))
    elif not msg.content.strip():
        problems.append((f"{prefix}content", "is empty; every message needs text"))
    elif len(msg.content) > settings.max_message_chars:
        problems.append(
            (
                f"{prefix}content",
                f"is {len(msg.content)} characters long; the limit is {settings.max_message_chars} "
                "(SUPPORTLOOP_MAX_MESSAGE_CHARS)",
            )
        )
    elif (why := unstorable_chars(msg.content)) is not None:
        problems.append((f"{prefix}content", why))
    _check_text(msg.external_id, f"{prefix}external_id", problems)
    _check_text(msg.model_used, f"{prefix}model_used", problems)
    for name in ("confidence", "latency_ms", "cost_usd", "tokens_in", "tokens_out"):
        value = getattr(msg, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append((f"{prefix}{name}", f"must be a number, got {value!r}"))
        elif value < 0:
            problems.append((f"{prefix}{name}", f"must be 0 or more, got {value}"))
        elif name.startswith("tokens") and not float(value).is_integer():
            problems.append((f"{prefix}{name}", f"must be a whole number, got {value}"))
    if isinstance(msg.confidence, float | int) and not isinstance(msg.confidence, bool):
        if not 0 <= msg.confidence <= 1:
            problems.append((f"{prefix}confidence", f"must be between 0 and 1, got {msg.confidence}"))
    if msg.created_at is not None and not isinstance(msg.created_at, dt.datetime):
        problems.append((f"{prefix}created_at", "must be a timestamp"))
    return problems


def validate_conversation(conv: ConversationIn, settings: Settings) -> list[tuple[str, str]]:
    """Problems of one conversation as ``(field, message)`` pairs; empty when valid.

    Message fields are named ``messages[i].<field>`` (0-based ``i``).
    """
    problems: list[tuple[str, str]] = []
    if conv.channel not in CHANNELS:
        problems.append(
            ("channel", f"unknown channel {conv.channel!r}; use one of {', '.join(CHANNELS)}")
        )
    if conv.status not in CONVERSATION_STATUSES:
        problems.append(
            ("status", f"unknown status {conv.status!r}; use one of {', '.join(CONVERSATION_STATUSES)}")
        )
    _check_text(conv.external_user_id, "external_user_id", problems, required=True)
    _check_text(conv.external_id, "external_id", problems)
    _check_text(conv.escalation_reason, "escalation_reason", problems)
    _check_text(conv.assigned_agent, "assigned_agent", problems)
    _check_text(conv.intent, "intent", problems, limit=100)
    if not isinstance(conv.channel_metadata, dict):
        problems.append(("channel_metadata", "must be an object (key/value pairs)"))
    for name in ("created_at", "escalated_at", "closed_at"):
        value = getattr(conv, name)
        if value is not None and not isinstance(value, dt.datetime):
            problems.append((name, "must be a timestamp"))
    if not conv.messages:
        problems.append(("messages", "a conversation needs at least one message"))
    for i, msg in enumerate(conv.messages):
        problems.extend(validate_message(msg, settings, prefix=f"messages[{i}]."))
    out = conv.outcome
    if out is not None:
        if not isinstance(out.booking_converted, bool):
            problems.append(("outcome.booking_converted", "must be true or false"))
        if out.booking_value_usd is not None and (
            isinstance(out.booking_value_usd, bool)
            or not isinstance(out.booking_value_usd, int | float)
            or out.booking_value_usd < 0
        ):
            problems.append(
                ("outcome.booking_value_usd", f"must be 0 or more, got {out.booking_value_usd!r}")
            )
        if out.csat is not None and (
            isinstance(out.csat, bool) or not isinstance(out.csat, int) or not 1 <= out.csat <= 5
        ):
            problems.append(("outcome.csat", f"must be a whole number from 1 to 5, got {out.csat!r}"))
        if out.tone_score is not None and (
            isinstance(out.tone_score, bool)
            or not isinstance(out.tone_score, int | float)
            or not 0 <= out.tone_score <= 1
        ):
            problems.append(("outcome.tone_score", f"must be between 0 and 1, got {out.tone_score!r}"))
    return problems


# --- writing ----------------------------------------------------------------------------
def _existing(session: Session, column, values: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(values), _ID_CHUNK):
        found |= set(session.scalars(select(column).where(column.in_(values[i : i + _ID_CHUNK]))))
    return found


def _message_row(msg: MessageIn, result, at: dt.datetime, settings: Settings) -> dict[str, Any]:
    return {
        "external_id": msg.external_id or None,  # "" is no id (ids are unique)
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
        "cost_usd": msg.cost_usd,
        "human_edited": False,
        "created_at": at,
    }


def store_conversations(
    session: Session,
    convs: list[ConversationIn],
    scrubber,
    settings: Settings,
    clock: Clock | None = None,
    enricher=None,
) -> StoreReport:
    """Validate, scrub and write conversations with their messages and outcome rows.

    Conversations whose ``external_id`` is already stored (or repeats one earlier in
    ``convs``) are skipped and counted. Raises ``ValidationError`` listing every problem
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
    ids = [c.external_id for c in convs if c.external_id]
    seen = _existing(session, Conversation.external_id, ids) if ids else set()
    todo: list[ConversationIn] = []
    for conv in convs:
        if conv.external_id:
            if conv.external_id in seen:
                report.conversations_skipped += 1
                continue
            seen.add(conv.external_id)
        todo.append(conv)
    if not todo:
        return report

    msg_ids = [m.external_id for c in todo for m in c.messages if m.external_id]
    if msg_ids:
        if len(set(msg_ids)) != len(msg_ids):
            raise Conflict("A message external_id repeats within the batch; message ids must be unique.")
        taken = _existing(session, Message.external_id, msg_ids)
        if taken:
            raise Conflict(
                f"Message external id(s) already stored in other conversations: {sorted(taken)[:5]}; "
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

    conv_rows, msg_groups, outcome_rows = [], [], []
    k = 0
    for conv in todo:
        created = conv.created_at or next((m.created_at for m in conv.messages if m.created_at), None) or now
        rows, pairs, cost = [], [], 0.0
        for msg in conv.messages:
            at = msg.created_at or created
            res = results[k]
            k += 1
            rows.append(_message_row(msg, res, at, settings))
            pairs.append((msg.role, at))
            cost += msg.cost_usd or 0.0
            report.unsafe_messages += 0 if res.safe else 1
        out = conv.outcome or OutcomeIn()
        conv_rows.append(
            {
                "external_id": conv.external_id or None,
                "channel": conv.channel,
                "external_user_id": conv.external_user_id,
                "status": conv.status,
                "channel_metadata": dict(conv.channel_metadata or {}),
                "created_at": created,
                "first_response_at": outcomes.first_response(pairs),
                "escalated_at": conv.escalated_at,
                "closed_at": conv.closed_at,
                "assigned_agent": conv.assigned_agent,
                "escalation_reason": conv.escalation_reason,
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
                    status=conv.status,
                    escalated_at=conv.escalated_at,
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
        from core.enrichment import enrich

        enrich.enrich_conversations(session, new_ids, enricher, clock)
    return report


def add_message(
    session: Session,
    conversation_id: int,
    msg: MessageIn,
    scrubber,
    settings: Settings,
    clock: Clock | None = None,
    enricher=None,
) -> Message:
    """Scrub and append one message to a stored conversation; refreshes its outcome.

    Idempotent on ``msg.external_id``: a message already stored with that id in this
    conversation is returned unchanged (a retry); in another conversation it is a Conflict.
    With an ``enricher`` the new message is enriched (``core.enrichment.enrich.enrich_message``).
    """
    problems = validate_message(msg, settings)
    if problems:
        raise ValidationError("Invalid message: " + "; ".join(f"{f}: {m}" for f, m in problems))
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist; create it first.")
    if msg.external_id:
        existing = session.scalar(select(Message).where(Message.external_id == msg.external_id))
        if existing is not None:
            if existing.conversation_id != conversation_id:
                raise Conflict(
                    f"Message {msg.external_id!r} already belongs to conversation "
                    f"{existing.conversation_id}; message ids must be unique."
                )
            return existing
    now = (clock or SystemClock()).now()
    result = scrubber.scrub(msg.content)
    row = Message(
        conversation_id=conversation_id, **_message_row(msg, result, msg.created_at or now, settings)
    )
    session.add(row)
    conv.updated_at = now
    session.flush()
    outcomes.refresh_outcome(session, conv, clock)
    if enricher is not None:
        from core.enrichment import enrich

        enrich.enrich_message(session, row.id, enricher, clock)
    return row


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
    scrubber,
    settings: Settings,
    fmt: str | None = None,
    skip_invalid: bool = False,
    rejects_path: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
    clock: Clock | None = None,
    enricher=None,
) -> ImportReport:
    """Import one file of conversations (jsonl, csv, vtt or turns; see docs/import.md).

    Every row is parsed and validated before anything is written. With any invalid row the
    import raises ``ImportFailed`` (file, line and field of every problem) and writes
    nothing, unless ``skip_invalid``: then the valid conversations are written and the
    rejected rows go to ``rejects_path`` (default ``<file>.rejects.jsonl``), one JSON object
    per row with line, field, message and the raw row. Conversations already imported (same
    external id) are skipped, so re-importing a file creates no duplicates.
    ``progress(done, total)`` is called with message counts as batches are written.
    With an ``enricher`` every imported conversation is enriched batch by batch.
    """
    from core.conversations.importers import detect_format, parse_file

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
