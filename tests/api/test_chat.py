import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from core.knowledge.versions import activate_version, build_version
from core.platform.models import Conversation, Feedback, Message
from tests.core.kb_helpers import hashing, kb_settings, seed


def make_kb(session, settings):
    """Seed the small test KB, build and activate it with the hashing embedder."""
    st = kb_settings(settings)
    st.ensure_dirs()
    seed(session)
    version = build_version(session, hashing(), st, built_by="test")
    activate_version(session, version.id, st, actor="test", force=True)
    session.commit()
    return st


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
