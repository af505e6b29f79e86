"""Fixtures shared by the API tests: the app on a fixed clock, and API keys."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from core.access import apikeys
from core.platform.clock import FixedClock
from tests.factories import ADMIN, API_NOW


@pytest.fixture
def client(settings, db):
    """The API on a fixed clock (``API_NOW``); test modules with other needs define their own."""
    app = create_app(settings)
    app.state.clock = FixedClock(API_NOW)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def keys(db) -> dict[str, str]:
    """A read key and an SMS ingest key (plain text)."""
    with db.session() as s:
        _, read = apikeys.create_api_key(s, "read", "reader", actor=ADMIN)
        _, ingest = apikeys.create_api_key(s, apikeys.scope_for(channel="sms"), "sms gateway", actor=ADMIN)
        s.commit()
    return {"read": read, "ingest": ingest}
