"""The learning-loop warm-up over the demo: what the running system would have made of the
demo conversations, so every dashboard page has something to show.

``run_learning_loop`` loads the demo KB (``core.demo.knowledge``), links the demo answers to the
chunks they quote, enriches the messages, adds customer votes (through ``core.learning.loop``,
like real votes), holds a few risky drafts, fills the review queue and the knowledge gaps,
seeds the default alert rules and rolls the metrics up. The demo acts as ``SYSTEM``.

Each step commits when it ends (enrichment and votes also within, per batch), so the write
lock of SQLite is never held for long; ``progress`` hears each step (enrichment with its
messages done of the total) and a cancel stops the warm-up at the next batch.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter

from sqlalchemy import exists, func, insert, select
from sqlalchemy.orm import Session

from core.demo.knowledge import load_demo_knowledge
from core.enrichment import enrich, gaps
from core.knowledge import scoring
from core.learning.loop import record_vote
from core.ops import alerts
from core.ops.rollup import rollup
from core.platform.actors import SYSTEM
from core.platform.clock import Clock, FixedClock, SystemClock
from core.platform.config import Settings
from core.platform.db import commit_batch
from core.platform.embeddings import Embedder
from core.platform.models import (
    Chunk,
    Conversation,
    ConversationOutcome,
    Delivery,
    Feedback,
    Message,
    MessageChunk,
)
from core.platform.progress import NO_PROGRESS, Progress, check_cancelled
from core.platform.statuses import (
    Channel,
    ChunkStatus,
    DeliveryStatus,
    FeedbackSource,
    MessageRole,
    Vote,
)
from core.review import delivery, policy
from core.review import queue as review

STEPS = ("knowledge base", "answers linked to the chunks they quote", "enrichment", "votes and held drafts",
         "review queue and knowledge gaps", "alert rules and metrics")
VOTE_BATCH = 20  # votes per committed batch (each vote is several statements)
LINK_BATCH = 50  # conversations whose answers are linked to chunks per committed batch (its chunk
# row locks are held until the commit: 200 held them about 1.4 s on PostgreSQL, and votes waited)


def run_learning_loop(
    session: Session,
    settings: Settings,
    embedder: Embedder,
    clock: Clock | None = None,
    *,
    seed: int = 7,
    progress: Progress = NO_PROGRESS,
) -> dict:
    """What the running system would have made of the demo conversations, so every dashboard
    page has something to show: the demo KB (built, evaluated, activated), the assistant answers
    linked to the chunks they quote (with the chunks' uses, bookings and CSAT), enrichment
    (intents, flags, tone scores), customer votes, a few held drafts, the review queue, the
    knowledge gaps, the default alert rules and the metrics roll-up. Idempotent; commits
    ``session`` after each step (and each batch within). Returns counts.
    """
    clock = clock or SystemClock()
    out: dict = {}

    def step(k: int) -> None:
        commit_batch(session)
        check_cancelled(progress)
        progress.report(k, len(STEPS), f"warm-up {k + 1}/{len(STEPS)}: {STEPS[k]}")

    step(0)
    kb = load_demo_knowledge(session, embedder, settings, clock, actor=SYSTEM)
    out["kb_version"] = kb.active_version_id
    step(1)
    out["answers_linked"] = _link_answers(session, settings, clock)
    step(2)
    enricher = enrich.get_enricher(settings, embedder)

    def enriched(done: int, total: int) -> None:
        commit_batch(session)
        check_cancelled(progress)
        progress.report(done, total, f"warm-up 3/{len(STEPS)}: enrichment (messages)")

    rep = enrich.backfill(session, enricher, only_missing=True, clock=clock, progress=enriched)
    out["enriched"], out["flagged"] = rep.messages, rep.flagged
    step(3)
    out["votes"] = _votes(session, settings, random.Random(seed), clock, progress)
    out["held_drafts"] = _held_drafts(session, settings, clock)
    step(4)
    out["review_reasons"] = review.refresh_queue(session, settings, clock, actor=SYSTEM,
                                                 checkpoint=lambda: commit_batch(session))
    session.commit()
    out["gaps"] = gaps.refresh_gaps(session, embedder, settings, clock, actor=SYSTEM).gaps
    step(5)
    alerts.seed_default_rules(session, clock)
    rollup(session, clock, full=True)
    session.commit()
    progress.report(len(STEPS), len(STEPS), "warm-up done")
    return out


def _link_answers(session: Session, settings: Settings, clock: Clock) -> int:
    """Record which active chunk each demo answer quotes (``message_chunk``, used), count those
    uses on the chunks (as ``core.answering.responder.record_answer`` does for a live answer),
    and credit the chunks with the bookings and the CSAT of their conversations through
    ``core.knowledge.scoring.record_conversation_feedback`` (once per chunk and conversation)."""
    active = select(Chunk.id, Chunk.text).where(Chunk.status == ChunkStatus.ACTIVE)
    chunks = sorted(session.execute(active).all(), key=lambda c: -len(c.text))
    rows = session.execute(
        select(Message.id, Message.conversation_id, Message.raw_content, Message.redacted_content,
               ConversationOutcome.booking_converted, ConversationOutcome.csat)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Message.role == MessageRole.ASSISTANT, Conversation.external_id.like("demo-%"),
               ~exists().where(MessageChunk.message_id == Message.id))
        .order_by(Message.id)
    ).all()
    quoted: dict[str, int | None] = {}  # answer text -> the chunk it quotes (answers repeat)
    by_conversation: dict[int, list[tuple[int, int]]] = {}  # conversation -> [(message, chunk)]
    outcomes: dict[int, tuple[bool, int | None]] = {}  # conversation -> (booked, csat)
    for mid, conv_id, raw, redacted, booked, csat in rows:
        text = raw or redacted or ""
        if text not in quoted:
            quoted[text] = next((c.id for c in chunks if c.text in text), None)
        if quoted[text] is None:
            continue
        by_conversation.setdefault(conv_id, []).append((mid, quoted[text]))
        if booked or csat:
            outcomes[conv_id] = (bool(booked), csat or None)
    # committed per batch of conversations (links, use counts and credits together), so the
    # write lock is never held for long; a batch committed is not linked again
    convs, used, linked = sorted(by_conversation), set(), 0
    for i in range(0, len(convs), LINK_BATCH):
        batch = convs[i: i + LINK_BATCH]
        links = [{"message_id": mid, "chunk_id": cid, "rank": 1, "score": 1.0, "used": True}
                 for conv_id in batch for mid, cid in by_conversation[conv_id]]
        uses = Counter(link["chunk_id"] for link in links)
        session.execute(insert(MessageChunk.__table__), links)
        # every chunk the batch will update (use counts, the conversations' credits), locked in id
        # order first: taken one conversation at a time they could deadlock with a live chat
        batch_answers = select(Message.id).where(Message.conversation_id.in_(batch),
                                                 Message.role == MessageRole.ASSISTANT)
        scoring.lock_chunk_rows(session, scoring.used_chunk_ids(session, list(session.scalars(
            batch_answers))))
        for chunk in session.scalars(select(Chunk).where(Chunk.id.in_(list(uses)))):
            chunk.times_retrieved = (chunk.times_retrieved or 0) + uses[chunk.id]
            chunk.times_used_in_response = (chunk.times_used_in_response or 0) + uses[chunk.id]
        session.flush()
        for conv_id in batch:
            if conv_id in outcomes:
                booked, csat = outcomes[conv_id]
                scoring.record_conversation_feedback(session, conv_id, csat, booked, settings=settings,
                                                     clock=clock)
        commit_batch(session)
        used.update(uses)
        linked += len(links)
    if used:
        scoring.rescore(session, sorted(used), settings)
    return linked


def _votes(session: Session, settings: Settings, rng: random.Random, clock: Clock,
           progress: Progress = NO_PROGRESS) -> int:
    """Customer thumbs on demo answers, a few minutes after each answer: down on the answers of
    complaints and low-CSAT conversations (a handful), up on a few percent of the others.
    Committed every ``VOTE_BATCH`` votes; after a cancel, loading again draws the same votes
    and adds only those missing (answers already voted on are left as they are)."""
    voted = set(session.scalars(select(Feedback.message_id).distinct()))
    rows = session.execute(
        select(Message.id, Message.created_at, Conversation.external_user_id, Conversation.channel,
               Conversation.escalation_reason, ConversationOutcome.csat)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Message.role == MessageRole.ASSISTANT, Conversation.external_id.like("demo-%"))
        .order_by(Message.id)
    ).all()
    now = clock.now()
    source = {Channel.EMAIL: FeedbackSource.EMAIL, Channel.WEB: FeedbackSource.WIDGET}
    todo = []
    for mid, at, user, channel, reason, csat in rows:
        unhappy = reason == "complaint" or (csat is not None and csat <= 2)
        if unhappy and rng.random() < 0.5:
            vote = Vote.DOWN
        elif not unhappy and rng.random() < 0.04:
            vote = Vote.UP
        else:
            continue
        when = min(now, at + dt.timedelta(minutes=rng.uniform(1, 90)))
        if mid not in voted:
            todo.append((mid, vote, user, source.get(channel, FeedbackSource.API), when))
    for i in range(0, len(todo), VOTE_BATCH):
        batch = todo[i: i + VOTE_BATCH]
        # the chunks the batch's votes credit, locked in id order first (see _link_answers)
        scoring.lock_chunk_rows(session, scoring.used_chunk_ids(session, [b[0] for b in batch]))
        for mid, vote, user, src, when in batch:
            record_vote(session, mid, vote, user, source=src, settings=settings, clock=FixedClock(when))
        commit_batch(session)
        check_cancelled(progress)
    return len(todo)


def _held_drafts(session: Session, settings: Settings, clock: Clock, limit: int = 5) -> int:
    """The newest risky drafts (low confidence, a risky intent, flagged) held for pre-send
    approval through ``core.review.delivery``, as the chat API would have held them."""
    is_held = Delivery.status == DeliveryStatus.HELD
    held = session.scalar(select(func.count()).select_from(Delivery).where(is_held)) or 0
    q = (
        select(Message, Conversation.intent)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.role == MessageRole.ASSISTANT, Conversation.external_id.like("demo-%"))
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(2000)
    )
    for msg, intent in session.execute(q):
        if held >= limit:
            break
        if policy.risk_reasons(settings, msg.confidence, intent) or enrich.hold_reasons(msg):
            if delivery.delivery_for(session, msg.id) is None:
                queued = delivery.queue_reply(session, msg.id, settings, clock=clock)
                held += queued.status == DeliveryStatus.HELD
    return held
