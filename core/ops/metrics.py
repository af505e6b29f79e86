"""Metrics: one meaning per metric (shared/DESIGN.md), computed in SQL into roll-up tables.

Every conversation is counted on the UTC day it started (``conversation.created_at``). The
roll-up (:func:`rollup`, every 5 minutes from the job runner) aggregates conversations into
``metric_bucket`` (day x channel x intent x model x KB version) and ``metric_day`` (day x
channel) as additive counts and sums, plus ``metric_escalation`` (day x channel x reason).
It is incremental: it re-aggregates only the days of conversations whose row or outcome row
changed (``updated_at``) since the last roll-up, so a CSAT, booking or vote arriving days
later corrects its day. First response times are kept as a fixed-bin histogram, so p50/p90
combine over any set of buckets.

Definitions (the SQL below is the only place they are computed):

- contained = status closed and never escalated; containment rate = contained / closed
- escalated = ``escalated_at`` set or status escalated; escalation rate = escalated / conversations
- CSAT = the 1-5 survey score on the outcome row (a thumbs vote is feedback, not CSAT)
- conversion = conversations with a booking / conversations; booking value = sum of values
- feedback rate = conversations with any vote (``feedback`` table, or a down vote counted on the
  outcome) or a CSAT / conversations
- first response time = the outcome's ``first_response_time_seconds`` (first assistant/agent
  message - first customer message), else ``first_response_at - created_at``
- successful outcome = a booking, or contained with no down vote and no CSAT below 4
- cost = the outcome's ``total_cost_usd`` (else the sum of the assistant messages' cost);
  cost per resolution = cost / contained conversations
- model = the model of the conversation's assistant messages; KB version = the version that
  was active when the conversation started (``kb_version.activated_at``)

Reading (:func:`dashboard`) touches only the roll-up tables, never conversations or messages.
Alert checks use :func:`window_metrics`, which aggregates the same per-conversation
expressions over one short window of conversations.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    exists,
    func,
    inspect,
    literal,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.orm import Session

import core.platform.models as models
from core.platform.clock import Clock, SystemClock
from core.platform.errors import ValidationError
from core.platform.models import (
    CHANNELS,
    FRT_BIN_EDGES_S,
    FRT_BINS,
    Conversation,
    ConversationOutcome,
    Message,
    MetricBucket,
    MetricDay,
    MetricEscalation,
    MetricRollupState,
    MetricSplit,
)

# Rows whose updated_at is at most this much older than the watermark are looked at again,
# so a transaction that committed late (older updated_at than a row already seen) is not lost.
WATERMARK_OVERLAP = dt.timedelta(minutes=10)
MAX_DASHBOARD_DAYS = 731
DIMENSIONS = ("channel", "intent", "model", "kb_version_id")
SPLITS = ("intent", "model", "kb_version")  # the dimensions of metric_split
SUM_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in MetricDay.__table__.columns if c.name not in ("day", "channel")
)
FRT_BIN_COLUMNS = tuple(f"frt_b{i:02d}" for i in range(FRT_BINS))
KPI_NAMES = (
    "conversations",
    "containment_rate",
    "escalation_rate",
    "csat_avg",
    "csat_responses",
    "conversion_rate",
    "bookings",
    "booking_value_usd",
    "frt_p50_s",
    "frt_p90_s",
    "cost_usd",
    "cost_per_conversation_usd",
    "cost_per_resolution_usd",
    "feedback_rate",
    "successful_outcome_rate",
)


# --- helpers ------------------------------------------------------------------------------
def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _no_jit(session: Session) -> None:
    """PostgreSQL's JIT compiles these many-expression aggregates for far longer (~0.25 s) than
    they run; turn it off for the rest of the caller's transaction."""
    if _dialect(session) == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _has_table(session: Session, name: str) -> bool:
    return inspect(session.connection()).has_table(name)


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _seconds_between(session: Session, later, earlier):
    if _dialect(session) == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _kb_version_expr(session: Session, created_at):
    """The id of the KB version active when a conversation started (0 when none)."""
    kbv = getattr(models, "KBVersion", None)
    if kbv is None or not _has_table(session, kbv.__tablename__):
        return literal(0)
    rows = session.execute(
        select(kbv.id, kbv.activated_at).where(kbv.activated_at.is_not(None)).order_by(
            kbv.activated_at.desc()
        )
    ).all()
    if not rows:
        return literal(0)
    return case(*[(created_at >= at, vid) for vid, at in rows], else_=0)


