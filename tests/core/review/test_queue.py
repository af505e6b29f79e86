"""core.review.queue: every reason found, ordered by expected value; flagging needs the review right."""

import datetime as dt

import pytest

from core.knowledge import chunks as knowledge
from core.learning import loop as learning
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, PermissionDenied, ValidationError
from core.platform.models import ConversationOutcome, MessageChunk, ReviewItem
from core.review import queue as review
from tests.factories import ADMIN, REVIEWER, VIEWER, make_answer
from tests.factories import ANSWERED_AT as T0

NOW = T0 + dt.timedelta(days=1)


def test_refresh_queue_finds_every_reason_and_orders_by_expected_value(session, settings):
    clock = FixedClock(NOW)
    _, _, low = make_answer(session, confidence=0.2, intent="menu")
    esc_conv, _, escalated = make_answer(session, status="escalated", intent="travel")
    esc_conv.escalated_at = T0
    csat_conv, _, low_csat = make_answer(session, intent="policy")
    session.get(ConversationOutcome, csat_conv.id).csat = 2
    _, _, voted = make_answer(session, intent="pricing")
    _, _, stale = make_answer(session, intent="booking")
    _, _, fine = make_answer(session, intent="menu")
    for _ in range(5):  # pricing is asked often: its answers are worth more
        make_answer(session, intent="pricing", confidence=0.95)
    chunk = knowledge.add_chunk(session, text="Deposit is 20 percent.", title="Deposit", actor=ADMIN)
    chunk.stale_flagged_at = T0
    session.add(MessageChunk(message_id=stale.id, chunk_id=chunk.id, rank=0, score=0.8, used=True))
    learning.record_vote(session, voted.id, "down", "cust@example.com", settings=settings, clock=clock)
    session.commit()

    review.refresh_queue(session, settings, clock, actor=REVIEWER)
    assert review.refresh_queue(session, settings, clock, actor=SYSTEM) == 0  # idempotent
    rows = review.list_queue(session)
    by_msg = {r.message_id: r.reasons for r in rows}
    assert by_msg == {
        low.id: ["low_confidence"],
        escalated.id: ["escalation"],
        low_csat.id: ["low_csat"],
        voted.id: ["down_vote"],
        stale.id: ["stale_chunk"],
    }
    assert fine.id not in by_msg
    assert rows[0].message_id == voted.id  # a down vote on a frequent question comes first
    values = [r.expected_value for r in rows]
    assert values == sorted(values, reverse=True)
    assert rows[0].question.startswith("How much") and rows[0].answer.startswith("For 20 guests")
    assert review.list_queue(session, kind="presend") == []
    with pytest.raises(ValidationError):
        review.list_queue(session, status="pending")


def test_flagging_adds_reasons_once_and_checks_the_message(session, settings):
    _, q, ans = make_answer(session)
    item = review.flag_message(session, ans.id, "low_confidence", actor=REVIEWER)
    again = review.flag_message(session, ans.id, "low_confidence", actor=REVIEWER)
    assert again.id == item.id and item.reasons == ["low_confidence"] and item.status == "open"
    review.flag_message(session, ans.id, review.Reason.DOWN_VOTE, actor=REVIEWER)
    assert item.reasons == ["low_confidence", "down_vote"]
    assert item.expected_value == review.expected_value(item.reasons, 1)
    preview = review.preview(session, item.id)
    assert preview == {"question": q.redacted_content, "answer": ans.redacted_content}
    assert review.preview(session, item.id, "Edited.")["answer"] == "Edited."
    with pytest.raises(ValidationError):
        review.flag_message(session, q.id, "low_confidence", actor=REVIEWER)
    with pytest.raises(ValidationError):
        review.flag_message(session, ans.id, "low_confidence", kind="later", actor=REVIEWER)
    with pytest.raises(NotFound):
        review.flag_message(session, ans.id + 100, "low_confidence", actor=REVIEWER)
    with pytest.raises(NotFound):
        review.get_item(session, item.id + 100)


