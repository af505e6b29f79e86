"""Signed feedback links: signatures, public URLs, the e-mail footer and link checks.

A vote comes from a link in an e-mail footer or from the chat widget. Links are signed
(``core.platform.signing``) over the message id, the voter (the conversation's user), the vote and
an expiry, with the signing secret (``core.platform.secrets``): a forged, altered or expired link
is refused and nothing is recorded. The widget gets a signature over ``vote="*"``
(:data:`ANY_VOTE`) that allows either vote.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from core.feedback.target import vote_target
from core.platform import signing
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings, get_settings
from core.platform.db import make_engine, session_factory, session_scope
from core.platform.errors import ValidationError
from core.platform.secrets import signing_secret, verification_secrets
from core.platform.statuses import Vote

PURPOSE = "feedback"
ANY_VOTE = "*"
FEEDBACK_PATH = "/api/v1/ai/feedback"
MAX_ID = 2**31 - 1  # ids are 32-bit integers in PostgreSQL
_ID = re.compile(r"[0-9]{1,10}")


def parse_id(text: str | None, maximum: int = MAX_ID) -> int | None:
    """The positive id (at most ``maximum``) ``text`` writes in ASCII digits, else None.

    ``str.isdigit`` is not enough: it accepts superscripts and other scripts' digits ("¹", "٣"),
    which ``int`` then refuses or reads as a number the link never held."""
    if not isinstance(text, str) or not _ID.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= maximum else None


@dataclass
class Footer:
    """The feedback footer of one e-mail reply."""

    html: str
    text: str
    up_url: str
    down_url: str


@dataclass
class LinkCheck:
    """A verified feedback link: the message, its voter and the vote it allows."""

    message_id: int
    conversation_id: int
    voter: str
    vote: str  # "up", "down" or "*" (widget: either)
    expires_at: dt.datetime


def check_vote(vote: str) -> None:
    """ValidationError unless ``vote`` is up or down."""
    if vote not in tuple(Vote):
        raise ValidationError(f"Vote must be 'up' or 'down', got {vote!r}.")


def sign_vote(settings: Settings, message_id: int, voter: str, vote: str, clock: Clock | None = None) -> str:
    """The signature of a feedback link (``vote`` is up, down, or ``*`` for either)."""
    if vote != ANY_VOTE:
        check_vote(vote)
    expires = (clock or SystemClock()).now() + dt.timedelta(days=settings.feedback_link_days)
    return signing.sign(signing_secret(settings), PURPOSE, [message_id, voter, vote], expires)


def widget_signature(
    session: Session, settings: Settings, message_id: int, clock: Clock | None = None
) -> str:
    """A signature that lets the chat widget vote either way on ``message_id``."""
    return sign_vote(settings, message_id, vote_target(session, message_id).owner, ANY_VOTE, clock)


def feedback_url(settings: Settings, message_id: int, vote: str, sig: str) -> str:
    """The public URL of a signed feedback link."""
    query = urlencode({"id": message_id, "vote": vote, "sig": sig})
    return f"{settings.public_base_url.rstrip('/')}{FEEDBACK_PATH}?{query}"


def verify_signature(
    settings: Settings, message_id: int, voter: str, vote: str, sig: str, clock: Clock | None = None
) -> tuple[dt.datetime, str]:
    """(expiry, allowed vote) of a valid signature: ``vote`` for an e-mail link, ``*`` for the
    widget's. Raises InvalidSignature (forged or altered) or ExpiredSignature."""
    now = (clock or SystemClock()).now()
    keys = verification_secrets(settings)  # current, then those kept after a rotation
    try:
        return signing.verify(keys, PURPOSE, [message_id, voter, vote], sig, now), vote
    except signing.ExpiredSignature:
        raise
    except signing.InvalidSignature:
        exp = signing.verify(keys, PURPOSE, [message_id, voter, ANY_VOTE], sig, now)
        return exp, ANY_VOTE


def check_link(
    session: Session,
    settings: Settings,
    message_id: int,
    vote: str,
    sig: str,
    clock: Clock | None = None,
) -> LinkCheck:
    """Verify a signed vote: raises NotFound (unknown message), InvalidSignature (forged or
    altered) or ExpiredSignature; returns who may vote what."""
    check_vote(vote)
    target = vote_target(session, message_id)
    exp, allowed = verify_signature(settings, message_id, target.owner, vote, sig, clock)
    return LinkCheck(message_id, target.conversation_id, target.owner, allowed, exp)


def email_footer(
    message_id: int,
    *,
    session: Session | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> Footer:
    """HTML and plain-text "Was this response helpful?" snippets with signed thumbs links
    for an assistant message. Without ``session`` it reads the configured database."""
    settings = settings or get_settings()
    if session is None:
        engine = make_engine(settings.database_url)
        try:
            with session_scope(session_factory(engine)) as s:
                return email_footer(message_id, session=s, settings=settings, clock=clock)
        finally:
            engine.dispose()
    voter = vote_target(session, message_id).owner
    up = feedback_url(settings, message_id, Vote.UP, sign_vote(settings, message_id, voter, Vote.UP, clock))
    down = feedback_url(
        settings, message_id, Vote.DOWN, sign_vote(settings, message_id, voter, Vote.DOWN, clock)
    )
    eu, ed = html.escape(up, quote=True), html.escape(down, quote=True)
    html_part = (
        '<table role="presentation" style="margin-top:24px;border-top:1px solid #ddd;padding-top:12px;'
        'font-family:Arial,sans-serif;font-size:14px;color:#444"><tr><td>'
        "Was this response helpful?&nbsp;&nbsp;"
        f'<a href="{eu}" style="text-decoration:none" title="Yes, helpful">&#128077; Yes</a>'
        "&nbsp;&nbsp;"
        f'<a href="{ed}" style="text-decoration:none" title="No, not helpful">&#128078; No</a>'
        "</td></tr></table>"
    )
    text_part = f"--\nWas this response helpful?\nYes: {up}\nNo: {down}\n"
    return Footer(html=html_part, text=text_part, up_url=up, down_url=down)
