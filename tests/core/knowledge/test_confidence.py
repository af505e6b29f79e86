"""Confidence methods (core.knowledge.confidence), batch answers and intent-level evaluation
questions: the product changes the self-learning benchmark (bench/learning_curve.py) measures."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core.answering.responder import answer, answer_batch
from core.knowledge.chunks import import_chunks, propose_chunk
from core.knowledge.confidence import confidence, decide, escalates
from core.knowledge.evaluation import add_question, evaluate
from core.knowledge.index import IndexCache, read_index_file
from core.knowledge.refresh import _evaluate_version, weekly_refresh
from core.knowledge.versions import active_version
from core.platform.errors import ValidationError
from tests.factories import ADMIN
from tests.factories.knowledge import hashing, kb_settings, seed


def hit(score: float, category: str, chunk_id: int = 0):
    return SimpleNamespace(score=score, category=category, chunk_id=chunk_id, text="t", title="")


def st(**kw):
    base = dict(kb_score_floor=0.25, kb_score_ceiling=0.65, kb_margin_scale=0.08, kb_escalation_threshold=0.3,
                kb_confidence_method="margin", kb_vote_temperature=0.05)
    return SimpleNamespace(**{**base, **kw})


def test_margin_method_answers_from_the_best_chunk():
    hits = [hit(0.9, "a", 1), hit(0.88, "b", 2), hit(0.87, "b", 3)]
    d = decide(hits, st())
    assert d.category == "a" and d.hit.chunk_id == 1 and d.position == 0
    assert d.confidence == pytest.approx(0.5 + 0.5 * 0.02 / 0.08)
    assert confidence(hits, st()) == d.confidence
    assert decide([], st()).confidence == 0.0 and decide([], st()).hit is None


def test_vote_method_answers_the_category_most_neighbours_agree_on():
    hits = [hit(0.90, "a", 1), hit(0.89, "b", 2), hit(0.89, "b", 3), hit(0.88, "b", 4)]
    d = decide(hits, st(kb_confidence_method="vote"))
    assert d.category == "b" and d.hit.chunk_id == 2 and d.position == 1
    assert sum(d.shares.values()) == pytest.approx(1, abs=1e-3) and d.shares["b"] > d.shares["a"]
    assert d.confidence == pytest.approx(d.shares["b"], abs=1e-3)  # relevance is 1 above the ceiling
    agree = decide([hit(0.9, "a"), hit(0.85, "a"), hit(0.6, "b")], st(kb_confidence_method="vote"))
    assert agree.category == "a" and agree.confidence > 0.99
    far = decide([hit(0.35, "a"), hit(0.3, "a")], st(kb_confidence_method="vote"))
    assert far.confidence == pytest.approx(0.25) and escalates(far.confidence, st())


def test_vote_ties_go_to_the_better_ranked_category():
    d = decide([hit(0.8, "x", 1), hit(0.8, "y", 2)], st(kb_confidence_method="vote"))
    assert d.category == "x" and d.confidence == pytest.approx(0.5)


def test_answer_batch_decides_like_answer(session, settings):
    emb = hashing()
    for method in ("margin", "vote"):
        s = kb_settings(settings).model_copy(update={"kb_confidence_method": method})
        if method == "margin":
            clock = seed(session)
            weekly_refresh(session, emb, s, clock, actor=ADMIN)
        questions = ["kids price per child", "who won the football game yesterday", "nut allergy peanuts"]
        batch = answer_batch(session, questions, embedder=emb, settings=s, index_cache=IndexCache())
        for q, b in zip(questions, batch, strict=True):
            one = answer(session, q, embedder=emb, settings=s, index_cache=IndexCache())
            assert (b.escalated, b.intent, b.used_chunk_ids, b.text) == (
                one.escalated, one.intent, one.used_chunk_ids, one.text)
            assert b.confidence == one.confidence
        assert batch[1].escalated and not batch[0].escalated
    assert answer_batch(session, [], embedder=emb, settings=s) == []
    with pytest.raises(ValidationError):
        answer_batch(session, ["fine", " "], embedder=emb, settings=s)


def test_intent_questions_count_any_chunk_of_their_category(session, settings):
    emb, s = hashing(), kb_settings(settings)
    clock = seed(session, questions=[])
    q = add_question(session, "kids price per child", intent="pricing", actor=ADMIN, clock=clock)
    with pytest.raises(ValidationError):
        add_question(session, "no target at all", actor=ADMIN, clock=clock)
    weekly_refresh(session, emb, s, clock, actor=ADMIN)
    report = _evaluate_version(session, active_version(session), emb, s)
    assert report["hit_at_1"] == 1.0 and report["answered_accuracy"] == 1.0
    # more chunks of one topic never push the right topic out of the top 5 categories
    import_chunks(session, [{"title": f"Travel note {i}", "text": f"Travel fee note {i} for kids price.",
                             "category": "travel"} for i in range(8)], actor=ADMIN, clock=clock)
    weekly_refresh(session, emb, s, clock, actor=ADMIN)
    v = active_version(session)
    idx = read_index_file(s.index_dir / v.index_file, v.checksum)
    assert evaluate(idx, [q], emb, s)["hit_at_5"] == 1.0


def test_a_long_question_is_proposed_with_a_cut_title(session):
    long_q = "why " * 120
    chunk = propose_chunk(session, question=long_q, answer="Because.", category="general", actor=ADMIN)
    assert len(chunk.title) <= 120 and chunk.title.startswith("Why why") and chunk.title.endswith("…")
    assert chunk.chunk_metadata["question"] == long_q
