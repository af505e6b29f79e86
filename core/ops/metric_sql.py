"""The one definition of every metric (shared/DESIGN.md), in SQL, and how sums become KPIs.

Every conversation is counted on the UTC day it started (``conversation.created_at``).
:func:`conversation_rows` gives one row per conversation with the 0/1 flags and values every
metric is summed from; :func:`aggregates` sums them into the additive columns of the roll-up
tables (``SUM_COLUMNS``); :func:`kpis` turns one cell of sums into ratios. The roll-up
(``core.ops.rollup``) and the alert windows (:func:`window_metrics`) both go through these,
so a metric means the same everywhere:

- contained = status closed and never escalated; containment rate = contained / closed
- escalated = ``escalated_at`` set or status escalated; escalation rate = escalated / conversations
- CSAT = the 1-5 survey score on the outcome row (a thumbs vote is feedback, not CSAT)
- conversion = conversations with a booking / conversations; booking value = sum of values
- feedback rate = conversations with any vote (``feedback`` table, or a down vote counted on the
  outcome) or a CSAT / conversations
- first response time = the outcome's ``first_response_time_seconds`` (first assistant/agent
  message - first customer message), else ``first_response_at - created_at``; kept as a
  fixed-bin histogram, so p50/p90 combine over any set of buckets
- successful outcome = a booking, or contained with no down vote and no CSAT below 4
- cost = the outcome's ``total_cost_usd`` (else the sum of the assistant messages' cost);
  cost per resolution = cost / contained conversations
- model = the model of the conversation's assistant messages; KB version = the version that
  was active when the conversation started (``kb_version.activated_at``)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ColumnElement, Subquery, case, exists, func, literal, or_, select, text
from sqlalchemy.orm import Session

from core.platform.models import (
    FRT_BIN_EDGES_S,
    FRT_BINS,
    Conversation,
    ConversationOutcome,
    Feedback,
    KBVersion,
    Message,
    MetricDay,
)
from core.platform.statuses import ConversationStatus, MessageRole

SUM_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in MetricDay.__table__.columns if c.name not in ("day", "channel")
)
SPLITS = ("intent", "model", "kb_version")  # the dimensions of metric_split
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


# --- dates ----------------------------------------------------------------------------------
def as_date(value: Any) -> dt.date:
    """A date from a date, a datetime or an ISO string (what each backend returns for a DATE)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def month_end(month: dt.date) -> dt.date:
    """Last day of the month starting at ``month``."""
    return dt.date(month.year + (month.month == 12), month.month % 12 + 1, 1) - dt.timedelta(days=1)


# --- SQL ------------------------------------------------------------------------------------
def no_jit(session: Session) -> None:
    """PostgreSQL's JIT compiles these many-expression aggregates for far longer (~0.25 s) than
    they run; turn it off for the rest of the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _seconds_between(session: Session, later: Any, earlier: Any) -> ColumnElement:
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return func.extract("epoch", later - earlier)


def _kb_version_expr(session: Session, created_at: Any) -> ColumnElement:
    """The id of the KB version active when a conversation started (0 when none)."""
    rows = session.execute(
        select(KBVersion.id, KBVersion.activated_at)
        .where(KBVersion.activated_at.is_not(None))
        .order_by(KBVersion.activated_at.desc())
    ).all()
    if not rows:
        return literal(0)
    return case(*[(created_at >= at, vid) for vid, at in rows], else_=0)


def _frt_bin(frt: ColumnElement) -> ColumnElement:
    whens = [(frt <= edge, i) for i, edge in enumerate(FRT_BIN_EDGES_S)]
    return case((frt.is_(None), None), *whens, else_=len(FRT_BIN_EDGES_S))


def conversation_rows(
    session: Session,
    start: dt.datetime,
    end: dt.datetime,
    channel: str | None = None,
    *,
    with_dims: bool = True,
) -> Subquery:
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
            .where(Message.role == MessageRole.ASSISTANT, *in_range)
            .group_by(Message.conversation_id)
            .subquery("m")
        )
        frm = frm.outerjoin(m, m.c.cid == c.c.id)
        cost = func.coalesce(o.c.total_cost_usd, m.c.cost)
        model = func.coalesce(m.c.model, "")
        kb_version = _kb_version_expr(session, c.c.created_at)

    closed = c.c.status == ConversationStatus.CLOSED
    contained = (c.c.status == ConversationStatus.CLOSED) & c.c.escalated_at.is_(None)
    escalated = c.c.escalated_at.is_not(None) | (c.c.status == ConversationStatus.ESCALATED)
    booked = o.c.booking_converted.is_(True)
    down = func.coalesce(o.c.down_votes, 0) > 0
    csat = o.c.csat
    f = Feedback.__table__
    feedback_cond = or_(csat.is_not(None), down, exists().where(f.c.conversation_id == c.c.id))
    successful = booked | (contained & ~down & (csat.is_(None) | (csat >= 4)))
    frt = func.coalesce(
        o.c.first_response_time_seconds,
        _seconds_between(session, c.c.first_response_at, c.c.created_at),
    )

    def flag(cond: ColumnElement) -> ColumnElement:
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


def aggregates(conv: Subquery) -> list[ColumnElement]:
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


# --- turning sums into metrics ------------------------------------------------------------
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


COST_DIGITS = 6  # costs are kept and shown to micro-dollars


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def rounded(value: float | None, digits: int = 4) -> float | None:
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
        "containment_rate": rounded(_ratio(sums["contained"], sums["closed"])),
        "escalation_rate": rounded(_ratio(sums["escalated"], conv)),
        "csat_avg": rounded(_ratio(sums["csat_sum"], sums["csat_count"]), 3),
        "csat_responses": int(sums["csat_count"]),
        "conversion_rate": rounded(_ratio(sums["bookings"], conv)),
        "bookings": int(sums["bookings"]),
        "booking_value_usd": rounded(sums["booking_value_usd"], 2),
        "frt_p50_s": rounded(histogram_percentile(hist, 0.5), 1),
        "frt_p90_s": rounded(histogram_percentile(hist, 0.9), 1),
        # costs to micro-dollars: a model answer costs fractions of a cent
        "cost_usd": rounded(sums["cost_usd"], COST_DIGITS),
        "cost_per_conversation_usd": rounded(_ratio(sums["cost_usd"], conv), COST_DIGITS),
        "cost_per_resolution_usd": rounded(_ratio(sums["cost_usd"], sums["contained"]), COST_DIGITS),
        "feedback_rate": rounded(_ratio(sums["feedback"], conv)),
        "successful_outcome_rate": rounded(_ratio(sums["successful"], conv)),
    }


def window_metrics(
    session: Session, start: dt.datetime, end: dt.datetime, channel: str | None = None
) -> dict[str, float | None]:
    """KPIs of the conversations started in [start, end) (optionally one channel), read from
    the conversation rows of that window only. Used by alert checks."""
    no_jit(session)
    conv = conversation_rows(session, start, end, channel, with_dims=False)
    row = session.execute(select(*aggregates(conv))).mappings().one()
    sums = add_sums(empty_sums(), row)
    out = kpis(sums)
    out["closed"] = int(sums["closed"])
    out["frt_count"] = int(sums["frt_count"])
    return out
