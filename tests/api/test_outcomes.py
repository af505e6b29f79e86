import re

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.access.apikeys import create_api_key
from core.platform.models import ConversationOutcome, Survey
from tests.factories import ADMIN, make_answer


@pytest.fixture
def client(settings, smtp):
    _, port = smtp
    st = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_timeout_s": 5,
            "smtp_sender": "hello@example.com",
            "notify_retries": 1,
        }
    )
    with TestClient(create_app(st)) as c:
        yield c


def test_booking_outcome_sends_the_survey_and_its_answer_is_stored_once(client, session, smtp):
    inbox, _ = smtp
    _, key = create_api_key(session, "ingest:email", "booking system", actor=ADMIN)
    _, read = create_api_key(session, "read", "grafana", actor=ADMIN)
    conv, _, _ = make_answer(session)
    h = {"X-API-Key": key}
    r = client.post(
        "/api/v1/outcomes", headers=h, json={"conversation_id": conv.id, "converted": True, "value_usd": 1800}
    )
    assert r.status_code == 200, r.text
    assert r.json()["survey_status"] == "sent" and r.json()["successful_outcome"] is True
    assert len(inbox.messages) == 1
    # reporting the booking again sends no second survey
    client.post(
        "/api/v1/outcomes", headers=h, json={"conversation_id": conv.id, "converted": True, "value_usd": 1800}
    )
    assert len(inbox.messages) == 1

    text = inbox.messages[0][1].get_body(("plain",)).get_content()
    path = re.search(r"http://[^/]+(/survey/\S+)", text).group(1)
    page = client.get(path + "?score=4")
    assert page.status_code == 200 and "How did we do?" in page.text and "value=4 checked" in page.text
    session.expire_all()
    assert session.get(Survey, 1) is None or session.query(Survey).one().csat is None  # GET answers nothing
    done = client.post(path, data={"score": "5", "comment": "Loved it"})
    assert done.status_code == 200 and "Thank you" in done.text
    twice = client.post(path, data={"score": "1"})
    assert twice.status_code == 409 and "already answered" in twice.text
    session.expire_all()
    assert session.get(ConversationOutcome, conv.id).csat == 5
    assert session.query(Survey).one().comment == "Loved it"

    bad = client.post(path.replace(f"/survey/{conv.id}.", "/survey/99."), data={"score": "5"})
    assert bad.status_code == 403
    assert client.post(path, data={"score": "9"}).status_code == 422

    stats = client.get("/api/v1/ai/feedback/stats?days=3650", headers={"X-API-Key": read})
    assert stats.status_code == 200 and stats.json()["csat_average"] == 5
    assert stats.json()["by_channel"]["email"]["feedback_rate"] == 1.0


def test_outcomes_and_stats_need_the_right_keys(client, session):
    _, sms = create_api_key(session, "ingest:sms", "sms", actor=ADMIN)
    _, read = create_api_key(session, "read", "grafana", actor=ADMIN)
    conv, _, _ = make_answer(session)
    body = {"conversation_id": conv.id, "converted": False}
    assert client.post("/api/v1/outcomes", json=body).status_code == 401
    assert client.post("/api/v1/outcomes", json=body, headers={"X-API-Key": sms}).status_code == 403
    assert (
        client.post(
            "/api/v1/outcomes", json={**body, "conversation_id": 99999}, headers={"X-API-Key": sms}
        ).status_code
        == 404
    )
    assert client.get("/api/v1/ai/feedback/stats").status_code == 401
    assert client.get("/api/v1/ai/feedback/stats", headers={"X-API-Key": sms}).status_code == 403
    assert client.get("/api/v1/ai/feedback/stats?days=0", headers={"X-API-Key": read}).status_code == 422


def test_survey_without_address_keeps_the_booking(client, session, smtp):
    inbox, _ = smtp
    _, sms = create_api_key(session, "ingest:sms", "sms", actor=ADMIN)
    conv, _, _ = make_answer(session, channel="sms", user="+15550100")
    r = client.post(
        "/api/v1/outcomes", headers={"X-API-Key": sms}, json={"conversation_id": conv.id, "converted": True}
    )
    assert r.status_code == 200 and r.json()["booking_converted"] is True
    assert r.json()["survey_status"] is None and "no customer e-mail address" in r.json()["survey_note"]
    assert inbox.messages == []
