"""Channel ingest: ``POST /api/v1/conversations`` and ``POST /api/v1/conversations/{id}/messages``.

Each channel integration (SMS gateway, Instagram, ...) has its own API key with scope
``ingest:<channel>`` (``supportloop apikey create --channel sms``), sent as
``Authorization: Bearer <key>`` or ``X-API-Key``. A key only writes conversations of its
channel. Bodies get the same validation and PII scrubbing as file imports (``core.conversations.ingest``).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import select

from api.deps import (
    ClockDep,
    EnricherDep,
    IngestKey,
    PayloadTooLarge,
    ScrubberDep,
    SessionDep,
    SettingsDep,
    limit_body,
)
from api.schemas import (
    MAX_ID,
    MAX_REQUEST_TEXT,
    AsciiInt,
    ConversationOut,
    ConversationSchema,
    MessageOut,
    MessageSchema,
)
from core.conversations import ingest
from core.conversations.schemas import ConversationIn, MessageIn
from core.enrichment import enrich
from core.platform.errors import NotFound
from core.platform.models import Conversation

router = APIRouter(tags=["ingest"], dependencies=[Depends(limit_body)])

_AUTH = {
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "The key belongs to another channel"},
    409: {"description": "A message external_id is already used by another conversation of this channel"},
}


def _message_in(m: MessageSchema) -> MessageIn:
    return MessageIn(
        role=m.role,
        content=m.content,
        created_at=_naive(m.created_at),
        external_id=m.external_id,
        confidence=m.confidence,
        model_used=m.model_used,
        latency_ms=m.latency_ms,
        tokens_in=m.tokens_in,
        tokens_out=m.tokens_out,
        cost_usd=m.cost_usd,
    )


def _naive(value: dt.datetime | None) -> dt.datetime | None:
    """Timestamps are stored as naive UTC."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


@router.post(
    "/api/v1/conversations",
    response_model=ConversationOut,
    status_code=201,
    summary="Store a conversation of the key's channel",
    responses=_AUTH,
)
def create_conversation(
    body: ConversationSchema,
    key: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    scrubber: ScrubberDep,
    enricher: EnricherDep,
) -> ConversationOut:
    """Validate, scrub and store one conversation of the API key's channel. A conversation
    whose ``external_id`` is already stored in this channel is not stored again (``created:
    false``); the same id in another channel is another conversation (and the answer says
    nothing about it)."""
    text = sum(len(m.content) for m in body.messages)
    if text > MAX_REQUEST_TEXT:
        raise PayloadTooLarge(
            f"The messages hold {text} characters; one request takes at most {MAX_REQUEST_TEXT}. Send "
            "the first messages here and the rest with POST /api/v1/conversations/{id}/messages, or import "
            "long histories with `supportloop import`."
        )
    conv = ConversationIn(
        channel=key.channel,
        external_user_id=body.external_user_id,
        messages=[_message_in(m) for m in body.messages],
        external_id=body.external_id,
        status=body.status,
        channel_metadata=dict(body.channel_metadata),
        created_at=_naive(body.created_at),
        escalated_at=_naive(body.escalated_at),
        closed_at=_naive(body.closed_at),
        escalation_reason=body.escalation_reason,
        assigned_agent=body.assigned_agent,
        intent=body.intent,
    )
    report = ingest.store_conversations(session, [conv], scrubber, settings, clock)
    session.commit()  # stored before the models run: no write lock held while they do
    if report.conversation_ids:
        enrich.enrich_conversations(session, report.conversation_ids, enricher, clock)
        session.commit()  # before returning: see api.deps.get_session
    if report.conversation_ids:
        return ConversationOut(
            conversation_id=report.conversation_ids[0], created=True, messages=report.messages_created
        )
    existing = session.scalar(
        select(Conversation.id).where(
            Conversation.channel == key.channel, Conversation.external_id == body.external_id
        )
    )
    return ConversationOut(conversation_id=existing, created=False, messages=0)


@router.post(
    "/api/v1/conversations/{conversation_id}/messages",
    response_model=MessageOut,
    status_code=201,
    summary="Append a message to a conversation of the key's channel",
    responses={**_AUTH, 404: {"description": "Unknown conversation"}},
)
def add_message(
    body: MessageSchema,
    conversation_id: Annotated[AsciiInt, Path(ge=1, le=MAX_ID)],
    key: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    scrubber: ScrubberDep,
    enricher: EnricherDep,
) -> MessageOut:
    """Scrub and append one message. Idempotent on ``external_id``."""
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist; create it first.")
    key.require(conv.channel)
    msg = ingest.add_message(session, conversation_id, _message_in(body), scrubber, settings, clock)
    session.commit()  # stored before the models run: no write lock held while they do
    enrich.enrich_message(session, msg.id, enricher, clock)
    session.commit()  # before returning: see api.deps.get_session
    return MessageOut(
        message_id=msg.id,
        conversation_id=conversation_id,
        redacted_content=msg.redacted_content,
        pii_entity_types=list(msg.pii_entity_types or []),
    )
