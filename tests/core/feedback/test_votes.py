import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from core.feedback import votes as feedback
from core.knowledge import scoring
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation, ConversationOutcome, Feedback, Message, ReviewItem
from core.platform.signing import ExpiredSignature, InvalidSignature

T0 = dt.datetime(2026, 5, 1, 12, 0)


def make_answer(
    session,
    *,
    channel="email",
    user="cust@example.com",
    question="How much is the hibachi party for 20 people?",
    answer="For 20 guests the price is $60 per adult with a $600 minimum.",
    confidence=0.9,
    intent=None,
    status="closed",
    at=T0,
    metadata=None,
):
    """A stored conversation with one question and one assistant answer (committed)."""
    conv = Conversation(
        channel=channel,
        external_user_id=user,
        status=status,
        channel_metadata=metadata or {},
        created_at=at,
        updated_at=at,
        intent=intent,
    )
    session.add(conv)
    session.flush()
    q = Message(
        conversation_id=conv.id,
        role="user",
        raw_content=question,
        redacted_content=question,
        pii_entity_types=[],
        created_at=at,
    )
    a = Message(
        conversation_id=conv.id,
        role="assistant",
        raw_content=answer,
        redacted_content=answer,
        pii_entity_types=[],
        confidence=confidence,
        created_at=at + dt.timedelta(seconds=5),
    )
    session.add_all([q, a])
    session.add(
        ConversationOutcome(
            conversation_id=conv.id,
            booking_converted=False,
            down_votes=0,
            total_cost_usd=0.0,
            successful_outcome=True,
            updated_at=at,
        )
    )
    session.commit()
    return conv, q, a


def _sig(settings, msg_id, vote, clock=None, voter="cust@example.com"):
    return feedback.sign_vote(settings, msg_id, voter, vote, clock)


def _count(session):
    return session.scalar(select(func.count()).select_from(Feedback))


def test_signed_link_votes_once_and_revote_changes_it(session, settings):
    clock = FixedClock(T0)
    conv, _, ans = make_answer(session)
    up = _sig(settings, ans.id, "up", clock)
    r1 = feedback.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    assert r1.changed and r1.previous is None and r1.vote == "up"
    replay = feedback.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    assert not replay.changed
    assert _count(session) == 1

    down = _sig(settings, ans.id, "down", clock)
    r2 = feedback.vote_with_signature(session, settings, ans.id, "down", down, clock=clock)
    assert r2.changed and r2.previous == "up"
    session.commit()
    assert _count(session) == 1
    outcome = session.get(ConversationOutcome, conv.id)
    session.refresh(outcome)
    assert outcome.down_votes == 1 and outcome.successful_outcome is False
    # a down vote queues the answer for review
    assert session.scalar(select(ReviewItem.reasons).where(ReviewItem.message_id == ans.id)) == ["down_vote"]
    # back to up: the down vote no longer counts
    feedback.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    session.commit()
    session.refresh(outcome)
    assert outcome.down_votes == 0 and outcome.successful_outcome is True


def test_forged_altered_and_expired_links_record_nothing(session, settings):
    clock = FixedClock(T0)
    _, _, ans = make_answer(session)
    _, _, other = make_answer(session, user="someone@example.com")
    up = _sig(settings, ans.id, "up", clock)
    with pytest.raises(InvalidSignature):  # vote altered
        feedback.vote_with_signature(session, settings, ans.id, "down", up, clock=clock)
    with pytest.raises(InvalidSignature):  # id altered
        feedback.vote_with_signature(session, settings, other.id, "up", up, clock=clock)
    with pytest.raises(InvalidSignature):  # signed with another key
        forged = feedback.sign_vote(
            settings.model_copy(update={"secret_key": "attacker"}), ans.id, "cust@example.com", "up", clock
        )
        feedback.vote_with_signature(session, settings, ans.id, "up", forged, clock=clock)
    with pytest.raises(InvalidSignature):  # garbage
        feedback.vote_with_signature(session, settings, ans.id, "up", "nonsense", clock=clock)
    with pytest.raises(InvalidSignature):  # signed for another voter
        feedback.vote_with_signature(
            session, settings, ans.id, "up", _sig(settings, ans.id, "up", clock, voter="mallory"), clock=clock
        )
    clock.advance(days=settings.feedback_link_days, seconds=1)
    with pytest.raises(ExpiredSignature):
        feedback.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    assert _count(session) == 0


