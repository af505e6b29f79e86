"""The metrics roll-up: conversations aggregated into the roll-up tables every few minutes.

:func:`rollup` (the ``metrics`` job) writes ``metric_bucket`` (day x channel x intent x model x
KB version) and ``metric_day`` (day x channel) as additive counts and sums, ``metric_split``
(channel x one dimension, by day and by calendar month) and ``metric_escalation`` (day x
channel x reason). It is incremental: it re-aggregates only the days of conversations whose
row or outcome row changed (``updated_at``) since the last roll-up, so a CSAT, booking or vote
arriving days later corrects its day. What each sum means is defined in ``core.ops.metric_sql``.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, Table, cast, delete, func, literal_column, select
from sqlalchemy.orm import Session

from core.ops.metric_sql import (
    SPLITS,
    SUM_COLUMNS,
    aggregates,
    as_date,
    conversation_rows,
    day_start,
    month_end,
    no_jit,
)
from core.platform.clock import Clock, SystemClock
from core.platform.models import (
    Conversation,
    ConversationOutcome,
    MetricBucket,
    MetricDay,
    MetricEscalation,
    MetricRollupState,
    MetricSplit,
)

# Rows whose updated_at is at most this much older than the watermark are looked at again,
# so a transaction that committed late (older updated_at than a row already seen) is not lost.
WATERMARK_OVERLAP = dt.timedelta(minutes=10)
DIMENSIONS = ("channel", "intent", "model", "kb_version_id")  # of metric_bucket


def _day_ranges(days: Iterable[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Contiguous runs of days as inclusive (first, last) pairs."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(set(days)):
        if ranges and day == ranges[-1][1] + dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _touched_days(session: Session, state: MetricRollupState) -> set[dt.date]:
    """Start days of the conversations whose row or outcome row changed after the watermark
    (every row of a table that was empty at the last roll-up)."""
    c, o = Conversation, ConversationOutcome
    days: set[dt.date] = set()
    for column, watermark, join in (
        (c.updated_at, state.conversation_updated_at, False),
        (o.updated_at, state.outcome_updated_at, True),
    ):
        q = select(func.date(c.created_at)).distinct()
        if join:
            q = q.join(o, o.conversation_id == c.id)
        if watermark is not None:
            q = q.where(column > watermark - WATERMARK_OVERLAP)
        days |= {as_date(d) for d in session.scalars(q)}
    return days


def _all_days(session: Session) -> set[dt.date]:
    first, last = session.execute(
        select(func.min(Conversation.created_at), func.max(Conversation.created_at))
    ).one()
    if first is None:
        return set()
    d, end = first.date(), last.date()
    out = set()
    while d <= end:
        out.add(d)
        d += dt.timedelta(days=1)
    return out


def _rebuild(session: Session, first: dt.date, last: dt.date) -> None:
    """Re-aggregate every roll-up row of the days first..last (inclusive)."""
    start, end = day_start(first), day_start(last + dt.timedelta(days=1))
    for model in (MetricBucket, MetricDay, MetricEscalation):
        session.execute(delete(model).where(model.day >= first, model.day <= last))

    conv = conversation_rows(session, start, end)
    dims = [conv.c.day, conv.c.channel, conv.c.intent, conv.c.model, conv.c.kb_version_id]
    bucket: Table = MetricBucket.__table__
    session.execute(
        bucket.insert().from_select(
            ["day", *DIMENSIONS, *SUM_COLUMNS],
            select(*dims, *aggregates(conv)).group_by(*dims),
        )
    )
    day_table: Table = MetricDay.__table__
    session.execute(
        day_table.insert().from_select(
            ["day", "channel", *SUM_COLUMNS],
            select(
                bucket.c.day,
                bucket.c.channel,
                *[func.sum(bucket.c[name]).label(name) for name in SUM_COLUMNS],
            )
            .where(bucket.c.day >= first, bucket.c.day <= last)
            .group_by(bucket.c.day, bucket.c.channel),
        )
    )
    _rebuild_day_splits(session, first, last)
    esc = conversation_rows(session, start, end, with_dims=False)
    session.execute(
        MetricEscalation.__table__.insert().from_select(
            ["day", "channel", "reason", "count"],
            select(esc.c.day, esc.c.channel, esc.c.reason, func.count())
            .where(esc.c.is_escalated == 1)
            .group_by(esc.c.day, esc.c.channel, esc.c.reason),
        )
    )


def _sql_date(day: dt.date) -> Any:
    """A date constant for INSERT .. SELECT lists (stored as 'YYYY-MM-DD' on SQLite)."""
    return literal_column(f"'{day.isoformat()}'")


def _rebuild_day_splits(session: Session, first: dt.date, last: dt.date) -> None:
    """metric_split day rows of first..last, from metric_bucket."""
    bucket: Table = MetricBucket.__table__
    session.execute(delete(MetricSplit).where(
        MetricSplit.grain == "day", MetricSplit.start >= first, MetricSplit.start <= last
    ))
    columns = {"intent": bucket.c.intent, "model": bucket.c.model,
               "kb_version": cast(bucket.c.kb_version_id, String)}
    for dimension in SPLITS:
        value = columns[dimension]
        session.execute(MetricSplit.__table__.insert().from_select(
            ["grain", "start", "channel", "dimension", "value", *SUM_COLUMNS],
            select(
                literal_column("'day'"), bucket.c.day, bucket.c.channel, literal_column(f"'{dimension}'"),
                value, *[func.sum(bucket.c[name]) for name in SUM_COLUMNS],
            )
            .where(bucket.c.day >= first, bucket.c.day <= last)
            .group_by(bucket.c.day, bucket.c.channel, value),
        ))


def _rebuild_month_split(session: Session, month: dt.date) -> None:
    """metric_split month rows of ``month`` (its 1st), from its day rows."""
    split: Table = MetricSplit.__table__
    session.execute(delete(MetricSplit).where(MetricSplit.grain == "month", MetricSplit.start == month))
    session.execute(split.insert().from_select(
        ["grain", "start", "channel", "dimension", "value", *SUM_COLUMNS],
        select(
            literal_column("'month'"), _sql_date(month), split.c.channel, split.c.dimension, split.c.value,
            *[func.sum(split.c[name]) for name in SUM_COLUMNS],
        )
        .where(split.c.grain == "day", split.c.start >= month, split.c.start <= month_end(month))
        .group_by(split.c.channel, split.c.dimension, split.c.value),
    ))


def rollup(session: Session, clock: Clock | None = None, *, full: bool = False) -> dict[str, Any]:
    """Re-aggregate the days touched since the last roll-up (every day on the first run or
    with ``full``) and move the watermark. Returns what was done; the caller commits."""
    clock = clock or SystemClock()
    t0 = time.perf_counter()
    no_jit(session)
    state = session.get(MetricRollupState, 1)
    if state is None:
        state = MetricRollupState(id=1, days_rebuilt=0)
        session.add(state)
    # read the new watermarks first: rows changed after this point are seen next time
    max_conv, max_out = session.execute(
        select(
            select(func.max(Conversation.updated_at)).scalar_subquery(),
            select(func.max(ConversationOutcome.updated_at)).scalar_subquery(),
        )
    ).one()
    first_run = state.rolled_up_at is None
    days = _all_days(session) if (full or first_run) else _touched_days(session, state)
    ranges = _day_ranges(days)
    for first, last in ranges:
        _rebuild(session, first, last)
    for month in sorted({d.replace(day=1) for d in days}):
        _rebuild_month_split(session, month)
    now = clock.now()
    # a writer whose clock runs ahead must not push the watermark past rows still to come
    if max_conv is not None:
        mark = min(max_conv, now)
        state.conversation_updated_at = max(mark, state.conversation_updated_at or mark)
    if max_out is not None:
        mark = min(max_out, now)
        state.outcome_updated_at = max(mark, state.outcome_updated_at or mark)
    state.rolled_up_at = now
    state.days_rebuilt = len(days)
    session.flush()
    return {
        "days_rebuilt": len(days),
        "ranges": [[a.isoformat(), b.isoformat()] for a, b in ranges],
        "full": bool(full or first_run),
        "seconds": round(time.perf_counter() - t0, 3),
    }
