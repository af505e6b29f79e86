"""The demo knowledge base (core.demo.knowledge): its data files and loading it."""

import re

import pytest
from sqlalchemy import func, select

from core.demo.knowledge import demo_eval_questions, demo_kb_entries, load_demo_knowledge
from core.platform.errors import PermissionDenied
from core.platform.models import Chunk, EvaluationQuestion
from tests.factories import VIEWER
from tests.factories.knowledge import hashing, kb_settings


def test_demo_kb_entries_are_fresh_copies():
    first = demo_kb_entries()
    first[0]["text"] = "changed"
    assert demo_kb_entries()[0]["text"] != "changed"
    assert {q["expected_external_id"] for q in demo_eval_questions() if q.get("expected_external_id")} <= {
        e["external_id"] for e in first
    }


def test_load_demo_knowledge_activates_a_version_once(session, settings):
    emb, st = hashing(), kb_settings(settings)
    with pytest.raises(PermissionDenied):
        load_demo_knowledge(session, emb, st, actor=VIEWER)
    rep = load_demo_knowledge(session, emb, st)
    assert rep.status == "activated" and rep.chunk_count == len(demo_kb_entries())
    questions = session.scalar(select(func.count()).select_from(EvaluationQuestion))
    assert questions == len(demo_eval_questions())
    again = load_demo_knowledge(session, emb, st)  # chunks matched by external id, questions added once
    assert again.status == "unchanged"
    assert session.scalar(select(func.count()).select_from(EvaluationQuestion)) == questions
    assert session.scalar(select(func.count()).select_from(Chunk)) == len(demo_kb_entries())
    assert {c.created_by for c in session.scalars(select(Chunk))} == {"system"}


def test_kb_file():
    kb = demo_kb_entries()
    assert len(kb) >= 60
    ids = [e["external_id"] for e in kb]
    assert len(set(ids)) == len(ids)
    assert {e["category"] for e in kb} == {"pricing", "menu", "travel", "booking", "policy", "logistics",
                                           "dietary"}
    for e in kb:
        assert set(e) == {"external_id", "title", "text", "category"}
        assert e["title"].strip() and e["text"].strip()
        sentences = re.findall(r"[.!?](?:\s|$)", e["text"])
        assert 1 <= len(sentences) <= 4, e["external_id"]
    # one price list: the adult and kid prices and the minimum are quoted the same everywhere
    by_id = {e["external_id"]: e["text"] for e in kb}
    assert "$60 per adult" in by_id["kb-price-adult"] and "$30" in by_id["kb-price-kids"]
    assert "$600" in by_id["kb-party-minimum"] and "10 adults at $60" in by_id["kb-party-minimum"]


def test_eval_questions_point_at_kb_entries():
    kb = {e["external_id"]: e for e in demo_kb_entries()}
    questions = demo_eval_questions()
    assert len(questions) >= 80
    assert len({q["question"] for q in questions}) == len(questions)
    for q in questions:
        assert q["expected_external_id"] in kb, q
        assert q["question"].strip().lower() != kb[q["expected_external_id"]]["title"].lower()
    assert len({q["expected_external_id"] for q in questions}) >= 60
