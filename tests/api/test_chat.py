import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from core.answering import routing
from core.experiments import lifecycle
from core.platform.models import Conversation, Feedback, Message, ShadowAnswer
from tests.factories import ADMIN
from tests.factories.experiments import experiment_kb, start_kb_experiment
from tests.factories.knowledge import hashing, make_kb


def kb_client(session, settings):
    st = make_kb(session, settings)
    app = create_app(st)
    app.state.embedder = hashing()
    return TestClient(app)


@pytest.mark.slow
def test_chat_answers_logs_a_web_conversation_and_takes_votes(session, settings):
    with kb_client(session, settings) as client:
        r = client.post(
            "/api/v1/chat", json={"message": "what is the adult price per adult guest? I'm Jane Doe"}
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert "sixty dollars" in body["answer"] and not body["escalated"] and body["confidence"] > 0
        sid, cid = body["session_id"], body["conversation_id"]
        conv = session.get(Conversation, cid)
        assert conv.channel == "web" and conv.external_user_id == sid
        user_msg = session.scalars(
            select(Message).where(Message.conversation_id == cid, Message.role == "user")
        ).one()
        assert "Jane Doe" not in user_msg.redacted_content  # scrubbed on write

        r2 = client.post(
            "/api/v1/chat",
            json={"message": "kids price per child", "session_id": sid, "conversation_id": cid},
        )
        assert r2.status_code == 200 and r2.json()["conversation_id"] == cid
        vote = client.post(
            "/api/v1/ai/feedback",
            json={"message_id": body["message_id"], "vote": "up", "sig": body["feedback_sig"]},
        )
        assert vote.status_code == 200 and vote.json()["status"] == "recorded"
        session.expire_all()
        assert session.execute(select(Feedback.voter, Feedback.source)).all() == [(sid, "widget")]
        # another visitor cannot continue (or vote in) this conversation
        stranger = client.post(
            "/api/v1/chat", json={"message": "hi", "session_id": "someone-else-123", "conversation_id": cid}
        )
        assert stranger.status_code == 404
        assert client.post("/api/v1/chat", json={"message": ""}).status_code == 422
        assert client.post("/api/v1/chat", json={"message": "x" * 5000}).status_code == 422


@pytest.mark.slow
def test_chat_without_a_knowledge_base_hands_over(session, settings):
    app = create_app(settings)
    app.state.embedder = hashing()
    with TestClient(app) as client:
        r = client.post("/api/v1/chat", json={"message": "do you cater weddings?"})
        assert r.status_code == 200 and r.json()["escalated"] is True


@pytest.mark.slow
def test_split_and_shadow_experiments_route_the_chat(session, settings):
    kb = experiment_kb(session, settings)
    exp = start_kb_experiment(session, kb, share=0.5)
    session.commit()
    app = create_app(kb["settings"].model_copy(update={"rate_limit_chat": ""}))  # 13 visitors, one address
    app.state.embedder = kb["emb"]
    with TestClient(app) as client:
        seen = {}
        for i in range(12):
            sid = f"chat-session-{i:03d}"
            r = client.post("/api/v1/chat", json={"message": "what is the adult price per adult guest",
                                                  "session_id": sid})
            assert r.status_code == 200, r.text
            seen[sid] = r.json()["message_id"]
        session.expire_all()
        for sid, mid in seen.items():
            msg = session.get(Message, mid)
            assert (msg.experiment_id, msg.arm) == (exp.id, routing.arm_of(exp, sid))
        lifecycle.stop(session, exp.id, actor=ADMIN, reason="switch to shadow")
        shadow = start_kb_experiment(session, kb, mode="shadow", share=0.99, salt="s3")
        session.commit()
        r = client.post("/api/v1/chat", json={"message": "kids price per child", "session_id": "chat-x-1"})
        assert r.status_code == 200
        session.expire_all()
        assert session.scalars(select(ShadowAnswer).where(ShadowAnswer.experiment_id == shadow.id)).all()
