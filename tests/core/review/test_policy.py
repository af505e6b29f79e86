"""core.review.policy: risky drafts are held until a reviewer decides; flagged answers never
become training data."""

import pytest
from sqlalchemy import select

from core.platform.errors import Conflict, PermissionDenied
from core.platform.models import Delivery, ReviewItem
from core.platform.notify import Notifier
from core.review import decisions, delivery, policy
from core.review import queue as review
from tests.factories import REVIEWER, VIEWER, make_answer


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


def test_risk_reasons(settings):
    s = settings.model_copy(
        update={"presend_confidence_below": 0.5, "presend_risk_intents": "refund, Pricing_Exception"}
    )
    assert policy.risk_reasons(s, 0.4, None) == ["low_confidence"]
    assert policy.risk_reasons(s, 0.9, "pricing_exception") == ["intent:pricing_exception"]
    assert policy.risk_reasons(s, 0.9, "menu") == [] and policy.risk_reasons(s, None, None) == []


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
    assert all("risky_draft" in r.reasons for r in queue)
    assert "intent:refund" in next(r.reasons for r in queue if r.message_id == refund.id)
    item = next(r for r in queue if r.message_id == risky.id)
    d = decisions.edit(
        session,
        item.id,
        REVIEWER,
        "Let me confirm the price and get back to you today.",
        "unsure price",
        notifier=notifier,
        settings=settings,
    )
    assert d.delivery_status == "sent"
    body = inbox.messages[-1][1].get_body(("plain",)).get_content()
    assert "Let me confirm the price" in body and "Was this response helpful?" in body

    other = next(r for r in queue if r.message_id == refund.id)
    d = decisions.reject(session, other.id, REVIEWER, "refunds are handled by phone")
    assert d.delivery_status == "cancelled" and session.get(Delivery, held_refund.id).status == "cancelled"
    with pytest.raises(Conflict):
        delivery.deliver(session, held_refund.id, notifier, settings)
    assert len(inbox.messages) == 2


def test_approving_a_held_draft_without_a_notifier_leaves_it_pending(session, settings):
    _, _, risky = make_answer(session, confidence=0.1)
    d = delivery.queue_reply(session, risky.id, settings)
    item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == risky.id))
    assert d.status == "held" and item.kind == "presend"
    assert decisions.approve(session, item.id, REVIEWER).delivery_status == "pending"
    assert d.status == "pending" and d.next_attempt_at is not None


def test_a_viewer_cannot_hold_release_or_cancel_a_draft(session, settings):
    _, _, risky = make_answer(session, confidence=0.1)
    with pytest.raises(PermissionDenied):
        policy.hold_draft(session, risky.id, ["low_confidence"], actor=VIEWER)
    d = delivery.queue_reply(session, risky.id, settings)
    with pytest.raises(PermissionDenied):
        delivery.release(session, d.id, actor=VIEWER)
    with pytest.raises(PermissionDenied):
        delivery.cancel(session, d.id, "no", actor=VIEWER)
    assert d.status == "held"
    assert delivery.release(session, d.id, actor=REVIEWER).status == "pending"


def test_a_flagged_answer_is_no_training_data(session, settings):
    _, q, ans = make_answer(session)
    assert policy.training_block_reason(session, ans) is None
    q.flagged = True
    assert "customer's question is flagged" in policy.training_block_reason(session, ans)
    q.flagged, ans.flagged = False, True
    assert "the answer is flagged" in policy.training_block_reason(session, ans)
    item = review.flag_message(session, ans.id, "flagged", actor=REVIEWER)
    d = decisions.approve(session, item.id, REVIEWER, propose_chunk=True)
    assert d.training_example_id is None and d.proposed_chunk_id is None and "flagged" in d.notes[0]
