"""File parsers for ``core.conversations.ingest.import_file``: JSONL and CSV conversations, phone
transcripts as WebVTT and as JSON speaker turns. docs/import.md specifies each format.

A parser turns a file into ``ParsedConversation`` items: the ``ConversationIn`` (when the
rows could be read) plus every problem found while reading them, each with file, line and
field. Parsers never touch the database; ``core.conversations.ingest`` validates and writes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.conversations.ingest import ConversationIn, MessageIn, OutcomeIn
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import ImportProblem, NotFound, ValidationError

FORMATS = ("jsonl", "csv", "vtt", "turns")
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".vtt": "vtt", ".json": "turns"}

_BAD_BYTES = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of non-UTF-8 bytes

# Speaker labels of transcripts -> message roles (matched on the label's first word).
SPEAKER_ROLES = {
    "customer": "user", "caller": "user", "client": "user", "guest": "user", "user": "user",
    "agent": "agent", "staff": "agent", "human": "agent", "operator": "agent", "rep": "agent",
    "representative": "agent",
    "assistant": "assistant", "ai": "assistant", "bot": "assistant", "virtual": "assistant",
    "system": "system",
}


# --- shared helpers -------------------------------------------------------------------------
@dataclass
class ParsedConversation:
    """One conversation read from a file, with where it came from and what is wrong with it."""

    file: str
    line: int
    conversation: ConversationIn | None
    problems: list[ImportProblem] = field(default_factory=list)
    rows: list[tuple[int, Any]] = field(default_factory=list)  # (line, raw row) for rejects
    message_lines: list[int] = field(default_factory=list)
    message_field: Callable[[int, str], str] = lambda i, f: f"messages[{i}].{f}"
    conv_fields: dict[str, str] = field(default_factory=dict)

    def add(self, line: int, fld: str | None, message: str) -> None:
        self.problems.append(ImportProblem(self.file, line, fld, message))

    def problem(self, fld: str, message: str) -> ImportProblem:
        """An ImportProblem for a ``validate_conversation`` field, placed on its source line."""
        m = re.fullmatch(r"messages\[(\d+)\]\.(\w+)", fld)
        if m:
            i = int(m[1])
            line = self.message_lines[i] if i < len(self.message_lines) else self.line
            return ImportProblem(self.file, line, self.message_field(i, m[2]), message)
        return ImportProblem(self.file, self.line, self.conv_fields.get(fld, fld), message)

    def rejects(self, problems: list[ImportProblem]) -> list[dict]:
        """Rejects-file entries: one per problem with its raw row; the conversation's
        valid rows are rejected with it (so the file can be fixed and re-imported)."""
        by_line: dict[int, list[ImportProblem]] = {}
        for p in problems:
            by_line.setdefault(p.line, []).append(p)
        first = min(by_line) if by_line else self.line
        out = []
        for line, raw in self.rows or [(self.line, None)]:
            for p in by_line.pop(line, []):
                out.append({**p.as_dict(), "raw": raw})
            if not any(e["line"] == line for e in out):
                out.append({"file": self.file, "line": line, "field": None, "raw": raw,
                            "message": f"rejected with its conversation (invalid row at line {first})"})
        for ps in by_line.values():  # problems on lines outside the rows (should not happen)
            out.extend({**p.as_dict(), "raw": None} for p in ps)
        return out


@dataclass
class ParsedFile:
    conversations: list[ParsedConversation] = field(default_factory=list)
    file_problems: list[ImportProblem] = field(default_factory=list)  # the whole file is unusable


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The import format: ``fmt`` when given, else from the file extension."""
    if fmt:
        if fmt not in FORMATS:
            raise ValidationError(f"Unknown import format {fmt!r}; use one of {', '.join(FORMATS)}.")
        return fmt
    found = EXTENSIONS.get(path.suffix.lower())
    if not found:
        raise ValidationError(
            f"Cannot tell the format of {path.name} from its extension; pass --format "
            f"({', '.join(FORMATS)})."
        )
    return found


