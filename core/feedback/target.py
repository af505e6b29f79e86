"""The target of a vote, read in one SELECT.

Everything a vote or a vote link needs about an assistant answer: its role and conversation,
the conversation's user (the voter of signed links), a voter's current vote and comment, and
whether the answer used KB chunks. The statements are built once (SQLAlchemy caches their
compiled form), because the vote path is the hottest write of the public API.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, exists, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from core.platform.errors import NotFound, ValidationError
from core.platform.models import Conversation, Feedback, Message, MessageChunk
from core.platform.statuses import MessageRole

_MSG = Message.__table__
_CONV = Conversation.__table__
_FB = Feedback.__table__
_MC = MessageChunk.__table__


def _target_query(voter):
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


def vote_target(session: Session, message_id: int, voter: str | None = None) -> Row:
    """The target row of a vote on ``message_id`` by ``voter`` (None: the conversation's user).

    Columns: ``role``, ``conversation_id``, ``owner``, ``feedback_id``, ``current``,
    ``current_comment``, ``has_chunks``. Raises NotFound for an unknown message or one that
    is no assistant answer.
    """
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
    if row.role != MessageRole.ASSISTANT:  # no answer to vote on: the same 404 as an unknown id
        raise NotFound(f"Message {message_id} is not an assistant answer; only answers take votes.")
    return row
