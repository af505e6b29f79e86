"""Chunk performance: the one scoring rule (core.knowledge.scoring.performance_score), the
counters answers and feedback move, and the vote path's score agreeing with the rule."""

import pytest
from sqlalchemy import select

from core.answering.responder import answer, record_answer
from core.knowledge import scoring
from core.knowledge.chunks import add_chunk, chunk_by_external_id
from core.knowledge.refresh import weekly_refresh
from core.learning import loop
from core.platform.clock import FixedClock
from core.platform.errors import ValidationError
from core.platform.models import Chunk, Message, MessageChunk
from core.review import queue as review
from tests.factories import ADMIN
from tests.factories.knowledge import T0, conversation, hashing, kb_settings, seed


def test_performance_score_is_smoothed():
    c = Chunk(times_used_in_response=0, times_led_to_booking=0, rating_count=0, rating_sum=0.0)
    assert scoring.performance_score(c) == 0.5
    lucky = Chunk(times_used_in_response=1, times_led_to_booking=1, rating_count=1, rating_sum=5.0)
    assert 0.5 < scoring.performance_score(lucky) < 0.56
    assert scoring.performance_score(lucky, prior_weight=0) == pytest.approx(1.0)
    proven = Chunk(times_used_in_response=200, times_led_to_booking=150, rating_count=100, rating_sum=450.0)
    assert scoring.performance_score(proven) == pytest.approx(0.7 * 155 / 210 + 0.3 * 95 / 110, abs=1e-6)
    poor = Chunk(times_used_in_response=200, times_led_to_booking=0, rating_count=100, rating_sum=100.0)
    assert scoring.performance_score(poor) < 0.15


def test_answers_and_feedback_update_the_chunks_used(session, settings):
    emb, st = hashing(), kb_settings(settings)
    clock = seed(session)
    weekly_refresh(session, emb, st, actor=ADMIN, clock=clock)
    conv = conversation(session, "adult price?")
    a = answer(session, "what is the adult price per adult guest", embedder=emb, settings=st)
    msg = record_answer(session, conv.id, a, clock=clock, settings=st)
    used = chunk_by_external_id(session, "price-adult")
    session.refresh(used)
    assert (used.times_retrieved, used.times_used_in_response) == (1, 1)
    assert used.performance_score < 0.5  # one more use, no booking yet
    others = session.scalars(
        select(MessageChunk).where(MessageChunk.message_id == msg.id, MessageChunk.used.is_(False))
    ).all()
    assert len(others) == st.kb_search_k - 1
    assert scoring.record_chunk_feedback(session, msg.id, rating="up", clock=clock) == [used.id]
    assert (used.rating_count, used.rating_sum) == (1, 5.0)
    scoring.change_chunk_feedback(session, msg.id, previous="up", rating="down", clock=clock)
    assert (used.rating_count, used.rating_sum, used.avg_user_rating) == (1, 1.0, 1.0)
    scoring.record_conversation_feedback(session, conv.id, rating=4, booked=True, settings=st, clock=clock)
    assert (used.times_led_to_booking, used.rating_count, used.last_user_feedback_at) == (1, 2, clock.now())
    assert used.performance_score == pytest.approx(
        scoring.performance_score(used, st.kb_score_prior_weight)
    )
    retrieved_only = session.get(Chunk, others[0].chunk_id)
    assert retrieved_only.times_retrieved == 1 and retrieved_only.rating_count == 0
    with pytest.raises(ValidationError):
        scoring.record_chunk_feedback(session, msg.id, rating="meh")
    with pytest.raises(ValidationError):
        scoring.record_chunk_feedback(session, msg.id, rating=9)
    assert scoring.record_chunk_feedback(session, conv.messages[0].id, rating=5) == []


def _answer_using(session, chunks: list[Chunk]) -> Message:
    """A conversation with a question and an assistant answer that used ``chunks``."""
    conv = conversation(session, "how much is a party for 20?")
    msg = Message(conversation_id=conv.id, role="assistant", raw_content="$60 per adult.",
                  redacted_content="$60 per adult.", pii_entity_types=[], created_at=T0)
    session.add(msg)
    session.flush()
    session.add_all(
        MessageChunk(message_id=msg.id, chunk_id=c.id, rank=i, score=0.9, used=True)
        for i, c in enumerate(chunks)
    )
    session.flush()
    return msg


