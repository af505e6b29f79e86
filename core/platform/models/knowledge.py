"""The knowledge base: chunks, immutable KB versions with their index rows, cached embeddings,
which chunks each answer used, and the held-out evaluation questions.
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
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.platform.clock import utcnow
from core.platform.models.base import Base, one_of
from core.platform.statuses import ChunkSource, ChunkStatus, KBVersionStatus

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
        CheckConstraint(one_of("status", CHUNK_STATUSES), name="status"),
        CheckConstraint(one_of("source_type", CHUNK_SOURCE_TYPES), name="source_type"),
        Index("ix_chunk_status", "status", "id"),
        Index("ix_chunk_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    text: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(100), default="general")
    source_type: Mapped[str] = mapped_column(String(30), default=ChunkSource.MANUAL)
    source_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("message.id", ondelete="SET NULL")
    )
    chunk_metadata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default=ChunkStatus.ACTIVE)
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
        CheckConstraint(one_of("status", KB_VERSION_STATUSES), name="status"),
        # at most one active version, enforced by the database on both backends
        Index(
            "uq_kb_version_one_active", "status", unique=True,
            sqlite_where=text("status = 'active'"), postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default=KBVersionStatus.CANDIDATE)
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