def _frt_bin(frt):
    whens = [(frt <= edge, i) for i, edge in enumerate(FRT_BIN_EDGES_S)]
    return case((frt.is_(None), None), *whens, else_=len(FRT_BIN_EDGES_S))


def _conversation_rows(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    channel: str | None = None,
    *,
    with_dims: bool = True,
):
    """One row per conversation started in [start, end) with the 0/1 flags and values every
    metric is summed from. ``with_dims`` adds model and KB version (reads messages)."""
    c = Conversation.__table__
    o = ConversationOutcome.__table__
    in_range = [c.c.created_at >= start, c.c.created_at < end]
    if channel:
        in_range.append(c.c.channel == channel)
    frm = c.outerjoin(o, o.c.conversation_id == c.c.id)
    cost = o.c.total_cost_usd
    model = literal("")
    kb_version = literal(0)
    if with_dims:
        m = (
            select(
                Message.conversation_id.label("cid"),
                func.max(Message.model_used).label("model"),
                func.sum(Message.cost_usd).label("cost"),
            )
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(Message.role == "assistant", *in_range)
            .group_by(Message.conversation_id)
            .subquery("m")
        )
        frm = frm.outerjoin(m, m.c.cid == c.c.id)
        cost = func.coalesce(o.c.total_cost_usd, m.c.cost)
        model = func.coalesce(m.c.model, "")
        kb_version = _kb_version_expr(session, c.c.created_at)

    closed = c.c.status == "closed"
    contained = (c.c.status == "closed") & c.c.escalated_at.is_(None)
    escalated = c.c.escalated_at.is_not(None) | (c.c.status == "escalated")
    booked = o.c.booking_converted.is_(True)
    down = func.coalesce(o.c.down_votes, 0) > 0
    csat = o.c.csat
    feedback_cond = or_(csat.is_not(None), down)
    feedback_model = getattr(models, "Feedback", None)
    if feedback_model is not None and _has_table(session, feedback_model.__tablename__):
        f = feedback_model.__table__
        feedback_cond = or_(feedback_cond, exists().where(f.c.conversation_id == c.c.id))
    successful = booked | (contained & ~down & (csat.is_(None) | (csat >= 4)))
    frt = func.coalesce(
        o.c.first_response_time_seconds,
        _seconds_between(session, c.c.first_response_at, c.c.created_at),
    )

    def flag(cond):
        return case((cond, 1), else_=0)

    return (
        select(
            func.date(c.c.created_at).label("day"),
            c.c.channel.label("channel"),
            func.coalesce(c.c.intent, "").label("intent"),
            model.label("model"),
            kb_version.label("kb_version_id"),
            flag(closed).label("is_closed"),
            flag(contained).label("is_contained"),
            flag(escalated).label("is_escalated"),
            func.coalesce(c.c.escalation_reason, "unspecified").label("reason"),
            flag(booked).label("is_booked"),
            func.coalesce(o.c.booking_value_usd, 0.0).label("booking_value"),
            flag(successful).label("is_successful"),
            flag(feedback_cond).label("has_feedback"),
            flag(down).label("is_down_voted"),
            func.coalesce(cost, 0.0).label("cost"),
            csat.label("csat"),
            frt.label("frt"),
            _frt_bin(frt).label("frt_bin"),
        )
        .select_from(frm)
        .where(*in_range)
        .subquery("conv")
    )


def _aggregates(conv) -> list:
    """The SUM_COLUMNS of metric_day/metric_bucket as aggregates over ``conv`` rows, in order."""
    exprs = {
        "conversations": func.count(),
        "closed": func.sum(conv.c.is_closed),
        "contained": func.sum(conv.c.is_contained),
        "escalated": func.sum(conv.c.is_escalated),
        "bookings": func.sum(conv.c.is_booked),
        "booking_value_usd": func.sum(conv.c.booking_value),
        "successful": func.sum(conv.c.is_successful),
        "feedback": func.sum(conv.c.has_feedback),
        "down_voted": func.sum(conv.c.is_down_voted),
        "cost_usd": func.sum(conv.c.cost),
        "csat_count": func.count(conv.c.csat),
        "csat_sum": func.coalesce(func.sum(conv.c.csat), 0),
        "frt_count": func.count(conv.c.frt),
        "frt_sum_s": func.coalesce(func.sum(conv.c.frt), 0.0),
    }
    for k in range(1, 6):
        exprs[f"csat_{k}"] = func.sum(case((conv.c.csat == k, 1), else_=0))
    for i, name in enumerate(FRT_BIN_COLUMNS):
        exprs[name] = func.sum(case((conv.c.frt_bin == i, 1), else_=0))
    return [func.coalesce(exprs[name], 0).label(name) for name in SUM_COLUMNS]


