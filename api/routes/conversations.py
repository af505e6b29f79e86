"""Conversations: ``POST /api/v1/conversations/{id}/close`` (the lifecycle, docs/conversations.md),
and the read-back ``GET /api/v1/conversations`` / ``GET /api/v1/conversations/{id}`` (read key;
redacted text only, keyset cursor pagination: ``core.conversations.queries``).

Closing takes an ingest key of the conversation's channel (``ingest:<channel>``): the channel
integration that fed the conversation says when it is over. A conversation of another channel
answers 404 like an unknown id, so a key learns nothing about other channels' conversations.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, Field

from api.deps import ClockDep, IngestKey, ReadKey, SessionDep, limit_body
from api.schemas import MAX_ID, AsciiInt
from core.conversations import lifecycle, queries
from core.platform.actors import SYSTEM
from core.platform.statuses import Channel, ConversationStatus

router = APIRouter(tags=["conversations"], dependencies=[Depends(limit_body)])


class CloseIn(BaseModel):
    resolution: str | None = Field(
        None, max_length=lifecycle.MAX_RESOLUTION_CHARS,
        description="How the conversation ended (free text, e.g. 'refund issued'); optional.",
    )


class CloseOut(BaseModel):
    conversation_id: int
    status: str
    closed_at: dt.datetime | None
    resolution: str | None
    handed_off: bool = Field(description="Whether a human agent took part (escalated_at is set).")
    contained: bool = Field(description="Closed without a hand-off to a human.")
    successful_outcome: bool


@router.post(
    "/api/v1/conversations/{conversation_id}/close",
    response_model=CloseOut,
    summary="Close a conversation of the key's channel",
    responses={
        401: {"description": "Missing, unknown or revoked API key"},
        404: {"description": "Unknown conversation, or one of another channel"},
    },
)
def close_conversation(
    conversation_id: Annotated[AsciiInt, Path(ge=1, le=MAX_ID)],
    key: IngestKey,
    session: SessionDep,
    clock: ClockDep,
    body: Annotated[CloseIn | None, Body()] = None,
) -> CloseOut:
    """Close the conversation now (optional resolution) and recompute its outcome; closing a
    closed conversation changes nothing. A later customer message reopens it."""
    actor = dataclasses.replace(SYSTEM, name=f"api:ingest:{key.channel}")
    conv = lifecycle.close_conversation(
        session, conversation_id, actor=actor, resolution=body.resolution if body else None,
        channel=key.channel, clock=clock,
    )
    out = conv.outcome
    session.commit()  # before returning: see api.deps.get_session
    return CloseOut(
        conversation_id=conv.id,
        status=conv.status,
        closed_at=conv.closed_at,
        resolution=conv.resolution,
        handed_off=conv.escalated_at is not None,
        contained=conv.escalated_at is None,
        successful_outcome=bool(out.successful_outcome) if out else False,
    )


# --- read-back: GET /api/v1/conversations and /api/v1/conversations/{id} (read key) ----------
class ReadError(BaseModel):
    error: str = Field(description="Error class, e.g. InvalidApiKey, ValidationError, NotFound.")
    detail: str | list = Field(description="What was wrong and what to do.")


_READ_ERRORS = {
    401: {"model": ReadError, "description": "No API key, or an unknown or revoked one."},
    403: {"model": ReadError, "description": "The API key does not have scope 'read'."},
    422: {"model": ReadError, "description": "A parameter is out of range, or a bad cursor."},
}


class OutcomeRead(BaseModel):
    booking_converted: bool
    booking_value_usd: float | None
    successful_outcome: bool
    csat: int | None = Field(description="The 1-5 post-booking survey score.")
    down_votes: int
    first_response_time_seconds: float | None
    total_cost_usd: float | None


class ConversationSummary(BaseModel):
    """A conversation without its messages. Personal identifiers (the customer's id on the
    channel, channel metadata, the agent's name) are never shown."""

    id: int
    external_id: str | None = Field(description="The channel's id of the conversation (thread id).")
    channel: str
    status: str = Field(description="ai, escalated (handed off, open) or closed.")
    created_at: str | None
    updated_at: str | None
    first_response_at: str | None
    escalated_at: str | None = Field(description="When it was handed off to a human (null: never).")
    escalation_reason: str | None
    closed_at: str | None
    resolution: str | None
    intent: str | None
    messages: int = Field(description="Number of messages.")
    first_message: str = Field(description="The first message, redacted, at most 200 characters.")
    outcome: OutcomeRead | None


class MessageRead(BaseModel):
    id: int
    role: str = Field(description="user, assistant, agent or system.")
    text: str = Field(description="The redacted text (raw text is never returned).")
    created_at: str | None
    pii_entity_types: list[str] = Field(description="Kinds of personal data that were redacted.")
    confidence: float | None
    model_used: str | None
    cost_usd: float | None


class ConversationDetail(ConversationSummary):
    transcript: list[MessageRead] = Field(description="Every message in order, redacted.")


class ConversationList(BaseModel):
    items: list[ConversationSummary] = Field(description="Newest stored first (by id).")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


@router.get(
    "/api/v1/conversations",
    response_model=ConversationList,
    summary="List conversations (read key)",
    responses=_READ_ERRORS,
)
def list_conversations(
    _key: ReadKey,
    session: SessionDep,
    channel: Annotated[Channel | None, Query(description="Only this channel.")] = None,
    status: Annotated[ConversationStatus | None, Query(description="Only this status.")] = None,
    since: Annotated[
        dt.datetime | None, Query(description="Only those started at or after (ISO 8601; naive = UTC).")
    ] = None,
    limit: Annotated[
        AsciiInt, Query(ge=1, le=queries.MAX_PAGE, description="Page size.")
    ] = queries.DEFAULT_PAGE,
    cursor: Annotated[
        str | None, Query(max_length=64, description="The next_cursor of the previous page.")
    ] = None,
) -> dict:
    """Conversations, newest stored first, with their outcome and first (redacted) message.
    Keyset pagination: conversations stored while you page never shift or repeat a page."""
    page = queries.conversation_page(
        session, channel=channel, status=status, since=since, limit=limit, cursor=cursor
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get(
    "/api/v1/conversations/{conversation_id}",
    response_model=ConversationDetail,
    summary="One conversation with its redacted messages (read key)",
    responses={**_READ_ERRORS, 404: {"model": ReadError, "description": "Unknown conversation."}},
)
def get_conversation(
    conversation_id: Annotated[AsciiInt, Path(ge=1, le=MAX_ID)],
    _key: ReadKey,
    session: SessionDep,
) -> dict:
    """The conversation, its outcome and every message (redacted text only)."""
    return queries.conversation_detail(session, conversation_id)
