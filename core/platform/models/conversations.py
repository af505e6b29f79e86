"""Conversations, their messages and the outcome of each conversation."""

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
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.platform.clock import utcnow
from core.platform.models.base import Base, one_of
from core.platform.statuses import Channel, ConversationStatus, MessageRole

CHANNELS = tuple(Channel)
CONVERSATION_STATUSES = tuple(ConversationStatus)
ROLES = tuple(MessageRole)


class Conversation(Base):
    __tablename__ = "conversation"
    __table_args__ = (
        CheckConstraint(one_of("channel", CHANNELS), name="channel"),
        CheckConstraint(one_of("status", CONVERSATION_STATUSES), name="status"),
        Index("ix_conversation_created_at", "created_at"),
        Index("ix_conversation_user", "channel", "external_user_id"),
        UniqueConstraint("channel", "external_id", name="uq_conversation_channel_external_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200))  # unique per channel
    channel: Mapped[str] = mapped_column(String(20))
    external_user_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=ConversationStatus.AI)
    channel_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    first_response_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    escalated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    assigned_agent: Mapped[str | None] = mapped_column(String(200))
    escalation_reason: Mapped[str | None] = mapped_column(String(200))
    resolution: Mapped[str | None] = mapped_column(String(200))  # given when closed (lifecycle)
    intent: Mapped[str | None] = mapped_column(String(100))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    intent_source: Mapped[str | None] = mapped_column(String(20))  # model | admin | None
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
        CheckConstraint(one_of("role", ROLES), name="role"),
        # a message's external id is unique within its conversation's channel (the channel is
        # copied onto the message for the constraint; an id needs its channel)
        CheckConstraint("external_id IS NULL OR channel IS NOT NULL", name="external_id_channel"),
        UniqueConstraint("channel", "external_id", name="uq_message_channel_external_id"),
        Index("ix_message_conversation", "conversation_id", "id"),
        Index("ix_message_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE")
    )
    external_id: Mapped[str | None] = mapped_column(String(200))  # unique per channel
    channel: Mapped[str | None] = mapped_column(String(20))  # the conversation's; set with external_id
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
    kb_version_id: Mapped[int | None] = mapped_column(  # the KB version that answered
        ForeignKey("kb_version.id", ondelete="SET NULL")
    )
    # enrichment (core.enrichment.enrich)
    intent: Mapped[str | None] = mapped_column(String(100))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    intent_source: Mapped[str | None] = mapped_column(String(20))  # model | admin
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    flag_reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    profanity_score: Mapped[float | None] = mapped_column(Float)
    tone_score: Mapped[float | None] = mapped_column(Float)
    tone_parts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enriched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # the experiment that routed this answer and the arm (control | candidate)
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiment.id", ondelete="SET NULL"))
    arm: Mapped[str | None] = mapped_column(String(20))

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ConversationOutcome(Base):
    __tablename__ = "conversation_outcome"
    __table_args__ = (
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat"),
        CheckConstraint("tone_score IS NULL OR (tone_score >= 0 AND tone_score <= 1)", name="tone"),
    )
    # costs are US dollars rounded to micro-dollars (6 decimals) on write; FLOAT is a double on
    # both databases, exact to well below a micro-dollar for any realistic total

    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), primary_key=True
    )
    booking_converted: Mapped[bool] = mapped_column(Boolean, default=False)
    booking_value_usd: Mapped[float | None] = mapped_column(Float)
    successful_outcome: Mapped[bool] = mapped_column(Boolean, default=False)
    tone_score: Mapped[float | None] = mapped_column(Float)  # as imported (kept)
    computed_tone_score: Mapped[float | None] = mapped_column(Float)  # mean tone of the answers
    csat: Mapped[int | None] = mapped_column(Integer)
    down_votes: Mapped[int] = mapped_column(Integer, default=0)
    first_response_time_seconds: Mapped[float | None] = mapped_column(Float)
    total_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="outcome")


# the metrics roll-up finds the days touched since its last run by updated_at
Index("ix_conversation_updated_at", Conversation.updated_at)
Index("ix_conversation_outcome_updated_at", ConversationOutcome.updated_at)
