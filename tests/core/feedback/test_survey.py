"""core.feedback.survey: the survey e-mail once per conversation, signed tokens, one answer.

What follows an answer (CSAT, chunk credit, review queue) is tested with ``core.learning.loop``."""

import re

import pytest
from sqlalchemy import select

from core.feedback import survey
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock
from core.platform.errors import Conflict, PermissionDenied, ValidationError
from core.platform.models import ConversationOutcome, ReviewItem, Survey
from core.platform.notify import Notifier
from core.platform.signing import ExpiredSignature, InvalidSignature
from tests.factories import ANSWERED_AT as T0
from tests.factories import REVIEWER, VIEWER, make_answer
from tests.smtp import free_port


def _notifier(settings, port):
    s = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_timeout_s": 5,
            "smtp_sender": "Grill Crew <hello@example.com>",
            "notify_retries": 2,
        }
    )
    return Notifier(s, sleep=lambda _s: None)


def _token_from(msg) -> str:
    text = msg.get_body(("plain",)).get_content()
    return re.search(r"/survey/(\S+)", text).group(1)


def test_survey_email_arrives_and_its_answer_is_stored_once(session, settings, smtp):
    inbox, port = smtp
    clock = FixedClock(T0)
    conv, _, ans = make_answer(session)
    notifier = _notifier(settings, port)
    s = survey.send_survey(session, conv.id, notifier, settings, actor=SYSTEM, clock=clock)
    assert s.status == "sent" and s.attempts == 1
    again = survey.send_survey(session, conv.id, notifier, settings, actor=REVIEWER, clock=clock)
    assert again.id == s.id and len(inbox.messages) == 1  # once per conversation
    rcpts, msg = inbox.messages[0]
    assert rcpts == ["cust@example.com"] and "How did we do?" in msg["Subject"]
    token = _token_from(msg)
    assert f"{settings.public_base_url}/survey/{token}" in msg.get_body(("plain",)).get_content()
    assert "?score=5" in msg.get_body(("html",)).get_content()
    assert survey.check_token(session, settings, token, clock).id == s.id

    answered = survey.answer_survey(session, settings, token, 2, "The chef was late", clock=clock)
    assert answered.status == "answered" and answered.csat == 2 and answered.comment == "The chef was late"
    # the answer only: its CSAT and the review queue are the learning loop's
    assert session.get(ConversationOutcome, conv.id).csat is None
    assert session.scalar(select(ReviewItem.id)) is None
    with pytest.raises(Conflict):
        survey.answer_survey(session, settings, token, 5, clock=clock)


def test_a_viewer_cannot_send_a_survey(session, settings):
    conv, _, _ = make_answer(session)
    with pytest.raises(PermissionDenied):
        survey.send_survey(session, conv.id, _notifier(settings, free_port()), settings, actor=VIEWER)
    assert session.scalar(select(Survey.id)) is None


def test_forged_altered_and_expired_survey_tokens(session, settings):
    clock = FixedClock(T0)
    conv, _, _ = make_answer(session)
    other, _, _ = make_answer(session, user="other@example.com")
    session.add_all(
        [Survey(conversation_id=conv.id, status="sent"), Survey(conversation_id=other.id, status="sent")]
    )
    session.flush()
    token = survey.make_token(settings, conv.id, clock)
    with pytest.raises(InvalidSignature):
        survey.answer_survey(
            session, settings, token.replace(f"{conv.id}.", f"{other.id}.", 1), 5, clock=clock
        )
    with pytest.raises(InvalidSignature):
        survey.answer_survey(session, settings, "garbage", 5, clock=clock)
    with pytest.raises(ValidationError):
        survey.answer_survey(session, settings, token, 6, clock=clock)
    with pytest.raises(ValidationError):
        survey.answer_survey(session, settings, token, 5, "x" * 2001, clock=clock)
    clock.advance(days=settings.survey_link_days + 1)
    with pytest.raises(ExpiredSignature):
        survey.answer_survey(session, settings, token, 5, clock=clock)
    assert session.scalar(select(Survey.csat).where(Survey.conversation_id == conv.id)) is None


def test_failed_send_is_recorded_and_can_be_sent_again(session, settings, smtp):
    inbox, port = smtp
    conv, _, _ = make_answer(session)
    dead = _notifier(settings, free_port())  # nothing listens there
    s = survey.send_survey(session, conv.id, dead, settings, actor=SYSTEM)
    assert s.status == "failed" and "failed after 2 attempt" in s.last_error and s.attempts == 1
    s = survey.send_survey(session, conv.id, _notifier(settings, port), settings, actor=SYSTEM)
    assert s.status == "sent" and s.attempts == 2 and s.last_error is None and len(inbox.messages) == 1


def test_survey_needs_an_address(session, settings, smtp):
    _, port = smtp
    conv, _, _ = make_answer(session, channel="sms", user="+15550100")
    with pytest.raises(ValidationError):
        survey.send_survey(session, conv.id, _notifier(settings, port), settings, actor=SYSTEM)
    s = survey.send_survey(
        session, conv.id, _notifier(settings, port), settings, actor=SYSTEM, email="guest@example.com"
    )
    assert s.status == "sent"
