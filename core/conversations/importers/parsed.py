"""What every importer shares: the parsed conversation with its problems, and the field readers.

A parser turns a file into ``ParsedConversation`` items: the ``ConversationIn`` (when the rows
could be read) plus every problem found while reading them, each with file, line and field.
The readers here (``number_field``, ``timestamp_field``, ...) record a problem on the item
instead of raising, so one pass finds every problem of a file. The speaker helpers map the
labels of phone transcripts (VTT and speaker turns) to message roles.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.conversations.schemas import ConversationIn, OutcomeIn
from core.platform.errors import ImportProblem, NotFound
from core.platform.statuses import ConversationStatus, MessageRole

BAD_BYTES = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of non-UTF-8 bytes

# Speaker labels of transcripts -> message roles (matched on the label's first word).
_USER, _AGENT, _ASSISTANT = MessageRole.USER, MessageRole.AGENT, MessageRole.ASSISTANT
SPEAKER_ROLES = {
    "customer": _USER, "caller": _USER, "client": _USER, "guest": _USER, "user": _USER,
    "agent": _AGENT, "staff": _AGENT, "human": _AGENT, "operator": _AGENT, "rep": _AGENT,
    "representative": _AGENT,
    "assistant": _ASSISTANT, "ai": _ASSISTANT, "bot": _ASSISTANT, "virtual": _ASSISTANT,
    "system": MessageRole.SYSTEM,
}


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
    """What a parser read from one file."""

    conversations: list[ParsedConversation] = field(default_factory=list)
    file_problems: list[ImportProblem] = field(default_factory=list)  # the whole file is unusable



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


def offset_seconds(value: Any) -> float:
    """A transcript time offset: seconds, or [HH:]MM:SS[.mmm]."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        m = re.fullmatch(r"(?:(\d+):)?(\d{1,2}):(\d{2}(?:[.,]\d{1,3})?)", value.strip())
        if m:
            return int(m[1] or 0) * 3600 + int(m[2]) * 60 + float(m[3].replace(",", "."))
    raise ValueError(f"bad time offset {value!r}; use seconds or HH:MM:SS.mmm")


def derived_id(fmt: str, raw: str, seen: dict[str, int]) -> str:
    """A deterministic external id from a row's content (plus its occurrence number when the
    same content repeats in the file), so re-importing creates no duplicates."""
    digest = hashlib.sha256(raw.encode("utf-8", "surrogateescape")).hexdigest()[:24]
    seen[digest] = seen.get(digest, 0) + 1
    return f"{fmt}:{digest}" + (f"-{seen[digest]}" if seen[digest] > 1 else "")


def read_text(path: Path) -> str:
    """The file's text; bytes that are not UTF-8 survive as surrogates (see ``undecodable``)."""
    if not path.is_file():
        raise NotFound(f"File {path} does not exist.")
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    return text[1:] if text.startswith("\ufeff") else text


def undecodable(text: str) -> str | None:
    """Why ``text`` cannot be read as UTF-8, or None when it can."""
    m = BAD_BYTES.search(text)
    if m is None:
        return None
    return (f"undecodable bytes (not UTF-8) at character {m.start() + 1}; save the file as UTF-8")


def speaker_role(speaker: str) -> str | None:
    """The message role of a transcript speaker label (None when the label is unknown)."""
    words = re.findall(r"[a-z]+", speaker.lower())
    return SPEAKER_ROLES.get(words[0]) if words else None


def speaker_problem(speaker: str) -> str:
    """The problem message of an unknown speaker label."""
    return (f"unknown speaker {speaker!r}; start the label with Customer/Caller (user), "
            "Agent/Staff (agent) or Assistant/AI/Bot (assistant)")


def number_field(
    value: Any, name: str, item: ParsedConversation, line: int, integer: bool = False
) -> int | float | None:
    """A number (text is converted); empty is None; anything else is a problem on ``item``."""
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


def bool_field(value: Any, name: str, item: ParsedConversation, line: int) -> bool:
    """true/false, 1/0, yes/no; empty is False; anything else is a problem on ``item``."""
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


def timestamp_field(value: Any, name: str, item: ParsedConversation, line: int) -> dt.datetime | None:
    """A timestamp (``parse_timestamp``); empty is None; a bad one is a problem on ``item``."""
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        item.add(line, name, str(exc))
        return None


def text_field(value: Any, name: str, item: ParsedConversation, line: int) -> str | None:
    """Text; empty is None; anything else is a problem on ``item``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        item.add(line, name, f"must be text, got {type(value).__name__}")
        return None
    return value


_OUTCOME_KEYS = {"booking_converted", "booking_value_usd", "csat", "tone_score"}


def _outcome(d: Any, prefix: str, item: ParsedConversation, line: int) -> OutcomeIn | None:
    if d is None:
        return None
    if not isinstance(d, dict):
        item.add(line, prefix.rstrip("."), "must be an object")
        return None
    for k in sorted(set(d) - _OUTCOME_KEYS):
        item.add(line, f"{prefix}{k}", f"unknown field; use {', '.join(sorted(_OUTCOME_KEYS))}")
    csat = number_field(d.get("csat"), f"{prefix}csat", item, line, integer=True)
    return OutcomeIn(
        booking_converted=bool_field(d.get("booking_converted"), f"{prefix}booking_converted", item, line),
        booking_value_usd=number_field(d.get("booking_value_usd"), f"{prefix}booking_value_usd", item, line),
        csat=csat,
        tone_score=number_field(d.get("tone_score"), f"{prefix}tone_score", item, line),
    )


def conversation_fields(d: dict, item: ParsedConversation, line: int) -> dict[str, Any]:
    """Conversation-level fields shared by JSONL and turns objects."""
    meta = d.get("channel_metadata") or {}
    if not isinstance(meta, dict):
        item.add(line, "channel_metadata", "must be an object")
        meta = {}
    return dict(
        status=text_field(d.get("status"), "status", item, line) or ConversationStatus.AI,
        channel_metadata=meta,
        created_at=timestamp_field(d.get("created_at"), "created_at", item, line),
        escalated_at=timestamp_field(d.get("escalated_at"), "escalated_at", item, line),
        closed_at=timestamp_field(d.get("closed_at"), "closed_at", item, line),
        escalation_reason=text_field(d.get("escalation_reason"), "escalation_reason", item, line),
        assigned_agent=text_field(d.get("assigned_agent"), "assigned_agent", item, line),
        intent=text_field(d.get("intent"), "intent", item, line),
        outcome=_outcome(d.get("outcome"), "outcome.", item, line),
    )
