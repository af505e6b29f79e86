"""JSONL conversations: one conversation per line, with its messages and outcome (docs/import.md)."""

from __future__ import annotations

import json
from pathlib import Path

from core.conversations.importers.parsed import (
    ParsedConversation,
    ParsedFile,
    conversation_fields,
    derived_id,
    number_field,
    read_text,
    text_field,
    timestamp_field,
    undecodable,
)
from core.conversations.schemas import ConversationIn, MessageIn
from core.platform.clock import Clock
from core.platform.config import Settings

_CONV_KEYS = {
    "channel", "external_user_id", "user_id", "messages", "external_id", "conversation_id", "status",
    "channel_metadata", "created_at", "escalated_at", "closed_at", "escalation_reason",
    "assigned_agent", "intent", "outcome",
}
_MSG_KEYS = {
    "role", "content", "text", "created_at", "external_id", "confidence", "model_used", "latency_ms",
    "tokens_in", "tokens_out", "cost_usd",
}


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
            created_at=timestamp_field(m.get("created_at"), f"{p}created_at", item, line),
            external_id=text_field(m.get("external_id"), f"{p}external_id", item, line),
            confidence=number_field(m.get("confidence"), f"{p}confidence", item, line),
            model_used=text_field(m.get("model_used"), f"{p}model_used", item, line),
            latency_ms=number_field(m.get("latency_ms"), f"{p}latency_ms", item, line),
            tokens_in=number_field(m.get("tokens_in"), f"{p}tokens_in", item, line, integer=True),
            tokens_out=number_field(m.get("tokens_out"), f"{p}tokens_out", item, line, integer=True),
            cost_usd=number_field(m.get("cost_usd"), f"{p}cost_usd", item, line),
        ))
    item.message_lines = [line] * len(messages)
    ext = d.get("external_id", d.get("conversation_id"))
    return ConversationIn(
        channel=d.get("channel", ""),
        external_user_id=str(d.get("external_user_id", d.get("user_id", "")) or ""),
        messages=messages,
        external_id=None if ext in (None, "") else str(ext),
        **conversation_fields(d, item, line),
    )


def parse_jsonl(path: Path, settings: Settings, clock: Clock | None = None) -> ParsedFile:
    """One conversation per line (blank lines are ignored)."""
    out, seen = ParsedFile(), {}
    for n, text in enumerate(read_text(path).splitlines(), start=1):
        if not text.strip():
            continue
        item = ParsedConversation(str(path), n, None, rows=[(n, text)])
        out.conversations.append(item)
        bad = undecodable(text)
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
            conv.external_id = derived_id("jsonl", text.strip(), seen)
        item.conversation = conv
    return out
