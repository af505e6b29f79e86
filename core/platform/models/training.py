"""Training data: gold examples, built dataset versions with their members, and fine-tune jobs."""

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
from sqlalchemy.orm import Mapped, mapped_column

from core.platform.clock import utcnow
from core.platform.models.base import Base, one_of
from core.platform.statuses import (
    FINETUNE_OPEN,
    CandidateStatus,
    DatasetKind,
    DatasetSplit,
    DatasetStatus,
    FinetuneProvider,
    FinetuneStatus,
    TrainingSource,
)

DATASET_KINDS = tuple(DatasetKind)
DATASET_STATUSES = tuple(DatasetStatus)
DATASET_SPLITS = tuple(DatasetSplit)
TRAINING_SOURCES = tuple(TrainingSource)
FINETUNE_PROVIDERS = tuple(FinetuneProvider)
FINETUNE_STATUSES = tuple(FinetuneStatus)
FINETUNE_OPEN_STATUSES = FINETUNE_OPEN
CANDIDATE_STATUSES = tuple(CandidateStatus)


class TrainingExample(Base):
    """A gold question/answer pair (approved or edited by an admin) for datasets."""

    __tablename__ = "training_example"
    __table_args__ = (
        Index("ix_training_example_active", "active", "created_at"),
        Index("ix_training_example_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text)  # redacted
    answer: Mapped[str] = mapped_column(Text)  # redacted
    intent: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(30))  # approved | edited | ...
    human_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    quality_score: Mapped[float | None] = mapped_column(Float)
    rating: Mapped[int | None] = mapped_column(Integer)  # customer vote: 1 up, -1 down, None
    led_to_booking: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    source_message_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    # free tags and whether it is a spoken (phone) example; dataset memberships: dataset_example
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    voice: Mapped[bool] = mapped_column(Boolean, default=False)


class DatasetVersion(Base):
    """One built training dataset: its filters, counts, skipped counts by reason, token totals,
    JSONL files with checksums, who built it and the admin's decision."""

    __tablename__ = "dataset_version"
    __table_args__ = (
        CheckConstraint(one_of("kind", DATASET_KINDS), name="kind"),
        CheckConstraint(one_of("status", DATASET_STATUSES), name="status"),
        Index("ix_dataset_version_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default=DatasetKind.CHAT)
    status: Mapped[str] = mapped_column(String(20), default=DatasetStatus.PENDING_APPROVAL)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    skipped: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    train_examples: Mapped[int] = mapped_column(Integer, default=0)
    validation_examples: Mapped[int] = mapped_column(Integer, default=0)
    train_tokens: Mapped[int] = mapped_column(Integer, default=0)
    validation_tokens: Mapped[int] = mapped_column(Integer, default=0)
    token_counter: Mapped[str] = mapped_column(String(100))  # e.g. o200k_base, or estimate:chars/4
    tokens_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    train_file: Mapped[str | None] = mapped_column(String(300))  # relative to settings.data_dir
    train_sha256: Mapped[str | None] = mapped_column(String(64))
    validation_file: Mapped[str | None] = mapped_column(String(300))
    validation_sha256: Mapped[str | None] = mapped_column(String(64))
    system_prompts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    built_by: Mapped[str] = mapped_column(String(200))
    build_seconds: Mapped[float | None] = mapped_column(Float)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class DatasetExample(Base):
    """A training example's membership in a dataset version, with its split."""

    __tablename__ = "dataset_example"
    __table_args__ = (
        CheckConstraint(one_of("split", DATASET_SPLITS), name="split"),
        Index("ix_dataset_example_example", "training_example_id"),
    )

    dataset_version_id: Mapped[int] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="CASCADE"), primary_key=True
    )
    training_example_id: Mapped[int] = mapped_column(
        ForeignKey("training_example.id", ondelete="CASCADE"), primary_key=True
    )
    split: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    tokens: Mapped[int] = mapped_column(Integer, default=0)


class FineTuneJob(Base):
    """A fine-tune of an approved dataset at a provider (OpenAI or local). Its state is stored
    so monitoring (``core.training.finetune.poll``) survives restarts."""

    __tablename__ = "finetune_job"
    __table_args__ = (
        CheckConstraint(one_of("provider", FINETUNE_PROVIDERS), name="provider"),
        CheckConstraint(one_of("status", FINETUNE_STATUSES), name="status"),
        CheckConstraint(
            "candidate_status IS NULL OR " + one_of("candidate_status", CANDIDATE_STATUSES), name="candidate"
        ),
        Index("ix_finetune_job_status", "status"),
        Index("ix_finetune_job_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_version.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default=FinetuneStatus.PENDING)
    base_model: Mapped[str] = mapped_column(String(200))
    suffix: Mapped[str | None] = mapped_column(String(64))
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    provider_job_id: Mapped[str | None] = mapped_column(String(200))
    training_file_id: Mapped[str | None] = mapped_column(String(200))
    validation_file_id: Mapped[str | None] = mapped_column(String(200))
    estimated_tokens: Mapped[int] = mapped_column(Integer, default=0)
    estimated_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    trained_tokens: Mapped[int | None] = mapped_column(Integer)
    actual_cost_usd: Mapped[float | None] = mapped_column(Float)
    fine_tuned_model: Mapped[str | None] = mapped_column(String(300))
    error: Mapped[str | None] = mapped_column(Text)
    events: Mapped[list[Any]] = mapped_column(JSON, default=list)  # newest last, capped
    last_event_id: Mapped[str | None] = mapped_column(String(200))
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # local: model path, KB version
    candidate_status: Mapped[str | None] = mapped_column(String(20))  # offered to experiments
    launched_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_polled_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    poll_count: Mapped[int] = mapped_column(Integer, default=0)
