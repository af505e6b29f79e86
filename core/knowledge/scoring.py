"""Chunk performance: the one scoring rule, and crediting chunks with ratings and bookings.

Every answer updates ``times_retrieved`` / ``times_used_in_response`` of its chunks
(``core.answering.responder.record_answer``); votes, CSAT and bookings of the conversation
credit the chunks the answer *used*. The performance score is 0.7 x booking rate + 0.3 x
average rating / 5, each part smoothed toward 0.5 by ``kb_score_prior_weight``
pseudo-observations (:func:`performance_score`). Every writer of ``chunk.performance_score``
goes through :func:`performance_score` (directly, or through :func:`rescore`).

The score acts (docs/knowledge.md, "The performance score in retrieval"):

- **a prior in retrieval**: :func:`retrieval_priors` gives each retrieved chunk
  ``kb_score_rank_weight`` x its *feedback effect*: its performance score minus the score the
  same chunk would have with its uses but no feedback (no rating, no booking). Customers' down
  votes make it negative (the chunk ranks lower and weighs less in the vote), up votes and
  bookings positive; a chunk nobody rated keeps its cosine score. Using the score itself would
  push down every much-used chunk of a topic that never leads to a booking.
- **flags**: :func:`flagged_chunks` lists active chunks rated at least ``kb_score_min_ratings``
  times whose smoothed rating part (:func:`rating_part`) is below ``kb_score_review_below``
  (action ``review``: the answers that used them enter the review queue with reason
  ``poor_chunk``) or below ``kb_score_archive_below`` (action ``archive``: proposed for
  archiving, with the reason; an admin decides). Flags are computed from the counters, so
  they follow every vote path and clear when the ratings recover.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings, get_settings
from core.platform.errors import ValidationError
from core.platform.models import Chunk, Message, MessageChunk
from core.platform.statuses import ChunkStatus, MessageRole, Vote

VOTE_RATINGS = {Vote.UP: 5, Vote.DOWN: 1}


def performance_score(chunk: Chunk, prior_weight: float = 10.0) -> float:
    """0.7 x booking rate + 0.3 x average rating / 5, smoothed toward 0.5.

    booking part = (bookings + w x 0.5) / (uses + w); rating part = (rating sum / 5 + w x
    0.5) / (ratings + w), with w = ``prior_weight`` pseudo-observations of a 0.5 chunk. A
    chunk with no data scores 0.5; one lucky booking after one use moves it to 0.53, not 0.85.
    """
    w = max(0.0, prior_weight)
    uses = max(chunk.times_used_in_response or 0, chunk.times_led_to_booking or 0)
    denom_b = uses + w
    booking = ((chunk.times_led_to_booking or 0) + w * 0.5) / denom_b if denom_b else 0.5
    return round(0.7 * booking + 0.3 * rating_part(chunk, w), 6)


def rating_part(chunk: Any, prior_weight: float = 10.0) -> float:
    """The rating part of :func:`performance_score`: (rating sum / 5 + w x 0.5) / (ratings + w),
    in [0.2, 1] once rated (all down votes tend to 0.2, all up votes to 1)."""
    w = max(0.0, prior_weight)
    denom = (chunk.rating_count or 0) + w
    return ((chunk.rating_sum or 0.0) / 5.0 + w * 0.5) / denom if denom else 0.5


@dataclass
class _Unrated:
    """A chunk's uses without its feedback (the baseline of :func:`feedback_effect`)."""

    times_used_in_response: int
    times_led_to_booking: int = 0
    rating_count: int = 0
    rating_sum: float = 0.0


def feedback_effect(chunk: Any, prior_weight: float = 10.0) -> float:
    """What customers' ratings and bookings added to (or took from) the chunk's performance
    score: its score minus the score of the same chunk with its uses and no feedback."""
    base = _Unrated(max(chunk.times_used_in_response or 0, chunk.times_led_to_booking or 0))
    return performance_score(chunk, prior_weight) - performance_score(base, prior_weight)


def _rating_value(rating: int | float | str | None) -> float | None:
    if rating is None:
        return None
    if isinstance(rating, str):
        if rating not in VOTE_RATINGS:
            raise ValidationError(f"Unknown vote {rating!r}; use 'up' or 'down' or a 1-5 rating.")
        return float(VOTE_RATINGS[rating])
    if not 1 <= float(rating) <= 5:
        raise ValidationError(f"A rating is 1 to 5, got {rating}.")
    return float(rating)


def used_chunk_ids(session: Session, message_ids: Sequence[int]) -> list[int]:
    """Distinct chunks that the given assistant messages used in their answers."""
    if not message_ids:
        return []
    q = (
        select(MessageChunk.chunk_id)
        .where(MessageChunk.message_id.in_(list(message_ids)), MessageChunk.used.is_(True))
        .distinct()
        .order_by(MessageChunk.chunk_id)
    )
    return list(session.scalars(q))


