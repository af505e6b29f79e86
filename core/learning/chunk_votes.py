"""The vote path's chunk credit: a thumbs vote moves the rating of the chunks its answer used.

The same arithmetic as ``core.knowledge.scoring.record_chunk_feedback`` (a first vote adds a
rating) and ``change_chunk_feedback`` (a changed vote replaces the previous rating; the count
stays), written as two SQLAlchemy Core statements built once, because the vote is the hottest
write of the public API: the counters are incremented in SQL (atomic under concurrent votes,
the used chunks locked in id order on PostgreSQL so concurrent votes never deadlock), and the
performance score is recomputed with ``core.knowledge.scoring.performance_score`` from the
values that UPDATE returned.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from core.knowledge import scoring
from core.platform.config import Settings
from core.platform.models import Chunk, MessageChunk

_CH = Chunk.__table__
_MC = MessageChunk.__table__
_USED_CHUNKS = (  # locked in id order (PostgreSQL), so concurrent votes never deadlock on chunks
    select(_CH.c.id)
    .where(
        _CH.c.id.in_(
            select(_MC.c.chunk_id).where(_MC.c.message_id == bindparam("mid"), _MC.c.used.is_(True))
        )
    )
    .order_by(_CH.c.id)
    .with_for_update(key_share=True)  # FOR NO KEY UPDATE: see core.knowledge.scoring.lock_chunk_rows
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


def credit_vote(
    session: Session,
    message_id: int,
    previous: str | None,
    vote: str,
    settings: Settings | None,
    now: dt.datetime,
) -> int:
    """Rate the chunks an answer used with one voter's vote: a first vote (``previous`` None)
    adds a rating, a changed vote replaces ``previous``. Returns how many chunks changed."""
    new = float(scoring.VOTE_RATINGS[vote])
    delta = new - float(scoring.VOTE_RATINGS[previous]) if previous is not None else new
    conn = session.connection()
    rows = conn.execute(
        _RATE_CHUNKS, {"mid": message_id, "count_delta": 0 if previous else 1, "sum_delta": delta, "now": now}
    ).all()
    if rows:
        prior = scoring.prior_weight(settings)
        conn.execute(
            _SET_CHUNK_SCORE, [{"cid": r.id, "score": scoring.performance_score(r, prior)} for r in rows]
        )
    return len(rows)
