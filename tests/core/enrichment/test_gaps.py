"""core.enrichment.gaps: clustering badly handled questions, stored with counts,
examples, trend and the closest chunk. SQLite and PostgreSQL, hashing embedder."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from core.enrichment import gaps
from core.knowledge.index import IndexCache
from core.knowledge.refresh import weekly_refresh
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock
from core.platform.errors import PermissionDenied
from core.platform.models import Conversation, Feedback, KnowledgeGap, Message
from tests.factories import ADMIN, REVIEWER
from tests.factories.knowledge import hashing, kb_settings, seed

NOW = dt.datetime(2026, 3, 30, 12, 0)


def ask(session, question, *, days_ago, confidence=0.9, escalate=False, down=False, flagged=False):
    at = NOW - dt.timedelta(days=days_ago)
    conv = Conversation(channel="web", external_user_id=f"u-{question[:5]}-{days_ago}", created_at=at,
                        escalated_at=at + dt.timedelta(minutes=2) if escalate else None)
    conv.messages += [
        Message(role="user", raw_content="hi", redacted_content="hi", created_at=at),
        Message(role="user", raw_content=question, redacted_content=question, created_at=at, flagged=flagged,
                intent="travel" if "drive" in question else None),
        Message(role="assistant", raw_content="answer", redacted_content="answer", confidence=confidence,
                created_at=at + dt.timedelta(minutes=1)),
    ]
    session.add(conv)
    session.flush()
    if down:
        session.add(Feedback(message_id=conv.messages[2].id, conversation_id=conv.id, voter="v", vote="down",
                             created_at=at + dt.timedelta(minutes=3)))
        session.flush()
    return conv


def test_gaps_cluster_bad_questions_with_counts_trend_examples_and_chunk(session, settings):
    st = kb_settings(settings).model_copy(update={"gaps_similarity": 0.5})
    clock = FixedClock(NOW)
    seed(session, clock=clock)
    weekly_refresh(session, hashing(), st, clock, actor=ADMIN)
    for d in (1, 2, 3):
        ask(session, "do you drive out to napa wine country", days_ago=d, escalate=True)
    ask(session, "do you drive out to napa wine country please", days_ago=9, confidence=0.1)
    ask(session, "do you drive out to napa wine country you idiots", days_ago=2, down=True, flagged=True)
    ask(session, "can the chef juggle flaming knives", days_ago=10, confidence=0.2)
    ask(session, "can the chef juggle flaming knives at night", days_ago=11, down=True)
    ask(session, "what is the adult price", days_ago=1)  # answered well: not a gap
    ask(session, "something from long ago about napa wine country", days_ago=60, escalate=True)
    ask(session, "a lonely question nobody else asks", days_ago=1, escalate=True)

    rep = gaps.refresh_gaps(session, hashing(), st, clock, actor=ADMIN, index_cache=IndexCache())
    assert rep.questions == 8 and rep.gaps == 2 and rep.largest == 5
    rows = gaps.list_gaps(session)
    napa, knives = rows
    assert napa["question_count"] == 5 and napa["conversation_count"] == 5
    assert (napa["this_week"], napa["last_week"], napa["trend"]) == (4, 1, "rising")
    assert napa["reasons"] == {"escalation": 3, "low_confidence": 1, "down_vote": 1}
    assert napa["intent"] == "travel"
    assert all("idiots" not in e for e in napa["examples"])  # flagged: counted, never shown
    assert napa["label"].startswith("do you drive out to napa")
    assert napa["closest_chunk_id"] is not None and napa["closest_chunk_score"] > 0
    assert (knives["question_count"], knives["last_week"], knives["trend"]) == (2, 2, "falling")
    assert knives["reasons"] == {"low_confidence": 1, "down_vote": 1}
    assert gaps.list_gaps(session, intent="travel") == [napa]

    # a refresh replaces the stored gaps
    clock.advance(days=40)
    again = gaps.refresh_gaps(session, hashing(), st, clock, actor=ADMIN, index_cache=IndexCache())
    assert again.questions == 0
    assert session.query(KnowledgeGap).count() == 0


def test_reclustering_needs_the_manage_kb_right(session, settings):
    ask(session, "do you drive out to napa", days_ago=1, escalate=True)
    with pytest.raises(PermissionDenied, match="manage_kb"):
        gaps.refresh_gaps(session, hashing(), settings, FixedClock(NOW), actor=REVIEWER,
                          index_cache=IndexCache())


def test_gaps_without_a_kb_and_trend_rules(session, settings):
    ask(session, "do you drive out to napa", days_ago=1, escalate=True)
    ask(session, "do you drive out to napa", days_ago=2, escalate=True)
    rep = gaps.refresh_gaps(session, hashing(), settings, FixedClock(NOW), actor=SYSTEM,
                           index_cache=IndexCache())
    (row,) = gaps.list_gaps(session)
    assert rep.gaps == 1 and row["closest_chunk_id"] is None and row["trend"] == "new"
    week = NOW - dt.timedelta(days=20)
    assert gaps.trend(5, 1, week, NOW) == "rising"
    assert gaps.trend(1, 5, week, NOW) == "falling"
    assert gaps.trend(3, 3, week, NOW) == "steady"


@pytest.mark.parametrize("n", [0, 1])
def test_cluster_vectors_small_inputs(n):
    assert len(gaps.cluster_vectors(np.eye(4, dtype=np.float32)[:n], 0.5)) == n


def test_cluster_vectors_splits_by_similarity():
    v = np.array([[1, 0], [0.99, 0.14], [0, 1], [0.1, 0.99]], dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    labels = gaps.cluster_vectors(v, 0.8)
    assert labels[0] == labels[1] != labels[2] == labels[3]
    assert len(set(gaps.cluster_vectors(v, 0.0))) == 1