# --- the roll-up --------------------------------------------------------------------------
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
        days |= {_as_date(d) for d in session.scalars(q)}
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
    start, end = _day_start(first), _day_start(last + dt.timedelta(days=1))
    for model in (MetricBucket, MetricDay, MetricEscalation):
        session.execute(delete(model).where(model.day >= first, model.day <= last))

    conv = _conversation_rows(session, start, end)
    dims = [conv.c.day, conv.c.channel, conv.c.intent, conv.c.model, conv.c.kb_version_id]
    bucket: Table = MetricBucket.__table__
    session.execute(
        bucket.insert().from_select(
            ["day", *DIMENSIONS, *SUM_COLUMNS],
            select(*dims, *_aggregates(conv)).group_by(*dims),
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
    esc = _conversation_rows(session, start, end, with_dims=False)
    session.execute(
        MetricEscalation.__table__.insert().from_select(
            ["day", "channel", "reason", "count"],
            select(esc.c.day, esc.c.channel, esc.c.reason, func.count())
            .where(esc.c.is_escalated == 1)
            .group_by(esc.c.day, esc.c.channel, esc.c.reason),
        )
    )


def _sql_date(day: dt.date):
    """A date constant for INSERT .. SELECT lists (stored as 'YYYY-MM-DD' on SQLite)."""
    return literal_column(f"'{day.isoformat()}'")


def _month_end(month: dt.date) -> dt.date:
    """Last day of the month starting at ``month``."""
    return dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1) - dt.timedelta(days=1)


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
        .where(split.c.grain == "day", split.c.start >= month, split.c.start <= _month_end(month))
        .group_by(split.c.channel, split.c.dimension, split.c.value),
    ))


def rollup(session: Session, clock: Clock | None = None, *, full: bool = False) -> dict:
    """Re-aggregate the days touched since the last roll-up (every day on the first run or
    with ``full``) and move the watermark. Returns what was done; the caller commits."""
    clock = clock or SystemClock()
    t0 = time.perf_counter()
    _no_jit(session)
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


# --- turning sums into metrics -------------------------------------------------------------
def histogram_percentile(counts: list[int], q: float) -> float | None:
    """The q-quantile (0..1) of a first-response-time histogram (bins of FRT_BIN_EDGES_S),
    interpolated linearly inside its bin; None when the histogram is empty."""
    total = sum(counts)
    if total <= 0:
        return None
    rank = q * total
    cum = 0
    for i, count in enumerate(counts):
        if count and cum + count >= rank:
            lo = 0.0 if i == 0 else float(FRT_BIN_EDGES_S[i - 1])
            if i >= len(FRT_BIN_EDGES_S):
                return lo
            hi = float(FRT_BIN_EDGES_S[i])
            return lo + (hi - lo) * max(0.0, rank - cum) / count
        cum += count
    return float(FRT_BIN_EDGES_S[-1])


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def empty_sums() -> dict[str, float]:
    return {name: 0 for name in SUM_COLUMNS}


def add_sums(target: dict[str, float], row: Any) -> dict[str, float]:
    """Add one row of sums (a mapping with SUM_COLUMNS keys) into ``target``."""
    for name in SUM_COLUMNS:
        target[name] += row[name] or 0
    return target


def kpis(sums: dict[str, float]) -> dict[str, float | None]:
    """Every KPI of one cell of sums (None where its denominator is zero)."""
    hist = [int(sums[name]) for name in FRT_BIN_COLUMNS]
    conv = sums["conversations"]
    return {
        "conversations": int(conv),
        "containment_rate": _round(_ratio(sums["contained"], sums["closed"])),
        "escalation_rate": _round(_ratio(sums["escalated"], conv)),
        "csat_avg": _round(_ratio(sums["csat_sum"], sums["csat_count"]), 3),
        "csat_responses": int(sums["csat_count"]),
        "conversion_rate": _round(_ratio(sums["bookings"], conv)),
        "bookings": int(sums["bookings"]),
        "booking_value_usd": _round(sums["booking_value_usd"], 2),
        "frt_p50_s": _round(histogram_percentile(hist, 0.5), 1),
        "frt_p90_s": _round(histogram_percentile(hist, 0.9), 1),
        "cost_usd": _round(sums["cost_usd"], 4),
        "cost_per_conversation_usd": _round(_ratio(sums["cost_usd"], conv)),
        "cost_per_resolution_usd": _round(_ratio(sums["cost_usd"], sums["contained"])),
        "feedback_rate": _round(_ratio(sums["feedback"], conv)),
        "successful_outcome_rate": _round(_ratio(sums["successful"], conv)),
    }