def test_the_score_a_vote_writes_is_the_scoring_rule(session, settings):
    st = settings.model_copy(update={"kb_score_prior_weight": 4.0})
    chunks = [add_chunk(session, text=f"Hibachi fact {i}.", actor=ADMIN) for i in range(2)]
    chunks[0].times_used_in_response, chunks[0].times_led_to_booking = 7, 3
    msg = _answer_using(session, chunks)
    session.commit()
    for voter, vote in (("a@example.com", "up"), ("b@example.com", "down"), ("a@example.com", "down")):
        loop.record_vote(session, msg.id, vote, voter, settings=st)
        session.commit()
        for chunk in chunks:
            session.refresh(chunk)
            assert chunk.performance_score == pytest.approx(scoring.performance_score(chunk, 4.0), abs=1e-9)
    assert (chunks[0].rating_count, chunks[0].rating_sum) == (2, 2.0)
    assert chunks[0].performance_score != chunks[1].performance_score


def test_the_feedback_effect_leaves_unrated_use_alone():
    used = Chunk(times_used_in_response=80, times_led_to_booking=0, rating_count=0, rating_sum=0.0)
    assert scoring.feedback_effect(used) == 0.0  # many uses, no booking: not a penalty
    down = Chunk(times_used_in_response=80, times_led_to_booking=0, rating_count=20, rating_sum=20.0)
    up = Chunk(times_used_in_response=80, times_led_to_booking=0, rating_count=20, rating_sum=100.0)
    booked = Chunk(times_used_in_response=80, times_led_to_booking=30, rating_count=0, rating_sum=0.0)
    assert scoring.feedback_effect(down) < 0 < scoring.feedback_effect(up)
    assert scoring.feedback_effect(booked) > 0
    assert scoring.feedback_effect(down) == pytest.approx(
        scoring.performance_score(down) - scoring.performance_score(used))


def test_chunks_voted_down_are_flagged_for_review_then_archive_and_recover(session, settings):
    st = kb_settings(settings)
    seed(session)
    chunk = chunk_by_external_id(session, "minimum")
    other = chunk_by_external_id(session, "deposit")
    msgs = [_answer_using(session, [chunk, other]) for _ in range(16)]
    session.commit()
    assert scoring.flagged_chunks(session, st) == []

    def vote(n: int, value: str, start: int = 0) -> None:
        for i in range(start, start + n):
            loop.record_vote(session, msgs[i].id, value, f"v{i}@example.com", settings=st)
        session.commit()

    vote(4, "down")
    assert scoring.flagged_chunks(session, st) == []  # fewer than kb_score_min_ratings
    vote(1, "down", 4)
    flags = scoring.flagged_chunks(session, st)
    assert {f.chunk_id for f in flags} == {chunk.id, other.id}
    assert flags[0].action == "review" and "1.0/5" in flags[0].reason
    assert "kb_score_review_below" in flags[0].reason
    assert scoring.flagged_chunks(session, st, "archive") == []
    assert review.refresh_queue(session, st, clock=FixedClock(T0), actor=ADMIN) > 0
    items = review.list_queue(session, kind="review")
    assert {i.message_id for i in items if "poor_chunk" in i.reasons} == {m.id for m in msgs}
    vote(10, "down", 5)
    arch = scoring.flagged_chunks(session, st, "archive")
    assert {f.chunk_id for f in arch} == {chunk.id, other.id} and "kb_score_archive_below" in arch[0].reason
    # up votes on the same answers (the voters changed their mind) clear the flags
    for i in range(15):
        loop.record_vote(session, msgs[i].id, "up", f"v{i}@example.com", settings=st)
    session.commit()
    assert scoring.flagged_chunks(session, st) == []
    with pytest.raises(ValidationError):
        scoring.flagged_chunks(session, st, "delete")
