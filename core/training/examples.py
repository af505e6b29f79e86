"""Training examples from outside the review queue: imported question/answer records (or
generated ones), scrubbed on write. Examples from the review queue are written by the review
decisions themselves."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import ValidationError
from core.platform.models import TrainingExample
from core.platform.services import Scrubber
from core.platform.statuses import Channel, TrainingSource
from core.training.datasets import PERMISSION

OUTSIDE_SOURCES = (TrainingSource.IMPORTED, TrainingSource.GENERATED)


def import_examples(
    session: Session,
    records: list[dict],
    scrubber: Scrubber,
    *,
    actor: Actor,
    source: str = TrainingSource.IMPORTED,
    clock: Clock | None = None,
) -> list[int]:
    """Store question/answer records (keys: question, answer, optional intent, tags, channel,
    voice, quality_score, human_verified, led_to_booking) as training examples of ``source``
    imported or generated; both texts are scrubbed on write (``build_dataset`` right). Returns
    the new ids."""
    require(actor, PERMISSION)
    if source not in OUTSIDE_SOURCES:
        raise ValidationError("Examples from outside the review queue are 'imported' or 'generated'.")
    problems = [
        f"record {i + 1}: question and answer are required"
        for i, r in enumerate(records)
        if not str(r.get("question") or "").strip() or not str(r.get("answer") or "").strip()
    ]
    if problems:
        raise ValidationError("; ".join(problems[:5]) + ". Nothing was imported.")
    now = (clock or SystemClock()).now()
    texts = [t for r in records for t in (str(r["question"]), str(r["answer"]))]
    scrubbed = scrubber.scrub_batch(texts)
    ids = []
    for i, r in enumerate(records):
        q, a = scrubbed[2 * i], scrubbed[2 * i + 1]
        ex = TrainingExample(
            question=q.text,
            answer=a.text,
            intent=r.get("intent"),
            source=source,
            human_verified=bool(r.get("human_verified", source == TrainingSource.IMPORTED)),
            quality_score=float(r.get("quality_score", 1.0 if source == TrainingSource.IMPORTED else 0.5)),
            rating=r.get("rating"),
            led_to_booking=bool(r.get("led_to_booking", False)),
            channel=r.get("channel"),
            active=True,
            source_message_ids=[],
            tags=list(r.get("tags") or []),
            voice=bool(r.get("voice", r.get("channel") == Channel.PHONE)),
            created_by=actor.name,
            created_at=now,
        )
        session.add(ex)
        session.flush()
        ids.append(ex.id)
    audit.record(
        session,
        actor.name,
        f"training_example.{source}",
        "training_example",
        None,
        after={"count": len(ids), "first_id": ids[0] if ids else None},
        clock=clock,
    )
    return ids