def _change(current: float | None, previous: float | None) -> dict[str, float | None]:
    change = None if current is None or previous is None else current - previous
    pct = None if change is None or not previous else change / abs(previous)
    return {
        "value": current,
        "previous": previous,
        "change": _round(change),
        "change_pct": _round(pct),
    }


def window_metrics(
    session: Session, start: dt.datetime, end: dt.datetime, channel: str | None = None
) -> dict[str, float | None]:
    """KPIs of the conversations started in [start, end) (optionally one channel), read from
    the conversation rows of that window only. Used by alert checks."""
    _no_jit(session)
    conv = _conversation_rows(session, start, end, channel, with_dims=False)
    row = session.execute(select(*_aggregates(conv))).mappings().one()
    sums = add_sums(empty_sums(), row)
    out = kpis(sums)
    out["closed"] = int(sums["closed"])
    out["frt_count"] = int(sums["frt_count"])
    return out


# --- training examples this quarter ---------------------------------------------------------
def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: dt.date) -> dt.date:
    """First day of the next quarter."""
    start = quarter_start(day)
    return dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)


def approved_training_examples(
    session: Session, start: dt.datetime, end: dt.datetime
) -> int | None:
    """Active, human-verified training examples created in [start, end); None while the
    training_example table does not exist."""
    model = getattr(models, "TrainingExample", None)
    if model is None or not _has_table(session, model.__tablename__):
        return None
    return int(
        session.scalar(
            select(func.count())
            .select_from(model)
            .where(
                model.human_verified.is_(True),
                model.active.is_(True),
                model.created_at >= start,
                model.created_at < end,
            )
        )
        or 0
    )


def training_pace(session: Session, now: dt.datetime, target: int) -> dict[str, Any]:
    """Approved training examples this quarter against the straight-line pace toward
    ``target`` by the quarter's end."""
    q0, q1 = quarter_start(now.date()), quarter_end(now.date())
    approved = approved_training_examples(session, _day_start(q0), _day_start(q1))
    elapsed = (now - _day_start(q0)).total_seconds() / (_day_start(q1) - _day_start(q0)).total_seconds()
    pace = target * elapsed
    return {
        "approved": approved,
        "target": target,
        "quarter_start": q0.isoformat(),
        "quarter_end": (q1 - dt.timedelta(days=1)).isoformat(),
        "expected_by_now": round(pace, 1),
        "behind_by": None if approved is None else round(max(0.0, pace - approved), 1),
    }


# --- the dashboard ---------------------------------------------------------------------------
def _validate(days: int, channel: str | None) -> None:
    if not isinstance(days, int) or days < 1 or days > MAX_DASHBOARD_DAYS:
        raise ValidationError(f"days must be a whole number from 1 to {MAX_DASHBOARD_DAYS}, not {days!r}.")
    if channel is not None and channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}.")


def _sum_query(model, *group_by):
    return select(*group_by, *[func.sum(getattr(model, name)).label(name) for name in SUM_COLUMNS])


