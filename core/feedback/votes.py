"""Customer feedback: thumbs votes on assistant messages, signed links and the e-mail footer.

A vote comes from a link in an e-mail footer or from the chat widget. Links are signed
(``core.platform.signing``) over the message id, the voter (the conversation's user), the vote and
an expiry, with ``settings.secret_key``: a forged, altered or expired link is refused and
nothing is recorded. The widget gets a signature over ``vote="*"`` that allows either vote.

One vote per message per voter (a unique index): voting again changes the vote, replaying
the same vote changes nothing, and the conversation's down-vote count is recounted from the
votes (never incremented), so nothing is double-counted. A vote also updates the chunks that
answered the message (``core.knowledge.scoring``), the conversation outcome
(``core.conversations.outcomes``) and, for a down vote, the review queue.

The vote path is the hottest write of the public API, so it is written with SQLAlchemy Core
statements built once: one SELECT reads the message, its voter, the current vote and whether
the answer used KB chunks; a replay stops there. A first vote is one ``INSERT ... ON CONFLICT
DO NOTHING``, a changed vote one ``UPDATE ... WHERE vote <> new`` (both atomic per row, so two
concurrent requests cannot both count); only a vote that changed touches the outcome, the
chunks and the review queue. The down-vote recount runs under a lock on the conversation's
outcome row (PostgreSQL ``SELECT ... FOR UPDATE``; on SQLite the vote's write already holds
the database write lock), so concurrent votes on one conversation never lose a count.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from core.conversations import outcomes
from core.platform import signing
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import NotFound, ValidationError
from core.platform.models import (
    VOTES,
    Chunk,
    Conversation,
    ConversationOutcome,
    Feedback,
    Message,
    MessageChunk,
)

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


# --- statements (built once; SQLAlchemy caches their compiled form) ------------------------
_MSG = Message.__table__
_CONV = Conversation.__table__
_FB = Feedback.__table__
_OUT = ConversationOutcome.__table__
_MC = MessageChunk.__table__


def _target_query(voter):
    """Everything a vote needs in one SELECT: the message's role and conversation, the
    conversation's user (the voter of signed links), ``voter``'s current vote and comment,
    and whether the answer used KB chunks."""
    used_chunks = exists().where(_MC.c.message_id == _MSG.c.id, _MC.c.used.is_(True))
    return (
        select(
            _MSG.c.role,
            _MSG.c.conversation_id,
            _CONV.c.external_user_id.label("owner"),
            _FB.c.id.label("feedback_id"),
            _FB.c.vote.label("current"),
            _FB.c.comment.label("current_comment"),
            used_chunks.label("has_chunks"),
        )
        .select_from(
            _MSG.join(_CONV, _CONV.c.id == _MSG.c.conversation_id).outerjoin(
                _FB, and_(_FB.c.message_id == _MSG.c.id, _FB.c.voter == voter)
            )
        )
        .where(_MSG.c.id == bindparam("mid"))
    )


_TARGET_OF_OWNER = _target_query(_CONV.c.external_user_id)  # signed links: the user votes
_TARGET_OF_VOTER = _target_query(bindparam("voter"))
_MINE = and_(_FB.c.message_id == bindparam("mid"), _FB.c.voter == bindparam("who"))
_CHANGE_VOTE = (
    update(_FB)
    .where(_MINE, _FB.c.vote != bindparam("new_vote"))
    .values(vote=bindparam("new_vote"), source=bindparam("new_source"), updated_at=bindparam("now"))
    .returning(_FB.c.id)
)
_SET_COMMENT = (
    update(_FB)
    .where(_MINE, or_(_FB.c.comment.is_(None), _FB.c.comment != bindparam("new_comment")))
    .values(comment=bindparam("new_comment"), source=bindparam("new_source"), updated_at=bindparam("now"))
    .returning(_FB.c.id)
)
_FEEDBACK_ID = select(_FB.c.id).where(_MINE)
_LOCK_OUTCOME = (
    select(_OUT.c.booking_converted, _OUT.c.csat, _CONV.c.status, _CONV.c.escalated_at)
    .select_from(_OUT.join(_CONV, _CONV.c.id == _OUT.c.conversation_id))
    .where(_OUT.c.conversation_id == bindparam("cid"))
    .with_for_update(of=_OUT)
)
_LOCK_CONVERSATION = (
    update(_CONV).where(_CONV.c.id == bindparam("cid")).values(updated_at=_CONV.c.updated_at)
)
_COUNT_DOWNS = (
    select(func.count())
    .select_from(_FB)
    .where(_FB.c.conversation_id == bindparam("cid"), _FB.c.vote == "down")
)
_SET_DOWNS = (
    update(_OUT)
    .where(_OUT.c.conversation_id == bindparam("cid"))
    .values(down_votes=bindparam("downs"), successful_outcome=bindparam("ok"), updated_at=bindparam("now"))
)
_CH = Chunk.__table__
_USED_CHUNKS = (  # locked in id order (PostgreSQL), so concurrent votes never deadlock on chunks
    select(_CH.c.id)
    .where(
        _CH.c.id.in_(
            select(_MC.c.chunk_id).where(_MC.c.message_id == bindparam("mid"), _MC.c.used.is_(True))
        )
    )
    .order_by(_CH.c.id)
    .with_for_update()
    .subquery("used_chunk")
)
_RATE_CHUNKS = (
    update(_CH)
    .where(_CH.c.id == _USED_CHUNKS.c.id)
    .values(
        rating_count=_CH.c.rating_count + bindparam("count_delta"),
        rating_sum=_CH.c.rating_sum + bindparam("sum_delta"),
        last_user_feedback_at=bindparam("now"),
    )
    .returning(
        _CH.c.id,
        _CH.c.times_used_in_response,
        _CH.c.times_led_to_booking,
        _CH.c.rating_count,
        _CH.c.rating_sum,
    )
)
_SET_CHUNK_SCORE = (
    update(_CH).where(_CH.c.id == bindparam("cid")).values(performance_score=bindparam("score"))
)
_INSERTS: dict[str, object] = {}


def _insert_vote(dialect: str):
    """``INSERT INTO feedback ... ON CONFLICT (message_id, voter) DO NOTHING RETURNING id``."""
    stmt = _INSERTS.get(dialect)
    if stmt is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - only the two supported databases
            raise ValidationError(f"Votes need SQLite or PostgreSQL, not {dialect}.")
        stmt = insert(_FB).on_conflict_do_nothing(index_elements=["message_id", "voter"]).returning(_FB.c.id)
        _INSERTS[dialect] = stmt
    return stmt


# --- signing ------------------------------------------------------------------------------
def _target(session: Session, message_id: int, voter: str | None = None) -> Row:
    """The vote target row of ``_target_query`` (voter None: the conversation's user).
    Raises NotFound for an unknown message, ValidationError for a message that is no answer."""
    if isinstance(message_id, bool) or not isinstance(message_id, int):
        raise ValidationError(f"Message id must be a whole number, got {message_id!r}.")
    if not 0 < message_id < 2**31:  # ids are 32-bit integers
        raise NotFound(f"Message {message_id} does not exist; check the link or the id.")
    session.flush()  # the statements below bypass the ORM's autoflush
    conn = session.connection()
    if voter is None:
        row = conn.execute(_TARGET_OF_OWNER, {"mid": message_id}).first()
    else:
        row = conn.execute(_TARGET_OF_VOTER, {"mid": message_id, "voter": voter}).first()
    if row is None:
        raise NotFound(f"Message {message_id} does not exist; check the link or the id.")
    if row.role != "assistant":
        raise ValidationError(f"Message {message_id} is not an assistant answer; only answers take votes.")
    return row


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
    return sign_vote(settings, message_id, _target(session, message_id).owner, ANY_VOTE, clock)


def feedback_url(settings: Settings, message_id: int, vote: str, sig: str) -> str:
    """The public URL of a signed feedback link."""
    query = urlencode({"id": message_id, "vote": vote, "sig": sig})
    return f"{settings.public_base_url.rstrip('/')}{FEEDBACK_PATH}?{query}"


def _verify(
    settings: Settings, message_id: int, voter: str, vote: str, sig: str, clock: Clock | None
) -> tuple[dt.datetime, str]:
    """(expiry, allowed vote) of a valid signature; raises InvalidSignature / ExpiredSignature."""
    now = (clock or SystemClock()).now()
    try:
        return signing.verify(settings.secret_key, PURPOSE, [message_id, voter, vote], sig, now), vote
    except signing.ExpiredSignature:
        raise
    except signing.InvalidSignature:
        exp = signing.verify(settings.secret_key, PURPOSE, [message_id, voter, ANY_VOTE], sig, now)
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
    if vote not in VOTES:
        raise ValidationError(f"Vote must be 'up' or 'down', got {vote!r}.")
    target = _target(session, message_id)
    exp, allowed = _verify(settings, message_id, target.owner, vote, sig, clock)
    return LinkCheck(message_id, target.conversation_id, target.owner, allowed, exp)


# --- votes --------------------------------------------------------------------------------
def _clean_comment(comment: str | None, scrubber) -> str | None:
    if comment is None:
        return None
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError(f"The comment is {len(comment)} characters; the limit is {MAX_COMMENT_CHARS}.")
    if not comment:
        return None
    return scrubber.scrub(comment).text if scrubber is not None else comment


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
    comment = _clean_comment(comment, scrubber)
    target = _target(session, message_id, voter)
    return _record(session, message_id, target, vote, voter, source, comment, settings, clock)


def _record(
    session: Session,
    message_id: int,
    target: Row,
    vote: str,
    voter: str,
    source: str,
    comment: str | None,
    settings: Settings | None,
    clock: Clock | None,
) -> VoteResult:
    cid = target.conversation_id
    if target.current == vote and (comment is None or comment == target.current_comment):
        return VoteResult(target.feedback_id, message_id, cid, vote, vote, changed=False)  # a replay
    conn = session.connection()
    now = (clock or SystemClock()).now()
    keys = {"mid": message_id, "who": voter}
    previous, fid = target.current, None
    if previous is None:  # a first vote (nothing happens if a concurrent request inserted it first)
        fid = conn.execute(
            _insert_vote(conn.dialect.name),
            {
                "message_id": message_id,
                "conversation_id": cid,
                "voter": voter,
                "vote": vote,
                "source": source,
                "comment": comment,
                "created_at": now,
                "updated_at": now,
            },
        ).scalar()
    if fid is not None:
        changed, comment_saved = True, comment is not None
    else:
        # The voter has a vote: change it only if it differs. There are two votes, so a row that
        # matched ``vote <> new`` held the other one; no match means it already was ``vote``.
        change = {**keys, "new_vote": vote, "new_source": source, "now": now}
        fid = conn.execute(_CHANGE_VOTE, change).scalar()
        changed = fid is not None
        previous = _other(vote) if changed else vote
        comment_saved = False
        if comment is not None:
            saved = conn.execute(
                _SET_COMMENT, {**keys, "new_comment": comment, "new_source": source, "now": now}
            ).scalar()
            comment_saved = changed or saved is not None
            fid = fid or saved
        if fid is None:
            fid = target.feedback_id or conn.execute(_FEEDBACK_ID, keys).scalar_one()
    if changed:
        chunks = bool(target.has_chunks)
        _after_vote_change(session, message_id, cid, chunks, previous, vote, settings, clock, now)
    return VoteResult(fid, message_id, cid, vote, previous, changed=changed, comment_saved=comment_saved)


def _other(vote: str) -> str:
    return "down" if vote == "up" else "up"


def _after_vote_change(
    session: Session,
    message_id: int,
    cid: int,
    has_chunks: bool,
    previous: str | None,
    vote: str,
    settings: Settings | None,
    clock: Clock | None,
    now: dt.datetime,
) -> None:
    """A vote was added or changed: outcome (when a down vote is involved), chunks, review queue.
    The order (vote row, outcome row, chunk rows, review item) is the same for every vote, so
    concurrent votes never wait on each other in a cycle."""
    if "down" in (previous, vote):  # the down-vote count changed: recount it (never increment)
        _recount_down_votes(session, cid, now, clock)
    if has_chunks:
        _update_chunks(session, message_id, previous, vote, settings, now)
    if vote == "down":
        from core.review import queue as review

        review.flag_message(session, message_id, "down_vote", clock=clock)


def _recount_down_votes(session: Session, cid: int, now: dt.datetime, clock: Clock | None) -> None:
    """Recount a conversation's down votes and its successful outcome, under a lock on its
    outcome row: a concurrent vote on the same conversation waits, then counts this one too."""
    conn = session.connection()
    row = conn.execute(_LOCK_OUTCOME, {"cid": cid}).first()
    if row is None:  # no outcome row yet: lock the conversation and let core.conversations.outcomes create it
        conn.execute(_LOCK_CONVERSATION, {"cid": cid})
        downs = conn.execute(_COUNT_DOWNS, {"cid": cid}).scalar_one()
        outcomes.set_down_votes(session, cid, int(downs), clock)
        return
    downs = int(conn.execute(_COUNT_DOWNS, {"cid": cid}).scalar_one())
    ok = outcomes.is_successful(
        booking_converted=bool(row.booking_converted),
        status=row.status,
        escalated_at=row.escalated_at,
        down_votes=downs,
        csat=row.csat,
    )
    conn.execute(_SET_DOWNS, {"cid": cid, "downs": downs, "ok": ok, "now": now})


def _update_chunks(
    session: Session,
    message_id: int,
    previous: str | None,
    vote: str,
    settings: Settings | None,
    now: dt.datetime,
) -> None:
    """Tell the knowledge base how the chunks behind this answer did, once per voter: a first
    vote adds a rating, a changed vote replaces the previous rating (the count stays). The same
    arithmetic as ``scoring.record_chunk_feedback`` / ``change_chunk_feedback`` in two Core
    statements: the counters are incremented in SQL (atomic under concurrent votes) and the
    performance score is recomputed from the values that UPDATE returned."""
    from core.knowledge import scoring

    new = float(scoring.VOTE_RATINGS[vote])
    delta = new - float(scoring.VOTE_RATINGS[previous]) if previous is not None else new
    conn = session.connection()
    rows = conn.execute(
        _RATE_CHUNKS, {"mid": message_id, "count_delta": 0 if previous else 1, "sum_delta": delta, "now": now}
    ).all()
    if rows:
        if settings is None:
            from core.platform.config import get_settings

            settings = get_settings()
        prior = settings.kb_score_prior_weight
        conn.execute(
            _SET_CHUNK_SCORE, [{"cid": r.id, "score": scoring.performance_score(r, prior)} for r in rows]
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
    current = current_vote(session, message_id, voter)
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
    if vote not in VOTES:
        raise ValidationError(f"Vote must be 'up' or 'down', got {vote!r}.")
    target = _target(session, message_id)
    _, allowed = _verify(settings, message_id, target.owner, vote, sig, clock)
    comment = _clean_comment(comment, scrubber)
    source = "widget" if allowed == ANY_VOTE else "email"
    return _record(session, message_id, target, vote, target.owner, source, comment, settings, clock)


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
    from core.platform.config import get_settings

    settings = settings or get_settings()
    if session is None:
        from core.platform.db import make_engine, session_factory, session_scope

        engine = make_engine(settings.database_url)
        try:
            with session_scope(session_factory(engine)) as s:
                return email_footer(message_id, session=s, settings=settings, clock=clock)
        finally:
            engine.dispose()
    voter = _target(session, message_id).owner
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
