"""Rate limits of the anonymous routes (per client address, per chat session) and strict id
parsing of the public pages."""

import asyncio
import time
from collections import Counter
from urllib.parse import parse_qs, urlparse

import pydantic
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.main import create_app
from api.ratelimit import CONCURRENT_PER_ADDRESS, WAITING_PER_ADDRESS, Limits, RateLimitMiddleware
from core.feedback import links, survey
from core.platform.config import Settings
from core.platform.models import Conversation, Feedback
from tests.factories import make_answer
from tests.factories.knowledge import hashing

ANONYMOUS = [
    ("post", "/api/v1/chat"),
    ("get", "/api/v1/ai/feedback"),
    ("post", "/api/v1/ai/feedback"),
    ("get", "/survey/{token}"),
    ("post", "/survey/{token}"),
]


def _limited(settings, **limits) -> Settings:
    return settings.model_copy(update=limits)


def _link(session, settings, message_id):
    url = links.email_footer(message_id, session=session, settings=settings).up_url
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}", {k: v[0] for k, v in parse_qs(parsed.query).items()}


def _assert_429(response):
    assert response.status_code == 429, response.text
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= 60
    body = response.json()
    assert body["error"] == "RateLimited" and body["retry_after"] == wait and "try again" in body["detail"]


def test_feedback_and_survey_are_limited_per_client_address(session, settings):
    _, _, ans = make_answer(session)
    conv_id = ans.conversation_id
    st = _limited(settings, rate_limit_public="3/minute")
    path, params = _link(session, st, ans.id)
    token = survey.make_token(st, conv_id)
    app = create_app(st)
    flood = TestClient(app, client=("203.0.113.7", 4000))
    other = TestClient(app, client=("198.51.100.20", 4000))
    with flood, other:
        assert [flood.get(path).status_code for _ in range(3)] == [200, 200, 200]
        _assert_429(flood.get(path))
        # every anonymous feedback and survey route shares the address's budget
        vote = {"message_id": ans.id, "vote": "up", "sig": params["sig"]}
        _assert_429(flood.post("/api/v1/ai/feedback", json=vote))
        _assert_429(flood.get(f"/survey/{token}"))
        _assert_429(flood.post(f"/survey/{token}", data={"score": "5"}))
        assert _votes(session) == 0  # a refused request records nothing
        # another address is not affected
        assert other.get(path).status_code == 200
        assert other.post("/api/v1/ai/feedback", json=vote).json()["status"] == "recorded"
        # routes without a limit (health, widget script) are never refused
        assert flood.get("/healthz").status_code == 200 and flood.get("/widget.js").status_code == 200
    assert _votes(session) == 1


def test_an_empty_limit_turns_it_off_and_a_bad_one_is_refused(session, settings):
    _, _, ans = make_answer(session)
    st = _limited(settings, rate_limit_public="")
    path, _ = _link(session, st, ans.id)
    with TestClient(create_app(st)) as client:
        assert {client.get(path).status_code for _ in range(30)} == {200}
    with pytest.raises(pydantic.ValidationError, match="not a rate limit"):
        Settings(rate_limit_public="lots", _env_file=None)
    # the defaults are far above what one customer does
    assert Settings(_env_file=None).rate_limit_chat_session == "20/minute;300/hour"


@pytest.mark.slow
def test_chat_is_limited_per_session_and_per_address(session, settings):
    st = _limited(settings, rate_limit_chat="4/minute", rate_limit_chat_session="2/minute")
    app = create_app(st)
    app.state.embedder = hashing()
    with TestClient(app, client=("203.0.113.9", 4000)) as client:
        turn = {"message": "how much per adult?", "session_id": "visitor-aaaa"}
        assert [client.post("/api/v1/chat", json=turn).status_code for _ in range(2)] == [200, 200]
        refused = client.post("/api/v1/chat", json=turn)
        _assert_429(refused)
        assert "chat session" in refused.json()["detail"]
        # another session from the same address goes on until the address's limit (4/minute)
        assert client.post("/api/v1/chat", json={**turn, "session_id": "visitor-bbbb"}).status_code == 200
        by_address = client.post("/api/v1/chat", json={**turn, "session_id": "visitor-cccc"})
        _assert_429(by_address)
        assert "your address" in by_address.json()["detail"]
    session.expire_all()
    # three turns answered (each starts a conversation); the refused ones stored nothing
    assert session.scalar(select(func.count()).select_from(Conversation)) == 3


