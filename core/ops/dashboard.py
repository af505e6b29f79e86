"""Small read queries the dashboard needs that no other module provides: conversation search
(full text: SQLite FTS5 table ``message_fts``, PostgreSQL ``to_tsvector`` index, both made by
migration 0005) and the outcome and feedback of one conversation.
"""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from core.conversations.queries import ConversationRow
from core.ops import metrics
from core.ops.metric_sql import SUM_COLUMNS, add_sums, empty_sums, kpis
from core.platform.clock import FixedClock
from core.platform.errors import NotFound, ValidationError
from core.platform.models import (
    Chunk,
    Conversation,
    ConversationOutcome,
    Feedback,
    KBVersion,
    Message,
    MetricDay,
    ReviewItem,
)

MAX_ROWS = 1000
_WORD = re.compile(r"\w+", re.UNICODE)


FTS_TRIGGERS = ("message_fts_insert", "message_fts_delete", "message_fts_update")
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS message_fts USING fts5(redacted_content, content='message', "
    "content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS message_fts_insert AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts(rowid, redacted_content) VALUES (new.id, new.redacted_content); END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_delete AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, redacted_content) "
    "VALUES ('delete', old.id, old.redacted_content); END",
    "CREATE TRIGGER IF NOT EXISTS message_fts_update AFTER UPDATE OF redacted_content ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, redacted_content) "
    "VALUES ('delete', old.id, old.redacted_content); "
    "INSERT INTO message_fts(rowid, redacted_content) VALUES (new.id, new.redacted_content); END",
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
]


def _sqlite_fts_ready(session: Session) -> bool:
    """The FTS5 table exists and all its triggers too (a later migration that copies the
    message table drops triggers; ``ensure_message_search`` puts them back)."""
    names = {
        n for (n,) in session.execute(
            text("SELECT name FROM sqlite_master WHERE name = 'message_fts' OR name LIKE 'message_fts_%'")
        )
    }
    return "message_fts" in names and set(FTS_TRIGGERS) <= names


def ensure_message_search(engine: Engine) -> bool:
    """Create or repair the SQLite full-text index of messages (rebuilt from the message table);
    True when it had to. PostgreSQL needs nothing at run time (its index is made by migration)."""
    if engine.dialect.name != "sqlite":
        return False
    with Session(engine) as s:
        if _sqlite_fts_ready(s):
            return False
    with engine.begin() as conn:
        for stmt in SQLITE_FTS:
            conn.execute(text(stmt))
    return True


def matching_messages(session: Session, query: str):
    """A SELECT of the ids of messages whose redacted text matches ``query`` (all words)."""
    words = _WORD.findall(query)
    if not words:
        raise ValidationError("Type at least one word to search for.")
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        tsq = func.plainto_tsquery("english", " ".join(words))
        return select(Message.id).where(
            func.to_tsvector("english", Message.redacted_content).op("@@")(tsq)
        )
    if dialect == "sqlite" and _sqlite_fts_ready(session):
        match = " ".join('"' + w.replace('"', '""') + '"' for w in words)
        return select(literal_column("rowid")).select_from(text("message_fts")).where(
            text("message_fts MATCH :fts_q").bindparams(fts_q=match)
        )
    q = select(Message.id)
    for w in words:
        q = q.where(Message.redacted_content.ilike(f"%{w}%"))
    return q


def _matching(q, session: Session, *, search: str | None, channel: str | None, status: str | None,
              since: dt.datetime | None, until: dt.datetime | None, booked: bool | None):  # noqa: ANN001, ANN202
    """``q`` (a SELECT over Conversation) narrowed to the conversation filters."""
    if channel:
        q = q.where(Conversation.channel == channel)
    if status:
        q = q.where(Conversation.status == status)
    if since:
        q = q.where(Conversation.created_at >= since)
    if until:
        q = q.where(Conversation.created_at < until)
    if booked is not None:
        booked_ids = select(ConversationOutcome.conversation_id).where(
            ConversationOutcome.booking_converted.is_(True)
        )
        q = q.where(Conversation.id.in_(booked_ids) if booked else Conversation.id.not_in(booked_ids))
    if search and search.strip():
        hits = matching_messages(session, search)
        q = q.where(Conversation.id.in_(select(Message.conversation_id).where(Message.id.in_(hits))))
    return q


