import datetime as dt
import re
import threading
from urllib.parse import parse_qs, urlparse

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from api.main import create_app
from core.feedback import links
from core.platform.clock import FixedClock
from core.platform.models import ConversationOutcome, Feedback
from tests.factories import make_answer


@pytest.fixture
def client(settings):
    with TestClient(create_app(settings)) as c:
        yield c


def _votes(session):
    session.expire_all()
    return session.execute(select(Feedback.message_id, Feedback.voter, Feedback.vote)).all()


def _link(session, settings, msg_id, vote):
    footer = links.email_footer(msg_id, session=session, settings=settings)
    url = footer.up_url if vote == "up" else footer.down_url
    parsed = urlparse(url)
    return f"{parsed.path}?{parsed.query}", {k: v[0] for k, v in parse_qs(parsed.query).items()}


def test_get_link_page_does_not_vote_and_its_form_does(client, session, settings):
    _, _, ans = make_answer(session)
    path, params = _link(session, settings, ans.id, "down")
    page = client.get(path)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "<form id=vote method=post" in page.text and "Was this answer helpful?" in page.text
    assert "<script" not in page.text and "script-src" not in page.headers["content-security-policy"]
    assert "default-src 'none'" in page.headers["content-security-policy"]  # no script may run
    assert _votes(session) == []  # a prefetching mail scanner votes nothing

    thanks = client.post(
        "/api/v1/ai/feedback", data={"id": params["id"], "vote": "down", "sig": params["sig"]}
    )
    assert thanks.status_code == 200 and "Thank you" in thanks.text and "<textarea" in thanks.text
    assert _votes(session) == [(ans.id, "cust@example.com", "down")]
    # replaying the same POST changes nothing
    client.post("/api/v1/ai/feedback", data={"id": params["id"], "vote": "down", "sig": params["sig"]})
    assert len(_votes(session)) == 1


def test_forged_altered_expired_and_unknown_links_get_clear_pages(client, session, settings):
    _, _, ans = make_answer(session)
    path, params = _link(session, settings, ans.id, "up")
    altered = client.get(path.replace("vote=up", "vote=down"))
    assert altered.status_code == 403 and "not valid" in altered.text
    forged = client.post("/api/v1/ai/feedback", data={"id": ans.id, "vote": "up", "sig": "abc.def"})
    assert forged.status_code == 403 and "Nothing was recorded" in forged.text
    unknown = client.get(path.replace(f"id={ans.id}", f"id={ans.id + 500}"))
    assert unknown.status_code == 404 and "could not find" in unknown.text
    garbage = client.get("/api/v1/ai/feedback?id=abc&vote=up&sig=x")
    assert garbage.status_code == 422 and garbage.json()["error"] == "ValidationError"
    assert client.get("/api/v1/ai/feedback?id=0&vote=up&sig=x").status_code == 404
    client.app.state.clock = FixedClock(
        dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(days=settings.feedback_link_days + 1)
    )
    expired = client.get(path)
    assert expired.status_code == 410 and "expired" in expired.text
    assert _votes(session) == []


