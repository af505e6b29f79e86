"""Which training examples enter a dataset: the filters, the skip reasons, the priority among
near-duplicates, the deterministic stratified sample and the train/validation split.

- ``DatasetFilters``: the dataset kind (``chat``: typed channels; ``voice``: examples flagged
  ``voice`` or from the phone channel) and the thresholds; ``None`` takes its setting.
- ``candidates`` / ``skip_reason``: the examples of the kind, and why one is skipped
  (inactive, not human verified, below the quality floor, rated below the rating floor (CSAT
  1-5 of the conversation, a thumbs up counts 5, down 1; unrated pass; an approved or edited
  example is rated by the admin's decision, so its original's vote or CSAT never skips it),
  a hand-off or apology text (``core.knowledge.handoff``), without a booking
  when only bookings are wanted, older than ``since``, outside the intent / tag / source
  filters, empty);
- ``flagged``: examples whose messages enrichment flagged for profanity or abuse;
- ``priority``: the order near-duplicates are kept in (quality, booking, edited > approved >
  imported > generated, newest);
- ``stratified_sample`` and ``split_train_validation``: deterministic (seeded hash) and stratified by intent.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.enrichment.enrich import flagged_example_ids
from core.knowledge.handoff import is_handoff
from core.platform.config import Settings
from core.platform.errors import ValidationError
from core.platform.models import (
    DATASET_KINDS,
    TRAINING_SOURCES,
    ConversationOutcome,
    Message,
    TrainingExample,
)
from core.platform.statuses import Channel, DatasetKind, TrainingSource

SOURCE_RANK = {TrainingSource.EDITED: 3, TrainingSource.APPROVED: 2, TrainingSource.IMPORTED: 1,
               TrainingSource.GENERATED: 0}
# an approved or edited answer is gold by the admin's decision: the customer's vote or CSAT on
# the original answer does not rate the text the example holds
ADMIN_DECIDED = frozenset({TrainingSource.APPROVED, TrainingSource.EDITED})
SKIP_REASONS = (
    "inactive",
    "not_verified",
    "low_quality",
    "low_rating",
    "no_booking",
    "too_old",
    "intent_filtered",
    "tag_filtered",
    "source_filtered",
    "empty",
    "handoff",
    "flagged",
    "near_duplicate",
    "over_max",
    "unsafe_pii",
    "pii_check",
    "empty_after_cleaning",
    "too_long",
    "invalid",
)


# --- filters ---------------------------------------------------------------------------------
@dataclass
class DatasetFilters:
    """What enters a dataset. ``None`` values take their setting (``dataset_*``)."""

    kind: str = DatasetKind.CHAT
    human_verified: bool = True
    min_quality: float | None = None
    min_rating: int | None = None
    only_bookings: bool = False
    since: dt.datetime | None = None
    active_only: bool = True
    intents: list[str] | None = None
    tags: list[str] | None = None
    sources: list[str] | None = None
    max_examples: int | None = None
    validation_share: float | None = None
    seed: int | None = None

    def resolved(self, settings: Settings) -> DatasetFilters:
        """A copy with every ``None`` threshold taken from settings, checked."""
        f = replace(
            self,
            min_quality=settings.dataset_min_quality if self.min_quality is None else self.min_quality,
            min_rating=settings.dataset_min_rating if self.min_rating is None else self.min_rating,
            max_examples=settings.dataset_max_examples if self.max_examples is None else self.max_examples,
            validation_share=(
                settings.dataset_validation_share if self.validation_share is None else self.validation_share
            ),
            seed=settings.dataset_seed if self.seed is None else self.seed,
        )
        if f.kind not in DATASET_KINDS:
            raise ValidationError(f"Unknown dataset kind {f.kind!r}; use one of {', '.join(DATASET_KINDS)}.")
        if not 0 <= f.validation_share < 1:
            raise ValidationError(f"validation share {f.validation_share} must be in [0, 1).")
        if f.max_examples < 1:
            raise ValidationError("max examples must be at least 1.")
        for s in f.sources or []:
            if s not in TRAINING_SOURCES:
                raise ValidationError(f"Unknown source {s!r}; use one of {', '.join(TRAINING_SOURCES)}.")
        return f

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["since"] = self.since.isoformat() if self.since else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetFilters:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        if d.get("since"):
            d["since"] = dt.datetime.fromisoformat(d["since"])
        return cls(**d)


# --- helpers -----------------------------------------------------------------------------------
def _rank_hash(seed: int, salt: str, key: Any) -> str:
    return hashlib.blake2b(f"{seed}:{salt}:{key}".encode(), digest_size=8).hexdigest()


def _rating_score(rating: int | None) -> int | None:
    """A stored rating on the 1-5 scale: thumbs up (1) -> 5, down (-1) -> 1."""
    if rating is None:
        return None
    return {1: 5, -1: 1}.get(int(rating), int(rating))


# --- selection -----------------------------------------------------------------------------------
def candidates(session: Session, f: DatasetFilters) -> list[dict]:
    """The training examples of the filters' kind (with their conversation's CSAT), by id."""
    te = TrainingExample
    q = (
        select(
            te.id,
            te.message_id,
            te.question,
            te.answer,
            te.intent,
            te.source,
            te.human_verified,
            te.quality_score,
            te.rating,
            te.led_to_booking,
            te.channel,
            te.active,
            te.tags,
            te.voice,
            te.created_at,
            te.source_message_ids,
            ConversationOutcome.csat,
        )
        .outerjoin(Message, Message.id == te.message_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Message.conversation_id)
        .order_by(te.id)
    )
    is_voice = or_(te.voice.is_(True), func.coalesce(te.channel, "") == Channel.PHONE)
    q = q.where(is_voice) if f.kind == DatasetKind.VOICE else q.where(~is_voice)
    return [dict(r._mapping) for r in session.execute(q)]


def skip_reason(r: dict, f: DatasetFilters) -> str | None:
    """Why a candidate row does not enter the dataset (one of SKIP_REASONS), or None."""
    if f.active_only and not r["active"]:
        return "inactive"
    if f.human_verified and not r["human_verified"]:
        return "not_verified"
    if r["quality_score"] is None or r["quality_score"] < f.min_quality:
        return "low_quality"
    scores = [s for s in (_rating_score(r["rating"]), r["csat"]) if s is not None]
    if r["source"] not in ADMIN_DECIDED and scores and min(scores) < f.min_rating:
        return "low_rating"
    if f.only_bookings and not r["led_to_booking"]:
        return "no_booking"
    if f.since and r["created_at"] < f.since:
        return "too_old"
    if f.intents and (r["intent"] or "") not in f.intents:
        return "intent_filtered"
    if f.tags and not set(f.tags) & set(r["tags"] or []):
        return "tag_filtered"
    if f.sources and r["source"] not in f.sources:
        return "source_filtered"
    if not (r["question"] or "").strip() or not (r["answer"] or "").strip():
        return "empty"
    if is_handoff(r["answer"]):
        return "handoff"
    return None


def flagged(session: Session, example_ids: list[int]) -> set[int]:
    """Examples whose messages enrichment flagged for profanity or abuse (core.enrichment.enrich)."""
    if not example_ids:
        return set()
    return set(flagged_example_ids(session, example_ids))


def priority(r: dict) -> tuple:
    """Sort key: the example kept among near-duplicates comes first."""
    return (
        -(r["quality_score"] or 0.0),
        not r["led_to_booking"],
        -SOURCE_RANK.get(r["source"], 0),
        -(r["created_at"].timestamp()),
        -r["id"],
    )


def stratified_sample(rows: list[dict], limit: int, seed: int) -> tuple[list[dict], list[dict]]:
    """Keep ``limit`` rows, each intent in proportion (largest remainder), lowest hash first."""
    if len(rows) <= limit:
        return rows, []
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["intent"] or ""].append(r)
    exact = {k: len(v) * limit / len(rows) for k, v in groups.items()}
    quota = {k: int(v) for k, v in exact.items()}
    rest = limit - sum(quota.values())
    for k in sorted(exact, key=lambda k: (-(exact[k] - quota[k]), k))[:rest]:
        quota[k] += 1
    kept, dropped = [], []
    for k, group in groups.items():
        group = sorted(group, key=lambda r: _rank_hash(seed, "sample", r["id"]))
        kept.extend(group[: quota[k]])
        dropped.extend(group[quota[k] :])
    kept.sort(key=lambda r: r["id"])
    return kept, dropped


def split_train_validation(rows: list[dict], share: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Deterministic train/validation split, stratified by intent."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        groups[r["intent"] or ""].append(r)
    train, val = [], []
    for k in sorted(groups):
        group = sorted(groups[k], key=lambda r: _rank_hash(seed, "split", r["id"]))
        n_val = int(len(group) * share + 0.5) if len(group) > 1 else 0
        val.extend(group[:n_val])
        train.extend(group[n_val:])
    return train, val