def count_conversations(
    session: Session,
    *,
    search: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    booked: bool | None = None,
) -> dict[str, int]:
    """How many conversations :func:`find_conversations` matches with the same filters, by channel
    (the list's total is the sum)."""
    q = select(Conversation.channel, func.count()).group_by(Conversation.channel)
    q = _matching(q, session, search=search, channel=channel, status=status, since=since, until=until,
                  booked=booked)
    return {ch: int(n) for ch, n in session.execute(q)}


def find_conversations(
    session: Session,
    *,
    search: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    booked: bool | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[ConversationRow]:
    """Conversations newest first that match the filters and, when given, a full-text search
    of their redacted messages (``offset``/``limit``: one page; :func:`count_conversations` counts
    them). Only the page of conversations is aggregated, so it stays fast on millions of messages."""
    limit = max(1, min(limit, MAX_ROWS))
    q = (select(Conversation.id).order_by(Conversation.created_at.desc(), Conversation.id.desc())
         .limit(limit).offset(max(0, offset)))
    q = _matching(q, session, search=search, channel=channel, status=status, since=since, until=until,
                  booked=booked)
    ids = list(session.scalars(q))
    if not ids:
        return []
    stats = {
        cid: (n, first)
        for cid, n, first in session.execute(
            select(Message.conversation_id, func.count(), func.min(Message.id))
            .where(Message.conversation_id.in_(ids))
            .group_by(Message.conversation_id)
        )
    }
    first_ids = [first for _, first in stats.values()]
    firsts = {
        mid: content
        for mid, content in session.execute(
            select(Message.id, Message.redacted_content).where(Message.id.in_(first_ids))
        )
    }
    convs = {
        c.id: (c, o)
        for c, o in session.execute(
            select(Conversation, ConversationOutcome)
            .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
            .where(Conversation.id.in_(ids))
        )
    }
    rows = []
    for cid in ids:
        conv, outcome = convs[cid]
        n, first = stats.get(cid, (0, None))
        rows.append(
            ConversationRow(
                id=cid,
                channel=conv.channel,
                status=conv.status,
                created_at=conv.created_at,
                messages=n,
                intent=conv.intent,
                escalation_reason=conv.escalation_reason,
                booked=bool(outcome and outcome.booking_converted),
                csat=outcome.csat if outcome else None,
                first_message=(firsts.get(first) or "")[:200],
            )
        )
    return rows


def conversation_detail(session: Session, conversation_id: int) -> dict:
    """The header of one conversation: channel, status, outcome, votes per message and review items."""
    conv = session.get(Conversation, conversation_id)
    if conv is None:
        raise NotFound(f"Conversation {conversation_id} does not exist.")
    o = conv.outcome
    votes: dict[int, dict[str, int]] = {}
    for mid, vote, n in session.execute(
        select(Feedback.message_id, Feedback.vote, func.count())
        .where(Feedback.conversation_id == conversation_id)
        .group_by(Feedback.message_id, Feedback.vote)
    ):
        votes.setdefault(mid, {})[vote] = n
    reviews = [
        {"id": r.id, "message_id": r.message_id, "kind": r.kind, "status": r.status, "reasons": r.reasons}
        for r in session.scalars(
            select(ReviewItem)
            .join(Message, Message.id == ReviewItem.message_id)
            .where(Message.conversation_id == conversation_id)
            .order_by(ReviewItem.id)
        )
    ]
    return {
        "id": conv.id,
        "channel": conv.channel,
        "status": conv.status,
        "intent": conv.intent,
        "created_at": conv.created_at,
        "closed_at": conv.closed_at,
        "escalation_reason": conv.escalation_reason,
        "booked": bool(o and o.booking_converted),
        "booking_value_usd": o.booking_value_usd if o else None,
        "successful_outcome": bool(o and o.successful_outcome),
        "csat": o.csat if o else None,
        "down_votes": o.down_votes if o else 0,
        "first_response_time_seconds": o.first_response_time_seconds if o else None,
        "total_cost_usd": o.total_cost_usd if o else 0.0,
        "votes": votes,
        "reviews": reviews,
    }


# --- metrics over the dashboard's date range ---------------------------------------------
def metrics_for_range(
    session: Session, start: dt.date, end: dt.date, channel: str | None = None, *, training_target: int = 200
) -> dict:
    """``core.ops.metrics.dashboard`` for the days ``start``..``end`` (both included), with the
    change against the same number of days before ``start``."""
    if end < start:
        raise ValidationError("The date range ends before it starts; pick the start first.")
    days = (end - start).days + 1
    clock = FixedClock(dt.datetime.combine(end, dt.time(23, 59, 59)))
    return metrics.dashboard(session, days, channel, clock, training_target=training_target)


def daily_by_channel(session: Session, start: dt.date, end: dt.date) -> list[dict]:
    """One row per day and channel in ``start``..``end``: date, channel and every KPI
    (from the metric_day roll-up), for trend charts split by channel."""
    cols = [func.sum(getattr(MetricDay, name)).label(name) for name in SUM_COLUMNS]
    q = (
        select(MetricDay.day, MetricDay.channel, *cols)
        .where(MetricDay.day >= start, MetricDay.day <= end)
        .group_by(MetricDay.day, MetricDay.channel)
        .order_by(MetricDay.day, MetricDay.channel)
    )
    return [
        {"date": str(row["day"])[:10], "channel": row["channel"],
         **kpis(add_sums(empty_sums(), row))}
        for row in session.execute(q).mappings()
    ]


# --- knowledge base tables ---------------------------------------------------------------
def chunks_with_performance(
    session: Session, *, status: str | None = None, category: str | None = None, limit: int = 5000
) -> list[dict]:
    """KB chunks with their performance counters as plain rows (for a sortable table)."""
    q = select(Chunk).order_by(Chunk.performance_score.desc(), Chunk.id).limit(limit)
    if status:
        q = q.where(Chunk.status == status)
    if category:
        q = q.where(Chunk.category == category)
    return [
        {
            "id": c.id, "external_id": c.external_id, "title": c.title, "text": c.text,
            "category": c.category, "status": c.status, "source": c.source_type,
            "score": round(c.performance_score, 3), "retrievals": c.times_retrieved,
            "used": c.times_used_in_response, "bookings": c.times_led_to_booking,
            "rating": round(c.rating_sum / c.rating_count, 2) if c.rating_count else None,
            "ratings": c.rating_count, "stale": c.stale_flagged_at is not None,
            "update_of": c.duplicate_of_id, "updated_at": c.updated_at,
        }
        for c in session.scalars(q)
    ]


def kb_versions_table(session: Session, limit: int = 50) -> list[dict]:
    """KB versions newest first with the headline numbers of their evaluation report."""
    rows = []
    for v in session.scalars(select(KBVersion).order_by(KBVersion.id.desc()).limit(limit)):
        rep = v.eval_report or {}
        rows.append({
            "id": v.id, "status": v.status, "chunks": v.chunk_count, "embedded": v.embedded_count,
            "model": v.model_id, "index": v.index_kind, "hit@1": rep.get("hit_at_1"),
            "hit@5": rep.get("hit_at_5"), "mrr": rep.get("mrr"), "escalation": rep.get("escalation_rate"),
            "accuracy": rep.get("answered_accuracy"), "questions": rep.get("questions"),
            "decision": v.decision, "built_by": v.built_by, "reason": v.reason,
            "created_at": v.created_at, "activated_at": v.activated_at, "report": rep,
        })
    return rows
