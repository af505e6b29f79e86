"""core.feedback.links: signed vote links, the widget's signature and the e-mail footer."""

from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import func, select

from core.feedback import links, votes
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Feedback
from core.platform.signing import ExpiredSignature, InvalidSignature
from tests.factories import ANSWERED_AT as T0
from tests.factories import make_answer


def _sig(settings, msg_id, vote, clock=None, voter="cust@example.com"):
    return links.sign_vote(settings, msg_id, voter, vote, clock)


def test_a_link_allows_its_own_vote_for_its_own_voter(session, settings):
    clock = FixedClock(T0)
    conv, _, ans = make_answer(session)
    check = links.check_link(session, settings, ans.id, "up", _sig(settings, ans.id, "up", clock), clock)
    assert (check.message_id, check.conversation_id, check.voter, check.vote) == (
        ans.id, conv.id, "cust@example.com", "up",
    )
    assert check.expires_at > T0
    with pytest.raises(ValidationError):
        links.sign_vote(settings, ans.id, "cust@example.com", "sideways")
    with pytest.raises(ValidationError):
        links.check_link(session, settings, ans.id, "sideways", "x.y")


def test_forged_altered_and_expired_links_record_nothing(session, settings):
    clock = FixedClock(T0)
    _, _, ans = make_answer(session)
    _, _, other = make_answer(session, user="someone@example.com")
    up = _sig(settings, ans.id, "up", clock)
    with pytest.raises(InvalidSignature):  # vote altered
        votes.vote_with_signature(session, settings, ans.id, "down", up, clock=clock)
    with pytest.raises(InvalidSignature):  # id altered
        votes.vote_with_signature(session, settings, other.id, "up", up, clock=clock)
    with pytest.raises(InvalidSignature):  # signed with another key
        forged = links.sign_vote(
            settings.model_copy(update={"secret_key": "attacker"}), ans.id, "cust@example.com", "up", clock
        )
        votes.vote_with_signature(session, settings, ans.id, "up", forged, clock=clock)
    with pytest.raises(InvalidSignature):  # garbage
        votes.vote_with_signature(session, settings, ans.id, "up", "nonsense", clock=clock)
    with pytest.raises(InvalidSignature):  # signed for another voter
        votes.vote_with_signature(
            session, settings, ans.id, "up", _sig(settings, ans.id, "up", clock, voter="mallory"), clock=clock
        )
    clock.advance(days=settings.feedback_link_days, seconds=1)
    with pytest.raises(ExpiredSignature):
        links.check_link(session, settings, ans.id, "up", up, clock)
    with pytest.raises(ExpiredSignature):
        votes.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    assert session.scalar(select(func.count()).select_from(Feedback)) == 0


def test_unknown_messages_and_questions_take_no_link(session, settings):
    _, q, ans = make_answer(session)
    with pytest.raises(NotFound):
        links.check_link(session, settings, ans.id + 1000, "up", "x.y")
    with pytest.raises(NotFound):  # a question is no answer to vote on
        links.widget_signature(session, settings, q.id)


def test_widget_signature_allows_either_vote(session, settings):
    _, _, ans = make_answer(session, channel="web", user="visitor-123456")
    sig = links.widget_signature(session, settings, ans.id)
    assert links.check_link(session, settings, ans.id, "down", sig).vote == links.ANY_VOTE
    assert votes.vote_with_signature(session, settings, ans.id, "down", sig).changed
    r = votes.vote_with_signature(session, settings, ans.id, "up", sig)
    assert r.previous == "down"
    assert session.scalar(select(Feedback.source)) == "widget"


def test_email_footer_has_working_signed_links(session, settings):
    _, _, ans = make_answer(session)
    footer = links.email_footer(ans.id, session=session, settings=settings)
    assert "Was this response helpful?" in footer.html and "Was this response helpful?" in footer.text
    assert footer.up_url in footer.text and footer.down_url in footer.text
    assert footer.up_url.startswith(settings.public_base_url + links.FEEDBACK_PATH + "?id=")
    q = parse_qs(urlparse(footer.down_url).query)
    assert q["vote"] == ["down"]
    votes.vote_with_signature(session, settings, int(q["id"][0]), "down", q["sig"][0])
    assert session.scalar(select(Feedback.vote)) == "down"
    assert session.scalar(select(Feedback.source)) == "email"
    # without a session it reads the configured database
    again = links.email_footer(ans.id, settings=settings)
    assert "&#128077;" in again.html
    with pytest.raises(NotFound):
        links.email_footer(ans.id + 99, settings=settings)
