from sqlalchemy import select

from core.platform.audit import history
from core.platform.models import Delivery, ReviewItem, TrainingExample
from tests.factories.dashboard import button, page, refused, seed_held_draft, seed_review_items, token_for


def test_anonymous_and_viewers_are_refused(app_db, session, settings):
    seed_held_draft(session, settings)
    assert refused(page("review").run())
    at = page("review", token_for(app_db, "viewer")).run()
    assert not at.exception and refused(at)


def test_reviewer_approves_a_held_draft_first_in_line(app_db, session, settings):
    item_id = seed_held_draft(session, settings)
    at = page("review", token_for(app_db, "reviewer", "rita")).run()
    assert not at.exception
    assert _item(at).value == item_id
    assert "Held draft" in at.warning[0].value
    button(at, "Approve").click().run()
    assert not at.exception
    with app_db.session() as s:
        item = s.get(ReviewItem, item_id)
        assert item.status == "approved" and item.decided_by == "rita"
        assert s.scalar(select(Delivery.status).where(Delivery.message_id == item.message_id)) == "pending"
        assert s.scalar(select(TrainingExample.answer)) == "Yes, we cover Irvine for parties of 200."
        assert [a.action for a in history(s, "review_item", item_id)] == ["review.approve"]
    assert any("queue is empty" in s.value for s in at.success)


def test_reject_needs_a_reason_and_shows_the_error(app_db, session, settings):
    item_id = seed_held_draft(session, settings)
    at = page("review", token_for(app_db, "admin")).run()
    button(at, "Reject").click().run()
    assert not at.exception
    assert "Reject failed" in at.error[0].value and "reason" in at.error[0].value
    next(t for t in at.text_input if t.label == "Why is it wrong?").input("wrong city")
    button(at, "Reject").click().run()
    with app_db.session() as s:
        assert s.get(ReviewItem, item_id).status == "rejected"


def _item(at):  # noqa: ANN001, ANN202 - AppTest and its selectbox
    return next(b for b in at.selectbox if b.label == "Item")


def _metric(at, label: str) -> str:  # noqa: ANN001 - AppTest
    return next(m.value for m in at.metric if m.label == label)


def test_a_decision_keeps_the_position_and_the_counts_are_true(app_db, session):
    items = seed_review_items(session, 8)
    at = page("review", token_for(app_db, "reviewer", "rita")).run()
    assert _metric(at, "Answers to review") == "8" and _metric(at, "Open, matching the filters") == "8"
    _item(at).select(items[2]).run()
    button(at, "Approve").click().run()
    assert not at.exception
    assert _item(at).value == items[3]  # the next item, not back to the first
    assert _metric(at, "Answers to review") == "7" and _metric(at, "Decided") == "1"
    with app_db.session() as s:
        assert s.get(ReviewItem, items[2]).status == "approved"


def test_filters_by_reason_and_channel_and_pages(app_db, session):
    items = seed_review_items(session, 30)
    at = page("review", token_for(app_db, "admin")).run()
    assert any("Items 1–25 of 30" in c.value for c in at.caption)
    next(n for n in at.number_input if n.label.startswith("Page")).set_value(2).run()
    assert any("Items 26–30 of 30" in c.value for c in at.caption)
    assert _item(at).value in items[25:]
    next(b for b in at.selectbox if b.label == "Reason").select("low_confidence").run()
    assert _metric(at, "Open, matching the filters") == "15"  # sms and instagram: half
    assert "Low confidence" in _item(at).format_func(_item(at).value)
    next(b for b in at.selectbox if b.label == "Channel").select("sms").run()
    assert _metric(at, "Open, matching the filters") == "8" and _metric(at, "Answers to review") == "30"
    at.session_state["filter_channel"] = "email"  # the sidebar's channel narrows the queue too
    at.run()
    assert _metric(at, "Open, matching the filters") == "0"
    assert any("queue is empty for these filters" in s.value for s in at.success)
