"""Alert rules and alerts, job runs, job state (schedule anchors and SQLite leases) and runner heartbeats."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.platform.clock import utcnow
from core.platform.models.audit import SEVERITIES
from core.platform.models.base import Base, one_of
from core.platform.statuses import AlertRuleKind, AlertState, JobRunStatus, JobTrigger, Severity

ALERT_RULE_KINDS = tuple(AlertRuleKind)
ALERT_COMPARISONS = ("<", ">")
ALERT_STATES = tuple(AlertState)
JOB_RUN_STATUSES = tuple(JobRunStatus)


class AlertRule(Base):
    """When to alert: a metric compared with a threshold over a window that grows until it
    holds ``min_volume`` (up to ``max_window_minutes``), or events of a kind."""

    __tablename__ = "alert_rule"
    __table_args__ = (
        CheckConstraint(one_of("kind", ALERT_RULE_KINDS), name="kind"),
        CheckConstraint(one_of("comparison", ALERT_COMPARISONS), name="comparison"),
        CheckConstraint(one_of("severity", SEVERITIES), name="severity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), default=AlertRuleKind.METRIC)
    metric: Mapped[str] = mapped_column(String(100))  # metric name, or event kind prefix
    comparison: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float | None] = mapped_column(Float)  # None: from settings (cost budget)
    window_minutes: Mapped[int] = mapped_column(Integer, default=60)
    max_window_minutes: Mapped[int] = mapped_column(Integer, default=1440)
    channel: Mapped[str | None] = mapped_column(String(20))
    min_volume: Mapped[int] = mapped_column(Integer, default=0)
    cooldown_minutes: Mapped[int] = mapped_column(Integer, default=60)
    severity: Mapped[str] = mapped_column(String(20), default=Severity.WARNING)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """One breach of a rule: fired once, resolved once, each notified once."""

    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint(one_of("state", ALERT_STATES), name="state"),
        Index("ix_alert_rule_state", "rule_id", "state"),
        Index("ix_alert_fired_at", "fired_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default=AlertState.FIRING)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    volume: Mapped[int | None] = mapped_column(Integer)
    window_minutes: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fired_at: Mapped[dt.datetime] = mapped_column(DateTime)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_value: Mapped[float | None] = mapped_column(Float)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # {"fire": {"email": iso, "webhook": iso}, "resolve": {...}}: what was delivered when
    notified: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notify_error: Mapped[str | None] = mapped_column(Text)

    rule: Mapped[AlertRule] = relationship()


class JobRun(Base):
    """One run of a background task (scheduled or by hand)."""

    __tablename__ = "job_run"
    __table_args__ = (
        CheckConstraint(one_of("status", JOB_RUN_STATUSES), name="status"),
        Index("ix_job_run_job_started", "job", "started_at"),
        Index("ix_job_run_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(20), default=JobTrigger.SCHEDULE)
    runner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=JobRunStatus.RUNNING)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # the job queue (core.ops.queue): what was asked, by whom, how far it is, whether to stop
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    queued_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    progress_message: Mapped[str | None] = mapped_column(String(500))
    progress_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)


class JobState(Base):
    """Per task: when a runner first saw it (anchors calendar schedules) and the lease that
    keeps two runners from running it at once on SQLite."""

    __tablename__ = "job_state"

    job: Mapped[str] = mapped_column(String(100), primary_key=True)
    first_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class RunnerHeartbeat(Base):
    """A job runner process: when it started, when it was last alive, what it is doing."""

    __tablename__ = "runner_heartbeat"

    runner: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(DateTime)
    current_job: Mapped[str | None] = mapped_column(String(100))
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
