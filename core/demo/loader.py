"""Loading the demo into a database: ``load_demo`` stores the generated conversations
(``core.demo.conversations``) through ``core.conversations.ingest``, scrubbed like any import,
and with an embedder warms the learning loop up over them (``core.demo.warmup``), so every
dashboard page has something to show. ``DemoReport`` says what it did.

Long work in short committed batches: ``load_demo`` commits after every batch of
conversations and every warm-up step (enrichment per batch of messages), so on SQLite no write
lock is held for long and readers never wait; it reports progress and stops at the next batch
when its :class:`~core.platform.progress.Progress` says the job was cancelled (what it committed
stays; loading again goes on where it stopped). The runner's ``demo_load`` job
(``core.demo.job``) calls it.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.conversations.ingest import store_conversations
from core.demo.conversations import generate_conversations
from core.demo.warmup import run_learning_loop
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.db import commit_batch, is_empty
from core.platform.embeddings import Embedder
from core.platform.models import Conversation
from core.platform.progress import NO_PROGRESS, Progress, check_cancelled
from core.platform.services import Scrubber


@dataclass
class DemoReport:
    """What ``load_demo`` did (or that it skipped a non-empty database)."""

    size: str
    seed: int
    skipped: bool = False
    conversations: int = 0
    messages: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    escalated: int = 0
    bookings: int = 0
    booking_value_usd: float = 0.0
    csat_responses: int = 0
    cost_usd: float = 0.0
    unsafe_messages: int = 0
    conversations_skipped: int = 0
    seconds: float = 0.0
    scrub_seconds: float = 0.0
    loop: dict = field(default_factory=dict)  # what the learning loop over the demo made

    def summary(self) -> str:
        """One human-readable paragraph."""
        if self.skipped:
            return "The database already has conversations; demo data not loaded."
        chans = ", ".join(f"{c} {n}" for c, n in sorted(self.by_channel.items()))
        return (
            f"Demo ({self.size}, seed {self.seed}): {self.conversations} conversations, "
            f"{self.messages} messages in {self.seconds:.1f}s (scrubbing {self.scrub_seconds:.1f}s)\n"
            f"channels: {chans}\n"
            f"{self.escalated} escalated, {self.bookings} bookings (${self.booking_value_usd:,.0f}), "
            f"{self.csat_responses} CSAT responses, model cost ${self.cost_usd:,.2f}"
            + ("\nlearning loop: " + ", ".join(f"{k} {v}" for k, v in self.loop.items()) if self.loop else "")
        )


class _MemoScrubber:
    """Scrubs each distinct text once: demo texts repeat a lot (KB answers, "Thanks!"), and
    scrubbing is nearly all of the loading time. Results are the wrapped scrubber's."""

    def __init__(self, inner):
        self.inner = inner
        self.cache: dict[str, object] = {}

    def scrub(self, text: str):
        if text not in self.cache:
            self.cache[text] = self.inner.scrub(text)
        return self.cache[text]

    def scrub_batch(self, texts: list[str]) -> list:
        todo = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if todo:
            self.cache.update(zip(todo, self.inner.scrub_batch(todo), strict=True))
        return [self.cache[t] for t in texts]


def load_demo(
    session: Session,
    scrubber: Scrubber,
    settings: Settings,
    size: str = "small",
    seed: int | None = None,
    clock: Clock | None = None,
    *,
    if_empty: bool = False,
    batch_size: int = 100,
    progress: Progress = NO_PROGRESS,
    embedder: Embedder | None = None,
) -> DemoReport:
    """Store the demo conversations (scrubbed) in batches of ``batch_size``, committing
    ``session`` after each batch (and after each warm-up step).

    ``seed`` defaults to ``settings.demo_seed``; the period ends at ``clock.now()``. With
    ``if_empty`` nothing happens when the database already has conversations.
    ``progress`` gets the conversations stored of the total after every batch, then each
    warm-up step; when it says cancelled, ``JobCancelled`` is raised at the next batch (the
    batches committed stay). Conversations already stored (same demo external id) are
    skipped and counted; the other counts are of what this call stored.

    With an ``embedder`` the learning loop runs over the demo (``core.demo.warmup``): the demo
    KB, enrichment, votes, held drafts, the review queue, knowledge gaps, alert rules and the
    metrics roll-up. Safe to run again, also after a cancel.
    """
    started = time.perf_counter()
    seed = settings.demo_seed if seed is None else seed
    report = DemoReport(size=size, seed=seed)
    if if_empty and not is_empty(session):
        report.skipped = True
        return report
    convs = generate_conversations(size, seed, (clock or SystemClock()).now())
    stored = set(session.scalars(
        select(Conversation.external_id).where(Conversation.external_id.like(f"demo-{seed}-%"))
    ))
    report.conversations_skipped = sum(1 for c in convs if c.external_id in stored)
    convs = [c for c in convs if c.external_id not in stored]
    total = len(convs)
    memo = _MemoScrubber(scrubber)
    progress.report(0, total, "storing the demo conversations")
    for i in range(0, total, batch_size):
        check_cancelled(progress)
        batch = convs[i: i + batch_size]
        res = store_conversations(session, batch, memo, settings, clock)
        commit_batch(session)
        report.unsafe_messages += res.unsafe_messages
        report.scrub_seconds += res.scrub_seconds
        progress.report(min(total, i + batch_size), total, "storing the demo conversations")

    report.conversations = total
    report.messages = sum(len(c.messages) for c in convs)
    report.by_channel = dict(Counter(c.channel for c in convs))
    report.escalated = sum(1 for c in convs if c.escalated_at)
    report.bookings = sum(1 for c in convs if c.outcome and c.outcome.booking_converted)
    report.booking_value_usd = sum(c.outcome.booking_value_usd or 0 for c in convs if c.outcome)
    report.csat_responses = sum(1 for c in convs if c.outcome and c.outcome.csat)
    report.cost_usd = round(sum(m.cost_usd or 0 for c in convs for m in c.messages), 4)
    if embedder is not None:
        check_cancelled(progress)
        report.loop = run_learning_loop(session, settings, embedder, clock, seed=seed, progress=progress)
    report.seconds = time.perf_counter() - started
    return report
