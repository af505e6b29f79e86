"""Feedback statistics: votes, feedback rate and CSAT, overall and by channel.

Feedback rate = conversations with any vote or a CSAT / conversations (shared/DESIGN.md).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.errors import ValidationError
from core.platform.models import Conversation, ConversationOutcome, Feedback
from core.platform.statuses import Vote


def _blank() -> dict:
    return {
        "conversations": 0,
        "with_feedback": 0,
        "votes_up": 0,
        "votes_down": 0,
        "csat_count": 0,
        "csat_sum": 0,
        "csat_distribution": {str(i): 0 for i in range(1, 6)},
    }


def _finish(g: dict) -> dict:
    n = g.pop("conversations")
    with_fb = g.pop("with_feedback")
    cnt, sm = g.pop("csat_count"), g.pop("csat_sum")
    return {
        "conversations": n,
        "conversations_with_feedback": with_fb,
        "votes_up": g["votes_up"],
        "votes_down": g["votes_down"],
        "feedback_rate": round(with_fb / n, 4) if n else 0.0,
        "csat_average": round(sm / cnt, 3) if cnt else None,
        "csat_responses": cnt,
        "csat_distribution": g["csat_distribution"],
    }


def feedback_stats(session: Session, days: int = 7, clock: Clock | None = None) -> dict:
    """Votes up/down, feedback rate, CSAT average and distribution, overall and by channel,
    for conversations started in the last ``days`` days."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise ValidationError(f"days must be a whole number from 1 to 3650, got {days!r}.")
    since = (clock or SystemClock()).now() - dt.timedelta(days=days)
    votes = (
        select(
            Feedback.conversation_id.label("cid"),
            func.sum(case((Feedback.vote == Vote.UP, 1), else_=0)).label("up"),
            func.sum(case((Feedback.vote == Vote.DOWN, 1), else_=0)).label("down"),
        )
        .group_by(Feedback.conversation_id)
        .subquery()
    )
    q = (
        select(Conversation.channel, votes.c.up, votes.c.down, ConversationOutcome.csat)
        .outerjoin(votes, votes.c.cid == Conversation.id)
        .outerjoin(ConversationOutcome, ConversationOutcome.conversation_id == Conversation.id)
        .where(Conversation.created_at >= since)
    )
    groups: dict[str, dict] = {}
    total = _blank()
    for channel, up, down, csat in session.execute(q):
        for g in (total, groups.setdefault(channel, _blank())):
            g["conversations"] += 1
            g["votes_up"] += int(up or 0)
            g["votes_down"] += int(down or 0)
            if (up or down) or csat is not None:
                g["with_feedback"] += 1
            if csat is not None:
                g["csat_count"] += 1
                g["csat_sum"] += csat
                g["csat_distribution"][str(csat)] += 1
    return {
        "days": days,
        "since": since,
        **_finish(total),
        "by_channel": {ch: _finish(g) for ch, g in sorted(groups.items())},
    }
