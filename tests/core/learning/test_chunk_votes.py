"""core.learning.chunk_votes: the vote path's chunk credit is the arithmetic of
core.knowledge.scoring (the same counters and performance score), on SQLite and PostgreSQL."""

from core.knowledge import chunks as knowledge
from core.knowledge import scoring
from core.learning.chunk_votes import credit_vote
from core.platform.clock import FixedClock
from core.platform.models import Chunk, MessageChunk
from tests.factories import ADMIN, ANSWERED_AT, make_answer


def _answer_with_chunk(session, text):
    _, _, ans = make_answer(session)
    chunk = knowledge.add_chunk(session, text=text, title="Pricing", actor=ADMIN)
    chunk.times_used_in_response, chunk.times_led_to_booking = 7, 2
    session.add(MessageChunk(message_id=ans.id, chunk_id=chunk.id, rank=0, score=0.9, used=True))
    session.commit()
    return ans, chunk


def _state(session, chunk):
    session.refresh(chunk)
    return chunk.rating_count, chunk.rating_sum, chunk.performance_score, chunk.last_user_feedback_at


def test_a_vote_credits_chunks_like_the_scoring_functions(session, settings):
    now = ANSWERED_AT
    voted, fast = _answer_with_chunk(session, "Hibachi parties cost $60 per adult.")
    scored, slow = _answer_with_chunk(session, "Kids eat for $30 each.")

    assert credit_vote(session, voted.id, None, "up", settings, now) == 1  # a first vote
    scoring.record_chunk_feedback(session, scored.id, "up", settings=settings, clock=FixedClock(now))
    assert _state(session, fast) == _state(session, slow) == (1, 5.0, fast.performance_score, now)

    assert credit_vote(session, voted.id, "up", "down", settings, now) == 1  # a changed vote
    scoring.change_chunk_feedback(session, scored.id, previous="up", rating="down", settings=settings,
                                  clock=FixedClock(now))
    assert _state(session, fast) == _state(session, slow)
    assert fast.rating_count == 1 and fast.rating_sum == 1.0
    assert fast.performance_score == scoring.performance_score(fast, settings.kb_score_prior_weight)

    _, _, no_chunks = make_answer(session)
    assert credit_vote(session, no_chunks.id, None, "down", settings, now) == 0
    assert session.get(Chunk, fast.id).rating_count == 1
