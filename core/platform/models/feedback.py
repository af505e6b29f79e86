"""Customer feedback: thumbs votes on answers and the post-booking CSAT survey."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.platform.clock import utcnow
from core.platform.models.base import Base, one_of
from core.platform.statuses import FeedbackSource, SurveyStatus, Vote

VOTES = tuple(Vote)
FEEDBACK_SOURCES = tuple(FeedbackSource)
SURVEY_STATUSES = tuple(SurveyStatus)


class Feedback(Base):
    """A customer's thumbs vote on one assistant message: one row per message and voter."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(one_of("vote", VOTES), name="vote"),
        CheckConstraint(one_of("source", FEEDBACK_SOURCES), name="source"),
        Index("ix_feedback_message_voter", "message_id", "voter", unique=True),
        Index("ix_feedback_conversation", "conversation_id"),
        Index("ix_feedback_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(200))
    vote: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20), default=FeedbackSource.API)
    comment: Mapped[str | None] = mapped_column(Text)  # redacted
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Survey(Base):
    """The post-booking CSAT survey of a conversation: sent once, answered once."""

    __tablename__ = "survey"
    __table_args__ = (
        CheckConstraint(one_of("status", SURVEY_STATUSES), name="status"),
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(20), default=SurveyStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    csat: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)  # redacted
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