def test_unknown_message_and_non_answers(session, settings):
    _, q, ans = make_answer(session)
    with pytest.raises(NotFound):
        feedback.vote_with_signature(session, settings, ans.id + 1000, "up", "x.y")
    with pytest.raises(ValidationError):
        feedback.record_vote(session, q.id, "up", "cust@example.com")
    with pytest.raises(ValidationError):
        feedback.record_vote(session, ans.id, "sideways", "cust@example.com")
    with pytest.raises(ValidationError):
        feedback.record_vote(session, ans.id, "up", "")


def test_widget_signature_allows_either_vote(session, settings):
    _, _, ans = make_answer(session, channel="web", user="visitor-123456")
    sig = feedback.widget_signature(session, settings, ans.id)
    assert feedback.vote_with_signature(session, settings, ans.id, "down", sig).changed
    r = feedback.vote_with_signature(session, settings, ans.id, "up", sig)
    assert r.previous == "down"
    assert session.scalar(select(Feedback.source)) == "widget"


def test_comment_attaches_to_the_vote(session, settings):
    _, _, ans = make_answer(session)
    with pytest.raises(NotFound):
        feedback.add_comment(session, ans.id, "cust@example.com", "hello")
    feedback.record_vote(session, ans.id, "down", "cust@example.com", source="email")
    r = feedback.add_comment(session, ans.id, "cust@example.com", "The minimum was wrong")
    assert r.comment_saved and not r.changed
    assert session.scalar(select(Feedback.comment)) == "The minimum was wrong"
    with pytest.raises(ValidationError):
        feedback.add_comment(session, ans.id, "cust@example.com", "x" * 2001)


def test_email_footer_has_working_signed_links(session, settings):
    _, _, ans = make_answer(session)
    footer = feedback.email_footer(ans.id, session=session, settings=settings)
    assert "Was this response helpful?" in footer.html and "Was this response helpful?" in footer.text
    assert footer.up_url in footer.text and footer.down_url in footer.text
    assert footer.up_url.startswith(settings.public_base_url + "/api/v1/ai/feedback?id=")
    from urllib.parse import parse_qs, urlparse

    q = parse_qs(urlparse(footer.down_url).query)
    assert q["vote"] == ["down"]
    feedback.vote_with_signature(session, settings, int(q["id"][0]), "down", q["sig"][0])
    assert session.scalar(select(Feedback.vote)) == "down"
    # without a session it reads the configured database
    again = feedback.email_footer(ans.id, settings=settings)
    assert "&#128077;" in again.html
    with pytest.raises(NotFound):
        feedback.email_footer(ans.id + 99, settings=settings)


def test_concurrent_votes_are_never_double_counted(db, settings):
    s = db.session()
    conv, _, ans = make_answer(s)
    extra = [
        Message(
            conversation_id=conv.id,
            role="assistant",
            raw_content=f"a{i}",
            redacted_content=f"a{i}",
            pii_entity_types=[],
            created_at=T0,
        )
        for i in range(3)
    ]
    s.add_all(extra)
    s.commit()
    targets = [ans.id] + [m.id for m in extra]
    s.close()
    errors = []

    def worker(n):
        try:
            for i in range(12):
                mid = targets[(n + i) % len(targets)]
                voter = f"v{(n * 7 + i) % 5}"
                vote = "down" if (n + i) % 3 else "up"
                with db.session() as ws:
                    feedback.record_vote(ws, mid, vote, voter)
                    ws.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s2:
        rows = s2.execute(select(Feedback.message_id, Feedback.voter, Feedback.vote)).all()
        assert len(rows) == len({(m, v) for m, v, _ in rows})
        downs = sum(1 for *_, v in rows if v == "down")
        assert s2.get(ConversationOutcome, conv.id).down_votes == downs


def test_stats_by_channel(session, settings):
    c1, _, a1 = make_answer(session, channel="email")
    make_answer(session, channel="web", user="visitor-1")
    c3, _, a3 = make_answer(session, channel="web", user="visitor-2")
    feedback.record_vote(session, a1.id, "up", "cust@example.com")
    feedback.record_vote(session, a3.id, "down", "visitor-2")
    session.get(ConversationOutcome, c1.id).csat = 5
    session.commit()
    stats = feedback.feedback_stats(session, days=7, clock=FixedClock(T0 + dt.timedelta(days=1)))
    assert stats["conversations"] == 3 and stats["votes_up"] == 1 and stats["votes_down"] == 1
    assert stats["feedback_rate"] == pytest.approx(2 / 3, abs=1e-3)
    assert stats["csat_average"] == 5 and stats["csat_distribution"]["5"] == 1
    assert stats["by_channel"]["web"]["feedback_rate"] == 0.5
    old = feedback.feedback_stats(session, days=7, clock=FixedClock(T0 + dt.timedelta(days=30)))
    assert old["conversations"] == 0 and old["feedback_rate"] == 0.0
    with pytest.raises(ValidationError):
        feedback.feedback_stats(session, days=0)


