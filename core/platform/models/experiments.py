"""Experiments: candidates tested against production, who saw which arm, shadow answers, and
what production serves outside KB versions.
"""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.platform.clock import utcnow
from core.platform.models.base import Base, one_of
from core.platform.statuses import Arm, ExperimentKind, ExperimentMode, ExperimentStatus

EXPERIMENT_KINDS = tuple(ExperimentKind)
EXPERIMENT_MODES = tuple(ExperimentMode)
EXPERIMENT_STATUSES = tuple(ExperimentStatus)
EXPERIMENT_ARMS = tuple(Arm)


class Experiment(Base):
    """A candidate (chat model, KB version or embedding model) tested against production:
    split (users hashed into arms) or shadow (the candidate answers too, never sent)."""

    __tablename__ = "experiment"
    __table_args__ = (
        CheckConstraint(one_of("kind", EXPERIMENT_KINDS), name="kind"),
        CheckConstraint(one_of("mode", EXPERIMENT_MODES), name="mode"),
        CheckConstraint(one_of("status", EXPERIMENT_STATUSES), name="status"),
        CheckConstraint("share > 0 AND share < 1", name="share"),
        # at most one running experiment per kind, enforced by the database on both backends
        Index(
            "uq_experiment_one_running", "kind", unique=True,
            sqlite_where=text("status = 'running'"), postgresql_where=text("status = 'running'"),
        ),
        Index("ix_experiment_status", "status", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(20), default=ExperimentMode.SPLIT)
    status: Mapped[str] = mapped_column(String(20), default=ExperimentStatus.RUNNING)
    control: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # what production serves
    candidate: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    share: Mapped[float] = mapped_column(Float, default=0.1)
    salt: Mapped[str] = mapped_column(String(64))
    min_users_per_arm: Mapped[int] = mapped_column(Integer, default=100)
    finetune_job_id: Mapped[int | None] = mapped_column(Integer)  # where the candidate came from
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    planned_end_at: Mapped[dt.datetime] = mapped_column(DateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    recommendation: Mapped[str | None] = mapped_column(String(30))  # last look: PROMOTE | ...
    last_comparison: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decision: Mapped[str | None] = mapped_column(String(30))  # PROMOTE | ROLLBACK | STOP
    reason: Mapped[str | None] = mapped_column(Text)
    confirmed_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    previous: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # production before promotion


class ExperimentExposure(Base):
    """One answer given while an experiment ran: which user (the hashed id), which arm, and
    whether it failed. Comparisons read these rows (a message may be in several experiments
    of different kinds; ``message.experiment_id`` names the first)."""

    __tablename__ = "experiment_exposure"
    __table_args__ = (
        CheckConstraint(one_of("arm", EXPERIMENT_ARMS), name="arm"),
        Index("ix_experiment_exposure_experiment", "experiment_id", "created_at"),
        Index("ix_experiment_exposure_message", "message_id", "experiment_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    user_key: Mapped[str] = mapped_column(String(200))
    arm: Mapped[str] = mapped_column(String(20))
    error: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ShadowAnswer(Base):
    """The candidate's answer to a question in shadow mode: stored, never sent, compared with
    the answer that was sent (``message_id``) and with the admin's later review."""

    __tablename__ = "shadow_answer"
    __table_args__ = (
        Index("ix_shadow_answer_experiment", "experiment_id", "created_at"),
        Index("ix_shadow_answer_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    experiment_id: Mapped[int] = mapped_column(ForeignKey("experiment.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    user_key: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)  # redacted
    confidence: Mapped[float | None] = mapped_column(Float)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    used_chunk_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    kb_version_id: Mapped[int | None] = mapped_column(Integer)
    model_used: Mapped[str | None] = mapped_column(String(200))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    same_chunk: Mapped[bool | None] = mapped_column(Boolean)  # used the sent answer's first chunk
    similarity: Mapped[float | None] = mapped_column(Float)  # text similarity to the sent answer
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ProductionConfig(Base):
    """What production serves where it is not a KB version row: ``chat_model`` and
    ``embedding_model_path`` (overriding the settings once an experiment promoted one)."""

    __tablename__ = "production_config"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiment.id", ondelete="SET NULL"))
