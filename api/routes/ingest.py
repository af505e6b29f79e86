"""Channel ingest: ``POST /api/v1/conversations`` and ``POST /api/v1/conversations/{id}/messages``.

Each channel integration (SMS gateway, Instagram, ...) has its own API key with scope
``ingest:<channel>`` (``supportloop apikey create --channel sms``), sent as
``Authorization: Bearer <key>`` or ``X-API-Key``. A key only writes conversations of its
channel. Bodies get the same validation and PII scrubbing as file imports (``core.conversations.ingest``).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Request
from sqlalchemy.orm import Session

from api.deps import get_session, get_settings
from api.routes.chat import app_clock, app_enricher, app_scrubber
from api.schemas import (
    MAX_ID,
    ConversationOut,
    ConversationSchema,
    MessageOut,
    MessageSchema,
    limit_body,
    require_key,
)
from core.conversations import ingest
from core.platform.config import Settings
from core.platform.errors import NotFound
from core.platform.models import CHANNELS, Conversation

router = APIRouter(tags=["ingest"], dependencies=[Depends(limit_body)])

_AUTH = {
    401: {"description": "Missing, unknown or revoked API key"},
    403: {"description": "The key belongs to another channel"},
}


def _message_in(m: MessageSchema) -> ingest.MessageIn:
    return ingest.MessageIn(
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


def _naive(value):
    """Timestamps are stored as naive UTC."""
    if value is None or value.tzinfo is None:
        return value
    import datetime as dt

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
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> ConversationOut:
    """Validate, scrub and store one conversation of the API key's channel. A conversation
    whose ``external_id`` is already stored is not stored again (``created: false``)."""
    channel = _channel_of_key(request, session)
    require_key(request, session, f"ingest:{channel}")
    conv = ingest.ConversationIn(
        channel=channel,
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
    report = ingest.store_conversations(
        session, [conv], app_scrubber(request), settings, app_clock(request),
        enricher=app_enricher(request, session),
    )
    if report.conversation_ids:
        return ConversationOut(
            conversation_id=report.conversation_ids[0], created=True, messages=report.messages_created
        )
    from sqlalchemy import select

    existing = session.scalar(select(Conversation.id).where(Conversation.external_id == body.external_id))
    return ConversationOut(conversation_id=existing, created=False, messages=0)


def _channel_of_key(request: Request, session: Session) -> str:
    """The channel of an ingest key (so callers need not repeat it)."""
    from sqlalchemy import select

    from api.schemas import api_key_from
    from core.access.apikeys import InvalidApiKey, hash_key
    from core.platform.models import ApiKey

    plaintext = api_key_from(request)
    scope = session.scalar(
        select(ApiKey.scope).where(
            ApiKey.key_hash == hash_key(plaintext.strip()), ApiKey.revoked_at.is_(None)
        )
    )
    if scope is None:
        raise InvalidApiKey(
            "The API key is unknown or revoked; create a new one with `supportloop apikey create`."
        )
    if scope.startswith("ingest:") and scope.split(":", 1)[1] in CHANNELS:
        return scope.split(":", 1)[1]
    from core.platform.errors import PermissionDenied

    raise PermissionDenied(f"This API key has scope {scope!r}; ingest needs an 'ingest:<channel>' key.")


@router.post(
    "/api/v1/conversations/{conversation_id}/messages",
    response_model=MessageOut,
    status_code=201,
    summary="Append a message to a conversation of the key's channel",
    responses={**_AUTH, 404: {"description": "Unknown conversation"}},
)
def add_message(
    body: MessageSchema,
    request: Request,
    conversation_id: int = Path(ge=1, le=MAX_ID),
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> MessageOut:
    """Scrub and append one message. Idempotent on ``external_id``."""
    key_channel = _channel_of_key(request, session)
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        require_key(request, session, f"ingest:{key_channel}")
        raise NotFound(f"Conversation {conversation_id} does not exist; create it first.")
    require_key(request, session, f"ingest:{conv.channel}")
    msg = ingest.add_message(
        session, conversation_id, _message_in(body), app_scrubber(request), settings, app_clock(request),
        enricher=app_enricher(request, session),
    )
    return MessageOut(
        message_id=msg.id,
        conversation_id=conversation_id,
        redacted_content=msg.redacted_content,
        pii_entity_types=list(msg.pii_entity_types or []),
    )
