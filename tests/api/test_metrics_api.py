import datetime as dt

import pytest

from core.access import apikeys
from core.ops.rollup import rollup
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, PermissionDenied, ValidationError
from tests.factories import ADMIN, API_NOW, make_conversation

NOW = API_NOW
URL = "/api/v1/ai/metrics/dashboard"


def test_dashboard_json_for_a_read_key(client, keys, db):
    with db.session() as s:
        for i in range(4):
            make_conversation(s, at=NOW - dt.timedelta(days=1), escalated=i == 0, csat=4, channel="sms")
        rollup(s, FixedClock(NOW))
        s.commit()
    r = client.get(URL, params={"days": 7}, headers={"X-API-Key": keys["read"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["days"] == 7 and body["period"]["end"] == "2026-03-18"
    assert body["kpis"]["conversations"]["value"] == 4
    assert body["kpis"]["containment_rate"]["value"] == 0.75
    assert body["kpis"]["csat_avg"]["value"] == 4.0
    assert len(body["series"]) == 7 and body["by_channel"][0]["channel"] == "sms"
    bearer = client.get(URL, params={"days": 7}, headers={"Authorization": f"Bearer {keys['read']}"})
    assert bearer.status_code == 200 and bearer.json() == body
    only_web = client.get(URL, params={"days": 30, "channel": "web"}, headers={"X-API-Key": keys["read"]})
    assert only_web.status_code == 200 and only_web.json()["kpis"]["conversations"]["value"] == 0


@pytest.mark.parametrize("headers, status, error", [
    ({}, 401, "InvalidApiKey"),
    ({"X-API-Key": "sl_not-a-key"}, 401, "InvalidApiKey"),
    ({"Authorization": "Bearer sl_not-a-key"}, 401, "InvalidApiKey"),
    ("ingest", 403, "PermissionDenied"),
    ("ingest-bearer", 403, "PermissionDenied"),
])
def test_keys_are_required(client, keys, headers, status, error):
    if headers == "ingest":
        headers = {"X-API-Key": keys["ingest"]}
    elif headers == "ingest-bearer":
        headers = {"Authorization": f"Bearer {keys['ingest']}"}
    r = client.get(URL, headers=headers)
    assert r.status_code == status and r.json()["error"] == error
    assert "API key" in r.json()["detail"]


def test_revoked_key_and_bad_parameters(client, keys, db):
    r = client.get(URL, params={"days": 0}, headers={"X-API-Key": keys["read"]})
    assert r.status_code == 422
    r = client.get(URL, params={"channel": "fax"}, headers={"X-API-Key": keys["read"]})
    assert r.status_code == 422
    with db.session() as s:
        key_id = next(k.id for k in apikeys.list_api_keys(s) if k.scope == "read")
        apikeys.revoke_api_key(s, key_id, actor=ADMIN)
        s.commit()
    assert client.get(URL, headers={"X-API-Key": keys["read"]}).status_code == 401


def test_openapi_documents_the_response_and_the_key(client):
    spec = client.get("/openapi.json").json()
    op = spec["paths"][URL]["get"]
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/MetricsDashboard")
    assert {"401", "403"} <= set(op["responses"])
    schemes = spec["components"]["securitySchemes"]
    assert "X-API-Key" in str(schemes) and "bearer" in str(schemes).lower()
    assert "containment_rate" in spec["components"]["schemas"]["MetricsDay"]["properties"]


def test_api_key_functions(session):
    key_id, plain = apikeys.create_api_key(session, "read", "metabase", actor=ADMIN)
    assert plain.startswith("sl_") and len(plain) > 40
    info = apikeys.verify_api_key(session, plain, "read")
    assert info.id == key_id and info.last_used_at is not None
    row = apikeys.list_api_keys(session)[0]
    assert row.prefix == plain[:10] and not hasattr(row, "key_hash")
    with pytest.raises(PermissionDenied):
        apikeys.verify_api_key(session, plain, "ingest:sms")
    with pytest.raises(ValidationError):
        apikeys.create_api_key(session, "admin", "x", actor=ADMIN)
    with pytest.raises(ValidationError):
        apikeys.create_api_key(session, "read", " ", actor=ADMIN)
    with pytest.raises(NotFound):
        apikeys.revoke_api_key(session, 9999, actor=ADMIN)
    assert apikeys.scope_for(channel="sms") == "ingest:sms"
    with pytest.raises(ValidationError):
        apikeys.scope_for(channel="fax")
    apikeys.revoke_api_key(session, key_id, actor=ADMIN)
    with pytest.raises(apikeys.InvalidApiKey):
        apikeys.verify_api_key(session, plain, "read")