def _split_periods(start: dt.date, end: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """The whole calendar months inside start..end (their 1st days) and the day ranges left."""
    month = start if start.day == 1 else _month_end(start) + dt.timedelta(days=1)
    months = []
    while _month_end(month) <= end:
        months.append(month)
        month = _month_end(month) + dt.timedelta(days=1)
    if not months:
        return [], [(start, end)]
    ranges = []
    if start < months[0]:
        ranges.append((start, months[0] - dt.timedelta(days=1)))
    tail = _month_end(months[-1]) + dt.timedelta(days=1)
    if tail <= end:
        ranges.append((tail, end))
    return months, ranges


def _vector() -> list[float]:
    return [0] * len(SUM_COLUMNS)


def _add(acc: list[float], values) -> list[float]:
    """Add a row's SUM_COLUMNS values (in order) into ``acc``."""
    for i, v in enumerate(values):
        if v:
            acc[i] += v
    return acc


def _kpis(vector: list[float]) -> dict[str, float | None]:
    return kpis(dict(zip(SUM_COLUMNS, vector, strict=True)))


def dashboard(
    session: Session,
    days: int = 7,
    channel: str | None = None,
    clock: Clock | None = None,
    *,
    training_target: int = 200,
) -> dict[str, Any]:
    """Every dashboard figure for the last ``days`` days (today included, UTC), optionally for
    one channel: KPIs with their change against the previous period of the same length,
    the daily and weekly series, and the split by channel, intent, model and KB version.
    Reads only the roll-up tables."""
    _validate(days, channel)
    now = (clock or SystemClock()).now()
    today = now.date()
    start = today - dt.timedelta(days=days - 1)
    prev_start = start - dt.timedelta(days=days)
    conn = session.connection()  # plain rows: no ORM overhead on the read path

    def where(model, first: dt.date):
        conds = [model.day >= first, model.day <= today]
        if channel:
            conds.append(model.channel == channel)
        return conds

    # 1. daily sums of both periods (metric_day)
    per_day: dict[dt.date, list[float]] = {}
    q = _sum_query(MetricDay, MetricDay.day).where(*where(MetricDay, prev_start)).group_by(MetricDay.day)
    for row in conn.execute(q):
        per_day[_as_date(row[0])] = _add(_vector(), row[1:])
    current, previous = _vector(), _vector()
    for day, sums in per_day.items():
        _add(current if day >= start else previous, sums)
    series = []
    weekly: dict[dt.date, list[float]] = {}
    zero = _vector()
    for i in range(days):
        day = start + dt.timedelta(days=i)
        sums = per_day.get(day, zero)
        series.append({"date": day.isoformat(), **_kpis(sums)})
        week = day - dt.timedelta(days=day.weekday())
        if week not in weekly:
            weekly[week] = _vector()
        _add(weekly[week], sums)

    # 2. by channel (metric_day)
    q = _sum_query(MetricDay, MetricDay.channel).where(*where(MetricDay, start)).group_by(MetricDay.channel)
    by_channel = [{"channel": row[0], **_kpis(_add(_vector(), row[1:]))} for row in conn.execute(q)]

    # 3. by intent, model and KB version (metric_split: whole months, plus days of partial ones)
    months, day_ranges = _split_periods(start, today)
    split_cond = [and_(MetricSplit.grain == "day", MetricSplit.start >= a, MetricSplit.start <= b)
                  for a, b in day_ranges]
    if months:
        split_cond.append(and_(MetricSplit.grain == "month", MetricSplit.start.in_(months)))
    q = _sum_query(MetricSplit, MetricSplit.dimension, MetricSplit.value).where(or_(*split_cond))
    if channel:
        q = q.where(MetricSplit.channel == channel)
    dims: dict[str, dict[str, list[float]]] = {d: {} for d in SPLITS}
    for row in conn.execute(q.group_by(MetricSplit.dimension, MetricSplit.value)):
        dims[row[0]][row[1]] = _add(_vector(), row[2:])

    def split(dimension: str, label: str) -> list[dict]:
        out = []
        for value, sums in dims[dimension].items():
            key: Any = value or None
            if dimension == "kb_version":
                key = int(value) if value not in ("", "0") else None
            out.append({label: key, **_kpis(sums)})
        return sorted(out, key=lambda r: -r["conversations"])

    # 4. escalations by reason (metric_escalation)
    esc_q = (
        select(MetricEscalation.reason, func.sum(MetricEscalation.count).label("n"))
        .where(*where(MetricEscalation, start))
        .group_by(MetricEscalation.reason)
        .order_by(func.sum(MetricEscalation.count).desc())
    )
    escalations = [{"reason": reason, "count": int(n)} for reason, n in conn.execute(esc_q)]

    cur, prev = _kpis(current), _kpis(previous)
    rolled_up_at = conn.execute(
        select(MetricRollupState.rolled_up_at).where(MetricRollupState.id == 1)
    ).scalar()
    return {
        "days": days,
        "channel": channel,
        "generated_at": now.isoformat(),
        "rolled_up_at": rolled_up_at.isoformat() if rolled_up_at else None,
        "period": {"start": start.isoformat(), "end": today.isoformat()},
        "previous_period": {
            "start": prev_start.isoformat(),
            "end": (start - dt.timedelta(days=1)).isoformat(),
        },
        "kpis": {name: _change(cur[name], prev[name]) for name in KPI_NAMES},
        "csat_distribution": {str(k): int(current[SUM_COLUMNS.index(f"csat_{k}")]) for k in range(1, 6)},
        "series": series,
        "weekly": [
            {"week_start": week.isoformat(), **_kpis(sums)} for week, sums in sorted(weekly.items())
        ],
        "by_channel": sorted(by_channel, key=lambda r: -r["conversations"]),
        "by_intent": split("intent", "intent"),
        "by_model": split("model", "model"),
        "by_kb_version": split("kb_version", "kb_version_id"),
        "escalations_by_reason": escalations,
        "training_examples": training_pace(session, now, training_target),
    }
