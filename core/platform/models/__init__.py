"""The SQLAlchemy 2 typed models, one module per domain, all on one declarative ``Base``.

Importing this package registers every table on ``Base.metadata`` (what Alembic and the tests
compare the migrations with), and every model and vocabulary constant can be imported from here:
``from core.platform.models import Conversation, CHANNELS``.

- base: ``Base``, the constraint naming convention, ``one_of`` (CHECK constraints from enums)
- conversations: Conversation, Message, ConversationOutcome
- audit: AuditLog, Event
- feedback: Feedback, Survey
- review: ReviewItem, Delivery
- access: User, UserSession, LoginThrottle, ApiKey
- knowledge: Chunk, KBVersion, KBVersionChunk, EmbeddingCache, MessageChunk, EvaluationQuestion
- metrics: the roll-up tables (MetricBucket, MetricDay, MetricSplit, MetricEscalation, ...)
- ops: AlertRule, Alert, JobRun, JobState, RunnerHeartbeat
- enrichment: IntentModel, KnowledgeGap
- training: TrainingExample, DatasetVersion, DatasetExample, FineTuneJob
- experiments: Experiment, ExperimentExposure, ShadowAnswer, ProductionConfig

All timestamps are naive UTC (see core.platform.clock).
"""

from __future__ import annotations

from core.platform.models.access import (
    ApiKey,
    LoginThrottle,
    User,
    UserSession,
)
from core.platform.models.audit import (
    SEVERITIES,
    AuditLog,
    Event,
)
from core.platform.models.base import (
    NAMING,
    Base,
    one_of,
)
from core.platform.models.conversations import (
    CHANNELS,
    CONVERSATION_STATUSES,
    ROLES,
    Conversation,
    ConversationOutcome,
    Message,
)
from core.platform.models.enrichment import (
    GAP_TRENDS,
    INTENT_MODEL_STATUSES,
    IntentModel,
    KnowledgeGap,
)
from core.platform.models.experiments import (
    EXPERIMENT_ARMS,
    EXPERIMENT_KINDS,
    EXPERIMENT_MODES,
    EXPERIMENT_STATUSES,
    Experiment,
    ExperimentExposure,
    ProductionConfig,
    ShadowAnswer,
)
from core.platform.models.feedback import (
    FEEDBACK_SOURCES,
    SURVEY_STATUSES,
    VOTES,
    Feedback,
    Survey,
)
from core.platform.models.knowledge import (
    CHUNK_SOURCE_TYPES,
    CHUNK_STATUSES,
    KB_VERSION_STATUSES,
    Chunk,
    EmbeddingCache,
    EvaluationQuestion,
    KBVersion,
    KBVersionChunk,
    MessageChunk,
)
from core.platform.models.metrics import (
    FRT_BIN_EDGES_S,
    FRT_BINS,
    MetricBucket,
    MetricDay,
    MetricEscalation,
    MetricRollupState,
    MetricSplit,
    MetricSums,
)
from core.platform.models.ops import (
    ALERT_COMPARISONS,
    ALERT_RULE_KINDS,
    ALERT_STATES,
    JOB_RUN_STATUSES,
    Alert,
    AlertRule,
    JobRun,
    JobState,
    RunnerHeartbeat,
)
from core.platform.models.review import (
    DELIVERY_STATUSES,
    REVIEW_KINDS,
    REVIEW_STATUSES,
    Delivery,
    ReviewItem,
)
from core.platform.models.training import (
    CANDIDATE_STATUSES,
    DATASET_KINDS,
    DATASET_SPLITS,
    DATASET_STATUSES,
    FINETUNE_OPEN_STATUSES,
    FINETUNE_PROVIDERS,
    FINETUNE_STATUSES,
    TRAINING_SOURCES,
    DatasetExample,
    DatasetVersion,
    FineTuneJob,
    TrainingExample,
)

__all__ = [
    "NAMING",
    "one_of",
    "Base",
    "CHANNELS",
    "CONVERSATION_STATUSES",
    "ROLES",
    "Conversation",
    "Message",
    "ConversationOutcome",
    "SEVERITIES",
    "AuditLog",
    "Event",
    "VOTES",
    "FEEDBACK_SOURCES",
    "SURVEY_STATUSES",
    "Feedback",
    "Survey",
    "REVIEW_KINDS",
    "REVIEW_STATUSES",
    "DELIVERY_STATUSES",
    "ReviewItem",
    "Delivery",
    "User",
    "UserSession",
    "LoginThrottle",
    "ApiKey",
    "CHUNK_STATUSES",
    "CHUNK_SOURCE_TYPES",
    "KB_VERSION_STATUSES",
    "Chunk",
    "KBVersion",
    "KBVersionChunk",
    "EmbeddingCache",
    "MessageChunk",
    "EvaluationQuestion",
    "FRT_BIN_EDGES_S",
    "FRT_BINS",
    "MetricSums",
    "MetricBucket",
    "MetricDay",
    "MetricSplit",
    "MetricEscalation",
    "MetricRollupState",
    "ALERT_RULE_KINDS",
    "ALERT_COMPARISONS",
    "ALERT_STATES",
    "JOB_RUN_STATUSES",
    "AlertRule",
    "Alert",
    "JobRun",
    "JobState",
    "RunnerHeartbeat",
    "INTENT_MODEL_STATUSES",
    "GAP_TRENDS",
    "IntentModel",
    "KnowledgeGap",
    "DATASET_KINDS",
    "DATASET_STATUSES",
    "DATASET_SPLITS",
    "TRAINING_SOURCES",
    "FINETUNE_PROVIDERS",
    "FINETUNE_STATUSES",
    "FINETUNE_OPEN_STATUSES",
    "CANDIDATE_STATUSES",
    "TrainingExample",
    "DatasetVersion",
    "DatasetExample",
    "FineTuneJob",
    "EXPERIMENT_KINDS",
    "EXPERIMENT_MODES",
    "EXPERIMENT_STATUSES",
    "EXPERIMENT_ARMS",
    "Experiment",
    "ExperimentExposure",
    "ShadowAnswer",
    "ProductionConfig",
]
