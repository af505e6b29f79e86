"""The conversation lifecycle through the API: POST /api/v1/conversations/{id}/close with an
ingest key, and the hand-off and reopen rules on the ingest, chat and OpenAI-compatible paths
(docs/conversations.md). Each test runs on SQLite and PostgreSQL."""

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.main import create_app
from core.access import apikeys
from core.conversations import lifecycle
from core.platform.clock import FixedClock
from core.platform.models import Conversation
from core.platform.statuses import ConversationStatus
from tests.factories import ADMIN
from tests.factories.knowledge import hashing

NOW = dt.datetime(2026, 3, 18, 12, 0)
CONVS = "/api/v1/conversations"


@pytest.fixture
def client(settings, db):
    app = create_app(settings)
    app.state.clock = FixedClock(NOW)
    app.state.embedder = hashing()
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(db):
    with db.session() as s:
        out = {}
        for channel in ("sms", "email"):
            _, key = apikeys.create_api_key(s, apikeys.scope_for(channel=channel), channel, actor=ADMIN)
            out[channel] = {"X-API-Key": key}
        _, read = apikeys.create_api_key(s, "read", "reader", actor=ADMIN)
        out["read"] = {"X-API-Key": read}
        s.commit()
    return out


def _messages(*roles):
    return [{"role": r, "content": f"{r} says hello",
             "created_at": (NOW + dt.timedelta(minutes=i)).isoformat()} for i, r in enumerate(roles)]


def _create(client, key, *roles, **extra) -> int:
    r = client.post(CONVS, json={"external_user_id": "+15125550100", "messages": _messages(*roles), **extra},
                    headers=key)
    assert r.status_code == 201, r.text
    return r.json()["conversation_id"]


def _conv(db, cid: int) -> Conversation:
    with db.session() as s:
        conv = s.get(Conversation, cid)
        s.expunge(conv)
        return conv


