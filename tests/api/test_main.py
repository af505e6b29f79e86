from fastapi.testclient import TestClient

from api.main import create_app


def test_healthz_and_openapi(settings):
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/openapi.json").status_code == 200
        assert client.get("/no-such-page").status_code == 404
