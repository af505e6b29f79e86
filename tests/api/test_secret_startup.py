"""The API refuses to start with a known or short link-signing secret (core.platform.secrets)."""

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.platform.secrets import InsecureSecret


def test_the_api_refuses_a_known_secret_and_starts_with_a_generated_one(settings):
    with pytest.raises(InsecureSecret, match="The API refuses to start"):
        create_app(settings.model_copy(update={"secret_key": "change-me-in-production"}))
    with pytest.raises(InsecureSecret, match="characters long"):
        create_app(settings.model_copy(update={"secret_key": "too-short-secret"}))
    dev = settings.model_copy(update={"secret_key": "change-me-in-production", "allow_insecure_secret": True})
    with TestClient(create_app(dev)) as client:
        assert client.get("/healthz").status_code == 200
    with TestClient(create_app(settings)) as client:  # no secret configured: one is generated
        assert client.get("/healthz").status_code == 200
    assert (settings.data_dir / "secret_key").exists()
