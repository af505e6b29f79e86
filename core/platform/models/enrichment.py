"""What enrichment keeps: trained intent classifiers and the knowledge gaps of the last gaps refresh."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.platform.clock import utcnow
from core.platform.models.base import Base, one_of
from core.platform.statuses import GapTrend, IntentModelStatus

INTENT_MODEL_STATUSES = tuple(IntentModelStatus)
GAP_TRENDS = tuple(GapTrend)


class IntentModel(Base):
    """A trained intent classifier (logistic regression on the shared embedder's vectors):
    weights as npz bytes, its labels and what it was trained from. One is active."""

    __tablename__ = "intent_model"
    __table_args__ = (
        CheckConstraint(one_of("status", INTENT_MODEL_STATUSES), name="status"),
        Index(
            "uq_intent_model_one_active", "status", unique=True,
            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=IntentModelStatus.ACTIVE)
    model_id: Mapped[str] = mapped_column(String(200))  # the embedder it was trained on
    dim: Mapped[int] = mapped_column(Integer)
    labels: Mapped[list[Any]] = mapped_column(JSON, default=list)
    weights: Mapped[bytes] = mapped_column(LargeBinary)
    examples: Mapped[int] = mapped_column(Integer, default=0)
    by_source: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    by_intent: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    train_accuracy: Mapped[float | None] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class KnowledgeGap(Base):
    """A cluster of similar customer questions the assistant handled badly (escalated, low
    confidence or down-voted), as of the last gaps refresh; the dashboard reads these rows."""

    __tablename__ = "knowledge_gap"
    __table_args__ = (
        CheckConstraint(one_of("trend", GAP_TRENDS), name="trend"),
        Index("ix_knowledge_gap_count", "question_count"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Text)  # the most central question (redacted)
    intent: Mapped[str | None] = mapped_column(String(100))
    question_count: Mapped[int] = mapped_column(Integer, default=0)
    conversation_count: Mapped[int] = mapped_column(Integer, default=0)
    this_week: Mapped[int] = mapped_column(Integer, default=0)
    last_week: Mapped[int] = mapped_column(Integer, default=0)
    trend: Mapped[str] = mapped_column(String(10), default=GapTrend.STEADY)
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # reason -> questions
    examples: Mapped[list[Any]] = mapped_column(JSON, default=list)  # redacted texts
    message_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    first_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closest_chunk_id: Mapped[int | None] = mapped_column(ForeignKey("chunk.id", ondelete="SET NULL"))
    closest_chunk_score: Mapped[float | None] = mapped_column(Float)
    model_id: Mapped[str] = mapped_column(String(200))
    refreshed_at: Mapped[dt.datetime] = mapped_column(DateTime)
