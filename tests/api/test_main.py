import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from api import routes
from api.main import ROUTERS, create_app
from tests.smtp import free_port


def test_healthz_and_openapi(settings):
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/no-such-page").status_code == 404


def _unreachable(settings, db, tmp_path):
    """The settings with a database that does not answer, on the fixture's backend."""
    if db.backend == "sqlite":  # a folder where the database file should be: "unable to open"
        (tmp_path / "not-a-file.db").mkdir()
        url = f"sqlite:///{tmp_path / 'not-a-file.db'}"
    else:  # a port nothing listens on
        url = make_url(db.url).set(port=free_port()).render_as_string(hide_password=False)
    return settings.model_copy(update={"database_url": url})


def test_healthz_answers_a_documented_503_when_the_database_is_down(settings, db, tmp_path):
    down = create_app(_unreachable(settings, db, tmp_path))
    with TestClient(down, raise_server_exceptions=False) as client:
        r = client.get("/healthz")
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    assert r.json()["error"] == "DatabaseUnavailable"
    assert "sqlite" not in r.text and "postgres" not in r.text  # nothing of the URL
    documented = down.openapi()["paths"]["/healthz"]["get"]["responses"]
    assert set(documented) == {"200", "503"}
    body = documented["503"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/ErrorOut"}


def _preflight(client, path, origin="https://shop.example"):
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_only_for_the_widget_endpoints(settings):
    with TestClient(create_app(settings)) as client:
        for path in ("/api/v1/ai/feedback", "/api/v1/chat"):
            r = _preflight(client, path)
            assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
            assert "access-control-allow-credentials" not in r.headers
        r = client.post("/api/v1/ai/feedback", json={}, headers={"Origin": "https://shop.example"})
        assert r.status_code == 422 and r.headers["access-control-allow-origin"] == "*"
        # API-key routes get no CORS at all
        r = _preflight(client, "/api/v1/conversations")
        assert "access-control-allow-origin" not in r.headers
        r = client.get("/api/v1/ai/feedback/stats", headers={"Origin": "https://shop.example"})
        assert "access-control-allow-origin" not in r.headers


def test_cors_origins_setting(settings):
    listed = settings.model_copy(update={"cors_origins": "https://shop.example, https://b.example"})
    with TestClient(create_app(listed)) as client:
        ok = _preflight(client, "/api/v1/ai/feedback")
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
        assert "access-control-allow-origin" not in _preflight(client, "/api/v1/chat", "https://evil.example").headers
    off = settings.model_copy(update={"cors_origins": ""})
    with TestClient(create_app(off)) as client:
        assert "access-control-allow-origin" not in _preflight(client, "/api/v1/ai/feedback").headers


def test_every_router_module_is_listed():
    """api.main lists the routers by hand; a new module in api/routes/ must be added there."""
    package = Path(routes.__file__).parent
    modules = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
    listed = {r.routes[0].endpoint.__module__.rsplit(".", 1)[1] for r in ROUTERS}
    assert listed == modules


def test_parameter_bounds_are_json_schema_keywords(settings):
    """The ASCII-digit integers (api.schemas.AsciiInt) keep their bounds as minimum/maximum."""
    schema = create_app(settings).openapi()
    param = schema["paths"]["/api/v1/conversations/{conversation_id}/messages"]["post"]["parameters"][0]
    assert param["schema"]["minimum"] == 1 and param["schema"]["maximum"] == 2**31 - 1
    assert not re.search(r'"(ge|le|gt|lt)":', json.dumps(schema))
