"""SQLAlchemy 2 typed models. Every table is created by an Alembic migration
(migrations/versions); a test checks the migrations and these models agree.

All timestamps are naive UTC (see core.clock).
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
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.clock import utcnow

CHANNELS = ("email", "sms", "web", "instagram", "facebook", "phone")
CONVERSATION_STATUSES = ("ai", "escalated", "closed")
ROLES = ("user", "assistant", "system", "agent")
SEVERITIES = ("info", "warning", "error", "critical")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", CONVERSATION_STATUSES), name="status"),
        Index("ix_conversation_created_at", "created_at"),
        Index("ix_conversation_user", "channel", "external_user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="ai")
    channel_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    assigned_agent: Mapped[str | None] = mapped_column(String(200))
    escalation_reason: Mapped[str | None] = mapped_column(String(200))
    intent: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    messages: Mapped[list[Message]] = relationship(
        back_populates="conversation", order_by="Message.id", cascade="all, delete-orphan"
    )
    outcome: Mapped[ConversationOutcome | None] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", uselist=False
    )


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        CheckConstraint(_in("role", ROLES), name="role"),
        Index("ix_message_conversation", "conversation_id", "id"),
        Index("ix_message_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE")
    )
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    raw_content: Mapped[str | None] = mapped_column(Text)
    redacted_content: Mapped[str] = mapped_column(Text)
    pii_entity_types: Mapped[list[Any]] = mapped_column(JSON, default=list)
    safe_for_training: Mapped[bool] = mapped_column(Boolean, default=True)
    confidence: Mapped[float | None] = mapped_column(Float)
    model_used: Mapped[str | None] = mapped_column(String(200))
    latency_ms: Mapped[float | None] = mapped_column(Float)
    tokens_in: Mapped[int | None] = mapped_column(Integer)
    tokens_out: Mapped[int | None] = mapped_column(Integer)
    cost_usd: Mapped[float | None] = mapped_column(Float)
    human_edited: Mapped[bool] = mapped_column(Boolean, default=False)
    human_edit_content: Mapped[str | None] = mapped_column(Text)
    edit_reason: Mapped[str | None] = mapped_column(Text)
    edited_by: Mapped[str | None] = mapped_column(String(200))
    edited_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ConversationOutcome(Base):
    __tablename__ = "conversation_outcome"
    __table_args__ = (
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat"),
        CheckConstraint("tone_score IS NULL OR (tone_score >= 0 AND tone_score <= 1)", name="tone"),
    )

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True
    )
    booking_converted: Mapped[bool] = mapped_column(Boolean, default=False)
    booking_value_usd: Mapped[float | None] = mapped_column(Float)
    successful_outcome: Mapped[bool] = mapped_column(Boolean, default=False)
    tone_score: Mapped[float | None] = mapped_column(Float)
    csat: Mapped[int | None] = mapped_column(Integer)
    down_votes: Mapped[int] = mapped_column(Integer, default=0)
    first_response_time_seconds: Mapped[float | None] = mapped_column(Float)
    total_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="outcome")


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    entity: Mapped[str] = mapped_column(String(100))
    entity_id: Mapped[str | None] = mapped_column(String(100))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Event(Base):
    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        Index("ix_event_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(20), default="info")
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