def test_close_with_the_channels_key(client, keys, db):
    cid = _create(client, keys["sms"], "user", "assistant")
    r = client.post(f"{CONVS}/{cid}/close", json={"resolution": "answered the price"}, headers=keys["sms"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "closed" and body["resolution"] == "answered the price"
    assert body["contained"] and body["successful_outcome"] and not body["handed_off"]
    assert body["closed_at"].startswith("2026-03-18T12:00")
    again = client.post(f"{CONVS}/{cid}/close", headers=keys["sms"])  # no body: nothing changes
    assert again.status_code == 200 and again.json()["resolution"] == "answered the price"
    conv = _conv(db, cid)
    assert conv.status == ConversationStatus.CLOSED and conv.closed_at == NOW


def test_close_reveals_nothing_to_other_keys(client, keys):
    cid = _create(client, keys["sms"], "user", "assistant")
    other = client.post(f"{CONVS}/{cid}/close", headers=keys["email"])
    unknown = client.post(f"{CONVS}/{cid + 1000}/close", headers=keys["email"])
    assert other.status_code == unknown.status_code == 404
    said = other.json()["detail"].replace(str(cid), "N")
    assert said == unknown.json()["detail"].replace(str(cid + 1000), "N")
    assert client.post(f"{CONVS}/{cid}/close", headers=keys["read"]).status_code == 403
    assert client.post(f"{CONVS}/{cid}/close").status_code == 401
    assert client.post(f"{CONVS}/0/close", headers=keys["sms"]).status_code == 422
    long = client.post(f"{CONVS}/{cid}/close", json={"resolution": "x" * 201}, headers=keys["sms"])
    assert long.status_code == 422


def test_ingest_detects_the_hand_off_and_a_customer_message_reopens(client, keys, db):
    handed = _create(client, keys["sms"], "user", "agent", "agent")
    conv = _conv(db, handed)
    assert conv.status == ConversationStatus.ESCALATED
    assert (conv.escalated_at, conv.escalation_reason) == (NOW + dt.timedelta(minutes=1), "agent replied")

    cid = _create(client, keys["sms"], "user", "assistant")
    at = (NOW + dt.timedelta(minutes=5)).isoformat()
    r = client.post(f"{CONVS}/{cid}/messages", headers=keys["sms"],
                    json={"role": "agent", "content": "Maria here", "created_at": at})
    assert r.status_code == 201, r.text
    assert _conv(db, cid).escalated_at == NOW + dt.timedelta(minutes=5)

    plain = _create(client, keys["sms"], "user", "assistant")
    client.post(f"{CONVS}/{plain}/close", headers=keys["sms"])
    r = client.post(f"{CONVS}/{plain}/messages", json={"role": "user", "content": "one more question"},
                    headers=keys["sms"])
    assert r.status_code == 201
    conv = _conv(db, plain)
    assert (conv.status, conv.closed_at) == (ConversationStatus.AI, None)
    closed = client.post(f"{CONVS}/{plain}/close", headers=keys["sms"]).json()
    assert closed["status"] == "closed" and closed["contained"]


def test_the_same_external_id_in_two_channels_is_two_conversations(client, keys):
    sms = client.post(CONVS, json={"external_id": "T-1", "external_user_id": "u",
                                   "messages": _messages("user")}, headers=keys["sms"]).json()
    email = client.post(CONVS, json={"external_id": "T-1", "external_user_id": "u",
                                     "messages": _messages("user")}, headers=keys["email"]).json()
    again = client.post(CONVS, json={"external_id": "T-1", "external_user_id": "u",
                                     "messages": _messages("user")}, headers=keys["sms"]).json()
    assert sms["created"] and email["created"] and sms["conversation_id"] != email["conversation_id"]
    assert (again["created"], again["conversation_id"]) == (False, sms["conversation_id"])


def test_chat_hand_off_close_and_reopen(client, db):
    r = client.post("/api/v1/chat", json={"message": "do you cater weddings?"})  # no KB: hands over
    assert r.status_code == 200 and r.json()["escalated"] is True
    body = r.json()
    conv = _conv(db, body["conversation_id"])
    assert conv.status == ConversationStatus.ESCALATED and conv.escalated_at == NOW
    assert conv.escalation_reason.startswith("low confidence")
    with db.session() as s:
        lifecycle.close_conversation(s, conv.id, actor=ADMIN, clock=FixedClock(NOW))
        s.commit()
    r = client.post("/api/v1/chat", json={"message": "still there?", "session_id": body["session_id"],
                                          "conversation_id": conv.id})
    assert r.status_code == 200 and r.json()["conversation_id"] == conv.id
    assert _conv(db, conv.id).status == ConversationStatus.ESCALATED  # reopened, still handed off


def test_openai_compatible_route_follows_the_lifecycle(client, keys, db):
    def ask(headers=None):
        question = [{"role": "user", "content": "do you cater weddings?"}]
        r = client.post("/v1/chat/completions", json={"model": "x", "user": "lead-7", "messages": question},
                        headers={**keys["sms"], **(headers or {})})
        assert r.status_code == 200, r.text
        return r.json()["supportloop"]["conversation_id"]

    first = ask()
    assert ask() == first  # the user's open conversation, within the idle window
    conv = _conv(db, first)
    assert conv.status == ConversationStatus.ESCALATED and conv.escalated_at is not None
    with db.session() as s:
        lifecycle.close_conversation(s, first, actor=ADMIN, clock=FixedClock(NOW))
        s.commit()
    assert ask() != first  # closed: without a thread a new conversation starts
    thread = {"X-Supportloop-Conversation": "crm-9"}
    threaded = ask(thread)
    with db.session() as s:
        lifecycle.close_conversation(s, threaded, actor=ADMIN, clock=FixedClock(NOW))
        s.commit()
    assert ask(thread) == threaded  # a thread names its conversation: the customer reopens it
    assert _conv(db, threaded).status == ConversationStatus.ESCALATED
    with db.session() as s:
        ids = s.scalars(select(Conversation.id).where(Conversation.external_id == "crm-9")).all()
    assert ids == [threaded]
