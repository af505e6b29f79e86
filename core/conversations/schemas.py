"""The shapes of conversations on their way in, and the rules that validate them.

``ConversationIn`` (with its ``MessageIn`` messages and ``OutcomeIn``) is what the importers
(``core.conversations.importers``), the ingest API and the demo build, and what
``core.conversations.ingest`` stores; ``StoreReport`` and ``ImportReport`` say what a store or
an import did. ``validate_conversation`` and ``validate_message`` list every problem of a
shape as ``(field, message)`` pairs before anything is written.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from core.platform.config import Settings
from core.platform.errors import ImportProblem
from core.platform.statuses import Channel, ConversationStatus, MessageRole

_CHANNELS = tuple(Channel)
_ROLES = tuple(MessageRole)
_STATUSES = tuple(ConversationStatus)


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
    status: str = ConversationStatus.AI
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
    if msg.role not in _ROLES:
        problems.append((f"{prefix}role", f"unknown role {msg.role!r}; use one of {', '.join(_ROLES)}"))
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
    if conv.channel not in _CHANNELS:
        problems.append(
            ("channel", f"unknown channel {conv.channel!r}; use one of {', '.join(_CHANNELS)}")
        )
    if conv.status not in _STATUSES:
        problems.append(
            ("status", f"unknown status {conv.status!r}; use one of {', '.join(_STATUSES)}")
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
