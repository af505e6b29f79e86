"""Customer feedback: thumbs votes on assistant messages, signed links and the e-mail footer.

A vote comes from a link in an e-mail footer or from the chat widget. Links are signed
(``core.signing``) over the message id, the voter (the conversation's user), the vote and
an expiry, with ``settings.secret_key``: a forged, altered or expired link is refused and
nothing is recorded. The widget gets a signature over ``vote="*"`` that allows either vote.

One vote per message per voter (a unique index): voting again changes the vote, replaying
the same vote changes nothing, and the conversation's down-vote count is recounted from the
votes (never incremented), so nothing is double-counted. Votes on one conversation are
serialised by a row lock (PostgreSQL) or the write lock (SQLite), so concurrent votes are
safe. A vote also updates the chunks that answered the message (``core.knowledge``), the
conversation outcome (``core.outcomes``) and, for a down vote, the review queue.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from core import outcomes, signing
from core.clock import Clock, SystemClock
from core.config import Settings
from core.errors import NotFound, ValidationError
from core.models import VOTES, Conversation, ConversationOutcome, Feedback, Message

PURPOSE = "feedback"
ANY_VOTE = "*"
MAX_COMMENT_CHARS = 2000
FEEDBACK_PATH = "/api/v1/ai/feedback"


@dataclass
class VoteResult:
    """What ``record_vote`` did: ``changed`` is False for a replay."""

    feedback_id: int
    message_id: int
    conversation_id: int
    vote: str
    previous: str | None
    changed: bool
    comment_saved: bool = False


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


# --- signing ------------------------------------------------------------------------------
def _voter_of(session: Session, message_id: int):
    """The message (id, role, conversation_id) and its voter, the conversation's user."""
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise ValidationError(f"Message id must be a whole number, got {message_id!r}.")
    if not 0 < message_id < 2**31:  # ids are 32-bit integers
        raise NotFound(f"Message {message_id} does not exist; check the link or the id.")
    row = session.execute(
        select(Message.id, Message.role, Message.conversation_id, Conversation.external_user_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id == message_id)
    ).first()
    if row is None:
        raise NotFound(f"Message {message_id} does not exist; check the link or the id.")
    if row.role != "assistant":
        raise ValidationError(f"Message {message_id} is not an assistant answer; only answers take votes.")
    return row, row.external_user_id


def sign_vote(settings: Settings, message_id: int, voter: str, vote: str, clock: Clock | None = None) -> str:
    """The signature of a feedback link (``vote`` is up, down, or ``*`` for either)."""
    if vote not in (*VOTES, ANY_VOTE):
        raise ValidationError(f"Vote must be 'up' or 'down', got {vote!r}.")
    expires = (clock or SystemClock()).now() + dt.timedelta(days=settings.feedback_link_days)
    return signing.sign(settings.secret_key, PURPOSE, [message_id, voter, vote], expires)


def widget_signature(
    session: Session, settings: Settings, message_id: int, clock: Clock | None = None
) -> str:
    """A signature that lets the chat widget vote either way on ``message_id``."""
    _, voter = _voter_of(session, message_id)
    return sign_vote(settings, message_id, voter, ANY_VOTE, clock)


def feedback_url(settings: Settings, message_id: int, vote: str, sig: str) -> str:
    """The public URL of a signed feedback link."""
    query = urlencode({"id": message_id, "vote": vote, "sig": sig})
    return f"{settings.public_base_url.rstrip('/')}{FEEDBACK_PATH}?{query}"


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
    if vote not in VOTES:
        raise ValidationError(f"Vote must be 'up' or 'down', got {vote!r}.")
    message, voter = _voter_of(session, message_id)
    now = (clock or SystemClock()).now()
    try:
        exp = signing.verify(settings.secret_key, PURPOSE, [message_id, voter, vote], sig, now)
        allowed = vote
    except signing.ExpiredSignature:
        raise
    except signing.InvalidSignature:
        exp = signing.verify(settings.secret_key, PURPOSE, [message_id, voter, ANY_VOTE], sig, now)
        allowed = ANY_VOTE
    return LinkCheck(message.id, message.conversation_id, voter, allowed, exp)


# --- votes --------------------------------------------------------------------------------
def _upsert(session: Session, values: dict, comment_given: bool):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(Feedback).values(**values)
    set_ = {
        "vote": stmt.excluded.vote,
        "source": stmt.excluded.source,
        "updated_at": stmt.excluded.updated_at,
    }
    if comment_given:
        set_["comment"] = stmt.excluded.comment
    return stmt.on_conflict_do_update(index_elements=["message_id", "voter"], set_=set_)


