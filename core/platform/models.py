"""SQLAlchemy 2 typed models. Every table is created by an Alembic migration
(migrations/versions); a test checks the migrations and these models agree.

All timestamps are naive UTC (see core.platform.clock).
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
    LargeBinary,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from core.platform.actors import USER_ROLES
from core.platform.clock import utcnow
from core.platform.statuses import (  # noqa: F401 - the enums are part of the models' vocabulary
    FINETUNE_OPEN,
    AlertRuleKind,
    AlertState,
    Arm,
    CandidateStatus,
    Channel,
    ChunkSource,
    ChunkStatus,
    ConversationStatus,
    DatasetKind,
    DatasetSplit,
    DatasetStatus,
    DeliveryStatus,
    ExperimentKind,
    ExperimentMode,
    ExperimentStatus,
    FeedbackSource,
    FinetuneProvider,
    FinetuneStatus,
    GapTrend,
    IntentModelStatus,
    JobRunStatus,
    KBVersionStatus,
    MessageRole,
    ReviewKind,
    ReviewStatus,
    Severity,
    SurveyStatus,
    TrainingSource,
    Vote,
)

CHANNELS = tuple(Channel)
CONVERSATION_STATUSES = tuple(ConversationStatus)
ROLES = tuple(MessageRole)
SEVERITIES = tuple(Severity)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


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
    intent_confidence: Mapped[float | None] = mapped_column(Float)  # issue 11
    intent_source: Mapped[str | None] = mapped_column(String(20))  # issue 11: model | admin | None
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
    kb_version_id: Mapped[int | None] = mapped_column(  # issue 4: KB version that answered
        ForeignKey("kb_version.id", ondelete="SET NULL")
    )
    # issue 11: enrichment (core.enrichment.enrich)
    intent: Mapped[str | None] = mapped_column(String(100))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    intent_source: Mapped[str | None] = mapped_column(String(20))  # model | admin
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    flag_reasons: Mapped[list[Any] | None] = mapped_column(JSON)
    profanity_score: Mapped[float | None] = mapped_column(Float)
    tone_score: Mapped[float | None] = mapped_column(Float)
    tone_parts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    enriched_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # issue 7: the experiment that routed this answer and the arm (control | candidate)
    experiment_id: Mapped[int | None] = mapped_column(ForeignKey("experiment.id", ondelete="SET NULL"))
    arm: Mapped[str | None] = mapped_column(String(20))

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


# --- feedback and review (issue 5) ------------------------------------------------------
VOTES = tuple(Vote)
FEEDBACK_SOURCES = tuple(FeedbackSource)
REVIEW_KINDS = tuple(ReviewKind)
REVIEW_STATUSES = tuple(ReviewStatus)
DELIVERY_STATUSES = tuple(DeliveryStatus)
SURVEY_STATUSES = tuple(SurveyStatus)


class Feedback(Base):
    """A customer's thumbs vote on one assistant message: one row per message and voter."""

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(_in("vote", VOTES), name="vote"),
        CheckConstraint(_in("source", FEEDBACK_SOURCES), name="source"),
        Index("ix_feedback_message_voter", "message_id", "voter", unique=True),
        Index("ix_feedback_conversation", "conversation_id"),
        Index("ix_feedback_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(200))
    vote: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(20), default="api")
    comment: Mapped[str | None] = mapped_column(Text)  # redacted
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Survey(Base):
    """The post-booking CSAT survey of a conversation: sent once, answered once."""

    __tablename__ = "survey"
    __table_args__ = (
        CheckConstraint(_in("status", SURVEY_STATUSES), name="status"),
        CheckConstraint("csat IS NULL OR (csat >= 1 AND csat <= 5)", name="csat"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    csat: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)  # redacted
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


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
    # issue 6 (training): free tags and spoken (phone) example; memberships in dataset_example
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    voice: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewItem(Base):
    """An assistant message waiting for an admin: a review (after the fact) or a held
    draft (pre-send approval)."""

    __tablename__ = "review_item"
    __table_args__ = (
        CheckConstraint(_in("kind", REVIEW_KINDS), name="kind"),
        CheckConstraint(_in("status", REVIEW_STATUSES), name="status"),
        Index("ix_review_item_message_kind", "message_id", "kind", unique=True),
        Index("ix_review_item_status", "status", "expected_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="review")
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)
    expected_value: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(20), default="open")
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
        CheckConstraint(_in("status", DELIVERY_STATUSES), name="status"),
        Index("ix_delivery_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), unique=True)
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempt_log: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_ref: Mapped[str | None] = mapped_column(String(300))
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# --- users (issue 9) ---------------------------------------------------------------------


class User(Base):
    """A local dashboard account (argon2-hashed password, one role)."""

    __tablename__ = "user_account"
    __table_args__ = (CheckConstraint(_in("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class UserSession(Base):
    """A login: the SHA-256 of its bearer token, its user and when it expires."""

    __tablename__ = "user_session"
    __table_args__ = (Index("ix_user_session_user", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()


# --- knowledge base (issue 4) -----------------------------------------------------------
CHUNK_STATUSES = tuple(ChunkStatus)
CHUNK_SOURCE_TYPES = tuple(ChunkSource)
KB_VERSION_STATUSES = tuple(KBVersionStatus)


class Chunk(Base):
    """One piece of knowledge the responder can retrieve (redacted text).

    A proposed chunk waits for the next refresh; ``duplicate_of_id`` set on a proposed chunk
    means the refresh found it near-identical to that chunk: it is an update proposal for it.
    """

    __tablename__ = "chunk"
    __table_args__ = (
        CheckConstraint(_in("status", CHUNK_STATUSES), name="status"),
        CheckConstraint(_in("source_type", CHUNK_SOURCE_TYPES), name="source_type"),
        Index("ix_chunk_status", "status", "id"),
        Index("ix_chunk_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100), default="general")
    source_type: Mapped[str] = mapped_column(String(30), default="manual")
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL")
    )
    chunk_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="active")
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("chunk.id", ondelete="SET NULL")
    )
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_reviewed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    stale_flagged_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    times_retrieved: Mapped[int] = mapped_column(Integer, default=0)
    times_used_in_response: Mapped[int] = mapped_column(Integer, default=0)
    times_led_to_booking: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[float] = mapped_column(Float, default=0.0)
    last_user_feedback_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    performance_score: Mapped[float] = mapped_column(Float, default=0.5)

    @property
    def avg_user_rating(self) -> float | None:
        return self.rating_sum / self.rating_count if self.rating_count else None


class KBVersion(Base):
    """An immutable snapshot of the knowledge base: its chunks (kb_version_chunk), the
    embedding model, a FAISS index file with checksum and its evaluation report."""

    __tablename__ = "kb_version"
    __table_args__ = (
        CheckConstraint(_in("status", KB_VERSION_STATUSES), name="status"),
        # at most one active version, enforced by the database on both backends
        Index(
            "uq_kb_version_one_active", "status", unique=True,
            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="candidate")
    model_id: Mapped[str] = mapped_column(String(200))
    dim: Mapped[int] = mapped_column(Integer)
    index_kind: Mapped[str] = mapped_column(String(20))  # exact | hnsw
    index_file: Mapped[str] = mapped_column(String(300))  # relative to settings.index_dir
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 of the file
    file_size: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    embedded_count: Mapped[int] = mapped_column(Integer, default=0)  # chunks embedded anew
    build_seconds: Mapped[float | None] = mapped_column(Float)
    built_by: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text, default="")
    eval_report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    decision: Mapped[str | None] = mapped_column(Text)
    parent_version_id: Mapped[int | None] = mapped_column(Integer)  # active one at build time
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class KBVersionChunk(Base):
    """Row ``position`` of a version's index: which chunk, with which content hash."""

    __tablename__ = "kb_version_chunk"
    __table_args__ = (Index("ix_kb_version_chunk_chunk", "chunk_id"),)

    kb_version_id: Mapped[int] = mapped_column(
        ForeignKey("kb_version.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    chunk_id: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))


class EmbeddingCache(Base):
    """A chunk text's embedding (float32 bytes) per embedding model, so rebuilds only embed
    new or changed chunks."""

    __tablename__ = "embedding_cache"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    dim: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class MessageChunk(Base):
    """Which chunks an assistant message retrieved (rank, score) and which it used."""

    __tablename__ = "message_chunk"
    __table_args__ = (Index("ix_message_chunk_chunk", "chunk_id"),)

    message_id: Mapped[int] = mapped_column(
        ForeignKey("message.id", ondelete="CASCADE"), primary_key=True
    )
    chunk_id: Mapped[int] = mapped_column(
        ForeignKey("chunk.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class EvaluationQuestion(Base):
    """A held-out question and what should serve it: a chunk (by id or external id) or an
    expected answer. The evaluation gate scores KB versions on the active ones."""

    __tablename__ = "evaluation_question"
    __table_args__ = (Index("ix_evaluation_question_active", "active"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    expected_chunk_id: Mapped[int | None] = mapped_column(ForeignKey("chunk.id", ondelete="SET NULL"))
    expected_external_id: Mapped[str | None] = mapped_column(String(200))
    expected_answer: Mapped[str | None] = mapped_column(Text)
    should_escalate: Mapped[bool] = mapped_column(Boolean, default=False)
    intent: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(30), default="manual")  # demo | review | manual
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL")
    )
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# --- metrics, alerts, jobs (issue 8) -----------------------------------------------------
from sqlalchemy import Date  # noqa: E402  (kept in this section to leave the shared imports alone)

# Upper edges (seconds) of the first-response-time histogram bins; the last bin is open
# (> 86400 s). Fixed bins add up across buckets, so p50/p90 combine over any period.
FRT_BIN_EDGES_S = (5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1800, 3600, 14400, 86400)
FRT_BINS = len(FRT_BIN_EDGES_S) + 1
ALERT_RULE_KINDS = tuple(AlertRuleKind)
ALERT_COMPARISONS = ("<", ">")
ALERT_STATES = tuple(AlertState)
JOB_RUN_STATUSES = tuple(JobRunStatus)

# the roll-up finds touched days by updated_at
Index("ix_conversation_updated_at", Conversation.updated_at)
Index("ix_conversation_outcome_updated_at", ConversationOutcome.updated_at)


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


class AlertRule(Base):
    """When to alert: a metric compared with a threshold over a window that grows until it
    holds ``min_volume`` (up to ``max_window_minutes``), or events of a kind."""

    __tablename__ = "alert_rule"
    __table_args__ = (
        CheckConstraint(_in("kind", ALERT_RULE_KINDS), name="kind"),
        CheckConstraint(_in("comparison", ALERT_COMPARISONS), name="comparison"),
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20), default="metric")
    metric: Mapped[str] = mapped_column(String(100))  # metric name, or event kind prefix
    comparison: Mapped[str] = mapped_column(String(2))
    threshold: Mapped[float | None] = mapped_column(Float)  # None: from settings (cost budget)
    window_minutes: Mapped[int] = mapped_column(Integer, default=60)
    max_window_minutes: Mapped[int] = mapped_column(Integer, default=1440)
    channel: Mapped[str | None] = mapped_column(String(20))
    min_volume: Mapped[int] = mapped_column(Integer, default=0)
    cooldown_minutes: Mapped[int] = mapped_column(Integer, default=60)
    severity: Mapped[str] = mapped_column(String(20), default="warning")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    """One breach of a rule: fired once, resolved once, each notified once."""

    __tablename__ = "alert"
    __table_args__ = (
        CheckConstraint(_in("state", ALERT_STATES), name="state"),
        Index("ix_alert_rule_state", "rule_id", "state"),
        Index("ix_alert_fired_at", "fired_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rule.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(20), default="firing")
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
        CheckConstraint(_in("status", JOB_RUN_STATUSES), name="status"),
        Index("ix_job_run_job_started", "job", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(100))
    trigger: Mapped[str] = mapped_column(String(20), default="schedule")  # schedule | manual
    runner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


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


class ApiKey(Base):
    """An API key: only its SHA-256 is stored; ``scope`` is 'read' or 'ingest:<channel>'."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(100))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


# --- enrichment (issue 11) ----------------------------------------------------------------
INTENT_MODEL_STATUSES = tuple(IntentModelStatus)
GAP_TRENDS = tuple(GapTrend)


class IntentModel(Base):
    """A trained intent classifier (logistic regression on the shared embedder's vectors):
    weights as npz bytes, its labels and what it was trained from. One is active."""

    __tablename__ = "intent_model"
    __table_args__ = (
        CheckConstraint(_in("status", INTENT_MODEL_STATUSES), name="status"),
        Index(
            "uq_intent_model_one_active", "status", unique=True,
            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="active")
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
        CheckConstraint(_in("trend", GAP_TRENDS), name="trend"),
        Index("ix_knowledge_gap_count", "question_count"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(Text)  # the most central question (redacted)
    intent: Mapped[str | None] = mapped_column(String(100))
    question_count: Mapped[int] = mapped_column(Integer, default=0)
    conversation_count: Mapped[int] = mapped_column(Integer, default=0)
    this_week: Mapped[int] = mapped_column(Integer, default=0)
    last_week: Mapped[int] = mapped_column(Integer, default=0)
    trend: Mapped[str] = mapped_column(String(10), default="steady")
    reasons: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # reason -> questions
    examples: Mapped[list[Any]] = mapped_column(JSON, default=list)  # redacted texts
    message_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    first_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    closest_chunk_id: Mapped[int | None] = mapped_column(ForeignKey("chunk.id", ondelete="SET NULL"))
    closest_chunk_score: Mapped[float | None] = mapped_column(Float)
    model_id: Mapped[str] = mapped_column(String(200))
    refreshed_at: Mapped[dt.datetime] = mapped_column(DateTime)


# --- training (issue 6) -------------------------------------------------------------------
DATASET_KINDS = tuple(DatasetKind)
DATASET_STATUSES = tuple(DatasetStatus)
DATASET_SPLITS = tuple(DatasetSplit)
TRAINING_SOURCES = tuple(TrainingSource)
FINETUNE_PROVIDERS = tuple(FinetuneProvider)
FINETUNE_STATUSES = tuple(FinetuneStatus)
FINETUNE_OPEN_STATUSES = FINETUNE_OPEN
CANDIDATE_STATUSES = tuple(CandidateStatus)


class DatasetVersion(Base):
    """One built training dataset: its filters, counts, skipped counts by reason, token totals,
    JSONL files with checksums, who built it and the admin's decision."""

    __tablename__ = "dataset_version"
    __table_args__ = (
        CheckConstraint(_in("kind", DATASET_KINDS), name="kind"),
        CheckConstraint(_in("status", DATASET_STATUSES), name="status"),
        Index("ix_dataset_version_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="chat")
    status: Mapped[str] = mapped_column(String(20), default="pending_approval")
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
        CheckConstraint(_in("split", DATASET_SPLITS), name="split"),
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
        CheckConstraint(_in("provider", FINETUNE_PROVIDERS), name="provider"),
        CheckConstraint(_in("status", FINETUNE_STATUSES), name="status"),
        CheckConstraint(
            "candidate_status IS NULL OR " + _in("candidate_status", CANDIDATE_STATUSES), name="candidate"
        ),
        Index("ix_finetune_job_status", "status"),
        Index("ix_finetune_job_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dataset_version_id: Mapped[int] = mapped_column(ForeignKey("dataset_version.id", ondelete="RESTRICT"))
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), default="pending")
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


# --- experiments (issue 7) ----------------------------------------------------------------
EXPERIMENT_KINDS = tuple(ExperimentKind)
EXPERIMENT_MODES = tuple(ExperimentMode)
EXPERIMENT_STATUSES = tuple(ExperimentStatus)
EXPERIMENT_ARMS = tuple(Arm)


class Experiment(Base):
    """A candidate (chat model, KB version or embedding model) tested against production:
    split (users hashed into arms) or shadow (the candidate answers too, never sent)."""

    __tablename__ = "experiment"
    __table_args__ = (
        CheckConstraint(_in("kind", EXPERIMENT_KINDS), name="kind"),
        CheckConstraint(_in("mode", EXPERIMENT_MODES), name="mode"),
        CheckConstraint(_in("status", EXPERIMENT_STATUSES), name="status"),
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
    mode: Mapped[str] = mapped_column(String(20), default="split")
    status: Mapped[str] = mapped_column(String(20), default="running")
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
        CheckConstraint(_in("arm", EXPERIMENT_ARMS), name="arm"),
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
