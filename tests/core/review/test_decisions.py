"""core.review.decisions: approve and edit make gold data (one shared path), reject deactivates it;
every decision needs the review right and is audited."""

import datetime as dt

import pytest
from sqlalchemy import select

from core.learning import loop as learning
from core.platform import audit
from core.platform.clock import FixedClock
from core.platform.errors import Conflict, PermissionDenied, ValidationError
from core.platform.models import Chunk, ConversationOutcome, Message, ReviewItem, TrainingExample
from core.review import decisions
from core.review import queue as review
from tests.factories import ANSWERED_AT as T0
from tests.factories import REVIEWER, VIEWER, make_answer

NOW = T0 + dt.timedelta(days=1)


def test_approve_makes_a_gold_example_and_proposes_a_chunk(session, settings):
    conv, q, ans = make_answer(session, confidence=0.3, intent="pricing")
    session.get(ConversationOutcome, conv.id).booking_converted = True
    learning.record_vote(session, ans.id, "up", "cust@example.com", settings=settings)
    item = review.flag_message(session, ans.id, "low_confidence", actor=REVIEWER)
    d = decisions.approve(session, item.id, REVIEWER, propose_chunk=True)
    assert d.status == "approved" and d.notes == [] and d.delivery_status is None
    ex = session.get(TrainingExample, d.training_example_id)
    assert (ex.question, ex.answer, ex.source, ex.human_verified, ex.active) == (
        q.redacted_content,
        ans.redacted_content,
        "approved",
        True,
        True,
    )
    assert ex.rating == 1 and ex.led_to_booking and ex.intent == "pricing" and ex.channel == "email"
    assert ex.source_message_ids == [q.id, ans.id] and ex.created_by == REVIEWER.name
    chunk = session.get(Chunk, d.proposed_chunk_id)
    assert chunk.status == "proposed" and chunk.text == ans.redacted_content
    log = audit.history(session, "review_item", item.id)
    assert [a.action for a in log] == ["review.approve"] and log[0].actor == REVIEWER.name
    assert log[0].after["proposed_chunk_id"] == chunk.id and log[0].before["status"] == "open"
    assert session.get(ReviewItem, item.id).decided_by == REVIEWER.name
    with pytest.raises(Conflict):
        decisions.reject(session, item.id, REVIEWER, "changed my mind")


def test_edit_stores_the_human_edit_and_becomes_the_gold_answer(session, settings):
    _, _, ans = make_answer(session)
    item = review.flag_message(session, ans.id, "down_vote", actor=REVIEWER)
    with pytest.raises(ValidationError):
        decisions.edit(session, item.id, REVIEWER, "New text", reason="")
    with pytest.raises(ValidationError):
        decisions.edit(session, item.id, REVIEWER, "  ", reason="wrong")
    with pytest.raises(ValidationError):
        decisions.edit(session, item.id, REVIEWER, "x" * (decisions.MAX_EDIT_CHARS + 1), reason="long")
    clock = FixedClock(NOW)
    new = "It is $65 per adult since May."
    d = decisions.edit(session, item.id, REVIEWER, new, "price changed", clock=clock)
    msg = session.get(Message, ans.id)
    assert (msg.human_edited, msg.human_edit_content, msg.edit_reason, msg.edited_by, msg.edited_at) == (
        True,
        "It is $65 per adult since May.",
        "price changed",
        REVIEWER.name,
        NOW,
    )
    ex = session.get(TrainingExample, d.training_example_id)
    assert ex.answer == "It is $65 per adult since May." and ex.source == "edited" and ex.quality_score == 0.9
    entry = audit.history(session, "review_item", item.id)[0]
    assert entry.action == "review.edit" and entry.after["edit_reason"] == "price changed"
    assert entry.after["human_edit_content"] == "It is $65 per adult since May."
    assert entry.before["human_edit_content"] is None


def test_reject_needs_a_reason_and_deactivates_gold_data(session, settings):
    _, _, ans = make_answer(session)
    item = review.flag_message(session, ans.id, "down_vote", actor=REVIEWER)
    session.add(TrainingExample(message_id=ans.id, question="q", answer="a", source="approved", active=True))
    session.flush()
    with pytest.raises(ValidationError):
        decisions.reject(session, item.id, REVIEWER, "  ")
    d = decisions.reject(session, item.id, REVIEWER, "made up a price")
    assert d.status == "rejected" and d.training_example_id is None
    assert session.scalars(select(TrainingExample.active)).all() == [False]
    assert review.list_queue(session) == []
    assert review.list_queue(session, status="rejected")[0].decision_reason == "made up a price"
    assert audit.history(session, "review_item", item.id)[0].action == "review.reject"


def test_a_viewer_cannot_decide(session, settings):
    _, _, ans = make_answer(session)
    item = review.flag_message(session, ans.id, "down_vote", actor=REVIEWER)
    with pytest.raises(PermissionDenied):
        decisions.approve(session, item.id, VIEWER)
    with pytest.raises(PermissionDenied):
        decisions.edit(session, item.id, VIEWER, "New text", "wrong")
    with pytest.raises(PermissionDenied):
        decisions.reject(session, item.id, VIEWER, "wrong")
    with pytest.raises(TypeError):  # a name is no acting user
        decisions.approve(session, item.id, "alice")
    assert session.get(ReviewItem, item.id).status == "open"
    assert session.scalar(select(TrainingExample.id)) is None


def test_a_hand_off_answer_is_approved_but_never_gold_data_or_knowledge(session, settings):
    _, _, ans = make_answer(session, answer="Sorry, I can't help with that. Someone will get back to you.")
    item = review.flag_message(session, ans.id, "low_confidence", actor=REVIEWER)
    d = decisions.approve(session, item.id, REVIEWER, propose_chunk=True)
    assert d.status == "approved" and d.training_example_id is None and d.proposed_chunk_id is None
    assert "hand-off" in d.notes[0]
    assert session.scalar(select(TrainingExample).where(TrainingExample.message_id == ans.id)) is None
    # an edit that answers the question is gold (rated by the admin's decision) and a proposal
    _, _, other = make_answer(session, answer="I've passed this to our team.")
    learning.record_vote(session, other.id, "down", "cust@example.com", settings=settings)
    item = review.flag_message(session, other.id, "down_vote", actor=REVIEWER)
    d = decisions.edit(session, item.id, REVIEWER, "Adults are $60 per person.", "answer it",
                       propose_chunk=True)
    ex = session.get(TrainingExample, d.training_example_id)
    assert ex.rating == 1 and ex.answer == "Adults are $60 per person." and d.proposed_chunk_id
