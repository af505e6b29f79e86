from sqlalchemy import select

from core.platform.audit import history
from core.platform.models import Delivery, ReviewItem, TrainingExample
from tests.factories.dashboard import button, page, refused, seed_held_draft, token_for


def test_anonymous_and_viewers_are_refused(app_db, session, settings):
    seed_held_draft(session, settings)
    assert refused(page("review").run())
    at = page("review", token_for(app_db, "viewer")).run()
    assert not at.exception and refused(at)


def test_reviewer_approves_a_held_draft_first_in_line(app_db, session, settings):
    item_id = seed_held_draft(session, settings)
    at = page("review", token_for(app_db, "reviewer", "rita")).run()
    assert not at.exception
    assert at.selectbox[0].value == item_id
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
