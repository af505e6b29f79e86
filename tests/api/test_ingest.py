import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from core.access.apikeys import create_api_key, revoke_api_key
from core.platform.models import Conversation, Message
from tests.factories import ADMIN


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def _key(session, scope):
    kid, plaintext = create_api_key(session, scope, f"test {scope}", actor=ADMIN)
    session.commit()
    return kid, plaintext


CONV = {
    "external_user_id": "+15550100",
    "external_id": "sms-thread-1",
    "messages": [
        {"role": "user", "content": "Hi, this is Maria Lopez, can you do 30 people on June 3?"},
        {"role": "assistant", "content": "Yes! For 30 guests it is $60 per adult.", "confidence": 0.8},
    ],
}


@pytest.mark.slow
def test_ingest_with_per_channel_keys(client, session):
    _, sms = _key(session, "ingest:sms")
    _, web = _key(session, "ingest:web")
    r = client.post("/api/v1/conversations", json=CONV, headers={"Authorization": f"Bearer {sms}"})
    assert r.status_code == 201, r.text
    cid = r.json()["conversation_id"]
    assert r.json() == {"conversation_id": cid, "created": True, "messages": 2}
    conv = session.get(Conversation, cid)
    assert conv.channel == "sms"
    first = session.scalars(
        select(Message).where(Message.conversation_id == cid).order_by(Message.id)
    ).first()
    assert "Maria Lopez" not in first.redacted_content and "PERSON" in first.pii_entity_types

    again = client.post("/api/v1/conversations", json=CONV, headers={"X-API-Key": sms})
    assert again.json() == {"conversation_id": cid, "created": False, "messages": 0}

    m = client.post(
        f"/api/v1/conversations/{cid}/messages",
        headers={"X-API-Key": sms},
        json={"role": "user", "content": "Great, my email is maria@example.com", "external_id": "m-9"},
    )
    assert m.status_code == 201 and "maria@example.com" not in m.json()["redacted_content"]
    dup = client.post(
        f"/api/v1/conversations/{cid}/messages",
        headers={"X-API-Key": sms},
        json={"role": "user", "content": "Great, my email is maria@example.com", "external_id": "m-9"},
    )
    assert dup.json()["message_id"] == m.json()["message_id"]  # a retry stores nothing new

    # a key of another channel may not write this conversation
    other = client.post(
        f"/api/v1/conversations/{cid}/messages",
        headers={"X-API-Key": web},
        json={"role": "user", "content": "hello"},
    )
    assert other.status_code == 403
    assert (
        session.scalar(select(func.count()).select_from(Message).where(Message.conversation_id == cid)) == 3
    )


def test_wrong_missing_and_revoked_keys(client, session):
    kid, sms = _key(session, "ingest:sms")
    _, read = _key(session, "read")
    assert client.post("/api/v1/conversations", json=CONV).status_code == 401
    assert client.post("/api/v1/conversations", json={"nonsense": 1}).status_code == 401  # key first
    assert (
        client.post("/api/v1/conversations", json=CONV, headers={"X-API-Key": "sl_wrong"}).status_code == 401
    )
    bearer = client.post("/api/v1/conversations", json=CONV, headers={"Authorization": f"Bearer {read}"})
    assert bearer.status_code == 403
    assert client.post("/api/v1/conversations", json=CONV, headers={"X-API-Key": read}).status_code == 403
    revoke_api_key(session, kid, actor=ADMIN)
    session.commit()
    assert client.post("/api/v1/conversations", json=CONV, headers={"X-API-Key": sms}).status_code == 401
    assert (
        client.post("/api/v1/conversations/999/messages", json={"role": "user", "content": "x"}).status_code
        == 401
    )
    assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_invalid_bodies_are_refused_with_every_problem(client, session):
    _, sms = _key(session, "ingest:sms")
    h = {"X-API-Key": sms}
    bad = {"external_user_id": "", "messages": [{"role": "robot", "content": ""}]}
    r = client.post("/api/v1/conversations", json=bad, headers=h)
    assert r.status_code == 422
    fields = {tuple(e["loc"][1:]) for e in r.json()["detail"]}
    assert ("external_user_id",) in fields and ("messages", 0, "role") in fields
    assert client.post("/api/v1/conversations", json={**CONV, "messages": []}, headers=h).status_code == 422
    assert (
        client.post(
            "/api/v1/conversations/5/messages", json={"role": "user", "content": "x"}, headers=h
        ).status_code
        == 404
    )
    assert session.scalar(select(func.count()).select_from(Conversation)) == 0


