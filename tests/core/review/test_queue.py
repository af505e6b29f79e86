import datetime as dt

import pytest
from sqlalchemy import select

from core.feedback import votes as feedback
from core.knowledge import chunks as knowledge
from core.platform import audit
from core.platform.clock import FixedClock
from core.platform.errors import Conflict, ValidationError
from core.platform.models import (
    Chunk,
    ConversationOutcome,
    Delivery,
    Message,
    MessageChunk,
    TrainingExample,
)
from core.platform.notify import Notifier
from core.review import delivery
from core.review import queue as review
from tests.core.feedback.test_votes import T0, make_answer

NOW = T0 + dt.timedelta(days=1)


def _notifier(settings, port):
    s = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_timeout_s": 5,
            "smtp_sender": "hello@example.com",
            "notify_retries": 1,
        }
    )
    return Notifier(s, sleep=lambda _s: None)


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
    chunk = knowledge.add_chunk(session, text="Deposit is 20 percent.", title="Deposit")
    chunk.stale_flagged_at = T0
    session.add(MessageChunk(message_id=stale.id, chunk_id=chunk.id, rank=0, score=0.8, used=True))
    feedback.record_vote(session, voted.id, "down", "cust@example.com", settings=settings, clock=clock)
    session.commit()

    review.refresh_queue(session, settings, clock)
    assert review.refresh_queue(session, settings, clock) == 0  # idempotent
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


def test_approve_makes_a_gold_example_and_proposes_a_chunk(session, settings):
    conv, q, ans = make_answer(session, confidence=0.3, intent="pricing")
    session.get(ConversationOutcome, conv.id).booking_converted = True
    feedback.record_vote(session, ans.id, "up", "cust@example.com", settings=settings)
    item = review.flag_message(session, ans.id, "low_confidence")
    assert review.preview(session, item.id) == {
        "question": q.redacted_content,
        "answer": ans.redacted_content,
    }
    d = review.approve(session, item.id, "alice", propose_chunk=True)
    ex = session.get(TrainingExample, d.training_example_id)
    assert (ex.question, ex.answer, ex.source, ex.human_verified, ex.active) == (
        q.redacted_content,
        ans.redacted_content,
        "approved",
        True,
        True,
    )
    assert ex.rating == 1 and ex.led_to_booking and ex.intent == "pricing" and ex.channel == "email"
    assert ex.source_message_ids == [q.id, ans.id] and ex.created_by == "alice"
    chunk = session.get(Chunk, d.proposed_chunk_id)
    assert chunk.status == "proposed" and chunk.text == ans.redacted_content
    log = audit.history(session, "review_item", item.id)
    assert [a.action for a in log] == ["review.approve"] and log[0].actor == "alice"
    with pytest.raises(Conflict):
        review.reject(session, item.id, "bob", "changed my mind")


def test_edit_stores_the_human_edit_and_becomes_the_gold_answer(session, settings):
    _, _, ans = make_answer(session)
    item = review.flag_message(session, ans.id, "down_vote")
    with pytest.raises(ValidationError):
        review.edit(session, item.id, "alice", "New text", reason="")
    with pytest.raises(ValidationError):
        review.edit(session, item.id, "", "New text", reason="wrong")
    clock = FixedClock(NOW)
    d = review.edit(session, item.id, "alice", "It is $65 per adult since May.", "price changed", clock=clock)
    msg = session.get(Message, ans.id)
    assert (msg.human_edited, msg.human_edit_content, msg.edit_reason, msg.edited_by, msg.edited_at) == (
        True,
        "It is $65 per adult since May.",
        "price changed",
        "alice",
        NOW,
    )
    ex = session.get(TrainingExample, d.training_example_id)
    assert ex.answer == "It is $65 per adult since May." and ex.source == "edited"
    entry = audit.history(session, "review_item", item.id)[0]
    assert entry.action == "review.edit" and entry.after["edit_reason"] == "price changed"


def test_reject_needs_a_reason_and_deactivates_gold_data(session, settings):
    _, _, ans = make_answer(session)
    item = review.flag_message(session, ans.id, "down_vote")
    session.add(TrainingExample(message_id=ans.id, question="q", answer="a", source="approved", active=True))
    session.flush()
    with pytest.raises(ValidationError):
        review.reject(session, item.id, "alice", "  ")
    review.reject(session, item.id, "alice", "made up a price")
    assert session.scalars(select(TrainingExample.active)).all() == [False]
    assert review.list_queue(session) == []
    assert review.list_queue(session, status="rejected")[0].decision_reason == "made up a price"
    assert audit.history(session, "review_item", item.id)[0].action == "review.reject"


def test_risky_drafts_are_held_until_approved(session, settings, smtp):
    inbox, port = smtp
    notifier = _notifier(settings, port)
    _, _, risky = make_answer(session, confidence=0.1)
    _, _, refund = make_answer(session, confidence=0.99, intent="refund", user="r@example.com")
    _, _, safe = make_answer(session, confidence=0.99, user="s@example.com")
    held = delivery.send_reply(session, risky.id, notifier, settings)
    held_refund = delivery.send_reply(session, refund.id, notifier, settings)
    sent = delivery.send_reply(session, safe.id, notifier, settings)
    assert (held.status, held_refund.status, sent.status) == ("held", "held", "sent")
    assert [r for r, _ in inbox.messages] == [["s@example.com"]]
    with pytest.raises(Conflict):
        delivery.deliver(session, held.id, notifier, settings)
    assert delivery.retry_due(session, notifier, settings).attempted == 0  # held is never picked up

    queue = review.list_queue(session, kind="presend")
    assert {r.message_id for r in queue} == {risky.id, refund.id}
    assert "intent:refund" in next(r.reasons for r in queue if r.message_id == refund.id)
    item = next(r for r in queue if r.message_id == risky.id)
    d = review.edit(
        session,
        item.id,
        "alice",
        "Let me confirm the price and get back to you today.",
        "unsure price",
        notifier=notifier,
        settings=settings,
    )
    assert d.delivery_status == "sent"
    body = inbox.messages[-1][1].get_body(("plain",)).get_content()
    assert "Let me confirm the price" in body and "Was this response helpful?" in body

    other = next(r for r in queue if r.message_id == refund.id)
    review.reject(session, other.id, "alice", "refunds are handled by phone")
    assert session.get(Delivery, held_refund.id).status == "cancelled"
    with pytest.raises(Conflict):
        delivery.deliver(session, held_refund.id, notifier, settings)
    assert len(inbox.messages) == 2


def test_risk_reasons(settings):
    s = settings.model_copy(
        update={"presend_confidence_below": 0.5, "presend_risk_intents": "refund, Pricing_Exception"}
    )
    assert review.risk_reasons(s, 0.4, None) == ["low_confidence"]
    assert review.risk_reasons(s, 0.9, "pricing_exception") == ["intent:pricing_exception"]
    assert review.risk_reasons(s, 0.9, "menu") == [] and review.risk_reasons(s, None, None) == []
