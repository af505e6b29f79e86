"""Intent tagging: a classifier over the shared embedder's vectors.

What it learns from (``intent_training_data``), all redacted text:

- the KB: every active chunk's title, text and source question, labelled with the chunk's
  category (``pricing``, ``travel``, ...);
- the evaluation questions of the KB (``evaluation_question``), labelled with their own
  intent or the category of the chunk that should answer them;
- gold training examples (approved or edited answers in the review queue) whose question
  has an intent;
- admin corrections (``correct_intent``): a customer message or conversation an admin
  re-labelled; these weigh double;
- the intent names themselves ("travel_fee" as "travel fee").

Flagged (profane or abusive) messages never become training data.

The model is a multinomial logistic regression on the L2-normalised sentence vectors of the
shared embedder (no second model is loaded), class-balanced. Its weights are stored in the
``intent_model`` table with the embedder's ``model_id``, the labels and what it was trained
from; exactly one is active. ``train_intent_model`` retrains (the weekly KB refresh calls it,
so does ``supportloop enrich --retrain``); a model trained on another embedder is not used
(``load_classifier`` returns None and ``ensure_classifier`` retrains).

A prediction whose probability is below ``settings.intent_threshold`` is ``unknown``.
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.actors import SYSTEM, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import (
    Chunk,
    Conversation,
    EvaluationQuestion,
    IntentModel,
    Message,
    TrainingExample,
)
from core.platform.services import Embedder
from core.platform.statuses import ChunkStatus, IntentModelStatus, MessageRole

UNKNOWN = "unknown"
SOURCE_WEIGHTS = {"kb": 1.0, "eval": 1.0, "example": 1.0, "correction": 2.0, "label": 1.0}
DEFAULT_C = 20.0
_INTENT = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,99}$")


@dataclass
class IntentPrediction:
    """The intent of one text: ``intent`` is ``unknown`` below the threshold, ``best`` is the
    most likely label anyway."""

    intent: str
    confidence: float
    best: str


class IntentClassifier:
    """A softmax layer over sentence vectors: ``probabilities(vectors)`` per label."""

    def __init__(self, labels: list[str], coef: np.ndarray, intercept: np.ndarray, model_id: str):
        if coef.shape[0] != len(labels) or intercept.shape != (len(labels),):
            raise ValidationError("Intent model weights do not match its labels; retrain it.")
        self.labels = list(labels)
        self.coef = np.ascontiguousarray(coef, dtype=np.float32)
        self.intercept = np.ascontiguousarray(intercept, dtype=np.float32)
        self.model_id = model_id

    @property
    def dim(self) -> int:
        return int(self.coef.shape[1])

    @classmethod
    def fit(
        cls,
        vectors: np.ndarray,
        labels: list[str],
        *,
        model_id: str,
        sample_weight: np.ndarray | None = None,
        c: float = DEFAULT_C,
        max_iter: int = 2000,
    ) -> IntentClassifier:
        """Train on normalised ``vectors`` with one label each (at least two labels)."""
        # reason: scikit-learn takes about a second to import; only training needs it
        from sklearn.linear_model import LogisticRegression

        classes = sorted(set(labels))
        if len(classes) < 2:
            raise ValidationError(
                f"An intent model needs examples of at least two intents, got {classes or 'none'}; "
                "give KB chunks categories or label some conversations."
            )
        if len(vectors) != len(labels):
            raise ValidationError("One label per vector is needed to train an intent model.")
        lr = LogisticRegression(C=c, max_iter=max_iter, class_weight="balanced")
        lr.fit(np.asarray(vectors, dtype=np.float32), labels, sample_weight=sample_weight)
        coef, intercept = lr.coef_, lr.intercept_
        if len(lr.classes_) == 2:  # sklearn keeps one row for two classes: softmax([0, z]) = sigmoid(z)
            coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
            intercept = np.array([0.0, intercept[0]])
        return cls([str(c_) for c_ in lr.classes_], coef, intercept, model_id)

    def probabilities(self, vectors: np.ndarray) -> np.ndarray:
        """(n, labels) probabilities."""
        v = np.asarray(vectors, dtype=np.float32)
        if v.ndim != 2 or v.shape[1] != self.dim:
            raise ValidationError(
                f"Vectors of dimension {v.shape[-1]} given to an intent model of dimension {self.dim}; "
                "retrain it for this embedder."
            )
        z = v @ self.coef.T + self.intercept
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, vectors: np.ndarray, threshold: float = 0.0) -> list[IntentPrediction]:
        """The intent of every vector; ``unknown`` when the best probability is below ``threshold``."""
        if len(vectors) == 0:
            return []
        p = self.probabilities(vectors)
        best = p.argmax(axis=1)
        out = []
        for i, j in enumerate(best):
            conf = float(p[i, j])
            label = self.labels[j]
            out.append(IntentPrediction(label if conf >= threshold else UNKNOWN, round(conf, 4), label))
        return out

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, coef=self.coef, intercept=self.intercept)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, labels: list[str], model_id: str) -> IntentClassifier:
        with np.load(io.BytesIO(data)) as z:
            return cls(labels, z["coef"], z["intercept"], model_id)


# --- training data ------------------------------------------------------------------------
@dataclass
class TrainingText:
    """One labelled text the classifier learns from."""

    text: str
    intent: str
    source: str  # kb | eval | example | correction | label


def normalise_intent(intent: str) -> str:
    """Intents are lower-case words joined by _ or - (at most 100 characters)."""
    value = re.sub(r"\s+", "_", (intent or "").strip().lower())
    if not _INTENT.match(value):
        raise ValidationError(
            f"Intent {intent!r} is not valid: use lower-case letters, digits, _ or - (e.g. 'pricing')."
        )
    return value


def intent_training_data(session: Session) -> list[TrainingText]:
    """Every labelled text the classifier learns from (see the module docstring), without
    duplicates and without flagged messages."""
    out: list[TrainingText] = []
    for chunk in session.scalars(select(Chunk).where(Chunk.status == ChunkStatus.ACTIVE).order_by(Chunk.id)):
        texts = [chunk.title, chunk.text, (chunk.chunk_metadata or {}).get("question")]
        out += [TrainingText(t.strip(), chunk.category, "kb")
                for t in texts if isinstance(t, str) and t.strip()]
    categories = dict(session.execute(select(Chunk.id, Chunk.category)).all())
    by_external = dict(session.execute(select(Chunk.external_id, Chunk.category)
                                       .where(Chunk.external_id.is_not(None))).all())
    for q in session.scalars(select(EvaluationQuestion).where(EvaluationQuestion.active.is_(True),
                                                              EvaluationQuestion.should_escalate.is_(False))):
        intent = q.intent or categories.get(q.expected_chunk_id) or by_external.get(q.expected_external_id)
        if intent and intent != UNKNOWN and (q.question or "").strip():
            out.append(TrainingText(q.question.strip(), intent, "eval"))
    flagged_ids = set(session.scalars(select(Message.id).where(Message.flagged.is_(True))))
    q = select(TrainingExample).where(TrainingExample.active.is_(True), TrainingExample.intent.is_not(None))
    for ex in session.scalars(q.order_by(TrainingExample.id)):
        if ex.intent == UNKNOWN or not (ex.question or "").strip():
            continue
        if flagged_ids & set(ex.source_message_ids or []) or ex.message_id in flagged_ids:
            continue
        out.append(TrainingText(ex.question.strip(), ex.intent, "example"))
    corrected = select(Message).where(
        Message.intent_source == "admin", Message.role == MessageRole.USER, Message.flagged.is_(False)
    )
    for msg in session.scalars(corrected.order_by(Message.id)):
        if msg.intent and msg.intent != UNKNOWN and msg.redacted_content.strip():
            out.append(TrainingText(msg.redacted_content.strip(), msg.intent, "correction"))
    out += [TrainingText(i.replace("_", " ").replace("-", " "), i, "label")
            for i in sorted({t.intent for t in out})]
    seen: set[tuple[str, str]] = set()
    unique = []
    for t in out:
        key = (" ".join(t.text.lower().split()), t.intent)
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return unique


# --- stored models ------------------------------------------------------------------------
@dataclass
class TrainReport:
    """What ``train_intent_model`` did."""

    status: str  # trained | skipped
    model_id: int | None = None
    embedder: str | None = None
    examples: int = 0
    by_source: dict[str, int] = field(default_factory=dict)
    by_intent: dict[str, int] = field(default_factory=dict)
    train_accuracy: float | None = None
    reason: str = ""


def active_model(session: Session) -> IntentModel | None:
    """The active intent model row, if any."""
    return session.scalar(select(IntentModel).where(IntentModel.status == IntentModelStatus.ACTIVE))


def train_intent_model(
    session: Session,
    embedder: Embedder,
    settings=None,
    clock: Clock | None = None,
    *,
    actor: Actor,
    reason: str = "retrain",
) -> TrainReport:
    """Train a new intent model from ``intent_training_data`` on ``embedder`` and make it the
    active one (the previous one is retired). Skipped (status ``skipped``, nothing written)
    when the data has fewer than two intents. ``actor`` needs the ``manage_kb`` right."""
    require(actor, "manage_kb")
    now = (clock or SystemClock()).now()
    data = intent_training_data(session)
    by_intent = dict(sorted(Counter(t.intent for t in data).items()))
    by_source = dict(sorted(Counter(t.source for t in data).items()))
    if len(by_intent) < 2:
        return TrainReport("skipped", examples=len(data), by_source=by_source, by_intent=by_intent,
                           reason="fewer than two intents to learn from (give KB chunks categories)")
    vectors = embedder.encode([t.text for t in data])
    labels = [t.intent for t in data]
    weights = np.array([SOURCE_WEIGHTS.get(t.source, 1.0) for t in data], dtype=np.float64)
    clf = IntentClassifier.fit(vectors, labels, model_id=embedder.model_id, sample_weight=weights)
    acc = float(np.mean([p.best == y for p, y in zip(clf.predict(vectors), labels, strict=True)]))
    previous = active_model(session)
    if previous is not None:
        previous.status, previous.retired_at = IntentModelStatus.RETIRED, now
        session.flush()
    row = IntentModel(
        status=IntentModelStatus.ACTIVE, model_id=embedder.model_id, dim=clf.dim, labels=clf.labels,
        weights=clf.to_bytes(), examples=len(data), by_source=by_source, by_intent=by_intent,
        train_accuracy=round(acc, 4), reason=reason, created_by=actor.name, created_at=now,
    )
    session.add(row)
    session.flush()
    return TrainReport("trained", row.id, embedder.model_id, len(data), by_source, by_intent,
                       row.train_accuracy, reason)


_CACHE: dict[tuple, IntentClassifier] = {}
_CACHE_LOCK = threading.Lock()


def load_classifier(session: Session, embedder: Embedder) -> IntentClassifier | None:
    """The active intent model for ``embedder`` (cached per model row), or None when there is
    none or it was trained on another embedder."""
    row = active_model(session)
    if row is None or row.model_id != embedder.model_id:
        return None
    key = (row.id, row.model_id, hashlib.sha1(row.weights).hexdigest())  # ids repeat after a reset
    with _CACHE_LOCK:
        clf = _CACHE.get(key)
        if clf is None:
            clf = IntentClassifier.from_bytes(row.weights, list(row.labels), row.model_id)
            _CACHE.clear()  # only the active one is kept
            _CACHE[key] = clf
        return clf


def ensure_classifier(
    session: Session, embedder: Embedder, settings=None, clock: Clock | None = None
) -> IntentClassifier | None:
    """The active classifier for ``embedder``, training one first (as the system) when none
    fits; None when there is too little data to train. Enrichment on ingest calls this."""
    clf = load_classifier(session, embedder)
    if clf is None:
        report = train_intent_model(session, embedder, settings, clock, actor=SYSTEM,
                                    reason="no model for this embedder")
        if report.status == "trained":
            clf = load_classifier(session, embedder)
    return clf


def list_models(session: Session, limit: int = 20) -> list[IntentModel]:
    """Intent models, newest first."""
    return list(session.scalars(select(IntentModel).order_by(IntentModel.id.desc()).limit(limit)))


def classify_texts(
    session: Session, texts: list[str], embedder: Embedder, settings, clock: Clock | None = None
) -> list[IntentPrediction]:
    """The intent of every text with the active model (trained first if needed). Without
    enough training data every text is ``unknown`` with confidence 0."""
    clf = ensure_classifier(session, embedder, settings, clock)
    if clf is None:
        return [IntentPrediction(UNKNOWN, 0.0, UNKNOWN) for _ in texts]
    return clf.predict(embedder.encode(list(texts)), settings.intent_threshold)


# --- admin corrections --------------------------------------------------------------------
def _first_user_message(session: Session, conversation_id: int) -> Message | None:
    return session.scalar(
        select(Message).where(Message.conversation_id == conversation_id, Message.role == MessageRole.USER)
        .order_by(Message.id).limit(1)
    )


def correct_intent(
    session: Session,
    intent: str,
    actor: Actor,
    *,
    message_id: int | None = None,
    conversation_id: int | None = None,
    clock: Clock | None = None,
) -> dict:
    """An admin sets the intent of a customer message or a conversation (e.g. from the
    review queue). The correction is training data for the next retrain: the message (for a
    conversation: its first customer message) is labelled with source ``admin``; the
    conversation's intent and its active gold training examples follow. Audited. ``actor``
    needs the ``review`` right (corrections are made while reviewing answers)."""
    require(actor, "review")
    if (message_id is None) == (conversation_id is None):
        raise ValidationError("Give either message_id or conversation_id to correct an intent.")
    value = normalise_intent(intent)
    now = (clock or SystemClock()).now()
    if message_id is not None:
        msg = session.get(Message, message_id)
        if msg is None:
            raise NotFound(f"Message {message_id} does not exist.")
        if msg.role != MessageRole.USER:
            raise ValidationError(
                f"Message {message_id} is an {msg.role} message; intents belong to customer messages "
                "(correct the conversation instead)."
            )
        conv = session.get(Conversation, msg.conversation_id)
        first = _first_user_message(session, conv.id)
        set_conversation = first is not None and first.id == msg.id
    else:
        conv = session.get(Conversation, conversation_id)
        if conv is None:
            raise NotFound(f"Conversation {conversation_id} does not exist.")
        msg = _first_user_message(session, conv.id)
        set_conversation = True
    before = {"conversation_intent": conv.intent, "message_intent": msg.intent if msg else None}
    if msg is not None:
        msg.intent, msg.intent_confidence, msg.intent_source = value, 1.0, "admin"
    if set_conversation:
        conv.intent, conv.intent_confidence, conv.intent_source = value, 1.0, "admin"
        conv.updated_at = now
        answer_ids = select(Message.id).where(Message.conversation_id == conv.id)
        for ex in session.scalars(
            select(TrainingExample).where(TrainingExample.message_id.in_(answer_ids),
                                          TrainingExample.active.is_(True))
        ):
            ex.intent = value
    audit.record(
        session, actor.name, "intent.correct", "conversation", conv.id, before=before,
        after={"intent": value, "message_id": msg.id if msg else None, "conversation": set_conversation},
        clock=clock,
    )
    session.flush()
    return {"conversation_id": conv.id, "message_id": msg.id if msg else None, "intent": value,
            "conversation_updated": set_conversation}

