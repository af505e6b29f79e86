"""Customer thumbs votes on assistant messages, and the comments attached to them.

One vote per message per voter (a unique index): voting again changes the vote, replaying
the same vote changes nothing, and nothing is double-counted. This module records the vote
row only; what follows a vote (the conversation's down-vote count and outcome, the scores of
the chunks that answered, the review queue) is ``core.learning.loop``'s job, and callers record
votes through ``core.learning.loop.record_vote`` / ``vote_with_signature`` / ``add_comment``.

The vote path is the hottest write of the public API, so it is written with SQLAlchemy Core
statements built once: one SELECT (``core.feedback.target``) reads the message, its voter, the
current vote and whether the answer used KB chunks; a replay stops there. A first vote is one
``INSERT ... ON CONFLICT DO NOTHING``, a changed vote one ``UPDATE ... WHERE vote <> new``
(both atomic per row, so two concurrent requests cannot both count). The returned
:class:`VoteResult` says whether the vote changed, what it was before and whether the answer
used chunks, so the reaction needs no further read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from core.feedback.links import ANY_VOTE, check_vote, verify_signature
from core.feedback.target import vote_target
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import NotFound, ValidationError
from core.platform.models import Feedback
from core.platform.pii import get_scrubber
from core.platform.services import Scrubber
from core.platform.statuses import FeedbackSource, Vote

MAX_COMMENT_CHARS = 2000


@dataclass
class VoteResult:
    """What recording a vote did: ``changed`` is False for a replay. ``used_chunks`` says
    whether the answer used KB chunks; ``recorded_at`` is when a changed vote was written."""

    feedback_id: int
    message_id: int
    conversation_id: int
    vote: str
    previous: str | None
    changed: bool
    comment_saved: bool = False
    used_chunks: bool = False
    recorded_at: dt.datetime | None = None


# --- statements (built once; SQLAlchemy caches their compiled form) ------------------------
_FB = Feedback.__table__
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
_INSERT_DIALECTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_INSERTS: dict[str, object] = {}


def _insert_vote(dialect: str):
    """``INSERT INTO feedback ... ON CONFLICT (message_id, voter) DO NOTHING RETURNING id``."""
    stmt = _INSERTS.get(dialect)
    if stmt is None:
        insert = _INSERT_DIALECTS.get(dialect)
        if insert is None:  # pragma: no cover - only the two supported databases
            raise ValidationError(f"Votes need SQLite or PostgreSQL, not {dialect}.")
        stmt = insert(_FB).on_conflict_do_nothing(index_elements=["message_id", "voter"]).returning(_FB.c.id)
        _INSERTS[dialect] = stmt
    return stmt


def _clean_comment(comment: str | None, scrubber: Scrubber | None) -> str | None:
    if comment is None:
        return None
    comment = comment.strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError(f"The comment is {len(comment)} characters; the limit is {MAX_COMMENT_CHARS}.")
    if not comment:
        return None
    return (scrubber or get_scrubber()).scrub(comment).text  # comments are free text: always scrubbed


def _other(vote: str) -> str:
    return Vote.DOWN if vote == Vote.UP else Vote.UP


# --- votes --------------------------------------------------------------------------------
def record_vote(
    session: Session,
    message_id: int,
    vote: str,
    voter: str,
    *,
    source: str = FeedbackSource.API,
    comment: str | None = None,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Record ``voter``'s vote row on an assistant message (the caller commits).

    A repeated identical vote changes nothing (``changed=False``); a different vote replaces
    the earlier one. ``comment`` (optional, scrubbed with ``scrubber`` before it is stored)
    is attached to the vote. The reactions to the vote are ``core.learning.loop``'s.
    """
    check_vote(vote)
    if not isinstance(voter, str) or not voter.strip() or len(voter) > 200:
        raise ValidationError("A vote needs a voter id (1-200 characters).")
    comment = _clean_comment(comment, scrubber)
    target = vote_target(session, message_id, voter)
    return _record(session, message_id, target, vote, voter, source, comment, clock)


def vote_with_signature(
    session: Session,
    settings: Settings,
    message_id: int,
    vote: str,
    sig: str,
    *,
    comment: str | None = None,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Verify a signed link (e-mail or widget) and record its vote row; nothing is recorded
    when the signature is forged, altered or expired."""
    check_vote(vote)
    target = vote_target(session, message_id)
    _, allowed = verify_signature(settings, message_id, target.owner, vote, sig, clock)
    comment = _clean_comment(comment, scrubber)
    source = FeedbackSource.WIDGET if allowed == ANY_VOTE else FeedbackSource.EMAIL
    return _record(session, message_id, target, vote, target.owner, source, comment, clock)


def add_comment(
    session: Session,
    message_id: int,
    voter: str,
    comment: str,
    scrubber: Scrubber | None = None,
    clock: Clock | None = None,
) -> VoteResult:
    """Attach a comment to ``voter``'s existing vote on a message (the thank-you page's box)."""
    current = current_vote(session, message_id, voter)
    if current is None:
        raise NotFound(f"There is no vote on message {message_id} to comment on; vote first.")
    if not comment or not comment.strip():
        raise ValidationError("The comment is empty.")
    return record_vote(
        session, message_id, current, voter, source=FeedbackSource.EMAIL, comment=comment, scrubber=scrubber,
        clock=clock,
    )


def current_vote(session: Session, message_id: int, voter: str) -> str | None:
    """The voter's current vote on a message, if any."""
    return session.scalar(
        select(Feedback.vote).where(Feedback.message_id == message_id, Feedback.voter == voter)
    )


def _record(
    session: Session,
    message_id: int,
    target: Row,
    vote: str,
    voter: str,
    source: str,
    comment: str | None,
    clock: Clock | None,
) -> VoteResult:
    cid = target.conversation_id
    chunks = bool(target.has_chunks)
    if target.current == vote and (comment is None or comment == target.current_comment):
        return VoteResult(target.feedback_id, message_id, cid, vote, vote, changed=False, used_chunks=chunks)
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
    return VoteResult(
        fid, message_id, cid, vote, previous, changed=changed, comment_saved=comment_saved,
        used_chunks=chunks, recorded_at=now,
    )