def lock_chunk_rows(session: Session, chunk_ids: Sequence[int]) -> None:
    """Lock chunk rows in id order before updating them (PostgreSQL ``SELECT ... FOR NO KEY UPDATE``;
    on SQLite the transaction's write lock covers them). A transaction that updates several
    chunk rows takes all their locks this way first: a single ``UPDATE ... WHERE id IN (...)``
    locks rows in the order the plan visits them, and a batch that updates chunks conversation
    by conversation collects locks in no order at all, so two of them could each wait for the
    other (PostgreSQL's deadlock detector then kills one: a demo load failed that way while
    chats were answered)."""
    ids = sorted({int(i) for i in chunk_ids})
    if ids and session.get_bind().dialect.name != "sqlite":
        # FOR NO KEY UPDATE, the lock an UPDATE of these columns takes: FOR UPDATE would also
        # conflict with the key-share locks that inserting message_chunk rows (foreign keys)
        # takes on the chunks, and chats insert those in rank order (deadlocks, seen)
        lock = select(Chunk.id).where(Chunk.id.in_(ids)).order_by(Chunk.id).with_for_update(key_share=True)
        session.execute(lock)


def _apply_feedback(
    session: Session,
    chunk_ids: list[int],
    *,
    rating_delta: float,
    count_delta: int,
    booking_delta: int,
    settings,
    clock: Clock | None,
) -> list[int]:
    if not chunk_ids:
        return []
    lock_chunk_rows(session, chunk_ids)
    now = (clock or SystemClock()).now()
    values: dict[str, Any] = {"last_user_feedback_at": now}
    if count_delta or rating_delta:
        values["rating_count"] = Chunk.rating_count + count_delta
        values["rating_sum"] = Chunk.rating_sum + rating_delta
    if booking_delta:
        values["times_led_to_booking"] = Chunk.times_led_to_booking + booking_delta
    session.execute(
        update(Chunk)
        .where(Chunk.id.in_(chunk_ids))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    rescore(session, chunk_ids, settings)
    return chunk_ids


def prior_weight(settings: Settings | None) -> float:
    """The score's prior weight (``kb_score_prior_weight``; the process settings when ``None``)."""
    return (settings or get_settings()).kb_score_prior_weight


def rescore(session: Session, chunk_ids: Sequence[int], settings: Settings | None) -> None:
    """Recompute the performance score of ``chunk_ids`` from their (flushed) counters."""
    if not chunk_ids:
        return
    lock_chunk_rows(session, chunk_ids)
    prior = prior_weight(settings)
    for chunk in session.scalars(
        select(Chunk).where(Chunk.id.in_(list(chunk_ids))).execution_options(populate_existing=True)
    ):
        chunk.performance_score = performance_score(chunk, prior)
    session.flush()


def record_chunk_feedback(
    session: Session,
    message_id: int,
    rating: int | float | str | None = None,
    booked: bool = False,
    *,
    settings=None,
    clock: Clock | None = None,
) -> list[int]:
    """Credit the chunks an assistant message *used* with a rating and/or a booking.

    ``rating`` is a 1-5 score (CSAT) or a thumbs vote ``'up'`` (= 5) / ``'down'`` (= 1).
    ``booked`` adds one booking. Updates the counters, ``last_user_feedback_at`` and the
    performance score; returns the chunk ids updated (empty for a message that used none).
    The caller makes sure one event is reported once (e.g. one vote per voter).
    """
    value = _rating_value(rating)
    ids = used_chunk_ids(session, [message_id])
    return _credit(session, ids, value, booked, settings=settings, clock=clock)


def _answer_ids(session: Session, conversation_id: int) -> list[int]:
    """The ids of a conversation's assistant messages."""
    q = select(Message.id).where(
        Message.conversation_id == conversation_id, Message.role == MessageRole.ASSISTANT
    )
    return list(session.scalars(q))


def _credit(
    session: Session, ids: list[int], value: float | None, booked: bool, *, settings, clock
) -> list[int]:
    """Add one rating (when ``value`` is given) and one booking (when ``booked``) to chunks."""
    return _apply_feedback(
        session,
        ids,
        rating_delta=value or 0.0,
        count_delta=1 if value is not None else 0,
        booking_delta=1 if booked else 0,
        settings=settings,
        clock=clock,
    )


def change_chunk_feedback(
    session: Session,
    message_id: int,
    *,
    previous: int | float | str,
    rating: int | float | str,
    settings=None,
    clock: Clock | None = None,
) -> list[int]:
    """A voter changed their vote: replace the ``previous`` rating by ``rating`` on the
    chunks the message used (the rating count stays the same)."""
    old, new = _rating_value(previous), _rating_value(rating)
    ids = used_chunk_ids(session, [message_id])
    return _apply_feedback(
        session,
        ids,
        rating_delta=(new or 0.0) - (old or 0.0),
        count_delta=0,
        booking_delta=0,
        settings=settings,
        clock=clock,
    )


def record_conversation_feedback(
    session: Session,
    conversation_id: int,
    rating: int | float | str | None = None,
    booked: bool = False,
    *,
    settings=None,
    clock: Clock | None = None,
) -> list[int]:
    """Credit every chunk used by any assistant answer of a conversation once (a CSAT
    score or a booking outcome is about the whole conversation)."""
    value = _rating_value(rating)
    mids = _answer_ids(session, conversation_id)
    ids = used_chunk_ids(session, mids)
    return _credit(session, ids, value, booked, settings=settings, clock=clock)


def change_conversation_feedback(
    session: Session,
    conversation_id: int,
    *,
    previous: int | float | str,
    rating: int | float | str,
    settings=None,
    clock: Clock | None = None,
) -> list[int]:
    """A conversation's CSAT changed: replace the ``previous`` score by ``rating`` on the
    chunks its answers used (the rating count stays the same)."""
    old, new = _rating_value(previous), _rating_value(rating)
    mids = _answer_ids(session, conversation_id)
    return _apply_feedback(
        session,
        used_chunk_ids(session, mids),
        rating_delta=(new or 0.0) - (old or 0.0),
        count_delta=0,
        booking_delta=0,
        settings=settings,
        clock=clock,
    )


# --- the score acts: retrieval prior and flags ---------------------------------------------------
_SCORE_COLUMNS = (Chunk.id, Chunk.times_used_in_response, Chunk.times_led_to_booking, Chunk.rating_count,
                  Chunk.rating_sum)


def retrieval_priors(session: Session, chunk_ids: Sequence[int], settings: Settings) -> dict[int, float]:
    """``kb_score_rank_weight`` x :func:`feedback_effect` of each chunk that has feedback
    (chunks without any are left out: their prior is 0). One query per 500 ids."""
    weight = settings.kb_score_rank_weight
    ids = sorted(set(chunk_ids))
    if not weight or not ids:
        return {}
    prior, out = settings.kb_score_prior_weight, {}
    for i in range(0, len(ids), 500):
        q = select(*_SCORE_COLUMNS).where(
            Chunk.id.in_(ids[i : i + 500]), (Chunk.rating_count > 0) | (Chunk.times_led_to_booking > 0)
        )
        for row in session.execute(q):
            out[row.id] = weight * feedback_effect(row, prior)
    return out


@dataclass
class ChunkFlag:
    """An active chunk customers rate poorly: ``action`` is ``review`` or ``archive``."""

    chunk_id: int
    title: str
    action: str
    reason: str
    rating_part: float
    ratings: int
    performance_score: float


def flagged_chunks(session: Session, settings: Settings, action: str | None = None) -> list[ChunkFlag]:
    """Active chunks with at least ``kb_score_min_ratings`` ratings whose rating part is below
    ``kb_score_review_below`` (``review``) or ``kb_score_archive_below`` (``archive``, which
    wins), worst first; only one ``action`` when given."""
    if action not in (None, "review", "archive"):
        raise ValidationError(f"Unknown action {action!r}; use 'review' or 'archive'.")
    prior = settings.kb_score_prior_weight
    q = select(*_SCORE_COLUMNS, Chunk.title, Chunk.performance_score).where(
        Chunk.status == ChunkStatus.ACTIVE, Chunk.rating_count >= settings.kb_score_min_ratings
    )
    out = []
    for row in session.execute(q):
        part = rating_part(row, prior)
        if part >= settings.kb_score_review_below:
            continue
        act = "archive" if part < settings.kb_score_archive_below else "review"
        if action and act != action:
            continue
        avg = row.rating_sum / row.rating_count
        floor = settings.kb_score_archive_below if act == "archive" else settings.kb_score_review_below
        reason = (f"customers rate it {avg:.1f}/5 on average over {row.rating_count} ratings: rating part "
                  f"{part:.2f} is below kb_score_{act}_below={floor}")
        out.append(ChunkFlag(row.id, row.title, act, reason, round(part, 4), row.rating_count,
                             row.performance_score))
    return sorted(out, key=lambda f: (f.rating_part, f.chunk_id))


def messages_with_flagged_chunks(session: Session, settings: Settings, since=None) -> list[int]:
    """Assistant messages (created at or after ``since``) whose answer used a flagged chunk (the
    review queue's ``poor_chunk`` reason)."""
    ids = [f.chunk_id for f in flagged_chunks(session, settings)]
    out: set[int] = set()
    for i in range(0, len(ids), 500):
        q = (select(MessageChunk.message_id).join(Message, Message.id == MessageChunk.message_id)
             .where(MessageChunk.used.is_(True), MessageChunk.chunk_id.in_(ids[i : i + 500])))
        if since is not None:
            q = q.where(Message.created_at >= since)
        out.update(session.scalars(q))
    return sorted(out)
