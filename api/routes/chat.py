"""``POST /api/v1/chat``: the web chat widget's endpoint. Each turn is logged as a ``web``
conversation (the visitor's session id is the user), the customer message is scrubbed on
write, the responder answers from the active KB version, and the answer comes back with a
signature the widget uses to vote on it.

Customer messages and answers are enriched on write (``core.enrichment.enrich``: intent, profanity and
abuse flags, tone score); the conversation's intent (unless ``unknown``) picks the responder's
system prompt. The embedding model, the PII analyzer and the enricher are loaded once per
process (on the first request that needs them) and kept on ``app.state``.
"""

from __future__ import annotations

import secrets
import threading

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session

from api.deps import get_session, get_settings
from api.schemas import ChatIn, ChatOut, limit_body
from core.answering import responder
from core.conversations import ingest
from core.enrichment import enrich
from core.experiments import lifecycle as experiments
from core.feedback import votes as feedback
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.errors import NotFound
from core.platform.models import Conversation, Message

router = APIRouter(tags=["chat"], dependencies=[Depends(limit_body)])
_LOCK = threading.Lock()


def app_clock(request: Request) -> Clock | None:
    """The app's clock (tests put a FixedClock on ``app.state.clock``)."""
    return getattr(request.app.state, "clock", None)


def app_embedder(request: Request):
    """The process embedder (``app.state.embedder`` when set, else loaded once)."""
    state = request.app.state
    with _LOCK:
        if getattr(state, "embedder", None) is None:
            from core.platform.embeddings import get_embedder

            state.embedder = get_embedder(state.settings)
        return state.embedder


def app_enricher(request: Request, session: Session):
    """The enricher (``core.enrichment.enrich``) on the embedder production serves (a promoted embedding
    model, else ``app_embedder``), so the API and the job runner share one intent model."""
    state = request.app.state
    embedder = experiments.production_embedder(
        session, state.settings, base=lambda: app_embedder(request),
        loader=getattr(state, "embedder_loader", None),
    )
    return enrich.get_enricher(state.settings, embedder)


def app_scrubber(request: Request):
    """The process PII scrubber (``app.state.scrubber`` when set, else loaded once)."""
    state = request.app.state
    with _LOCK:
        if getattr(state, "scrubber", None) is None:
            from core.platform.pii import get_scrubber

            state.scrubber = get_scrubber(state.settings)
        return state.scrubber


def answer_question(
    request: Request, session: Session, settings: Settings, question: str, *, intent: str | None = None,
    user: str,
) -> responder.Answer:
    """The responder's answer; a knowledge base with no active version hands over to a human."""
    try:
        return experiments.answer_for_user(
            session,
            question,
            user_id=user,
            embedder=app_embedder(request),
            settings=settings,
            index_cache=getattr(request.app.state, "index_cache", None),
            clock=app_clock(request),
            intent=intent,
        )
    except NotFound:
        return responder.Answer(
            text=responder.ESCALATION_TEXT,
            confidence=0.0,
            escalated=True,
            retrieved=[],
            used_chunk_ids=[],
            kb_version_id=None,
            model_used=responder.EXTRACTIVE_MODEL,
            latency_ms=0.0,
            intent=intent,
            error="no active KB version",
        )


def log_turn(
    request: Request,
    session: Session,
    settings: Settings,
    *,
    channel: str,
    user: str,
    question: str,
    conversation_id: int | None,
    metadata: dict | None = None,
) -> int:
    """Store the customer's message (scrubbed) in a new or the given conversation; returns its id."""
    scrubber = app_scrubber(request)
    clock = app_clock(request)
    if conversation_id is None:
        conv = ingest.ConversationIn(
            channel=channel,
            external_user_id=user,
            channel_metadata=metadata or {},
            messages=[ingest.MessageIn(role="user", content=question)],
        )
        report = ingest.store_conversations(
            session, [conv], scrubber, settings, clock, enricher=app_enricher(request, session)
        )
        return report.conversation_ids[0]
    ingest.add_message(
        session, conversation_id, ingest.MessageIn(role="user", content=question), scrubber, settings, clock,
        enricher=app_enricher(request, session),
    )
    return conversation_id


@router.post(
    "/api/v1/chat",
    response_model=ChatOut,
    summary="Chat with the assistant (web widget)",
    responses={404: {"description": "Unknown conversation for this session"}},
)
def chat(
    body: ChatIn,
    request: Request,
    session: Session = Depends(get_session),
    settings: Settings = Depends(get_settings),
) -> ChatOut:
    """Answer one customer message and log the turn as a web conversation."""
    session_id = body.session_id or secrets.token_urlsafe(16)
    cid = body.conversation_id
    if cid is not None:
        conv = session.get(Conversation, cid)
        if conv is None or conv.channel != "web" or conv.external_user_id != session_id:
            raise NotFound(
                f"Conversation {cid} does not exist for this chat session; start a new one "
                "(omit conversation_id)."
            )
    cid = log_turn(
        request, session, settings, channel="web", user=session_id, question=body.message, conversation_id=cid
    )
    conv = session.get(Conversation, cid)
    intent = None if conv.intent == "unknown" else conv.intent
    ans = answer_question(request, session, settings, body.message, intent=intent, user=session_id)
    msg: Message = experiments.record_answer(
        session, cid, ans, clock=app_clock(request), scrubber=app_scrubber(request), settings=settings,
        enricher=app_enricher(request, session),
    )
    sig = feedback.widget_signature(session, settings, msg.id, app_clock(request))
    return ChatOut(
        conversation_id=cid,
        message_id=msg.id,
        session_id=session_id,
        answer=ans.text,
        confidence=round(float(ans.confidence), 4),
        escalated=ans.escalated,
        feedback_sig=sig,
    )