def test_openapi_documents_429_on_every_anonymous_route(settings):
    schema = create_app(settings).openapi()
    for method, path in ANONYMOUS:
        responses = schema["paths"][path][method]["responses"]
        assert "429" in responses and "Retry-After" in responses["429"]["headers"], (method, path)


@pytest.mark.parametrize("digit", ["%C2%B9", "%D9%A3", "%EF%BC%91", "1%C2%B9", "+1", "1_0", "%201"])
def test_ids_are_ascii_digits_only(session, settings, digit):
    """Superscripts, other scripts' digits, full-width digits, signs and underscores are not
    ids: a clear 4xx page, never a 500, and nothing recorded."""
    _, _, ans = make_answer(session)
    _, params = _link(session, settings, ans.id)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        page = client.get(f"/api/v1/ai/feedback?id={digit}&vote=up&sig={params['sig']}")
        assert page.status_code == 422 and page.json()["error"] == "ValidationError"
        form = client.post(
            "/api/v1/ai/feedback",
            content=f"id={digit}&vote=up&sig={params['sig']}",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 400
        token = f"{digit}.{params['sig']}"
        assert client.get(f"/survey/{token}").status_code == 403
        assert client.post(f"/survey/{token}", data={"score": "5"}).status_code == 403
        assert client.get(f"/survey/{survey.make_token(settings, ans.conversation_id)}").status_code == 404
        assert client.post(f"/api/v1/conversations/{digit}/messages", json={}).status_code in (401, 422)
    assert _votes(session) == 0


def test_a_survey_score_must_be_an_ascii_digit(session, settings):
    conv, _, _ = make_answer(session)
    token = survey.make_token(settings, conv.id)
    assert links.parse_id("٣") is None and links.parse_id("¹") is None and links.parse_id("0") is None
    assert links.parse_id("12") == 12 and links.parse_id("5", maximum=5) == 5
    assert links.parse_id("6", maximum=5) is None and links.parse_id("9" * 11) is None
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        for score in ("¹", "٣", "５"):
            r = client.post(f"/survey/{token}", data={"score": score})
            assert r.status_code == 422 and "Pick a score" in r.text, (score, r.status_code)


def _votes(session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Feedback))


def _asgi_call(app, address: str, path: str = "/api/v1/chat"):
    """One POST to ``app`` (an ASGI callable) from ``address``: (status, headers)."""

    async def call():
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": path, "client": (address, 4000), "headers": []}
        await app(scope, receive, send)
        return sent[0]["status"], dict(sent[0]["headers"])

    return call()


def test_an_address_runs_one_request_at_a_time_two_wait_and_the_refused_are_not_counted():
    release = asyncio.Event()
    running: list[str] = []
    most = Counter()

    async def slow_route(scope, receive, send):  # stands for a chat that takes a while
        address = scope["client"][0]
        running.append(address)
        most[address] = max(most[address], running.count(address))
        await release.wait()
        running.remove(address)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limits = Limits.from_settings(Settings(_env_file=None, rate_limit_chat="5/minute"))
    app = RateLimitMiddleware(slow_route, limits, pace=0)  # pacing: the next test
    assert (app.concurrent, app.waiting) == (CONCURRENT_PER_ADDRESS, WAITING_PER_ADDRESS) == (1, 2)

    async def scenario():
        flood = [asyncio.create_task(_asgi_call(app, "203.0.113.5")) for _ in range(3)]
        while app.admitted[("chat", "203.0.113.5")] < 3:
            await asyncio.sleep(0)
        status, headers = await _asgi_call(app, "203.0.113.5")  # one running, two waiting: refused
        other = asyncio.create_task(_asgi_call(app, "198.51.100.7"))  # another address runs beside
        while len(running) < 2:
            await asyncio.sleep(0)
        release.set()
        done = [s for s, _ in await asyncio.gather(*flood, other)]
        # the refused one did not count: two more fit in the 5/minute window, then the window says no
        after = [(await _asgi_call(app, "203.0.113.5"))[0] for _ in range(3)]
        return status, headers, done, after

    status, headers, done, after = asyncio.run(scenario())
    assert status == 429 and headers[b"retry-after"] == b"1"
    assert done == [200, 200, 200, 200]
    assert after == [200, 200, 429]
    assert most == {"203.0.113.5": 1, "198.51.100.7": 1}  # never two of one address at once
    assert app.admitted == {} and app.turns == {}  # nothing left behind


