"""``POST /api/v1/chat``: the web chat widget's endpoint. Each turn is logged as a ``web``
conversation (the visitor's session id is the user), the customer message is scrubbed on
write, the responder answers from the active KB version, and the answer comes back with a
signature the widget uses to vote on it.

Customer messages and answers are enriched on write (``core.enrichment.enrich``: intent, profanity and
abuse flags, tone score); the conversation's intent (unless ``unknown``) picks the responder's
system prompt. The embedding model, the PII analyzer and the enricher are loaded once per
process (on the first request that needs them) and kept on ``app.state`` (``api.deps``).
"""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends

from api.deps import (
    ClockDep,
    EmbedderDep,
    EnricherDep,
    ScrubberDep,
    SessionDep,
    SettingsDep,
    limit_body,
)
from api.ratelimit import RESPONSE_429, chat_session_limit
from api.routes._turns import Turn
from api.schemas import ChatIn, ChatOut
from core.feedback import links
from core.platform.errors import NotFound
from core.platform.models import Conversation
from core.platform.statuses import Channel

router = APIRouter(tags=["chat"], dependencies=[Depends(limit_body)])


@router.post(
    "/api/v1/chat",
    response_model=ChatOut,
    summary="Chat with the assistant (web widget)",
    # the session's limit first: a refused turn opens no database session and loads no model
    dependencies=[Depends(chat_session_limit)],
    responses={
        404: {"description": "Unknown conversation for this session"},
        413: {"description": "Request body too large"},
        **RESPONSE_429,
    },
)
def chat(
    body: ChatIn,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    embedder: EmbedderDep,
    scrubber: ScrubberDep,
    enricher: EnricherDep,
) -> ChatOut:
    """Answer one customer message and log the turn as a web conversation."""
    session_id = body.session_id or secrets.token_urlsafe(16)
    cid = body.conversation_id
    if cid is not None:
        conv = session.get(Conversation, cid)
        if conv is None or conv.channel != Channel.WEB or conv.external_user_id != session_id:
            raise NotFound(
                f"Conversation {cid} does not exist for this chat session; start a new one "
                "(omit conversation_id)."
            )
    turn = Turn(session, settings, clock, embedder, scrubber, enricher)
    cid = turn.log_question(channel=Channel.WEB, user=session_id, question=body.message, conversation_id=cid)
    conv = session.get(Conversation, cid)
    intent = None if conv.intent == "unknown" else conv.intent
    ans = turn.answer(body.message, intent=intent, user=session_id)
    msg = turn.record(cid, ans)
    sig = links.widget_signature(session, settings, msg.id, clock)
    session.commit()  # before returning: see api.deps.get_session
    return ChatOut(
        conversation_id=cid,
        message_id=msg.id,
        session_id=session_id,
        answer=ans.text,
        confidence=round(float(ans.confidence), 4),
        escalated=ans.escalated,
        feedback_sig=sig,
    )