def test_a_viewer_cannot_fill_the_queue(session, settings):
    _, _, ans = make_answer(session, confidence=0.1)
    with pytest.raises(PermissionDenied):
        review.flag_message(session, ans.id, "low_confidence", actor=VIEWER)
    with pytest.raises(PermissionDenied):
        review.refresh_queue(session, settings, FixedClock(NOW), actor=VIEWER)
    assert session.query(ReviewItem).count() == 0


def test_list_queue_filters_by_reason_channel_intent_and_pages_with_a_true_count(session):
    flagged = []
    for i in range(7):
        channel, intent = ("sms" if i % 2 else "email"), ("pricing" if i < 4 else "menu")
        _, _, ans = make_answer(session, channel=channel, intent=intent)
        flagged.append(ans)
        review.flag_message(session, ans.id, "down_vote" if i < 5 else "flagged:abuse", actor=SYSTEM,
                            clock=FixedClock(NOW + dt.timedelta(minutes=i)))
    session.commit()
    assert review.count_queue(session) == 7
    page1 = review.list_queue(session, limit=3)
    page3 = review.list_queue(session, limit=3, offset=6)
    assert len(page1) == 3 and len(page3) == 1
    assert {r.id for r in page1}.isdisjoint(r.id for r in page3)
    sms_pricing = review.list_queue(session, channel="sms", intent="pricing")
    assert {r.message_id for r in sms_pricing} == {flagged[1].id, flagged[3].id}
    assert review.count_queue(session, channel="sms", intent="pricing") == 2
    assert review.count_queue(session, reason="flagged") == 2  # flagged:<why> counts as flagged
    assert review.count_queue(session, reason="down_vote", channel="email") == 3
    assert review.count_queue(session, since=NOW + dt.timedelta(minutes=5)) == 2
    assert review.queue_intents(session) == ["menu", "pricing"]
    with pytest.raises(ValidationError):
        review.count_queue(session, reason="bad_answer")


def _handed_off(session, settings, agent_reply: str, csat: int | None = None) -> int:
    """A conversation: a question, an unsure assistant answer, then a human agent's reply."""
    from core.conversations import ingest, schemas
    from core.platform.pii import get_scrubber

    at = T0
    conv = schemas.ConversationIn(
        channel="web", external_user_id="visitor-1",
        messages=[
            schemas.MessageIn(role="user", content="Do you bring a propane grill to a park?", created_at=at),
            schemas.MessageIn(role="assistant", content="Let me check with the team.", confidence=0.1,
                              created_at=at + dt.timedelta(minutes=1)),
            schemas.MessageIn(role="agent", content=agent_reply, created_at=at + dt.timedelta(minutes=2)),
        ],
        outcome=schemas.OutcomeIn(csat=csat) if csat is not None else None,
    )
    rep = ingest.store_conversations(session, [conv], get_scrubber(settings), settings, FixedClock(at))
    return rep.conversation_ids[0]


def test_handed_off_conversations_whose_agent_reply_the_kb_learns_leave_the_queue(session, settings):
    """With agent replies learned, a handed-off conversation an agent answered reusably is not
    queued for its escalation or low confidence; a hand-off reply, one to a named person or a low
    CSAT keeps it queued; with the setting off every escalation is queued."""
    learn = settings.model_copy(update={"kb_learn_from_agent_answers": True})
    learned = _handed_off(session, learn, "Yes: our chef brings a propane grill to any park.")
    handoff = _handed_off(session, learn, "I've passed this to our team, someone will get back to you.")
    named = _handed_off(session, learn, "Hi Maria Lopez, yes we bring the grill.")
    unhappy = _handed_off(session, learn, "Yes: our chef brings a propane grill to any park.", csat=1)
    session.commit()

    def queued() -> dict[int, list[str]]:
        return {r.conversation_id: sorted(r.reasons) for r in review.list_queue(session)}

    review.refresh_queue(session, learn, FixedClock(NOW), actor=REVIEWER)
    got = queued()
    assert learned not in got
    assert got[handoff] == ["escalation", "low_confidence"]
    assert got[named] == ["escalation", "low_confidence"]
    assert got[unhappy] == ["low_csat"]

    review.refresh_queue(session, settings, FixedClock(NOW), actor=REVIEWER)  # the setting off (default)
    assert queued()[learned] == ["escalation", "low_confidence"]
