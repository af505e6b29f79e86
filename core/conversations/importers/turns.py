"""Phone calls as JSON speaker turns: one object per call, a list of them, or one per line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from core.conversations.importers.parsed import (
    BAD_BYTES,
    ParsedConversation,
    ParsedFile,
    conversation_fields,
    derived_id,
    offset_seconds,
    read_text,
    speaker_problem,
    speaker_role,
    timestamp_field,
    undecodable,
)
from core.conversations.schemas import ConversationIn, MessageIn
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import ImportProblem
from core.platform.statuses import Channel, ConversationStatus

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
    text = read_text(path)
    bad = undecodable(text)
    if bad:
        k = BAD_BYTES.search(text).start()
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
        if d.get("channel", Channel.PHONE) != Channel.PHONE:
            item.add(line, "channel", f"speaker turns are phone calls; got channel {d['channel']!r}")
        for req in ("user_id", "turns"):
            if req not in d:
                item.add(line, req, "missing required field")
        raw_turns = d.get("turns") or []
        if not isinstance(raw_turns, list):
            item.add(line, "turns", "must be a list of {speaker, text, start}")
            raw_turns = []
        fields = conversation_fields(d, item, line)
        base = fields.pop("created_at") or (clock or SystemClock()).now()
        messages = []
        for i, t in enumerate(raw_turns):
            p = f"turns[{i}]."
            if not isinstance(t, dict):
                item.add(line, p.rstrip("."), "must be an object with speaker, text and start")
                continue
            speaker, content = t.get("speaker"), t.get("text")
            role = speaker_role(speaker) if isinstance(speaker, str) else None
            if not isinstance(speaker, str) or not speaker.strip():
                item.add(line, f"{p}speaker", "missing speaker")
            elif role is None:
                item.add(line, f"{p}speaker", speaker_problem(speaker))
            if not isinstance(content, str):
                item.add(line, f"{p}text", "missing text" if content is None else "must be text")
                content = ""
            at = base
            if t.get("start") is not None:
                try:
                    at = base + dt.timedelta(seconds=offset_seconds(t["start"]))
                except ValueError:
                    at = timestamp_field(t["start"], f"{p}start", item, line) or base
            messages.append(MessageIn(role=role or "", content=content, created_at=at))
        item.message_lines = [line] * len(messages)
        fields["status"] = d.get("status") or ConversationStatus.CLOSED
        ext = d.get("conversation_id")
        item.conversation = ConversationIn(
            channel=Channel.PHONE,
            external_user_id=str(d.get("user_id") or ""),
            messages=messages,
            external_id=str(ext) if ext not in (None, "") else derived_id(
                "turns", json.dumps(d, sort_keys=True), seen),
            created_at=base,
            **fields,
        )
        item.conv_fields = {"external_user_id": "user_id", "external_id": "conversation_id",
                            "messages": "turns"}
    return out