@pytest.mark.slow
def test_an_external_id_of_another_channel_is_no_duplicate_and_reveals_nothing(client, session):
    _, sms = _key(session, "ingest:sms")
    _, web = _key(session, "ingest:web")
    fresh = client.post(
        "/api/v1/conversations", json={**CONV, "external_id": "fresh-id"}, headers={"X-API-Key": web}
    )
    taken_elsewhere = client.post("/api/v1/conversations", json=CONV, headers={"X-API-Key": sms})
    web_copy = client.post("/api/v1/conversations", json=CONV, headers={"X-API-Key": web})
    # the web key gets the same answer for an id the sms channel holds as for a fresh one
    assert fresh.status_code == taken_elsewhere.status_code == web_copy.status_code == 201
    assert web_copy.json().keys() == fresh.json().keys()
    assert web_copy.json()["created"] is True and fresh.json()["created"] is True
    assert web_copy.json()["conversation_id"] != taken_elsewhere.json()["conversation_id"]
    # a duplicate within the channel names only that channel's conversation
    again = client.post("/api/v1/conversations", json=CONV, headers={"X-API-Key": web})
    web_id = web_copy.json()["conversation_id"]
    assert again.json() == {"conversation_id": web_id, "created": False, "messages": 0}
    channels = dict(session.execute(select(Conversation.id, Conversation.channel)).all())
    assert channels[web_copy.json()["conversation_id"]] == "web"
    assert channels[taken_elsewhere.json()["conversation_id"]] == "sms"


def test_a_message_id_of_another_channel_is_a_new_message_and_reveals_nothing(client, session):
    _, sms = _key(session, "ingest:sms")
    _, web = _key(session, "ingest:web")
    with_ids = {**CONV, "messages": [{**m, "external_id": f"m-{i}"} for i, m in enumerate(CONV["messages"])]}
    held = client.post("/api/v1/conversations", json=with_ids, headers={"X-API-Key": sms})
    assert held.status_code == 201
    # the web key stores the same conversation and message ids as its own (no 409, nothing of sms)
    mine = client.post(
        "/api/v1/conversations", json={**with_ids, "external_id": "web-1"}, headers={"X-API-Key": web}
    )
    assert mine.status_code == 201 and mine.json()["created"] is True and mine.json()["messages"] == 2
    web_id = mine.json()["conversation_id"]
    sms_id = held.json()["conversation_id"]
    sms_url, web_url = f"/api/v1/conversations/{sms_id}/messages", f"/api/v1/conversations/{web_id}/messages"
    added = client.post(sms_url, json={"role": "user", "content": "hi", "external_id": "m-9"},
                        headers={"X-API-Key": sms})
    fresh = client.post(web_url, json={"role": "user", "content": "hi", "external_id": "m-9"},
                        headers={"X-API-Key": web})
    assert added.status_code == fresh.status_code == 201
    assert fresh.json()["message_id"] != added.json()["message_id"]
    # a duplicate within the channel answers as before: a retry is the same message, another
    # conversation of the channel is a 409 that names only the channel's own conversation
    retry = client.post(web_url, json={"role": "user", "content": "hi", "external_id": "m-9"},
                        headers={"X-API-Key": web})
    assert retry.status_code == 201 and retry.json()["message_id"] == fresh.json()["message_id"]
    other = client.post("/api/v1/conversations", json={**with_ids, "external_id": "web-2"},
                        headers={"X-API-Key": web})
    assert other.status_code == 409 and "m-0" in other.text
    clash = client.post(
        "/api/v1/conversations", json={**CONV, "external_id": "web-3"}, headers={"X-API-Key": web}
    )
    clash_url = f"/api/v1/conversations/{clash.json()['conversation_id']}/messages"
    dup = client.post(clash_url, json={"role": "user", "content": "hi", "external_id": "m-9"},
                      headers={"X-API-Key": web})
    assert dup.status_code == 409 and f"conversation {web_id}" in dup.json()["detail"]
    assert f"conversation {sms_id}" not in dup.json()["detail"]
    channels = session.execute(select(Message.channel).where(Message.external_id == "m-9")).scalars().all()
    assert sorted(channels) == ["sms", "web"]


@pytest.mark.parametrize("spelling", ["0_{}", "+{}", "-0{}", " {}", "{}%20", "{}.0.0"])
def test_an_id_in_the_path_is_ascii_digits_only(client, session, spelling):
    _, sms = _key(session, "ingest:sms")
    h = {"X-API-Key": sms}
    cid = client.post("/api/v1/conversations", json=CONV, headers=h).json()["conversation_id"]
    ok = client.post(f"/api/v1/conversations/{cid}/messages", json={"role": "user", "content": "x"},
                     headers=h)
    assert ok.status_code == 201
    # another spelling of the same number (pydantic alone reads each of these as the id)
    path = f"/api/v1/conversations/{spelling.format(cid)}/messages"
    r = client.post(path, json={"role": "user", "content": "x"}, headers=h)
    assert r.status_code == 422 and r.json()["error"] == "ValidationError"
    assert "ASCII digits" in r.text
