"""The post-booking survey: one CSAT (1-5) question and a comment, once per conversation.

When a booking is recorded the customer gets an e-mail (``core.platform.notify``) with a signed link
to ``/survey/{token}``; the token carries the conversation id and an expiry, signed with
the signing secret (``core.platform.secrets``). The answer is stored once (a second answer is a
Conflict). What follows an answer (the conversation's CSAT, the credit of the chunks its
answers used, the review queue for a low score) is ``core.learning.loop``'s job: answers are recorded through
``core.learning.loop.answer_survey``.
"""

from __future__ import annotations

import datetime as dt
import html

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.feedback.links import parse_id
from core.platform import signing
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, ProviderError, ValidationError
from core.platform.models import Conversation, Survey
from core.platform.notify import validate_address
from core.platform.pii import get_scrubber
from core.platform.secrets import signing_secret, verification_secrets
from core.platform.services import Notifier, Scrubber
from core.platform.statuses import Channel, SurveyStatus

PURPOSE = "survey"
MAX_COMMENT_CHARS = 2000


def make_token(settings: Settings, conversation_id: int, clock: Clock | None = None) -> str:
    """``<conversation id>.<signature>`` for a survey link."""
    expires = (clock or SystemClock()).now() + dt.timedelta(days=settings.survey_link_days)
    return f"{conversation_id}.{signing.sign(signing_secret(settings), PURPOSE, [conversation_id], expires)}"


def survey_url(settings: Settings, conversation_id: int, clock: Clock | None = None) -> str:
    """The public link to the survey of a conversation."""
    return f"{settings.public_base_url.rstrip('/')}/survey/{make_token(settings, conversation_id, clock)}"


def check_token(session: Session, settings: Settings, token: str, clock: Clock | None = None) -> Survey:
    """The survey a token opens; InvalidSignature / ExpiredSignature / NotFound otherwise."""
    head, _, sig = (token or "").partition(".")
    cid = parse_id(head)  # ASCII digits only
    if cid is None:
        raise signing.InvalidSignature("This survey link is not valid; use the link exactly as it was sent.")
    signing.verify(verification_secrets(settings), PURPOSE, [cid], sig, (clock or SystemClock()).now())
    survey = session.scalar(select(Survey).where(Survey.conversation_id == cid))
    if survey is None:
        raise NotFound("This survey does not exist (any more).")
    return survey


def customer_email(conv: Conversation, email: str | None = None) -> str | None:
    """Where the survey goes: the given address, the conversation's metadata, or its user id."""
    meta = conv.channel_metadata or {}
    by_email = conv.external_user_id if conv.channel == Channel.EMAIL else None
    for candidate in (email, meta.get("email"), by_email):
        if candidate:
            try:
                return validate_address(str(candidate), "customer address")
            except ValidationError:
                if candidate is email:
                    raise
    return None


def _email(settings: Settings, conv_id: int, clock) -> tuple[str, str, str]:
    url = survey_url(settings, conv_id, clock)
    subject = "How did we do? One quick question about your booking"
    text = (
        "Thank you for your booking!\n\n"
        "How satisfied are you with the help you got, from 1 (not at all) to 5 (very)?\n"
        f"Answer here (it takes ten seconds): {url}\n"
    )
    links = " ".join(
        f'<a href="{html.escape(url, quote=True)}?score={n}" style="display:inline-block;padding:8px 12px;'
        f'margin:2px;border:1px solid #ccc;border-radius:4px;text-decoration:none">{n}</a>'
        for n in range(1, 6)
    )
    body = (
        "<p>Thank you for your booking!</p><p>How satisfied are you with the help you got, from 1 "
        f"(not at all) to 5 (very)?</p><p>{links}</p>"
        f'<p><a href="{html.escape(url, quote=True)}">Open the survey</a></p>'
    )
    return subject, text, body


def send_survey(
    session: Session,
    conversation_id: int,
    notifier: Notifier,
    settings: Settings,
    *,
    actor: Actor,
    email: str | None = None,
    clock: Clock | None = None,
) -> Survey:
    """Send the survey e-mail of a conversation, once (``actor`` needs the review right; the
    booking system acts as ``SYSTEM``). A survey already sent or answered is returned
    unchanged; a failed send is recorded (status ``failed``, the error) and can be sent again.
    Raises ValidationError when there is no customer e-mail address."""
    require(actor, "review")
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    now = (clock or SystemClock()).now()
    survey = session.scalar(select(Survey).where(Survey.conversation_id == conversation_id))
    if survey is not None and survey.status in (SurveyStatus.SENT, SurveyStatus.ANSWERED):
        return survey
    address = customer_email(conv, email)
    if address is None:
        raise ValidationError(
            f"Conversation {conversation_id} has no customer e-mail address; pass 'email' to send the survey."
        )
    if survey is None:
        survey = Survey(
            conversation_id=conversation_id, status=SurveyStatus.PENDING, attempts=0, created_at=now
        )
        session.add(survey)
        session.flush()
    subject, text, body = _email(settings, conversation_id, clock)
    survey.attempts = (survey.attempts or 0) + 1
    try:
        notifier.send_email(address, subject, text, html=body)
    except ProviderError as exc:
        # provider errors quote the customer's address: the stored error is scrubbed
        survey.status = SurveyStatus.FAILED
        survey.last_error = get_scrubber(settings).scrub(str(exc)[:2000]).text
    else:
        survey.status, survey.sent_at, survey.last_error = SurveyStatus.SENT, now, None
    session.flush()
    return survey


def answer_survey(
    session: Session,
    settings: Settings,
    token: str,
    csat: int,
    comment: str | None = None,
    *,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> Survey:
    """Store the customer's answer once (Conflict when already answered). The reactions to it
    (CSAT, chunk credit, review queue) are ``core.learning.loop.answer_survey``'s."""
    if isinstance(csat, bool) or not isinstance(csat, int) or not 1 <= csat <= 5:
        raise ValidationError(f"The score must be a whole number from 1 to 5, got {csat!r}.")
    if comment is not None:
        comment = comment.strip() or None
        if comment and len(comment) > MAX_COMMENT_CHARS:
            raise ValidationError(
                f"The comment is {len(comment)} characters; the limit is {MAX_COMMENT_CHARS}."
            )
        if comment:  # free text: always scrubbed
            comment = (scrubber or get_scrubber()).scrub(comment).text
    survey = check_token(session, settings, token, clock)
    now = (clock or SystemClock()).now()
    # Conditional update: of two concurrent answers exactly one wins.
    res = session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.status != SurveyStatus.ANSWERED)
        .values(status=SurveyStatus.ANSWERED, csat=csat, comment=comment, answered_at=now)
        .execution_options(synchronize_session=False)
    )
    if res.rowcount != 1:
        raise Conflict("This survey was already answered; thank you!")
    session.refresh(survey)
    return survey
