"""Request and response bodies of the public API (the request guards are in ``api.deps``)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from core.platform.statuses import ConversationStatus, MessageRole, SurveyStatus, Vote

MAX_TEXT = 20_000
# Text one ingest request may carry: every character is PII-scrubbed inside the request (about
# 30-40 us a character on a busy 2-core machine), so this keeps a request near a second. Longer
# histories go through `supportloop import` (the job runner) or several requests.
MAX_REQUEST_TEXT = 50_000
MAX_MESSAGES = 100
MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
# ASCII digits; a ".0" tail is allowed because JSON Schema's integer 10.0 is 10 (OpenAPI clients
# and fuzzers send it so), and pydantic still refuses "10.5"
_DIGITS = re.compile(r"[0-9]{1,19}(\.0{1,10})?")


def _ascii_digits(value: Any) -> Any:
    """A number in a path or query string as a URL writes it: ASCII digits only. (pydantic alone
    reads "1_0", " 10 " and "+10" as numbers: other spellings of the same id.)"""
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise ValueError("must be a whole number written in ASCII digits (0-9)")
    return value


# An integer path or query parameter (a JSON body's integers are numbers already).
AsciiInt = Annotated[int, BeforeValidator(_ascii_digits)]


def _clean_text(value: Any) -> Any:
    """Refuse text a database cannot store: NUL characters and unpaired surrogates."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("must not contain NUL (\\u0000) characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("is not valid Unicode text (unpaired surrogate)") from None
    elif isinstance(value, dict):
        for k, v in value.items():
            _clean_text(k)
            _clean_text(v)
    elif isinstance(value, list):
        for v in value:
            _clean_text(v)
    return value


# What ``_clean_text`` refuses, said in the schema too (clients and fuzzers see it): no NUL. (An
# unpaired surrogate, also refused, cannot be said in a pattern that every regex engine compiles.)
TEXT_PATTERN = "^[^\\u0000]*$"


def _document_clean_text(schema: dict[str, Any]) -> None:
    """Add ``TEXT_PATTERN`` to the model's free-text string properties (on an optional string both
    on the string branch and beside ``anyOf``, where generators keep it)."""
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf", [])
        if len(options) == 2 and {"type": "null"} in options:
            text = next(o for o in options if o != {"type": "null"})
            if text.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(text):
                text["pattern"] = prop["pattern"] = TEXT_PATTERN  # pattern binds strings only
        elif prop.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(prop):
            prop["pattern"] = TEXT_PATTERN
        for option in options:
            if option.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(option):
                option["pattern"] = TEXT_PATTERN
            items = option.get("items", {}) if option.get("type") == "array" else {}
            if items.get("type") == "object" and "properties" not in items:  # a list of free-form objects
                items["propertyNames"], items["additionalProperties"] = {"pattern": TEXT_PATTERN}, _JSON_VALUE


_SCALAR = {"type": ["string", "number", "boolean", "null"], "pattern": TEXT_PATTERN}
_JSON_VALUE = {  # what metadata holds (deeper nesting is accepted too; NUL nowhere)
    "anyOf": [
        _SCALAR,
        {"type": "array", "items": _SCALAR},
        {"type": "object", "propertyNames": {"pattern": TEXT_PATTERN}, "additionalProperties": _SCALAR},
    ]
}


class _Clean(BaseModel):
    model_config = ConfigDict(json_schema_extra=_document_clean_text)

    @field_validator("*")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        return _clean_text(value)


class _Strict(_Clean):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_document_clean_text)


class ErrorOut(BaseModel):
    """The JSON body of every error answer."""

    error: str = Field(description="Error class, e.g. ValidationError, NotFound, RateLimited.")
    detail: str | list[dict[str, Any]] = Field(description="What was wrong and what to do.")


class HealthOut(BaseModel):
    """The answer of ``/healthz`` while the API and its database are up."""

    status: Literal["ok"] = "ok"


# --- feedback -----------------------------------------------------------------------------
class FeedbackIn(_Strict):
    message_id: int = Field(ge=1, le=MAX_ID, description="The assistant message voted on.")
    vote: Vote
    sig: str = Field(min_length=1, max_length=200, description="Signature from the link or the chat answer.")
    comment: str | None = Field(None, max_length=2000, description="Optional free-text comment.")


class FeedbackOut(BaseModel):
    status: Literal["recorded", "unchanged"]
    message_id: int
    vote: str
    previous: str | None
    comment_saved: bool


class ChannelStats(BaseModel):
    conversations: int
    conversations_with_feedback: int
    votes_up: int
    votes_down: int
    feedback_rate: float
    csat_average: float | None
    csat_responses: int
    csat_distribution: dict[str, int]


