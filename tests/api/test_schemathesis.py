"""Fuzz every operation of the OpenAPI schema with schemathesis, every check on, a fixed seed and
a bounded number of examples per operation (valid and invalid inputs), on both databases:

- no server error, no status code, content type, header or body the schema does not document,
  invalid data refused and valid data accepted, auth not ignored (all of schemathesis' checks);
- no call over 2 s;
- no route documents a 5XX or a ``default`` response (errors are the client's or none), but
  ``/healthz``: its 503 says the database does not answer (tests/api/test_main.py).
"""

import time

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import seed as hseed
from hypothesis import settings as hsettings
from schemathesis.checks import CHECKS, FailureGroup, load_all_checks

from api.main import create_app
from core.access.apikeys import create_api_key
from core.enrichment.enrich import get_enricher
from core.platform.pii import get_scrubber
from tests.factories import ADMIN, make_answer
from tests.factories.knowledge import hashing

EXAMPLES = 12
SEED = 16
SLOW_S = 2.0


def test_no_route_documents_a_server_error_or_a_default_response(settings):
    schema = create_app(settings).openapi()
    for path, item in schema["paths"].items():
        for method, op in item.items():
            codes = set(op["responses"])
            assert "default" not in codes, (method, path)
            allowed = {"503"} if (method, path) == ("get", "/healthz") else set()
            assert {c for c in codes if c.startswith("5")} == allowed, (method, path, codes)


@pytest.mark.slow
def test_all_checks_pass_on_every_operation(session, settings):
    _, _, ans = make_answer(session)
    _, key = create_api_key(session, "ingest:email", "fuzz", actor=ADMIN)
    session.commit()
    # rate limits off: the fuzz sends hundreds of requests from one address (tests/api/test_ratelimit.py
    # covers the limits and their documented 429)
    app = create_app(settings.model_copy(update={"rate_limit_chat": "", "rate_limit_chat_session": "",
                                                  "rate_limit_public": ""}))
    app.state.embedder = hashing()
    # the models load before the first request's clock starts (the API loads them once per process)
    app.state.scrubber = get_scrubber(settings)
    get_enricher(app.state.settings, app.state.embedder)
    warm = TestClient(app).post("/api/v1/chat", json={"message": "hello"})  # no lifespan: engine stays
    assert warm.status_code == 200, warm.text
    load_all_checks()
    checks = list(CHECKS.get_all())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    slow: list[str] = []
    seen = []
    for result in schema.get_all_operations():
        op = result.ok()
        seen.append(f"{op.method.upper()} {op.path}")

        @hseed(SEED)
        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def run(case):
            case.headers = {**(case.headers or {}), "X-API-Key": key}
            t0 = time.perf_counter()
            response = case.call(timeout=120)
            elapsed = time.perf_counter() - t0
            if elapsed > SLOW_S:
                slow.append(f"{case.method} {case.formatted_path}: {elapsed:.1f} s")
            try:
                case.validate_response(response, checks=checks, headers=case.headers)
            except FailureGroup as group:
                for exc in group.exceptions:
                    failures.append(
                        f"{case.method} {case.formatted_path} {case.query or ''} -> {response.status_code}: "
                        f"{type(exc).__name__}: {str(exc)[:300]} | {response.text[:200]}"
                    )

        run()
    assert "POST /api/v1/ai/feedback" in seen and "POST /v1/chat/completions" in seen
    print("\n".join(failures + slow))
    assert failures == []
    assert slow == []
