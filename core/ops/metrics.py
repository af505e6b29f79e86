"""Reading the metrics: every dashboard figure from the roll-up tables, and the quarter's
training-example pace.

:func:`dashboard` touches only the roll-up tables written by ``core.ops.rollup`` (never
conversations or messages): KPIs with their change against the previous period, the daily and
weekly series, and the splits by channel, intent, model and KB version. What each metric
means is defined once, in ``core.ops.metric_sql``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from core.ops.metric_sql import KPI_NAMES, SPLITS, SUM_COLUMNS, as_date, day_start, kpis, month_end, rounded
from core.platform.clock import Clock, SystemClock
from core.platform.errors import ValidationError
from core.platform.models import (
    CHANNELS,
    MetricDay,
    MetricEscalation,
    MetricRollupState,
    MetricSplit,
    TrainingExample,
)

MAX_DASHBOARD_DAYS = 731



# --- training examples this quarter ---------------------------------------------------------
def quarter_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def quarter_end(day: dt.date) -> dt.date:
    """First day of the next quarter."""
    start = quarter_start(day)
    return dt.date(start.year + (start.month == 10), (start.month + 2) % 12 + 1, 1)


def approved_training_examples(session: Session, start: dt.datetime, end: dt.datetime) -> int:
    """Active, human-verified training examples created in [start, end)."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(TrainingExample)
            .where(
                TrainingExample.human_verified.is_(True),
                TrainingExample.active.is_(True),
                TrainingExample.created_at >= start,
                TrainingExample.created_at < end,
            )
        )
        or 0
    )


def training_pace(session: Session, now: dt.datetime, target: int) -> dict[str, Any]:
    """Approved training examples this quarter against the straight-line pace toward
    ``target`` by the quarter's end."""
    q0, q1 = quarter_start(now.date()), quarter_end(now.date())
    approved = approved_training_examples(session, day_start(q0), day_start(q1))
    elapsed = (now - day_start(q0)).total_seconds() / (day_start(q1) - day_start(q0)).total_seconds()
    pace = target * elapsed
    return {
        "approved": approved,
        "target": target,
        "quarter_start": q0.isoformat(),
        "quarter_end": (q1 - dt.timedelta(days=1)).isoformat(),
        "expected_by_now": round(pace, 1),
        "behind_by": round(max(0.0, pace - approved), 1),
    }


# --- the dashboard ---------------------------------------------------------------------------
def _validate(days: int, channel: str | None) -> None:
    if not isinstance(days, int) or days < 1 or days > MAX_DASHBOARD_DAYS:
        raise ValidationError(f"days must be a whole number from 1 to {MAX_DASHBOARD_DAYS}, not {days!r}.")
    if channel is not None and channel not in CHANNELS:
        raise ValidationError(f"Unknown channel {channel!r}; use one of {', '.join(CHANNELS)}.")


def _sum_query(model: Any, *group_by: Any) -> Select:
    return select(*group_by, *[func.sum(getattr(model, name)).label(name) for name in SUM_COLUMNS])


def _split_periods(start: dt.date, end: dt.date) -> tuple[list[dt.date], list[tuple[dt.date, dt.date]]]:
    """The whole calendar months inside start..end (their 1st days) and the day ranges left."""
    month = start if start.day == 1 else month_end(start) + dt.timedelta(days=1)
    months = []
    while month_end(month) <= end:
        months.append(month)
        month = month_end(month) + dt.timedelta(days=1)
    if not months:
        return [], [(start, end)]
    ranges = []
    if start < months[0]:
        ranges.append((start, months[0] - dt.timedelta(days=1)))
    tail = month_end(months[-1]) + dt.timedelta(days=1)
    if tail <= end:
        ranges.append((tail, end))
    return months, ranges


def _vector() -> list[float]:
    return [0] * len(SUM_COLUMNS)


def _add(acc: list[float], values: Any) -> list[float]:
    """Add a row's SUM_COLUMNS values (in order) into ``acc``."""
    for i, v in enumerate(values):
        if v:
            acc[i] += v
    return acc


def _kpis(vector: list[float]) -> dict[str, float | None]:
    return kpis(dict(zip(SUM_COLUMNS, vector, strict=True)))


def _change(current: float | None, previous: float | None) -> dict[str, float | None]:
    change = None if current is None or previous is None else current - previous
    pct = None if change is None or not previous else change / abs(previous)
    return {
        "value": current,
        "previous": previous,
        "change": rounded(change),
        "change_pct": rounded(pct),
    }


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
    the daily series of both periods (``previous_series``: day i of the previous period beside
    day i of ``series``), the weekly series, and the split by channel, intent, model and KB version.
    Reads only the roll-up tables."""
    _validate(days, channel)
    now = (clock or SystemClock()).now()
    today = now.date()
    start = today - dt.timedelta(days=days - 1)
    prev_start = start - dt.timedelta(days=days)
    conn = session.connection()  # plain rows: no ORM overhead on the read path

    def where(model: Any, first: dt.date) -> list[Any]:
        conds = [model.day >= first, model.day <= today]
        if channel:
            conds.append(model.channel == channel)
        return conds

    # 1. daily sums of both periods (metric_day)
    per_day: dict[dt.date, list[float]] = {}
    q = _sum_query(MetricDay, MetricDay.day).where(*where(MetricDay, prev_start)).group_by(MetricDay.day)
    for row in conn.execute(q):
        per_day[as_date(row[0])] = _add(_vector(), row[1:])
    current, previous = _vector(), _vector()
    for day, sums in per_day.items():
        _add(current if day >= start else previous, sums)
    series, previous_series = [], []
    weekly: dict[dt.date, list[float]] = {}
    zero = _vector()
    for i in range(days):
        day = start + dt.timedelta(days=i)
        sums = per_day.get(day, zero)
        series.append({"date": day.isoformat(), **_kpis(sums)})
        before = prev_start + dt.timedelta(days=i)
        previous_series.append({"date": before.isoformat(), **_kpis(per_day.get(before, zero))})
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
        "previous_series": previous_series,
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
