"""The closed vocabularies of supportloop: statuses, kinds and roles as ``StrEnum``.

Models, queries, core functions and pages use these members instead of string literals. A
member *is* its string (``ConversationStatus.AI == "ai"``), so rows read back from the
database compare equal to them, and the check constraints in ``core.platform.models`` are
built from the same enums.
"""

from __future__ import annotations

from enum import StrEnum


class UserRole(StrEnum):
    """A dashboard account's role (``core.platform.actors`` says what each may do)."""

    ADMIN = "admin"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WEB = "web"
    INSTAGRAM = "instagram"
    FACEBOOK = "facebook"
    PHONE = "phone"


class ConversationStatus(StrEnum):
    AI = "ai"
    ESCALATED = "escalated"
    CLOSED = "closed"


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    SYSTEM = "system"
    AGENT = "agent"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Vote(StrEnum):
    UP = "up"
    DOWN = "down"


class FeedbackSource(StrEnum):
    EMAIL = "email"
    WIDGET = "widget"
    API = "api"


class ReviewKind(StrEnum):
    REVIEW = "review"
    PRESEND = "presend"


class ReviewStatus(StrEnum):
    OPEN = "open"
    APPROVED = "approved"
    EDITED = "edited"
    REJECTED = "rejected"


class DeliveryStatus(StrEnum):
    HELD = "held"
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"


class SurveyStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    ANSWERED = "answered"


class ChunkStatus(StrEnum):
    PROPOSED = "proposed"
    ACTIVE = "active"
    ARCHIVED = "archived"


class ChunkSource(StrEnum):
    MANUAL = "manual"
    IMPORTED = "imported"
    APPROVED_ANSWER = "approved_answer"
    AGENT_ANSWER = "agent_answer"  # a human agent's reply to a handed-off question


class KBVersionStatus(StrEnum):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"
    REJECTED = "rejected"


class AlertRuleKind(StrEnum):
    METRIC = "metric"
    EVENT = "event"


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class JobRunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobTrigger(StrEnum):
    SCHEDULE = "schedule"
    MANUAL = "manual"
    QUEUE = "queue"  # enqueued by a person (dashboard, CLI) and run by the runner


class IntentModelStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"


class GapTrend(StrEnum):
    NEW = "new"
    RISING = "rising"
    STEADY = "steady"
    FALLING = "falling"


class DatasetKind(StrEnum):
    CHAT = "chat"
    VOICE = "voice"


class DatasetStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"


class DatasetSplit(StrEnum):
    TRAIN = "train"
    VALIDATION = "validation"


class TrainingSource(StrEnum):
    APPROVED = "approved"
    EDITED = "edited"
    IMPORTED = "imported"
    GENERATED = "generated"


class FinetuneProvider(StrEnum):
    OPENAI = "openai"
    LOCAL = "local"


class FinetuneStatus(StrEnum):
    PENDING = "pending"
    VALIDATING_FILES = "validating_files"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINETUNE_OPEN = (
    FinetuneStatus.PENDING,
    FinetuneStatus.VALIDATING_FILES,
    FinetuneStatus.QUEUED,
    FinetuneStatus.RUNNING,
)


class CandidateStatus(StrEnum):
    OFFERED = "offered"
    TAKEN = "taken"
    DECLINED = "declined"


class ExperimentKind(StrEnum):
    CHAT_MODEL = "chat_model"
    KB_VERSION = "kb_version"
    EMBEDDING_MODEL = "embedding_model"


class ExperimentMode(StrEnum):
    SPLIT = "split"
    SHADOW = "shadow"


class ExperimentStatus(StrEnum):
    RUNNING = "running"
    PROMOTED = "promoted"
    ROLLED_BACK = "rolled_back"
    STOPPED = "stopped"


class Arm(StrEnum):
    CONTROL = "control"
    CANDIDATE = "candidate"
