"""The metric roll-up tables: additive sums per day and dimension, and the roll-up watermark."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from core.platform.models.base import Base

# Upper edges (seconds) of the first-response-time histogram bins; the last bin is open
# (> 86400 s). Fixed bins add up across buckets, so p50/p90 combine over any period.
FRT_BIN_EDGES_S = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800, 3600, 14400, 86400)
FRT_BINS = len(FRT_BIN_EDGES_S) + 1


class MetricSums:
    """Additive counts and sums of one roll-up cell; every metric is a ratio of these."""

    conversations: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    contained: Mapped[int] = mapped_column(Integer, default=0)
    escalated: Mapped[int] = mapped_column(Integer, default=0)
    bookings: Mapped[int] = mapped_column(Integer, default=0)
    booking_value_usd: Mapped[float] = mapped_column(Float, default=0.0)
    successful: Mapped[int] = mapped_column(Integer, default=0)
    feedback: Mapped[int] = mapped_column(Integer, default=0)
    down_voted: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    csat_count: Mapped[int] = mapped_column(Integer, default=0)
    csat_sum: Mapped[int] = mapped_column(Integer, default=0)
    csat_1: Mapped[int] = mapped_column(Integer, default=0)
    csat_2: Mapped[int] = mapped_column(Integer, default=0)
    csat_3: Mapped[int] = mapped_column(Integer, default=0)
    csat_4: Mapped[int] = mapped_column(Integer, default=0)
    csat_5: Mapped[int] = mapped_column(Integer, default=0)
    frt_count: Mapped[int] = mapped_column(Integer, default=0)
    frt_sum_s: Mapped[float] = mapped_column(Float, default=0.0)
    frt_b00: Mapped[int] = mapped_column(Integer, default=0)
    frt_b01: Mapped[int] = mapped_column(Integer, default=0)
    frt_b02: Mapped[int] = mapped_column(Integer, default=0)
    frt_b03: Mapped[int] = mapped_column(Integer, default=0)
    frt_b04: Mapped[int] = mapped_column(Integer, default=0)
    frt_b05: Mapped[int] = mapped_column(Integer, default=0)
    frt_b06: Mapped[int] = mapped_column(Integer, default=0)
    frt_b07: Mapped[int] = mapped_column(Integer, default=0)
    frt_b08: Mapped[int] = mapped_column(Integer, default=0)
    frt_b09: Mapped[int] = mapped_column(Integer, default=0)
    frt_b10: Mapped[int] = mapped_column(Integer, default=0)
    frt_b11: Mapped[int] = mapped_column(Integer, default=0)
    frt_b12: Mapped[int] = mapped_column(Integer, default=0)
    frt_b13: Mapped[int] = mapped_column(Integer, default=0)
    frt_b14: Mapped[int] = mapped_column(Integer, default=0)
    frt_b15: Mapped[int] = mapped_column(Integer, default=0)
    frt_b16: Mapped[int] = mapped_column(Integer, default=0)


class MetricBucket(MetricSums, Base):
    """Roll-up of the conversations started on one UTC day, per channel, intent, model and
    KB version ('' / 0 when unknown). Rebuilt for every day touched since the last roll-up."""

    __tablename__ = "metric_bucket"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    intent: Mapped[str] = mapped_column(String(100), primary_key=True)
    model: Mapped[str] = mapped_column(String(200), primary_key=True)
    kb_version_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class MetricDay(MetricSums, Base):
    """metric_bucket summed per day and channel: what the dashboard's series and channel
    split read."""

    __tablename__ = "metric_day"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)


class MetricSplit(MetricSums, Base):
    """metric_bucket summed per channel and ONE dimension (intent, model or kb_version), by
    day (grain 'day') and by calendar month (grain 'month', ``start`` = the 1st): the
    dashboard's splits read whole months and at most two partial months of days."""

    __tablename__ = "metric_split"

    grain: Mapped[str] = mapped_column(String(10), primary_key=True)
    start: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(20), primary_key=True)
    value: Mapped[str] = mapped_column(String(200), primary_key=True)


class MetricEscalation(Base):
    """Escalated conversations started on one day, per channel and escalation reason."""

    __tablename__ = "metric_escalation"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class MetricRollupState(Base):
    """The roll-up watermark: the newest updated_at already rolled up (one row, id 1)."""

    __tablename__ = "metric_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    conversation_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    outcome_updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    rolled_up_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    days_rebuilt: Mapped[int] = mapped_column(Integer, default=0)
