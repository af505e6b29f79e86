"""The conversations API: read-back (GET list and one conversation) with a read key."""

import datetime as dt

import pytest

from core.platform.models import Conversation, Message
from tests.factories import API_NOW, make_conversation

NOW = API_NOW
LIST = "/api/v1/conversations"


@pytest.fixture
def keys(keys):
    """The shared keys as request headers."""
    return {name: {"X-API-Key": key} for name, key in keys.items()}


@pytest.fixture
def stored(db):
    """Five conversations (3 sms, 2 web); the first sms one has raw personal data."""
    with db.session() as s:
        ids = []
        for i, channel in enumerate(["sms", "sms", "web", "sms", "web"]):
            c = make_conversation(s, at=NOW - dt.timedelta(days=5 - i), channel=channel,
                                  status="closed" if i % 2 else "ai", booking=i == 1,
                                  csat=5 if i == 1 else None)
            ids.append(c.id)
        s.add(Message(conversation_id=ids[0], role="user", raw_content="call me at 555-0100, Ann",
                      redacted_content="call me at <PHONE_NUMBER>, <PERSON>", created_at=NOW))
        s.commit()
    return ids


def test_list_pages_through_everything_with_a_read_key(client, keys, stored):
    seen, cursor = [], None
    for _ in range(5):
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        r = client.get(LIST, params=params, headers=keys["read"])
        assert r.status_code == 200, r.text
        body = r.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(stored, reverse=True)


def test_list_filters(client, keys, stored):
    r = client.get(LIST, params={"channel": "web"}, headers=keys["read"])
    assert [i["id"] for i in r.json()["items"]] == [stored[4], stored[2]]
    r = client.get(LIST, params={"status": "closed", "channel": "sms"}, headers=keys["read"])
    assert [i["id"] for i in r.json()["items"]] == [stored[3], stored[1]]
    since = (NOW - dt.timedelta(days=2, hours=1)).isoformat() + "Z"
    r = client.get(LIST, params={"since": since}, headers=keys["read"])
    assert [i["id"] for i in r.json()["items"]] == [stored[4], stored[3]]
    r = client.get(LIST, params={"since": "2026-03-16"}, headers=keys["read"])  # a date: its midnight
    assert [i["id"] for i in r.json()["items"]] == [stored[4], stored[3]]
    booked = client.get(LIST, params={"channel": "sms", "status": "closed"}, headers=keys["read"]).json()
    booked = booked["items"][-1]
    assert booked["outcome"]["booking_converted"] is True and booked["outcome"]["csat"] == 5


def test_one_conversation_shows_redacted_text_only(client, keys, stored):
    r = client.get(f"{LIST}/{stored[0]}", headers=keys["read"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == stored[0] and body["channel"] == "sms"
    assert body["messages"] == len(body["transcript"])
    assert body["transcript"][-1]["text"] == "call me at <PHONE_NUMBER>, <PERSON>"
    assert "555-0100" not in r.text and "Ann" not in r.text and "user-" not in r.text


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"channel": "fax"}, {"status": "open"},
    {"since": "yesterday"}, {"cursor": "bm90LWEtY3Vyc29y"}, {"cursor": "x" * 65},
])
def test_bad_parameters_answer_422(client, keys, stored, params):
    r = client.get(LIST, params=params, headers=keys["read"])
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "ValidationError"


def test_unknown_ids_answer_404_and_bad_ids_422(client, keys, stored):
    r = client.get(f"{LIST}/{max(stored) + 1000}", headers=keys["read"])
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    for bad in ("0", "abc", str(2**31)):
        assert client.get(f"{LIST}/{bad}", headers=keys["read"]).status_code == 422


@pytest.mark.parametrize("headers, status", [({}, 401), ({"X-API-Key": "sl_nope"}, 401), ("ingest", 403)])
def test_read_back_needs_a_read_key(client, keys, stored, headers, status):
    headers = keys[headers] if isinstance(headers, str) else headers
    assert client.get(LIST, headers=headers).status_code == status
    assert client.get(f"{LIST}/{stored[0]}", headers=headers).status_code == status


def test_read_back_is_in_the_openapi_schema(client):
    spec = client.get("/openapi.json").json()
    get_list = spec["paths"]["/api/v1/conversations"]["get"]
    assert {"200", "401", "403", "422"} <= set(get_list["responses"])
    assert {p["name"] for p in get_list["parameters"]} >= {"channel", "status", "since", "limit", "cursor"}
    assert {"200", "404"} <= set(spec["paths"]["/api/v1/conversations/{conversation_id}"]["get"]["responses"])


def test_a_page_is_stable_when_conversations_arrive(client, keys, stored, db):
    first = client.get(LIST, params={"limit": 2}, headers=keys["read"]).json()
    with db.session() as s:
        s.add(Conversation(channel="sms", external_user_id="late", created_at=NOW))
        s.commit()
    params = {"limit": 2, "cursor": first["next_cursor"]}
    second = client.get(LIST, params=params, headers=keys["read"]).json()
    assert [i["id"] for i in first["items"] + second["items"]] == sorted(stored, reverse=True)[:4]
