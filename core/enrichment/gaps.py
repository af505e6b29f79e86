"""Knowledge gaps: what customers ask that the assistant does not answer well.

``refresh_gaps`` (a daily task of the job runner, or `supportloop gaps refresh`) takes the
customer questions of the last ``settings.gaps_days`` days that

- led to an escalation (the last customer message before the hand-off),
- got an answer with a confidence below ``settings.review_confidence_below``, or
- got an answer the customer voted down,

embeds them with the shared embedder and clusters them by meaning (average-linkage
agglomerative clustering on cosine distance, cut where the average similarity falls below
``settings.gaps_similarity``). Every cluster of at least ``settings.gaps_min_questions``
questions is stored as a ``knowledge_gap`` row: its most central question (the label),
counts, up to five redacted example questions (flagged messages are counted but never
shown), the reasons, the trend (this week against the week before) and the closest chunk of
the active KB version with its similarity. The rows are replaced on every refresh, so the
dashboard reads stored results.
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.enrichment.intents import UNKNOWN
from core.knowledge.index import DEFAULT_CACHE
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.errors import NotFound
from core.platform.models import Conversation, Feedback, KnowledgeGap, Message
from core.platform.progress import NO_PROGRESS, Progress, check_cancelled
from core.platform.services import Embedder
from core.platform.statuses import GapTrend, MessageRole, Vote

MAX_EXAMPLES = 5
REASONS = ("escalation", "low_confidence", "down_vote")


@dataclass
class GapQuestion:
    """One customer question the assistant handled badly."""

    message_id: int
    conversation_id: int
    text: str  # redacted
    created_at: dt.datetime
    intent: str | None
    flagged: bool
    reasons: set[str] = field(default_factory=set)


@dataclass
class GapsReport:
    """What ``refresh_gaps`` did."""

    questions: int = 0
    clusters: int = 0
    gaps: int = 0
    largest: int = 0
    model_id: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.questions} question(s) clustered into {self.clusters} cluster(s); "
                f"{self.gaps} knowledge gap(s) stored (largest: {self.largest} questions)")


def gap_questions(session: Session, settings, now: dt.datetime) -> list[GapQuestion]:
    """The escalated, low-confidence and down-voted customer questions of the window,
    newest first, at most ``settings.gaps_max_questions``."""
    since = now - dt.timedelta(days=settings.gaps_days)
    # (conversation, answer message id or None, reason, escalated_at)
    wanted: list[tuple[int, int | None, str, dt.datetime | None]] = []
    for cid, at in session.execute(
        select(Conversation.id, Conversation.escalated_at).where(Conversation.escalated_at >= since)
    ):
        wanted.append((cid, None, "escalation", at))
    for mid, cid in session.execute(
        select(Message.id, Message.conversation_id).where(
            Message.role == MessageRole.ASSISTANT, Message.created_at >= since,
            Message.confidence < settings.review_confidence_below,
        )
    ):
        wanted.append((cid, mid, "low_confidence", None))
    for mid, cid in session.execute(
        select(Message.id, Message.conversation_id)
        .join(Feedback, Feedback.message_id == Message.id)
        .where(Feedback.vote == Vote.DOWN, Feedback.created_at >= since).distinct()
    ):
        wanted.append((cid, mid, "down_vote", None))
    if not wanted:
        return []

    conv_ids = sorted({w[0] for w in wanted})
    users: dict[int, list[tuple]] = {}
    for k in range(0, len(conv_ids), 500):
        for row in session.execute(
            select(Message.id, Message.conversation_id, Message.redacted_content, Message.created_at,
                   Message.intent, Message.flagged)
            .where(Message.conversation_id.in_(conv_ids[k : k + 500]), Message.role == MessageRole.USER)
            .order_by(Message.conversation_id, Message.id)
        ):
            users.setdefault(row.conversation_id, []).append(row)

    found: dict[int, GapQuestion] = {}
    for cid, answer_id, reason, escalated_at in wanted:
        rows = users.get(cid)
        if not rows:
            continue
        if answer_id is not None:
            i = bisect.bisect_left([r.id for r in rows], answer_id) - 1
            if i < 0:
                continue
            row = rows[i]
        else:
            before = [r for r in rows if r.created_at <= escalated_at]
            row = before[-1] if before else rows[0]
        if not (row.redacted_content or "").strip():
            continue
        q = found.get(row.id)
        if q is None:
            q = found[row.id] = GapQuestion(row.id, cid, row.redacted_content.strip(), row.created_at,
                                            row.intent, bool(row.flagged))
        q.reasons.add(reason)
    questions = sorted(found.values(), key=lambda q: (q.created_at, q.message_id), reverse=True)
    return [q for q in questions if q.created_at >= since][: settings.gaps_max_questions]


def cluster_vectors(vectors: np.ndarray, similarity: float) -> np.ndarray:
    """Cluster labels (0..k-1) of normalised vectors: average-linkage agglomerative
    clustering on cosine distance, cut at distance ``1 - similarity``."""
    n = len(vectors)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    # reason: scipy.cluster takes most of a second to import; only the daily clustering needs it
    from scipy.cluster.hierarchy import fcluster, linkage

    dist = np.clip(1.0 - vectors @ vectors.T, 0.0, 2.0).astype(np.float64)
    cond = dist[np.triu_indices(n, k=1)]
    tree = linkage(cond, method="average")
    labels = fcluster(tree, t=max(1e-9, 1.0 - similarity), criterion="distance")
    return labels.astype(np.int64) - 1


def trend(this_week: int, last_week: int, first_seen: dt.datetime, now: dt.datetime) -> GapTrend:
    """new (first seen this week), rising, falling or steady."""
    if first_seen >= now - dt.timedelta(days=7):
        return GapTrend.NEW
    if this_week - last_week >= 2 and this_week > 1.25 * last_week:
        return GapTrend.RISING
    if last_week - this_week >= 2 and this_week < 0.75 * last_week:
        return GapTrend.FALLING
    return GapTrend.STEADY


def _closest_chunks(session: Session, settings, embedder: Embedder, centroids: np.ndarray, index_cache=None):
    """(chunk id, score) of the closest active KB chunk per centroid; None without an active
    version built with this embedder."""
    try:
        idx = (index_cache or DEFAULT_CACHE).active(session, settings)
    except NotFound:
        return [None] * len(centroids)
    if idx.model_id != embedder.model_id or not len(idx) or not len(centroids):
        return [None] * len(centroids)
    scores, positions = idx.search_vectors(centroids, 1)
    out = []
    for s, p in zip(scores, positions, strict=True):
        out.append((idx.rows[int(p[0])].chunk_id, round(float(s[0]), 4)) if len(p) and p[0] >= 0 else None)
    return out


def refresh_gaps(
    session: Session, embedder: Embedder, settings, clock: Clock | None = None, *, actor: Actor,
    index_cache=None, progress: Progress = NO_PROGRESS,
) -> GapsReport:
    """Recluster the window's badly handled questions and replace the stored gaps; ``actor``
    needs the ``manage_kb`` right. Everything is computed before the old gaps are deleted, so
    the write (SQLite's write lock) lasts only the replacement; ``progress`` hears each phase."""
    require(actor, "manage_kb")
    started = time.perf_counter()
    now = (clock or SystemClock()).now()
    progress.report(0, 3, "collecting badly handled questions")
    questions = gap_questions(session, settings, now)
    report = GapsReport(questions=len(questions), model_id=embedder.model_id)
    if not questions:
        session.execute(delete(KnowledgeGap))
        session.flush()
        return report
    check_cancelled(progress)
    progress.report(1, 3, f"embedding {len(questions)} questions")
    unique = list(dict.fromkeys(q.text for q in questions))
    uvec = embedder.encode(unique)
    row = {t: i for i, t in enumerate(unique)}
    vectors = uvec[[row[q.text] for q in questions]]
    labels = cluster_vectors(vectors, settings.gaps_similarity)
    report.clusters = int(labels.max()) + 1
    groups = [np.flatnonzero(labels == k) for k in range(report.clusters)]
    groups = [g for g in groups if len(g) >= settings.gaps_min_questions]
    centroids = []
    for g in groups:
        c = vectors[g].mean(axis=0)
        centroids.append(c / (np.linalg.norm(c) or 1.0))
    centroids = np.asarray(centroids, dtype=np.float32).reshape(len(groups), vectors.shape[1])
    closest = _closest_chunks(session, settings, embedder, centroids, index_cache)
    check_cancelled(progress)
    progress.report(2, 3, f"storing {len(groups)} gaps")
    session.execute(delete(KnowledgeGap))
    week, two_weeks = now - dt.timedelta(days=7), now - dt.timedelta(days=14)
    for g, centroid, near in zip(groups, centroids, closest, strict=True):
        members = [questions[i] for i in g]
        sims = vectors[g] @ centroid
        order = np.argsort(-sims, kind="stable")
        shown = [members[i] for i in order if not members[i].flagged]
        examples = list(dict.fromkeys(q.text for q in shown))[:MAX_EXAMPLES]
        label = examples[0] if examples else "(flagged messages only)"
        intents = Counter(q.intent for q in members if q.intent and q.intent != UNKNOWN)
        reasons = Counter(r for q in members for r in q.reasons)
        this_week = sum(q.created_at >= week for q in members)
        last_week = sum(two_weeks <= q.created_at < week for q in members)
        first_seen = min(q.created_at for q in members)
        session.add(KnowledgeGap(
            label=label, intent=intents.most_common(1)[0][0] if intents else None,
            question_count=len(members), conversation_count=len({q.conversation_id for q in members}),
            this_week=this_week, last_week=last_week, trend=trend(this_week, last_week, first_seen, now),
            reasons={r: reasons[r] for r in REASONS if reasons[r]}, examples=examples,
            message_ids=sorted(q.message_id for q in members), first_seen_at=first_seen,
            last_seen_at=max(q.created_at for q in members),
            closest_chunk_id=near[0] if near else None, closest_chunk_score=near[1] if near else None,
            model_id=embedder.model_id, refreshed_at=now,
        ))
        report.gaps += 1
        report.largest = max(report.largest, len(members))
    session.flush()
    progress.report(3, 3, f"{report.gaps} gaps")
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def list_gaps(session: Session, *, limit: int = 50, intent: str | None = None) -> list[dict]:
    """The stored knowledge gaps, most questions first (what the dashboard page shows)."""
    q = select(KnowledgeGap).order_by(KnowledgeGap.question_count.desc(), KnowledgeGap.id).limit(limit)
    if intent:
        q = q.where(KnowledgeGap.intent == intent)
    return [
        {
            "id": g.id, "label": g.label, "intent": g.intent, "question_count": g.question_count,
            "conversation_count": g.conversation_count, "this_week": g.this_week, "last_week": g.last_week,
            "trend": g.trend, "reasons": dict(g.reasons or {}), "examples": list(g.examples or []),
            "first_seen_at": g.first_seen_at, "last_seen_at": g.last_seen_at,
            "closest_chunk_id": g.closest_chunk_id, "closest_chunk_score": g.closest_chunk_score,
            "refreshed_at": g.refreshed_at,
        }
        for g in session.scalars(q)
    ]