def parse_timestamp(value: Any) -> dt.datetime:
    """ISO 8601 text (any offset, converted to naive UTC) or epoch seconds."""
    if isinstance(value, bool):
        raise ValueError(f"bad timestamp {value!r}; use ISO 8601 such as 2025-03-01T14:05:00Z")
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)
    if not isinstance(value, str):
        raise ValueError(f"bad timestamp {value!r}; use ISO 8601 such as 2025-03-01T14:05:00Z")
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"bad timestamp {value!r}; use ISO 8601 such as 2025-03-01T14:05:00Z"
        ) from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _offset_seconds(value: Any) -> float:
    """A transcript time offset: seconds, or [HH:]MM:SS[.mmm]."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{2}(?:[.,]\d{1,3})?)", value.strip())
        if m:
            return int(m[1] or 0) * 3600 + int(m[2]) * 60 + float(m[3].replace(",", "."))
    raise ValueError(f"bad time offset {value!r}; use seconds or HH:MM:SS.mmm")


def _derived_id(fmt: str, raw: str, seen: dict[str, int]) -> str:
    """A deterministic external id from a row's content (plus its occurrence number when the
    same content repeats in the file), so re-importing creates no duplicates."""
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    seen[digest] = seen.get(digest, 0) + 1
    return f"{fmt}:{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else "")


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise NotFound(f"File {path} does not exist.")
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return text[1:] if text.startswith("\ufeff") else text


def _undecodable(text: str) -> str | None:
    m = _BAD_BYTES.search(text)
    if m is None:
        return None
    return (f"undecodable bytes (not UTF-8) at character {m.start() + 1}; save the file as UTF-8")


def _role(speaker: str) -> str | None:
    words = re.findall(r"[a-z]+", speaker.lower())
    return SPEAKER_ROLES.get(words[0]) if words else None


def _first_agent(messages: list[MessageIn]) -> dt.datetime | None:
    """A transcript where a human agent speaks was handed to a human: when that happened."""
    return next((m.created_at for m in messages if m.role == "agent"), None)


def _speaker_problem(speaker: str) -> str:
    return (f"unknown speaker {speaker!r}; start the label with Customer/Caller (user), "
            "Agent/Staff (agent) or Assistant/AI/Bot (assistant)")


def _number(value: Any, name: str, item: ParsedConversation, line: int, integer: bool = False):
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            item.add(line, name, f"must be a number, got {value!r}")
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        item.add(line, name, f"must be a number, got {value!r}")
        return None
    if integer:
        if not float(value).is_integer():
            item.add(line, name, f"must be a whole number, got {value!r}")
            return None
        return int(value)
    return float(value)


def _bool(value: Any, name: str, item: ParsedConversation, line: int) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "y", "false", "0", "no", "n"):
        return value.strip().lower() in ("true", "1", "yes", "y")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    item.add(line, name, f"must be true or false, got {value!r}")
    return False


def _ts(value: Any, name: str, item: ParsedConversation, line: int) -> dt.datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        item.add(line, name, str(exc))
        return None


def _text(value: Any, name: str, item: ParsedConversation, line: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        item.add(line, name, f"must be text, got {type(value).__name__}")
        return None
    return value


# --- JSONL conversations -------------------------------------------------------------------
_CONV_KEYS = {
    "channel", "external_user_id", "user_id", "messages", "external_id", "conversation_id", "status",
    "channel_metadata", "created_at", "escalated_at", "closed_at", "escalation_reason",
    "assigned_agent", "intent", "outcome",
}
_MSG_KEYS = {
    "role", "content", "text", "created_at", "external_id", "confidence", "model_used", "latency_ms",
    "tokens_in", "tokens_out", "cost_usd",
}
_OUTCOME_KEYS = {"booking_converted", "booking_value_usd", "csat", "tone_score"}


def _outcome(d: Any, prefix: str, item: ParsedConversation, line: int) -> OutcomeIn | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        item.add(line, prefix.rstrip("."), "must be an object")
        return None
    for k in sorted(set(d) - _OUTCOME_KEYS):
        item.add(line, f"{prefix}{k}", f"unknown field; use {', '.join(sorted(_OUTCOME_KEYS))}")
    csat = _number(d.get("csat"), f"{prefix}csat", item, line, integer=True)
    return OutcomeIn(
        booking_converted=_bool(d.get("booking_converted"), f"{prefix}booking_converted", item, line),
        booking_value_usd=_number(d.get("booking_value_usd"), f"{prefix}booking_value_usd", item, line),
        csat=csat,
        tone_score=_number(d.get("tone_score"), f"{prefix}tone_score", item, line),
    )


def _conv_fields(d: dict, item: ParsedConversation, line: int) -> dict[str, Any]:
    """Conversation-level fields shared by JSONL and turns objects."""
    meta = d.get("channel_metadata") or {}
    if not isinstance(meta, dict):
        item.add(line, "channel_metadata", "must be an object")
        meta = {}
    return dict(
        status=_text(d.get("status"), "status", item, line) or "ai",
        channel_metadata=meta,
        created_at=_ts(d.get("created_at"), "created_at", item, line),
        escalated_at=_ts(d.get("escalated_at"), "escalated_at", item, line),
        closed_at=_ts(d.get("closed_at"), "closed_at", item, line),
        escalation_reason=_text(d.get("escalation_reason"), "escalation_reason", item, line),
        assigned_agent=_text(d.get("assigned_agent"), "assigned_agent", item, line),
        intent=_text(d.get("intent"), "intent", item, line),
        outcome=_outcome(d.get("outcome"), "outcome.", item, line),
    )


def _jsonl_conversation(d: dict, item: ParsedConversation, line: int) -> ConversationIn:
    for k in sorted(set(d) - _CONV_KEYS):
        item.add(line, k, "unknown field; see docs/import.md for the JSONL fields")
    for req, alias in (("channel", None), ("external_user_id", "user_id"), ("messages", None)):
        if req not in d and (alias is None or alias not in d):
            item.add(line, req, "missing required field")
    msgs_raw = d.get("messages")
    if msgs_raw is not None and not isinstance(msgs_raw, list):
        item.add(line, "messages", "must be a list of messages")
        msgs_raw = []
    messages = []
    for i, m in enumerate(msgs_raw or []):
        p = f"messages[{i}]."
        if not isinstance(m, dict):
            item.add(line, p.rstrip("."), "must be an object with role and content")
            continue
        for k in sorted(set(m) - _MSG_KEYS):
            item.add(line, f"{p}{k}", "unknown field; see docs/import.md for the message fields")
        content = m.get("content", m.get("text"))
        if content is None:
            item.add(line, f"{p}content", "missing required field")
            content = ""
        if "role" not in m:
            item.add(line, f"{p}role", "missing required field")
        messages.append(MessageIn(
            role=m.get("role", ""),
            content=content,
            created_at=_ts(m.get("created_at"), f"{p}created_at", item, line),
            external_id=_text(m.get("external_id"), f"{p}external_id", item, line),
            confidence=_number(m.get("confidence"), f"{p}confidence", item, line),
            model_used=_text(m.get("model_used"), f"{p}model_used", item, line),
            latency_ms=_number(m.get("latency_ms"), f"{p}latency_ms", item, line),
            tokens_in=_number(m.get("tokens_in"), f"{p}tokens_in", item, line, integer=True),
            tokens_out=_number(m.get("tokens_out"), f"{p}tokens_out", item, line, integer=True),
            cost_usd=_number(m.get("cost_usd"), f"{p}cost_usd", item, line),
        ))
    item.message_lines = [line] * len(messages)
    ext = d.get("external_id", d.get("conversation_id"))
    return ConversationIn(
        channel=d.get("channel", ""),
        external_user_id=str(d.get("external_user_id", d.get("user_id", "")) or ""),
        messages=messages,
        external_id=None if ext in (None, "") else str(ext),
        **_conv_fields(d, item, line),
    )


def parse_jsonl(path: Path, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """One conversation per line (blank lines are ignored)."""
    out, seen = ParsedFile(), {}
    for n, text in enumerate(_read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        item = ParsedConversation(str(path), n, None, rows=[(n, text)])
        out.conversations.append(item)
        bad = _undecodable(text)
        if bad:
            item.add(n, None, bad)
            continue
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            item.add(n, None, f"bad JSON: {exc.msg} at column {exc.colno}")
            continue
        if not isinstance(d, dict):
            item.add(n, None, "each line must be a JSON object (one conversation)")
            continue
        conv = _jsonl_conversation(d, item, n)
        if conv.external_id is None:
            conv.external_id = _derived_id("jsonl", text.strip(), seen)
        item.conversation = conv
    return out


# --- CSV: one message per row -------------------------------------------------------------
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
                kw[name] = _number(v, col, item, line, integer=name.startswith("tokens"))
        messages.append(MessageIn(role=row.get("role", ""), content=row.get("content", ""),
                                  created_at=_ts(row.get("created_at"), "created_at", item, line), **kw))
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
            booking_converted=_bool(conv_value("booking_converted"), "booking_converted", item, first_line),
            booking_value_usd=_number(conv_value("booking_value_usd"), "booking_value_usd", item, first_line),
            csat=_number(conv_value("csat"), "csat", item, first_line, integer=True),
            tone_score=_number(conv_value("tone_score"), "tone_score", item, first_line),
        )
    return ConversationIn(
        channel=first.get("channel", ""),
        external_user_id=first.get("user_id", ""),
        messages=messages,
        external_id=cid,
        status=conv_value("status") or "ai",
        channel_metadata=meta,
        escalated_at=_ts(conv_value("escalated_at"), "escalated_at", item, first_line),
        closed_at=_ts(conv_value("closed_at"), "closed_at", item, first_line),
        escalation_reason=conv_value("escalation_reason"),
        assigned_agent=conv_value("assigned_agent"),
        intent=conv_value("intent"),
        outcome=outcome,
    )


def parse_csv(path: Path, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """One message per row; rows are grouped into conversations by ``conversation_id``."""
    out = ParsedFile()
    file = str(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
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
    bad = _undecodable(",".join(header))
    if bad:
        out.file_problems.append(ImportProblem(file, 1, None, bad))
    if out.file_problems:
        return out

    groups: dict[str, list[tuple[int, dict]]] = {}
    broken: list[ParsedConversation] = []
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
        elif _undecodable(",".join(values)):
            col = next(h for h, v in row.items() if _BAD_BYTES.search(v))
            problem = (col, _undecodable(row[col]))
        elif not row["conversation_id"].strip():
            problem = ("conversation_id", "is empty; every row needs the id of its conversation")
        if problem:
            item = ParsedConversation(file, line, None, rows=[(line, row)])
            item.add(line, *problem)
            broken.append(item)
            continue
        groups.setdefault(row["conversation_id"].strip(), []).append((line, row))

    for cid, rows in groups.items():
        item = ParsedConversation(
            file, rows[0][0], None, rows=list(rows),
            message_field=lambda i, f: _CSV_FIELD.get(f, f), conv_fields=dict(_CSV_CONV_FIELD),
        )
        item.conversation = _csv_conversation(cid, rows, item)
        out.conversations.append(item)
    out.conversations.extend(broken)
    out.conversations.sort(key=lambda c: c.line)
    return out


# --- WebVTT phone transcripts -------------------------------------------------------------
_TIMING = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)")
_VOICE = re.compile(r"^<v(?:\.[^\s>]*)?\s+([^>]+)>(.*)$")
_COLON = re.compile(r"^([A-Za-z][\w .'()-]{0,40}?)\s*:\s+(.*)$")
_TAGS = re.compile(r"</?[^>]*>")


def _vtt_blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    blocks, cur, start = [], [], 0
    for n, line in enumerate(lines, start=1):
        if line.strip():
            if not cur:
                start = n
            cur.append(line.rstrip())
        elif cur:
            blocks.append((start, cur))
            cur = []
    if cur:
        blocks.append((start, cur))
    return blocks


def parse_vtt(path: Path, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """A WebVTT transcript of one phone call: speakers from ``<v Speaker>`` voice tags or
    ``Speaker: text`` lines; consecutive cues of one speaker become one message."""
    out, file = ParsedFile(), str(path)
    lines = _read_text(path).splitlines()
    first = next((i for i, x in enumerate(lines) if x.strip()), None)
    if first is None or not lines[first].startswith("WEBVTT"):
        out.file_problems.append(ImportProblem(
            file, (first or 0) + 1, None, "not a WebVTT file: the first line must be WEBVTT"))
        return out
    item = ParsedConversation(file, first + 1, None,
                              message_field=lambda i, f: {"content": "text", "role": "speaker"}.get(f, f))
    out.conversations.append(item)
    meta: dict[str, str] = {}
    turns: list[tuple[int, str, str, float]] = []  # (line, speaker, text, start offset)
    for start, block in _vtt_blocks(lines[first + 1:]):
        start += first + 1
        head = block[0]
        if head.startswith("NOTE"):
            for text in block:
                m = re.match(r"(?:NOTE)?\s*(conversation_id|user_id|created_at)\s*[:=]\s*(.+)", text)
                if m:
                    meta[m[1]] = m[2].strip()
            continue
        if head.startswith(("STYLE", "REGION")):
            continue
        item.rows.append((start, "\n".join(block)))
        bad = _undecodable("\n".join(block))
        if bad:
            item.add(start, None, bad)
            continue
        t = 0 if "-->" in head else 1
        m = _TIMING.match(block[t]) if t < len(block) else None
        if not m:
            item.add(start + t, "timestamp", "cue has no timing line like 00:00:01.000 --> 00:00:04.000")
            continue
        try:
            offset = _offset_seconds(m[1])
            _offset_seconds(m[2])
        except ValueError as exc:
            item.add(start + t, "timestamp", str(exc))
            continue
        speaker = None
        payload = block[t + 1:]
        if not payload:
            item.add(start + t, "text", "is empty; the cue has no text")
        for k, text in enumerate(payload, start=start + t + 1):
            v = _VOICE.match(text)
            if v is None:  # "Label: text" names a speaker unless it reads as a continuation
                v = _COLON.match(text)
                if v and speaker is not None and _role(v[1]) is None:
                    v = None
            if v:
                speaker, text = v[1].strip(), v[2]
            text = _TAGS.sub("", text).strip()
            if speaker is None:
                item.add(k, "speaker", "no speaker; use <v Speaker> or 'Speaker: text'")
                continue
            if not text:
                item.add(k, "text", "is empty")
                continue
            if _role(speaker) is None:
                item.add(k, "speaker", _speaker_problem(speaker))
                continue
            turns.append((k, speaker, text, offset))

    base = None
    if "created_at" in meta:
        base = _ts(meta["created_at"], "created_at", item, item.line)
    base = base or (clock or SystemClock()).now()
    messages: list[MessageIn] = []
    prev = None
    for line, speaker, text, offset in turns:
        if prev == speaker:
            messages[-1].content += " " + text
            continue
        messages.append(MessageIn(role=_role(speaker), content=text,
                                  created_at=base + dt.timedelta(seconds=offset)))
        item.message_lines.append(line)
        prev = speaker
    item.conversation = ConversationIn(
        channel="phone",
        escalated_at=_first_agent(messages),
        external_user_id=meta.get("user_id") or f"caller:{path.stem}",
        messages=messages,
        external_id=meta.get("conversation_id") or path.stem,
        status="closed",
        created_at=base,
        channel_metadata={"source": "vtt"},
    )
    return out


# --- JSON speaker turns ---------------------------------------------------------------------
_TURNS_KEYS = {"conversation_id", "user_id", "turns", "channel", "created_at", "status", "escalated_at",
               "closed_at", "escalation_reason", "assigned_agent", "intent", "outcome", "channel_metadata"}


def _json_values(text: str) -> list[tuple[int, Any, str | None]]:
    """Top-level JSON values of a file: one object, a list of objects, or objects one after
    another (JSON Lines). Returns (line, value, error) triples."""
    dec, out, i, n = json.JSONDecoder(), [], 0, len(text)

    def skip(i: int) -> int:
        while i < n and text[i] in " \t\r\n,":
            i += 1
        return i

    def line_of(i: int) -> int:
        return text.count("\n", 0, i) + 1

    i = skip(0)
    in_list = i < n and text[i] == "["
    if in_list:
        i = skip(i + 1)
    while i < n and not (in_list and text[i] == "]"):
        try:
            value, end = dec.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            out.append((exc.lineno, None, f"bad JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"))
            return out
        out.append((line_of(i), value, None))
        i = skip(end)
    return out


_TURN_FIELD = {"content": "text", "role": "speaker"}


def parse_turns(path: Path, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """Phone calls as JSON speaker turns: ``{"conversation_id", "user_id", "turns": [{"speaker",
    "text", "start"}]}``; the file holds one such object, a list of them, or one per line."""
    out, file, seen = ParsedFile(), str(path), {}
    text = _read_text(path)
    bad = _undecodable(text)
    if bad:
        k = _BAD_BYTES.search(text).start()
        out.file_problems.append(ImportProblem(file, text.count("\n", 0, k) + 1, None, bad))
        return out
    for line, d, error in _json_values(text):
        item = ParsedConversation(file, line, None, rows=[(line, d)],
                                  message_field=lambda i, f: f"turns[{i}].{_TURN_FIELD.get(f, f)}")
        out.conversations.append(item)
        if error:
            item.add(line, None, error)
            continue
        if not isinstance(d, dict):
            item.add(line, None, "each call must be a JSON object with user_id and turns")
            continue
        for k in sorted(set(d) - _TURNS_KEYS):
            item.add(line, k, "unknown field; see docs/import.md for the speaker-turns fields")
        if d.get("channel", "phone") != "phone":
            item.add(line, "channel", f"speaker turns are phone calls; got channel {d['channel']!r}")
        for req in ("user_id", "turns"):
            if req not in d:
                item.add(line, req, "missing required field")
        raw_turns = d.get("turns") or []
        if not isinstance(raw_turns, list):
            item.add(line, "turns", "must be a list of {speaker, text, start}")
            raw_turns = []
        fields = _conv_fields(d, item, line)
        base = fields.pop("created_at") or (clock or SystemClock()).now()
        messages = []
        for i, t in enumerate(raw_turns):
            p = f"turns[{i}]."
            if not isinstance(t, dict):
                item.add(line, p.rstrip("."), "must be an object with speaker, text and start")
                continue
            speaker, content = t.get("speaker"), t.get("text")
            role = _role(speaker) if isinstance(speaker, str) else None
            if not isinstance(speaker, str) or not speaker.strip():
                item.add(line, f"{p}speaker", "missing speaker")
            elif role is None:
                item.add(line, f"{p}speaker", _speaker_problem(speaker))
            if not isinstance(content, str):
                item.add(line, f"{p}text", "missing text" if content is None else "must be text")
                content = ""
            at = base
            if t.get("start") is not None:
                try:
                    at = base + dt.timedelta(seconds=_offset_seconds(t["start"]))
                except ValueError:
                    at = _ts(t["start"], f"{p}start", item, line) or base
            messages.append(MessageIn(role=role or "", content=content, created_at=at))
        item.message_lines = [line] * len(messages)
        fields["status"] = d.get("status") or "closed"
        if fields["escalated_at"] is None:
            fields["escalated_at"] = _first_agent(messages)
        ext = d.get("conversation_id")
        item.conversation = ConversationIn(
            channel="phone",
            external_user_id=str(d.get("user_id") or ""),
            messages=messages,
            external_id=str(ext) if ext not in (None, "") else _derived_id(
                "turns", json.dumps(d, sort_keys=True), seen),
            created_at=base,
            **fields,
        )
        item.conv_fields = {"external_user_id": "user_id", "external_id": "conversation_id",
                            "messages": "turns"}
    return out


PARSERS = {"jsonl": parse_jsonl, "csv": parse_csv, "vtt": parse_vtt, "turns": parse_turns}


def parse_file(path: Path, fmt: str, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """Read ``path`` in format ``fmt`` into conversations and problems (no database access)."""
    return PARSERS[fmt](Path(path), settings, clock)