def test_json_vote_for_the_widget(client, session, settings):
    _, _, ans = make_answer(session, channel="web", user="visitor-abcdef12")
    sig = links.widget_signature(session, settings, ans.id)
    r = client.post("/api/v1/ai/feedback", json={"message_id": ans.id, "vote": "up", "sig": sig})
    assert r.status_code == 200 and r.json()["status"] == "recorded" and r.json()["previous"] is None
    r = client.post("/api/v1/ai/feedback", json={"message_id": ans.id, "vote": "up", "sig": sig})
    assert r.json()["status"] == "unchanged"
    r = client.post("/api/v1/ai/feedback", json={"message_id": ans.id, "vote": "down", "sig": sig})
    assert r.json() == {
        "status": "recorded",
        "message_id": ans.id,
        "vote": "down",
        "previous": "up",
        "comment_saved": False,
    }
    assert _votes(session) == [(ans.id, "visitor-abcdef12", "down")]

    bad = client.post("/api/v1/ai/feedback", json={"message_id": ans.id, "vote": "up", "sig": "x.y"})
    assert bad.status_code == 403 and bad.json()["error"] == "InvalidSignature"
    missing = client.post("/api/v1/ai/feedback", json={"message_id": ans.id + 99, "vote": "up", "sig": sig})
    assert missing.status_code == 404
    invalid = client.post("/api/v1/ai/feedback", json={"message_id": ans.id, "vote": "meh", "sig": sig})
    assert invalid.status_code == 422
    not_json = client.post(
        "/api/v1/ai/feedback", content=b"{oops", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 422


def test_oversized_bodies_are_refused(client, session, settings):
    big = "x" * (settings.api_max_body_bytes + 10)
    r = client.post("/api/v1/ai/feedback", content=big.encode(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    assert session.scalar(select(func.count()).select_from(Feedback)) == 0


@pytest.mark.slow
def test_comment_from_the_thank_you_page_is_scrubbed(client, session, settings):
    _, _, ans = make_answer(session)
    _, params = _link(session, settings, ans.id, "up")
    form = {"id": params["id"], "vote": "up", "sig": params["sig"]}
    client.post("/api/v1/ai/feedback", data=form)
    r = client.post(
        "/api/v1/ai/feedback", data={**form, "comment": "Great! Call me at 212-555-0187, John Smith"}
    )
    assert r.status_code == 200 and "We read every comment" in r.text
    session.expire_all()
    stored = session.scalar(select(Feedback.comment))
    assert "555-0187" not in stored and "<PHONE_NUMBER>" in stored
    assert re.search("John Smith", stored) is None


def test_concurrent_widget_votes_through_the_api_count_once(db, settings):
    """Threads, each with its own API client (SQLite: they share the vote lock of the database
    file), vote on one answer at once: one row, the down-vote count matches the final vote."""
    with db.session() as s:
        conv, _, ans = make_answer(s, channel="web", user="visitor-concurrent")
        sig = links.widget_signature(s, settings, ans.id)
        ids = (conv.id, ans.id)
    statuses, errors = [], []
    barrier = threading.Barrier(4)

    def worker(n):
        try:
            with TestClient(create_app(settings)) as c:
                barrier.wait()
                for i in range(6):
                    vote = "down" if (n + i) % 2 else "up"
                    r = c.post("/api/v1/ai/feedback", json={"message_id": ids[1], "vote": vote, "sig": sig})
                    statuses.append((r.status_code, r.json()["status"], r.json()["previous"]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {code for code, *_ in statuses} == {200}
    assert sum(1 for _, status, previous in statuses if status == "recorded" and previous is None) == 1
    with db.session() as s:
        rows = s.execute(select(Feedback.vote)).scalars().all()
        assert len(rows) == 1
        assert s.get(ConversationOutcome, ids[0]).down_votes == (1 if rows[0] == "down" else 0)


def test_a_burst_of_votes_never_holds_more_connections_than_the_pool_keeps(db, settings):
    """40 votes at once through one app (one event loop): on PostgreSQL at most the pool's steady
    size run at once, so chats always find a connection; on SQLite one at a time."""
    with db.session() as s:
        answers = [make_answer(s, channel="web", user=f"visitor-burst-{i}")[2] for i in range(40)]
        votes = [(a.id, links.widget_signature(s, settings, a.id)) for a in answers]
    with TestClient(create_app(settings.model_copy(update={"rate_limit_public": ""}))) as c:
        engine = c.app.state.engine
        held, most = [0], [0]
        guard = threading.Lock()

        def checkout(*_):
            with guard:
                held[0] += 1
                most[0] = max(most[0], held[0])

        def checkin(*_):
            with guard:
                held[0] -= 1

        event.listen(engine, "checkout", checkout)
        event.listen(engine, "checkin", checkin)
        statuses = []
        barrier = threading.Barrier(len(votes))

        def vote(message_id, sig):
            barrier.wait()
            r = c.post("/api/v1/ai/feedback", json={"message_id": message_id, "vote": "down", "sig": sig})
            statuses.append(r.status_code)

        threads = [threading.Thread(target=vote, args=v) for v in votes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)
    assert statuses == [200] * len(votes)
    assert 1 <= most[0] <= (1 if engine.dialect.name == "sqlite" else engine.pool.size())
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Feedback)) == len(votes)
