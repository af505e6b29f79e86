"""POST /v1/chat/completions with the official openai client against the running API."""

import pytest
from sqlalchemy import select

from api.main import create_app
from core.access.apikeys import create_api_key
from core.platform.models import Conversation, Message
from tests.factories import ADMIN
from tests.factories.knowledge import hashing, make_kb
from tests.factories.servers import serve_in_thread


@pytest.mark.slow
def test_openai_client_gets_answers_and_turns_are_logged(session, settings):
    import openai  # reason: the OpenAI client takes a second to import; only this slow test needs it

    st = make_kb(session, settings)
    _, key = create_api_key(session, "ingest:sms", "existing assistant", actor=ADMIN)
    session.commit()
    app = create_app(st)
    app.state.embedder = hashing()
    with serve_in_thread(app) as base:
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0)
        resp = client.chat.completions.create(
            model="gpt-4o-mini",
            user="+15550100",
            messages=[
                {"role": "system", "content": "You are helpful."},
                {"role": "user", "content": "what is the adult price per adult guest"},
            ],
        )
        assert "sixty dollars" in resp.choices[0].message.content
        assert resp.choices[0].finish_reason == "stop" and resp.object == "chat.completion"
        extra = resp.model_extra["supportloop"]
        cid = extra["conversation_id"]
        assert extra["feedback"]["up"].startswith(st.public_base_url)

        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            user="+15550100",
            stream=True,
            messages=[
                {"role": "user", "content": "what is the adult price per adult guest"},
                {"role": "assistant", "content": resp.choices[0].message.content},
                {"role": "user", "content": "kids price per child"},
            ],
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert "thirty dollars" in text

        threaded = client.chat.completions.create(
            model="x",
            messages=[{"role": "user", "content": "is there a party food minimum"}],
            extra_headers={"X-Supportloop-Conversation": "crm-thread-42", "X-Supportloop-User": "lead-7"},
        )
        assert "six hundred" in threaded.choices[0].message.content

        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=f"{base}/v1", api_key="sl_nope", max_retries=0).chat.completions.create(
                model="x", messages=[{"role": "user", "content": "hi"}]
            )
        with pytest.raises(openai.UnprocessableEntityError):
            client.chat.completions.create(model="x", messages=[{"role": "system", "content": "only system"}])
        with pytest.raises(openai.PermissionDeniedError):
            client.chat.completions.create(
                model="x",
                messages=[{"role": "user", "content": "hi"}],
                extra_headers={"X-Supportloop-Channel": "email"},
            )

    session.expire_all()
    conv = session.get(Conversation, cid)
    assert (conv.channel, conv.external_user_id) == ("sms", "+15550100")
    roles = [
        m.role
        for m in session.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.id))
    ]
    assert roles == ["user", "assistant", "user", "assistant"]  # the streamed turn continued it
    thread = session.scalar(select(Conversation).where(Conversation.external_id == "crm-thread-42"))
    assert thread.external_user_id == "lead-7" and len(thread.messages) == 2
