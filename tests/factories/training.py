"""Training examples and datasets: gold examples with known filters' outcomes, JSONL reading,
and an approved dataset ready for a fine-tune."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from core.platform.clock import FixedClock
from core.platform.config import Settings
from core.platform.models import TrainingExample
from core.platform.statuses import Channel, TrainingSource
from core.training.builder import build_dataset
from core.training.datasets import approve_dataset
from tests.factories import ADMIN

T0 = dt.datetime(2026, 5, 10, 12, 0)  # when the training tests build their datasets
INTENTS = ["pricing", "travel", "menu", "booking"]


def add_example(session: Session, i: int, **kw: Any) -> TrainingExample:
    """Gold example ``i`` (unique text, intent by ``i``, verified, quality 1, created the day
    before ``T0``); keyword arguments override any column."""
    intent = kw.pop("intent", INTENTS[i % len(INTENTS)])
    ex = TrainingExample(
        question=kw.pop(
            "question", f"Question {i}: what does option {i} cost for {10 + i} guests in town {i}?"
        ),
        answer=kw.pop(
            "answer", f"Answer {i}: option {i} costs {50 + i} dollars per guest, minimum {600 + i}."
        ),
        intent=intent,
        source=kw.pop("source", TrainingSource.APPROVED),
        human_verified=kw.pop("human_verified", True),
        quality_score=kw.pop("quality_score", 1.0),
        rating=kw.pop("rating", None),
        led_to_booking=kw.pop("led_to_booking", False),
        channel=kw.pop("channel", Channel.WEB),
        active=kw.pop("active", True),
        source_message_ids=[],
        tags=kw.pop("tags", []),
        voice=kw.pop("voice", False),
        created_at=kw.pop("created_at", T0 - dt.timedelta(days=1)),
        **kw,
    )
    session.add(ex)
    session.flush()
    return ex


def jsonl_lines(path: Path) -> list[dict]:
    """The objects of a JSONL file."""
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def approved_dataset(session: Session, settings: Settings, scrubber: Any, n: int = 24,
                     approve: bool = True) -> int:
    """A chat dataset of ``n`` gold examples built (and approved) by ADMIN at ``T0``; its id."""
    for i in range(n):
        add_example(
            session,
            i,
            question=f"Question {i}: how much is option {i} for {10 + i} guests in town {i}?",
            answer=f"Answer {i}: option {i} is {50 + i} dollars per guest, {600 + i} dollar minimum.",
            created_at=T0 - dt.timedelta(days=2),
        )
    d = build_dataset(session, settings, scrubber, actor=ADMIN, clock=FixedClock(T0))
    if approve:
        approve_dataset(session, settings, d.id, ADMIN, clock=FixedClock(T0))
    return d.id


class Steps:
    """A ``core.platform.progress.Progress`` that records every report ``(done, total, message)``;
    it says "cancelled" once ``cancel_after`` training steps are done, and calls ``on_report``
    after each report (a test acting meanwhile, as an admin would)."""

    def __init__(self, cancel_after: int | None = None, on_report: Any = None):
        self.reports: list[tuple[int, int | None, str]] = []
        self.cancel_after, self.on_report = cancel_after, on_report

    def report(self, done: int, total: int | None = None, message: str = "") -> None:
        self.reports.append((done, total, message))
        if self.on_report is not None:
            self.on_report(done, total, message)

    def cancelled(self) -> bool:
        return self.cancel_after is not None and any(
            m.startswith("training") and d >= self.cancel_after for d, _, m in self.reports)