class StatsOut(ChannelStats):
    days: int
    since: dt.datetime
    by_channel: dict[str, ChannelStats]


# --- chat ---------------------------------------------------------------------------------
class ChatIn(_Strict):
    message: str = Field(min_length=1, max_length=4000, description="The customer's message.")
    session_id: str | None = Field(
        None,
        min_length=8,
        max_length=100,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The widget's visitor id (kept in the browser); a new one is issued when missing.",
    )
    conversation_id: int | None = Field(None, ge=1, le=MAX_ID, description="Continue this conversation.")


class ChatOut(BaseModel):
    conversation_id: int
    message_id: int
    session_id: str
    answer: str
    confidence: float
    escalated: bool
    feedback_sig: str = Field(description="Pass with POST /api/v1/ai/feedback to vote on this answer.")


# --- ingest -------------------------------------------------------------------------------
class MessageSchema(_Strict):
    role: MessageRole
    content: str = Field(min_length=1, max_length=MAX_TEXT)
    created_at: dt.datetime | None = None
    external_id: str | None = Field(None, max_length=200)
    confidence: float | None = Field(None, ge=0, le=1)
    model_used: str | None = Field(None, max_length=200)
    latency_ms: float | None = Field(None, ge=0, le=1e9)
    tokens_in: int | None = Field(None, ge=0, le=10**9)
    tokens_out: int | None = Field(None, ge=0, le=10**9)
    cost_usd: float | None = Field(None, ge=0, le=1e6)


class ConversationSchema(_Strict):
    external_user_id: str = Field(min_length=1, max_length=200)
    messages: list[MessageSchema] = Field(
        min_length=1,
        max_length=MAX_MESSAGES,
        description=f"At most {MAX_MESSAGES} messages holding at most {MAX_REQUEST_TEXT} characters in all "
        "(413 above: send the rest with POST /api/v1/conversations/{id}/messages).",
    )
    external_id: str | None = Field(None, max_length=200)
    status: ConversationStatus = ConversationStatus.AI
    channel_metadata: dict[str, Any] = Field(
        default_factory=dict,
        max_length=50,
        description="Channel details (e.g. email, subject): JSON values without NUL characters.",
        json_schema_extra={"propertyNames": {"pattern": TEXT_PATTERN}, "additionalProperties": _JSON_VALUE},
    )
    created_at: dt.datetime | None = None
    escalated_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    escalation_reason: str | None = Field(None, max_length=200)
    assigned_agent: str | None = Field(None, max_length=200)
    intent: str | None = Field(None, max_length=100)


class ConversationOut(BaseModel):
    conversation_id: int | None
    created: bool
    messages: int


class MessageOut(BaseModel):
    message_id: int
    conversation_id: int
    redacted_content: str
    pii_entity_types: list[str]


# --- outcomes and survey --------------------------------------------------------------------
class OutcomeIn(_Strict):
    conversation_id: int = Field(ge=1, le=MAX_ID)
    converted: bool
    value_usd: float | None = Field(None, ge=0, le=1e9)
    email: str | None = Field(
        None, max_length=320, description="Where to send the survey (else the conversation's address)."
    )
    send_survey: bool = True


class OutcomeOut(BaseModel):
    conversation_id: int
    booking_converted: bool
    booking_value_usd: float | None
    successful_outcome: bool
    survey_status: SurveyStatus | None = Field(description="sent, failed, answered; null when none was sent.")
    survey_note: str | None = None


# --- OpenAI-compatible chat completions -------------------------------------------------------
class ChatMessage(_Clean):
    model_config = ConfigDict(extra="allow", json_schema_extra=_document_clean_text)

    role: Literal["system", "user", "assistant", "tool", "developer", "function"]
    content: Annotated[str, Field(max_length=MAX_TEXT)] | list[dict[str, Any]] | None = None


class ChatCompletionIn(_Clean):
    model_config = ConfigDict(extra="allow", json_schema_extra=_document_clean_text)

    model: str = Field("supportloop", max_length=200)
    messages: list[ChatMessage] = Field(
        min_length=1,
        max_length=200,
        description="The conversation so far; the last user message with text is answered.",
        json_schema_extra={"contains": {  # at least one user message with text
            "type": "object",
            "required": ["role", "content"],
            "properties": {
                "role": {"const": "user"},
                "content": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT, "pattern": "\\S"},
            },
        }},
    )
    stream: bool = False
    user: str | None = Field(None, max_length=200)
    temperature: float | None = Field(None, ge=0, le=2)
    max_tokens: int | None = Field(None, ge=1, le=100_000)

