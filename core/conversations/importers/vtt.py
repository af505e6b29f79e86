"""WebVTT phone transcripts: one call per file, speakers from voice tags or ``Speaker: text``."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

from core.conversations.importers.parsed import (
    ParsedConversation,
    ParsedFile,
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
    lines = read_text(path).splitlines()
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
        bad = undecodable("\n".join(block))
        if bad:
            item.add(start, None, bad)
            continue
        t = 0 if "-->" in head else 1
        m = _TIMING.match(block[t]) if t < len(block) else None
        if not m:
            item.add(start + t, "timestamp", "cue has no timing line like 00:00:01.000 --> 00:00:04.000")
            continue
        try:
            offset = offset_seconds(m[1])
            offset_seconds(m[2])
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
                if v and speaker is not None and speaker_role(v[1]) is None:
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
            if speaker_role(speaker) is None:
                item.add(k, "speaker", speaker_problem(speaker))
                continue
            turns.append((k, speaker, text, offset))

    base = None
    if "created_at" in meta:
        base = timestamp_field(meta["created_at"], "created_at", item, item.line)
    base = base or (clock or SystemClock()).now()
    messages: list[MessageIn] = []
    prev = None
    for line, speaker, text, offset in turns:
        if prev == speaker:
            messages[-1].content += " " + text
            continue
        messages.append(MessageIn(role=speaker_role(speaker), content=text,
                                  created_at=base + dt.timedelta(seconds=offset)))
        item.message_lines.append(line)
        prev = speaker
    item.conversation = ConversationIn(
        channel=Channel.PHONE,
        external_user_id=meta.get("user_id") or f"caller:{path.stem}",
        messages=messages,
        external_id=meta.get("conversation_id") or path.stem,
        status=ConversationStatus.CLOSED,
        created_at=base,
        channel_metadata={"source": "vtt"},
    )
    return out