def test_votes_update_the_chunks_behind_the_answer_once(session, settings):
    from core.knowledge import chunks as knowledge
    from core.platform.models import Chunk, MessageChunk

    _, _, ans = make_answer(session)
    chunk = knowledge.add_chunk(
        session, text="Hibachi parties cost $60 per adult, $600 minimum.", title="Pricing"
    )
    session.add(MessageChunk(message_id=ans.id, chunk_id=chunk.id, rank=0, score=0.9, used=True))
    session.commit()
    sig = feedback.sign_vote(settings, ans.id, "cust@example.com", "up")
    for _ in range(3):  # the replays change nothing
        feedback.vote_with_signature(session, settings, ans.id, "up", sig)
    session.commit()
    row = session.get(Chunk, chunk.id)
    session.refresh(row)
    assert (row.rating_count, row.rating_sum) == (1, 5.0)
    feedback.record_vote(session, ans.id, "down", "cust@example.com", settings=settings)
    session.commit()
    session.refresh(row)
    assert (row.rating_count, row.rating_sum) == (1, 1.0)


def test_feedback_and_review_cli(db, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cli import main
    from core.platform.config import get_settings

    with db.session() as s:
        _, _, ans = make_answer(s, confidence=0.1)
        ans_id = ans.id
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(tmp_path / "var" / "idx"))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        r = runner.invoke(main, ["feedback", "footer", str(ans_id)])
        assert r.exit_code == 0, r.output
        assert "Was this response helpful?" in r.output and "vote=up" in r.output and "<table" in r.output
        r = runner.invoke(main, ["feedback", "footer", str(ans_id + 50)])
        assert r.exit_code == 1 and "does not exist" in r.output
        r = runner.invoke(main, ["review", "refresh", "--days", "100000"])
        assert r.exit_code == 0 and "1 new review reason" in r.output, r.output
        r = runner.invoke(main, ["review", "list"])
        assert "low_confidence" in r.output
        item = r.output.split("#")[1].split(" ")[0]
        r = runner.invoke(main, ["review", "reject", item, "--actor", "ops", "--reason", "wrong"])
        assert r.exit_code == 0 and f"rejected #{item}" in r.output
        assert runner.invoke(main, ["feedback", "stats", "--days", "3650"]).exit_code == 0
    finally:
        get_settings.cache_clear()


def test_concurrent_mixed_votes_of_one_voter_leave_one_row_and_exact_counters(db, settings):
    """Many threads vote up and down on the same message as the same voter at once: one row,
    exactly one first vote, and every counter equals what the final vote implies."""
    from core.knowledge import chunks as knowledge
    from core.platform.models import Chunk, MessageChunk

    s = db.session()
    conv, _, ans = make_answer(s)
    chunk = knowledge.add_chunk(s, text="Hibachi parties cost $60 per adult, $600 minimum.", title="Pricing")
    s.add(MessageChunk(message_id=ans.id, chunk_id=chunk.id, rank=0, score=0.9, used=True))
    s.commit()
    ids = (conv.id, ans.id, chunk.id)
    s.close()
    results, errors = [], []
    barrier = threading.Barrier(8)

    def worker(n):
        try:
            barrier.wait()
            for i in range(10):
                with db.session() as ws:
                    vote = "down" if (n + i) % 2 else "up"
                    r = feedback.record_vote(ws, ids[1], vote, "cust@example.com", settings=settings)
                    results.append(r)
                    ws.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(1 for r in results if r.previous is None) == 1  # one first vote, all others see it
    assert all(r.changed == (r.previous != r.vote) for r in results)
    with db.session() as s2:
        rows = s2.execute(select(Feedback.vote)).scalars().all()
        assert len(rows) == 1
        final = rows[0]
        outcome = s2.get(ConversationOutcome, ids[0])
        assert outcome.down_votes == (1 if final == "down" else 0)
        assert outcome.successful_outcome is (final == "up")
        row = s2.get(Chunk, ids[2])
        assert (row.rating_count, row.rating_sum) == (1, 5.0 if final == "up" else 1.0)
        assert row.performance_score == scoring.performance_score(row, settings.kb_score_prior_weight)
        assert s2.scalar(select(ReviewItem.reasons).where(ReviewItem.message_id == ids[1])) == ["down_vote"]
