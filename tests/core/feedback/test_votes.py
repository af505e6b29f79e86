"""core.feedback.votes: one vote row per message and voter, changed or replayed, with comments.

The reactions to a vote (outcome, chunk scores, review queue) are tested with
``core.learning.loop`` (tests/core/learning/test_loop.py); recording a vote here touches only
the vote row.
"""

import threading

import pytest
from sqlalchemy import func, select

from core.feedback import links, votes
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import ConversationOutcome, Feedback, ReviewItem
from tests.factories import ANSWERED_AT as T0
from tests.factories import add_answers, make_answer


def _count(session):
    return session.scalar(select(func.count()).select_from(Feedback))


def test_a_signed_link_votes_once_and_a_revote_changes_it(session, settings):
    clock = FixedClock(T0)
    conv, _, ans = make_answer(session)
    up = links.sign_vote(settings, ans.id, "cust@example.com", "up", clock)
    r1 = votes.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    assert r1.changed and r1.previous is None and r1.vote == "up" and r1.recorded_at == T0
    assert r1.conversation_id == conv.id and not r1.used_chunks
    replay = votes.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    assert not replay.changed and replay.feedback_id == r1.feedback_id
    assert _count(session) == 1

    down = links.sign_vote(settings, ans.id, "cust@example.com", "down", clock)
    r2 = votes.vote_with_signature(session, settings, ans.id, "down", down, clock=clock)
    assert r2.changed and r2.previous == "up" and r2.feedback_id == r1.feedback_id
    session.commit()
    assert _count(session) == 1 and session.scalar(select(Feedback.vote)) == "down"
    # the vote row only: the outcome and the review queue are the learning loop's
    assert session.get(ConversationOutcome, conv.id).down_votes == 0
    assert session.scalar(select(func.count()).select_from(ReviewItem)) == 0


def test_unknown_message_and_non_answers(session, settings):
    _, q, ans = make_answer(session)
    with pytest.raises(NotFound):
        votes.vote_with_signature(session, settings, ans.id + 1000, "up", "x.y")
    with pytest.raises(NotFound):
        votes.record_vote(session, 2**31, "up", "cust@example.com")
    with pytest.raises(NotFound):  # a question takes no vote: the same answer as an unknown id
        votes.record_vote(session, q.id, "up", "cust@example.com")
    with pytest.raises(ValidationError):
        votes.record_vote(session, ans.id, "sideways", "cust@example.com")
    with pytest.raises(ValidationError):
        votes.record_vote(session, ans.id, "up", "")
    with pytest.raises(ValidationError):
        votes.record_vote(session, "1", "up", "cust@example.com")


def test_comment_attaches_to_the_vote(session, settings):
    _, _, ans = make_answer(session)
    with pytest.raises(NotFound):
        votes.add_comment(session, ans.id, "cust@example.com", "hello")
    votes.record_vote(session, ans.id, "down", "cust@example.com", source="email")
    assert votes.current_vote(session, ans.id, "cust@example.com") == "down"
    r = votes.add_comment(session, ans.id, "cust@example.com", "The minimum was wrong")
    assert r.comment_saved and not r.changed
    assert session.scalar(select(Feedback.comment)) == "The minimum was wrong"
    with pytest.raises(ValidationError):
        votes.add_comment(session, ans.id, "cust@example.com", "x" * 2001)
    with pytest.raises(ValidationError):
        votes.add_comment(session, ans.id, "cust@example.com", "   ")


def test_concurrent_votes_leave_one_row_per_message_and_voter(db, settings):
    s = db.session()
    conv, _, ans = make_answer(s)
    targets = [ans.id] + add_answers(s, conv.id, 3, T0)
    s.close()
    results, errors = [], []

    def worker(n):
        try:
            for i in range(12):
                mid, voter = targets[(n + i) % len(targets)], f"v{(n * 7 + i) % 5}"
                with db.session() as ws:
                    results.append(votes.record_vote(ws, mid, "down" if (n + i) % 3 else "up", voter))
                    ws.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    firsts = {(r.message_id, r.feedback_id) for r in results if r.previous is None}
    with db.session() as s2:
        rows = s2.execute(select(Feedback.id, Feedback.message_id, Feedback.voter)).all()
        assert len(rows) == len({(m, v) for _, m, v in rows})  # one row per message and voter
        assert firsts == {(m, i) for i, m, _ in rows}  # exactly one first vote per row
