"""Fuzz every operation of the OpenAPI schema with schemathesis (bounded examples per
operation, valid and invalid inputs): the API never answers with a server error."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from api.main import create_app
from core.access.apikeys import create_api_key
from core.platform.pii import get_scrubber
from tests.factories import ADMIN, make_answer
from tests.factories.knowledge import hashing

EXAMPLES = 12


@pytest.mark.slow
def test_no_server_errors(session, settings):
    _, _, ans = make_answer(session)
    _, key = create_api_key(session, "ingest:email", "fuzz", actor=ADMIN)
    session.commit()
    app = create_app(settings)
    app.state.embedder = hashing()
    app.state.scrubber = get_scrubber(settings)  # loaded before the clock of the first request starts
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    errors: list[str] = []
    seen = []
    for result in schema.get_all_operations():
        op = result.ok()
        seen.append(f"{op.method.upper()} {op.path}")

        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case):
            case.headers = {**(case.headers or {}), "X-API-Key": key}
            response = case.call(timeout=120)
            if response.status_code >= 500:
                errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
                )

        run()
    assert "POST /api/v1/ai/feedback" in seen and "POST /v1/chat/completions" in seen
    assert errors == []