def record_vote(
    session: Session,
    message_id: int,
    vote: str,
    voter: str,
    *,
    source: str = "api",
    comment: str | None = None,
    scrubber=None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Record ``voter``'s vote on an assistant message (the caller commits).

    A repeated identical vote changes nothing (``changed=False``); a different vote replaces
    the earlier one. ``comment`` (optional, scrubbed with ``scrubber`` before it is stored)
    is attached to the vote. Keeps the conversation's down-vote count, the outcome, the
    chunk performance and the review queue current.
    """
    if vote not in VOTES:
        raise ValidationError(f"Vote must be 'up' or 'down', got {vote!r}.")
    if not isinstance(voter, str) or not voter.strip() or len(voter) > 200:
        raise ValidationError("A vote needs a voter id (1-200 characters).")
    if comment is not None:
        comment = comment.strip()
        if len(comment) > MAX_COMMENT_CHARS:
            raise ValidationError(
                f"The comment is {len(comment)} characters; the limit is {MAX_COMMENT_CHARS}."
            )
        if not comment:
            comment = None
        elif scrubber is not None:
            comment = scrubber.scrub(comment).text
    message, _ = _voter_of(session, message_id)
    now = (clock or SystemClock()).now()
    cid = message.conversation_id
    mine = (Feedback.message_id == message_id) & (Feedback.voter == voter)
    if comment is None:
        same = session.execute(select(Feedback.id, Feedback.vote).where(mine)).first()
        if same is not None and same.vote == vote:  # a replay: no write at all
            return VoteResult(same.id, message_id, cid, vote, vote, changed=False)

    # Serialise votes on this conversation: a row lock on PostgreSQL, the database write
    # lock on SQLite (this is the transaction's first write, so no stale snapshot is upgraded).
    session.execute(
        update(Conversation).where(Conversation.id == cid).values(updated_at=Conversation.updated_at)
    )
    prev = session.execute(select(Feedback.id, Feedback.vote, Feedback.comment).where(mine)).first()
    previous = prev.vote if prev else None
    if prev is not None and prev.vote == vote and (comment is None or comment == prev.comment):
        return VoteResult(prev.id, message_id, cid, vote, previous, changed=False)

    values = {
        "message_id": message_id,
        "conversation_id": cid,
        "voter": voter,
        "vote": vote,
        "source": source,
        "comment": comment,
        "created_at": now,
        "updated_at": now,
    }
    fid = session.scalar(_upsert(session, values, comment_given=comment is not None).returning(Feedback.id))
    if previous != vote:
        _after_vote_change(session, message, previous, vote, settings, clock)
    return VoteResult(
        fid, message_id, cid, vote, previous, changed=previous != vote, comment_saved=comment is not None
    )


def _after_vote_change(
    session: Session, message: Message, previous: str | None, vote: str, settings, clock: Clock | None
) -> None:
    cid = message.conversation_id
    if "down" in (previous, vote):  # the down-vote count changed: recount it (never increment)
        downs = session.scalar(
            select(func.count())
            .select_from(Feedback)
            .where(Feedback.conversation_id == cid, Feedback.vote == "down")
        )
        outcomes.set_down_votes(session, cid, int(downs or 0), clock)
    _update_chunks(session, message.id, previous, vote, settings, clock)
    if vote == "down":
        from core import review

        review.flag_message(session, message.id, "down_vote", clock=clock)


def _update_chunks(
    session: Session, message_id: int, previous: str | None, vote: str, settings, clock
) -> None:
    """Tell the knowledge base how the chunks behind this answer did (once per voter)."""
    from core import knowledge

    if previous is None:
        knowledge.record_chunk_feedback(session, message_id, rating=vote, settings=settings, clock=clock)
    else:
        knowledge.change_chunk_feedback(
            session, message_id, previous=previous, rating=vote, settings=settings, clock=clock
        )


def add_comment(
    session: Session,
    message_id: int,
    voter: str,
    comment: str,
    scrubber=None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Attach a comment to ``voter``'s existing vote on a message (the thank-you page's box)."""
    current = session.scalar(
        select(Feedback.vote).where(Feedback.message_id == message_id, Feedback.voter == voter)
    )
    if current is None:
        raise NotFound(f"There is no vote on message {message_id} to comment on; vote first.")
    if not comment or not comment.strip():
        raise ValidationError("The comment is empty.")
    return record_vote(
        session,
        message_id,
        current,
        voter,
        source="email",
        comment=comment,
        scrubber=scrubber,
        settings=settings,
        clock=clock,
    )


def vote_with_signature(
    session: Session,
    settings: Settings,
    message_id: int,
    vote: str,
    sig: str,
    *,
    comment: str | None = None,
    scrubber=None,
    clock: Clock | None = None,
) -> VoteResult:
    """Verify a signed link (e-mail or widget) and record its vote; nothing is recorded
    when the signature is forged, altered or expired."""
    link = check_link(session, settings, message_id, vote, sig, clock)
    source = "widget" if link.vote == ANY_VOTE else "email"
    return record_vote(
        session,
        message_id,
        vote,
        link.voter,
        source=source,
        comment=comment,
        scrubber=scrubber,
        settings=settings,
        clock=clock,
    )


def current_vote(session: Session, message_id: int, voter: str) -> str | None:
    """The voter's current vote on a message, if any."""
    return session.scalar(
        select(Feedback.vote).where(Feedback.message_id == message_id, Feedback.voter == voter)
    )


# --- e-mail footer --------------------------------------------------------------------------
def email_footer(
    message_id: int,
    *,
    session: Session | None = None,
    settings: Settings | None = None,
    clock: Clock | None = None,
) -> Footer:
    """HTML and plain-text "Was this response helpful?" snippets with signed thumbs links
    for an assistant message. Without ``session`` it reads the configured database."""
    from core.config import get_settings

    settings = settings or get_settings()
    if session is None:
        from core.db import make_engine, session_factory, session_scope

        engine = make_engine(settings.database_url)
        try:
            with session_scope(session_factory(engine)) as s:
                return email_footer(message_id, session=s, settings=settings, clock=clock)
        finally:
            engine.dispose()
    _, voter = _voter_of(session, message_id)
    up = feedback_url(settings, message_id, "up", sign_vote(settings, message_id, voter, "up", clock))
    down = feedback_url(settings, message_id, "down", sign_vote(settings, message_id, voter, "down", clock))
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


# --- stats ----------------------------------------------------------------------------------
def feedback_stats(session: Session, days: int = 7, clock: Clock | None = None) -> dict:
    """Votes up/down, feedback rate, CSAT average and distribution, overall and by channel,
    for conversations started in the last ``days`` days.

    Feedback rate = conversations with any vote or a CSAT / conversations.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise ValidationError(f"days must be a whole number from 1 to 3650, got {days!r}.")
    since = (clock or SystemClock()).now() - dt.timedelta(days=days)
    votes = (
        select(
            Feedback.conversation_id.label("cid"),
            func.sum(case((Feedback.vote == "up", 1), else_=0)).label("up"),
            func.sum(case((Feedback.vote == "down", 1), else_=0)).label("down"),
        )
        .group_by(Feedback.conversation_id)
        .subquery()
    )
    q = (
        select(Conversation.channel, votes.c.up, votes.c.down, ConversationOutcome.csat)
        .outerjoin(votes, votes.c.cid == Conversation.id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Conversation.created_at >= since)
    )
    groups: dict[str, dict] = {}

    def blank() -> dict:
        return {
            "conversations": 0,
            "with_feedback": 0,
            "votes_up": 0,
            "votes_down": 0,
            "csat_count": 0,
            "csat_sum": 0,
            "csat_distribution": {str(i): 0 for i in range(1, 6)},
        }

    total = blank()
    for channel, up, down, csat in session.execute(q):
        for g in (total, groups.setdefault(channel, blank())):
            g["conversations"] += 1
            g["votes_up"] += int(up or 0)
            g["votes_down"] += int(down or 0)
            if (up or down) or csat is not None:
                g["with_feedback"] += 1
            if csat is not None:
                g["csat_count"] += 1
                g["csat_sum"] += csat
                g["csat_distribution"][str(csat)] += 1

    def finish(g: dict) -> dict:
        n = g.pop("conversations")
        with_fb = g.pop("with_feedback")
        cnt, sm = g.pop("csat_count"), g.pop("csat_sum")
        return {
            "conversations": n,
            "conversations_with_feedback": with_fb,
            "votes_up": g["votes_up"],
            "votes_down": g["votes_down"],
            "feedback_rate": round(with_fb / n, 4) if n else 0.0,
            "csat_average": round(sm / cnt, 3) if cnt else None,
            "csat_responses": cnt,
            "csat_distribution": g["csat_distribution"],
        }

    return {
        "days": days,
        "since": since,
        **finish(total),
        "by_channel": {ch: finish(g) for ch, g in sorted(groups.items())},
    }


__all__ = [
    "ANY_VOTE",
    "Footer",
    "LinkCheck",
    "VoteResult",
    "add_comment",
    "check_link",
    "current_vote",
    "email_footer",
    "feedback_stats",
    "feedback_url",
    "record_vote",
    "sign_vote",
    "vote_with_signature",
    "widget_signature",
]
