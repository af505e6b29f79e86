"""``POST /v1/chat/completions``: a drop-in for OpenAI's chat completions API.

An assistant built on an OpenAI client starts learning by pointing its base URL at
``https://YOUR-API/v1`` and using an ingest API key of its channel as the OpenAI key. The
last user message is answered by the responder (retrieval from the active KB version) and
every turn is logged as a conversation:

- user: the ``user`` field, or the ``X-Supportloop-User`` header (else ``anonymous``);
- channel: the ``X-Supportloop-Channel`` header, else the API key's channel;
- conversation: ``X-Supportloop-Conversation`` (your thread id) continues that thread;
  without it the user's open conversation of the last hour on that channel continues.

Streaming (``stream: true``) sends the answer as server-sent events like OpenAI does. The
response carries a ``supportloop`` object with the conversation and message ids, the
confidence and signed feedback links.
"""

from __future__ import annotations

import datetime as dt
import json
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.deps import (
    ClockDep,
    EmbedderDep,
    EnricherDep,
    IngestKey,
    ScrubberDep,
    SessionDep,
    SettingsDep,
    limit_body,
)
from api.routes._turns import Turn
from api.schemas import ChatCompletionIn
from core.answering import responder
from core.conversations import lifecycle
from core.feedback import links
from core.platform.errors import ValidationError
from core.platform.models import CHANNELS, Conversation
from core.platform.statuses import MessageRole

router = APIRouter(tags=["openai-compatible"], dependencies=[Depends(limit_body)])


def _text(content: str | list[dict] | None) -> str:
    """The text of an OpenAI message content (a string, or the text parts of a list)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "\n".join(
        str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text"
    )


def _conversation(
    session: Session, channel: str, user: str, thread: str | None, now: dt.datetime, idle: dt.timedelta
) -> int | None:
    """The conversation a request continues: the thread's (any status: a customer message reopens a
    closed one), else the user's open conversation with a message within the idle window
    (``core.conversations.lifecycle``); None starts a new one."""
    if thread:
        conv = session.scalar(
            select(Conversation).where(Conversation.channel == channel, Conversation.external_id == thread)
        )
        if conv is not None:
            if conv.channel != channel or conv.external_user_id != user:
                raise ValidationError(f"Conversation {thread!r} belongs to another channel or user.")
            return conv.id
        return None
    return session.scalar(
        select(Conversation.id)
        .where(
            Conversation.channel == channel,
            Conversation.external_user_id == user,
            Conversation.status.in_(lifecycle.OPEN_STATUSES),
            Conversation.updated_at >= now - idle,
        )
        .order_by(Conversation.updated_at.desc(), Conversation.id.desc())
        .limit(1)
    )


@router.post(
    "/v1/chat/completions",
    summary="OpenAI-compatible chat completions",
    responses={
        200: {"content": {"text/event-stream": {}}},
        401: {"description": "Missing, unknown or revoked API key"},
        403: {"description": "The key belongs to another channel"},
    },
)
def chat_completions(
    body: ChatCompletionIn,
    request: Request,
    key: IngestKey,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
    embedder: EmbedderDep,
    scrubber: ScrubberDep,
    enricher: EnricherDep,
):
    """Answer the last user message with the responder and log the turn."""
    channel = (request.headers.get("x-supportloop-channel") or key.channel).strip().lower()
    if channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}.")
    key.require(channel)
    user = (body.user or request.headers.get("x-supportloop-user") or "anonymous").strip()[
        :200
    ] or "anonymous"
    thread = (request.headers.get("x-supportloop-conversation") or "").strip()[:200] or None
    user_texts = (_text(m.content) for m in reversed(body.messages) if m.role == MessageRole.USER)
    question = next((t for t in user_texts if t.strip()), "").strip()  # the last user message with text
    if not question:
        raise ValidationError("No user message with text to answer; send a 'user' message with content.")
    if len(question) > settings.max_message_chars:
        raise ValidationError(
            f"The user message is {len(question)} characters; the limit is {settings.max_message_chars}."
        )
    turn = Turn(session, settings, clock, embedder, scrubber, enricher)
    idle = dt.timedelta(minutes=settings.conversation_idle_minutes)
    cid = _conversation(session, channel, user, thread, clock.now(), idle)
    if cid is None:
        cid = turn.log_question(
            channel=channel, user=user, question=question, conversation_id=None,
            metadata={"source": "openai-compatible"},
        )
        if thread:
            session.get(Conversation, cid).external_id = thread
    else:
        turn.log_question(channel=channel, user=user, question=question, conversation_id=cid)
    intent = session.get(Conversation, cid).intent
    intent = None if intent == "unknown" else intent
    ans = turn.answer(question, intent=intent, user=user)
    msg = turn.record(cid, ans)
    footer = links.email_footer(msg.id, session=session, settings=settings, clock=clock)
    created = int(time.time())
    completion_id = f"chatcmpl-sl{msg.id}"
    model = ans.model_used if ans.model_used != responder.EXTRACTIVE_MODEL else (body.model or "supportloop")
    extra = {
        "conversation_id": cid,
        "message_id": msg.id,
        "confidence": round(float(ans.confidence), 4),
        "escalated": ans.escalated,
        "kb_version_id": ans.kb_version_id,
        "feedback": {"up": footer.up_url, "down": footer.down_url},
        "feedback_sig": links.widget_signature(session, settings, msg.id, clock),
    }
    usage = {"prompt_tokens": ans.tokens_in or 0, "completion_tokens": ans.tokens_out or 0}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    session.commit()  # the turn is stored before the answer or its stream starts (api.deps.get_session)
    if not body.stream:
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": ans.text},
                        "finish_reason": "stop",
                        "logprobs": None,
                    }
                ],
                "usage": usage,
                "supportloop": extra,
            }
        )

    def events():
        def chunk(delta: dict, finish: str | None = None, **more) -> str:
            payload = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
                **more,
            }
            return f"data: {json.dumps(payload)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        words = ans.text.split(" ")
        for i in range(0, len(words), 8):
            piece = " ".join(words[i : i + 8])
            yield chunk({"content": piece if i == 0 else " " + piece})
        yield chunk({}, "stop", supportloop=extra)
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