def test_an_address_chats_are_paced_over_the_window_not_refused_and_others_do_not_wait():
    """``2/second`` admits its two chats half a second apart: a second message sent at once
    waits its turn (answered, not refused); another address is not held up by that pace."""
    starts: list[tuple[str, float]] = []

    async def route(scope, receive, send):
        starts.append((scope["client"][0], time.monotonic()))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limits = Limits.from_settings(Settings(_env_file=None, rate_limit_chat="2/second;60/minute"))
    assert limits.chat_pace() == 0.5
    assert Limits.from_settings(Settings(_env_file=None)).chat_pace() == 1.0  # 10/10 seconds
    assert Limits.from_settings(Settings(_env_file=None, rate_limit_chat="5/minute")).chat_pace() == 1.0
    assert Limits.from_settings(Settings(_env_file=None, rate_limit_chat="")).chat_pace() == 0.0
    app = RateLimitMiddleware(route, limits)

    async def scenario():
        first = asyncio.create_task(_asgi_call(app, "203.0.113.5"))
        second = asyncio.create_task(_asgi_call(app, "203.0.113.5"))
        await asyncio.sleep(0.05)
        other = await _asgi_call(app, "198.51.100.7")  # while the second one waits its turn
        return [s for s, _ in await asyncio.gather(first, second)], other[0]

    same, other = asyncio.run(scenario())
    assert same == [200, 200] and other == 200
    t = {}
    for address, at in starts:
        t.setdefault(address, []).append(at)
    assert t["203.0.113.5"][1] - t["203.0.113.5"][0] >= 0.45  # paced half a second apart
    assert t["198.51.100.7"][0] < t["203.0.113.5"][1]  # the other address went first
    assert app.admitted == {}


def test_a_chat_session_over_its_limit_is_refused_before_any_database_or_model_work(settings, tmp_path):
    # a database that does not answer and no model loaded: the refusal needs neither
    (tmp_path / "no.db").mkdir()
    down = settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'no.db'}",
                                       "rate_limit_chat_session": "1/minute"})
    app = create_app(down)
    limits = app.state.rate_limits
    assert limits.hit(limits.chat_session, "chat", "session", "visitor-dddd") is None  # its one turn
    with TestClient(app, raise_server_exceptions=False) as client:
        r = client.post("/api/v1/chat", json={"message": "hi", "session_id": "visitor-dddd"})
        _assert_429(r)
        assert "chat session" in r.json()["detail"]
        assert getattr(app.state, "embedder", None) is None and getattr(app.state, "scrubber", None) is None


def test_with_an_address_limit_turned_off_an_address_is_not_queued_either():
    """A group whose address limits are set empty (a load test, a trusted proxy in front) has no
    one-at-a-time cap: many requests of one address run side by side."""
    release = asyncio.Event()
    running: list[str] = []

    async def slow_route(scope, receive, send):
        running.append(scope["client"][0])
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    limits = Limits.from_settings(Settings(_env_file=None, rate_limit_chat="", rate_limit_public="5/minute"))
    app = RateLimitMiddleware(slow_route, limits)

    async def scenario():
        calls = [asyncio.create_task(_asgi_call(app, "203.0.113.5")) for _ in range(6)]
        while len(running) < 6:
            await asyncio.sleep(0)
        release.set()
        return [s for s, _ in await asyncio.gather(*calls)]

    assert asyncio.run(scenario()) == [200] * 6
    assert app.admitted == {}
