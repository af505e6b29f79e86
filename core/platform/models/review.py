"""The review queue (answers waiting for an admin) and the delivery of replies through their channel."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.platform.clock import utcnow
from core.platform.models.base import Base, one_of
from core.platform.statuses import DeliveryStatus, ReviewKind, ReviewStatus

REVIEW_KINDS = tuple(ReviewKind)
REVIEW_STATUSES = tuple(ReviewStatus)
DELIVERY_STATUSES = tuple(DeliveryStatus)


class ReviewItem(Base):
    """An assistant message waiting for an admin: a review (after the fact) or a held
    draft (pre-send approval)."""

    __tablename__ = "review_item"
    __table_args__ = (
        CheckConstraint(one_of("kind", REVIEW_KINDS), name="kind"),
        CheckConstraint(one_of("status", REVIEW_STATUSES), name="status"),
        Index("ix_review_item_message_kind", "message_id", "kind", unique=True),
        Index("ix_review_item_status", "status", "expected_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default=ReviewKind.REVIEW)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    expected_value: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(20), default=ReviewStatus.OPEN)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    training_example_id: Mapped[int | None] = mapped_column(
        ForeignKey("training_example.id", ondelete="SET NULL")
    )
    proposed_chunk_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Delivery(Base):
    """Sending one assistant reply through its channel, with every attempt recorded."""

    __tablename__ = "delivery"
    __table_args__ = (
        CheckConstraint(one_of("status", DELIVERY_STATUSES), name="status"),
        Index("ix_delivery_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt_log: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
