"""CSV conversations: one message per row, grouped into conversations by ``conversation_id``
(docs/import.md lists the columns)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from core.conversations.importers.parsed import (
    BAD_BYTES,
    ParsedConversation,
    ParsedFile,
    bool_field,
    number_field,
    read_text,
    timestamp_field,
    undecodable,
)
from core.conversations.schemas import ConversationIn, MessageIn, OutcomeIn
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.errors import ImportProblem
from core.platform.statuses import ConversationStatus

CSV_REQUIRED = ("conversation_id", "channel", "user_id", "role", "content", "created_at")
CSV_MESSAGE_COLUMNS = {"message_id": "external_id", "confidence": "confidence", "model_used": "model_used",
                       "latency_ms": "latency_ms", "tokens_in": "tokens_in", "tokens_out": "tokens_out",
                       "cost_usd": "cost_usd"}
_CSV_FIELD = {"external_id": "message_id", "content": "content", "role": "role"}
_CSV_CONV_FIELD = {"external_user_id": "user_id", "external_id": "conversation_id"}


def _csv_conversation(cid: str, rows: list[tuple[int, dict]], item: ParsedConversation) -> ConversationIn:
    first_line, first = rows[0]
    for col in ("channel", "user_id"):
        for line, row in rows[1:]:
            if row.get(col, "") != first.get(col, ""):
                item.add(line, col, f"differs from line {first_line} ({first.get(col)!r}) in the same "
                                    "conversation")

    def conv_value(col: str) -> str | None:
        return next((r[col] for _, r in rows if r.get(col)), None)

    messages = []
    for line, row in rows:
        kw: dict[str, Any] = {}
        for col, name in CSV_MESSAGE_COLUMNS.items():
            v = row.get(col)
            if name in ("external_id", "model_used"):
                kw[name] = v or None
            else:
                kw[name] = number_field(v, col, item, line, integer=name.startswith("tokens"))
        at = timestamp_field(row.get("created_at"), "created_at", item, line)
        messages.append(MessageIn(role=row.get("role", ""), content=row.get("content", ""), created_at=at,
                                  **kw))
    item.message_lines = [line for line, _ in rows]
    meta: dict = {}
    raw_meta = conv_value("channel_metadata")
    if raw_meta:
        try:
            meta = json.loads(raw_meta)
        except json.JSONDecodeError as exc:
            item.add(first_line, "channel_metadata", f"bad JSON: {exc.msg}")
        if not isinstance(meta, dict):
            item.add(first_line, "channel_metadata", "must be a JSON object")
            meta = {}
    outcome = None
    if any(conv_value(c) for c in ("booking_converted", "booking_value_usd", "csat", "tone_score")):
        outcome = OutcomeIn(
            booking_converted=bool_field(conv_value("booking_converted"), "booking_converted", item,
                                         first_line),
            booking_value_usd=number_field(conv_value("booking_value_usd"), "booking_value_usd", item,
                                           first_line),
            csat=number_field(conv_value("csat"), "csat", item, first_line, integer=True),
            tone_score=number_field(conv_value("tone_score"), "tone_score", item, first_line),
        )
    return ConversationIn(
        channel=first.get("channel", ""),
        external_user_id=first.get("user_id", ""),
        messages=messages,
        external_id=cid,
        status=conv_value("status") or ConversationStatus.AI,
        channel_metadata=meta,
        escalated_at=timestamp_field(conv_value("escalated_at"), "escalated_at", item, first_line),
        closed_at=timestamp_field(conv_value("closed_at"), "closed_at", item, first_line),
        escalation_reason=conv_value("escalation_reason"),
        assigned_agent=conv_value("assigned_agent"),
        intent=conv_value("intent"),
        outcome=outcome,
    )


def parse_csv(path: Path, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """One message per row; rows are grouped into conversations by ``conversation_id``."""
    out = ParsedFile()
    file = str(path)
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        out.file_problems.append(ImportProblem(file, 1, None, "the file is empty; it needs a header row"))
        return out
    except csv.Error as exc:
        out.file_problems.append(ImportProblem(file, 1, None, f"bad CSV header: {exc}"))
        return out
    header = [h.strip() for h in header]
    for col in CSV_REQUIRED:
        if col not in header:
            out.file_problems.append(ImportProblem(
                file, 1, col, f"missing column; the header needs {', '.join(CSV_REQUIRED)}"))
    bad = undecodable(",".join(header))
    if bad:
        out.file_problems.append(ImportProblem(file, 1, None, bad))
    if out.file_problems:
        return out

    groups: dict[str, list[tuple[int, dict]]] = {}
    broken: list[ParsedConversation] = []
    # bad rows whose conversation is known: that whole conversation is rejected with them
    bad_rows: dict[str, list[tuple[int, dict, tuple[str | None, str]]]] = {}
    prev_end = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            line = prev_end + 1
            item = ParsedConversation(file, line, None, rows=[(line, None)])
            item.add(line, None, f"bad CSV: {exc}")
            broken.append(item)
            prev_end = reader.line_num
            continue
        line, prev_end = prev_end + 1, reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        row = dict(zip(header, values, strict=False))
        problem = None
        if len(values) != len(header):
            problem = (None, f"row has {len(values)} fields, the header has {len(header)}")
        elif undecodable(",".join(values)):
            col = next(h for h, v in row.items() if BAD_BYTES.search(v))
            problem = (col, undecodable(row[col]))
        elif not row["conversation_id"].strip():
            problem = ("conversation_id", "is empty; every row needs the id of its conversation")
        cid = (row.get("conversation_id") or "").strip()
        if problem and cid and not BAD_BYTES.search(cid):
            bad_rows.setdefault(cid, []).append((line, row, problem))
            continue
        if problem:
            item = ParsedConversation(file, line, None, rows=[(line, row)])
            item.add(line, *problem)
            broken.append(item)
            continue
        groups.setdefault(row["conversation_id"].strip(), []).append((line, row))

    for cid, rows in groups.items():
        bad = bad_rows.pop(cid, [])
        item = ParsedConversation(
            file, min([rows[0][0]] + [b[0] for b in bad]), None,
            rows=sorted(list(rows) + [(line, row) for line, row, _ in bad], key=lambda r: r[0]),
            message_field=lambda i, f: _CSV_FIELD.get(f, f), conv_fields=dict(_CSV_CONV_FIELD),
        )
        item.conversation = _csv_conversation(cid, rows, item)
        for line, _row, (col, message) in bad:
            item.add(line, col, message)
        out.conversations.append(item)
    for bad in bad_rows.values():  # every row of these conversations is bad
        item = ParsedConversation(file, bad[0][0], None, rows=[(line, row) for line, row, _ in bad])
        for line, _row, (col, message) in bad:
            item.add(line, col, message)
        out.conversations.append(item)
    out.conversations.extend(broken)
    out.conversations.sort(key=lambda c: c.line)
    return out
