"""Chunks: import/export, proposals and dedupe, performance counters, stale flags."""

import pytest
from sqlalchemy import select

from core.answering.responder import answer, record_answer
from core.knowledge import chunks as knowledge
from core.knowledge import scoring
from core.knowledge.refresh import weekly_refresh
from core.platform.errors import Conflict, ImportFailed, NotFound, ValidationError
from core.platform.models import AuditLog, Chunk, MessageChunk
from tests.core.kb_helpers import CHUNKS, FailingEmbedder, conversation, hashing, kb_settings, seed


def test_import_creates_updates_and_skips_unchanged(session):
    rep = knowledge.import_chunks(session, CHUNKS, actor="t")
    assert (rep.created, rep.updated, rep.unchanged) == (len(CHUNKS), 0, 0)
    changed = [dict(CHUNKS[0], text="The adult price is now sixty-five dollars.")] + CHUNKS[1:]
    rep = knowledge.import_chunks(session, changed, actor="t")
    assert (rep.created, rep.updated, rep.unchanged) == (0, 1, len(CHUNKS) - 1)
    chunk = knowledge.chunk_by_external_id(session, "price-adult")
    assert "sixty-five" in chunk.text and chunk.status == "active"
    assert session.scalars(select(AuditLog).where(AuditLog.action == "update")).first() is not None
    # no external id: the same text twice is skipped
    plain = {"title": "Parking", "text": "Park on the street.", "category": "logistics"}
    assert knowledge.import_chunks(session, [plain]).created == 1
    assert knowledge.import_chunks(session, [plain]).unchanged == 1


def test_import_is_all_or_nothing_and_names_bad_lines(session):
    bad = [CHUNKS[0], {"title": "no text"}, {"text": "ok", "metadata": [1]}, CHUNKS[0]]
    with pytest.raises(ImportFailed) as err:
        knowledge.import_chunks(session, bad, file="kb.jsonl")
    msg = str(err.value)
    assert "kb.jsonl:2: text" in msg and "kb.jsonl:3: metadata" in msg and "appears twice" in msg
    assert session.scalars(select(Chunk)).first() is None
    rep = knowledge.import_chunks(session, bad, skip_invalid=True)
    assert rep.created == 1 and len(rep.rejected) == 3


def test_import_file_and_export_round_trip(session, tmp_path):
    p = tmp_path / "kb.jsonl"
    p.write_text("\n".join(__import__("json").dumps(c) for c in CHUNKS) + "\n\n", encoding="utf-8")
    assert knowledge.import_chunks_file(session, p).created == len(CHUNKS)
    rows = knowledge.export_chunks(session)
    assert [r["external_id"] for r in rows] == [c["external_id"] for c in CHUNKS]
    assert knowledge.import_chunks(session, rows).unchanged == len(CHUNKS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{not json\n', encoding="utf-8")
    with pytest.raises(ImportFailed, match="bad.jsonl:2: invalid JSON"):
        knowledge.import_chunks_file(session, bad)


def test_chunk_edits_are_validated(session):
    c = knowledge.add_chunk(session, text="Hello", external_id="x")
    with pytest.raises(Conflict):
        knowledge.add_chunk(session, text="Again", external_id="x")
    with pytest.raises(ValidationError):
        knowledge.update_chunk(session, c.id, actor="t", colour="red")
    with pytest.raises(ValidationError):
        knowledge.update_chunk(session, c.id, actor="t", status="gone")
    with pytest.raises(NotFound):
        knowledge.get_chunk(session, 999)
    old = c.content_hash
    knowledge.update_chunk(session, c.id, actor="t", text="Hello there")
    assert c.content_hash != old
    assert knowledge.archive_chunk(session, c.id, actor="t").status == "archived"


def test_refresh_dedupes_proposals(session, settings):
    emb, st = hashing(), kb_settings(settings)
    seed(session)
    weekly_refresh(session, emb, st, actor="t")
    exact = knowledge.propose_chunk(session, title="Rain plan", text=CHUNKS[6]["text"], proposed_by="t")
    near = knowledge.propose_chunk(
        session,
        title="Rain plan",
        text="If it rains the chef cooks under a covered patio, garage or a tent.",
        proposed_by="t",
    )
    new = knowledge.propose_chunk(
        session,
        question="Do you bring plates?",
        answer="Plates, napkins and chopsticks are included.",
        proposed_by="t",
    )
    twin = knowledge.propose_chunk(
        session,
        question="Do you bring plates?",
        answer="Plates, napkins and chopsticks are included.",
        proposed_by="t",
    )
    assert twin.id == new.id  # proposing the same text again returns the first proposal
    rep = weekly_refresh(session, emb, st, actor="t")
    assert rep.status == "activated"
    rain = knowledge.chunk_by_external_id(session, "rain")
    assert exact.status == "archived" and exact.duplicate_of_id == rain.id
    assert near.status == "proposed" and near.duplicate_of_id == rain.id
    assert rep.update_proposals == [
        {
            "proposal_id": near.id,
            "chunk_id": rain.id,
            "external_id": "rain",
            "similarity": pytest.approx(rep.update_proposals[0]["similarity"]),
        }
    ]
    assert rep.update_proposals[0]["similarity"] >= st.kb_dedupe_similarity
    assert rep.added_chunk_ids == [new.id] and new.status == "active"
    assert knowledge.list_update_proposals(session) == [near]
    # accepting the update proposal changes the existing chunk; the next refresh re-embeds it
    knowledge.apply_update_proposal(session, near.id, actor="admin")
    assert rain.text.endswith("or a tent.") and near.status == "archived"
    with pytest.raises(Conflict):
        knowledge.apply_update_proposal(session, near.id, actor="admin")
    rep = weekly_refresh(session, emb, st, actor="t")
    assert rep.status == "activated" and rep.embedded_count == 0  # embedded during dedupe already


def test_proposal_takes_the_conversation_intent(session):
    conv = conversation(session, "how much?")
    conv.intent = "pricing"
    chunk = knowledge.propose_chunk(
        session,
        question="How much?",
        answer="Sixty dollars.",
        source_message_id=conv.messages[0].id,
        proposed_by="review",
    )
    assert (chunk.category, chunk.source_type, chunk.status) == ("pricing", "approved_answer", "proposed")
    with pytest.raises(ValidationError):
        knowledge.propose_chunk(session, question="q", answer="  ")


def test_performance_score_is_smoothed():
    c = Chunk(times_used_in_response=0, times_led_to_booking=0, rating_count=0, rating_sum=0.0)
    assert scoring.performance_score(c) == 0.5
    lucky = Chunk(times_used_in_response=1, times_led_to_booking=1, rating_count=1, rating_sum=5.0)
    assert 0.5 < scoring.performance_score(lucky) < 0.56
    assert scoring.performance_score(lucky, prior_weight=0) == pytest.approx(1.0)
    proven = Chunk(times_used_in_response=200, times_led_to_booking=150, rating_count=100, rating_sum=450.0)
    assert scoring.performance_score(proven) == pytest.approx(0.7 * 155 / 210 + 0.3 * 95 / 110, abs=1e-6)
    poor = Chunk(times_used_in_response=200, times_led_to_booking=0, rating_count=100, rating_sum=100.0)
    assert scoring.performance_score(poor) < 0.15


def test_answers_and_feedback_update_the_chunks_used(session, settings):
    emb, st = hashing(), kb_settings(settings)
    clock = seed(session)
    weekly_refresh(session, emb, st, actor="t", clock=clock)
    conv = conversation(session, "adult price?")
    a = answer(session, "what is the adult price per adult guest", embedder=emb, settings=st)
    msg = record_answer(session, conv.id, a, clock=clock, settings=st)
    used = knowledge.chunk_by_external_id(session, "price-adult")
    session.refresh(used)
    assert (used.times_retrieved, used.times_used_in_response) == (1, 1)
    assert used.performance_score < 0.5  # one more use, no booking yet
    others = session.scalars(
        select(MessageChunk).where(MessageChunk.message_id == msg.id, MessageChunk.used.is_(False))
    ).all()
    assert len(others) == st.kb_search_k - 1
    assert scoring.record_chunk_feedback(session, msg.id, rating="up", clock=clock) == [used.id]
    assert (used.rating_count, used.rating_sum) == (1, 5.0)
    scoring.change_chunk_feedback(session, msg.id, previous="up", rating="down", clock=clock)
    assert (used.rating_count, used.rating_sum, used.avg_user_rating) == (1, 1.0, 1.0)
    scoring.record_conversation_feedback(session, conv.id, rating=4, booked=True, settings=st, clock=clock)
    assert (used.times_led_to_booking, used.rating_count, used.last_user_feedback_at) == (1, 2, clock.now())
    assert used.performance_score == pytest.approx(
        scoring.performance_score(used, st.kb_score_prior_weight)
    )
    retrieved_only = session.get(Chunk, others[0].chunk_id)
    assert retrieved_only.times_retrieved == 1 and retrieved_only.rating_count == 0
    with pytest.raises(ValidationError):
        scoring.record_chunk_feedback(session, msg.id, rating="meh")
    with pytest.raises(ValidationError):
        scoring.record_chunk_feedback(session, msg.id, rating=9)
    assert scoring.record_chunk_feedback(session, conv.messages[0].id, rating=5) == []


def test_stale_chunks_are_flagged_and_cleared(session, settings):
    emb, st = hashing(), kb_settings(settings)
    clock = seed(session)
    weekly_refresh(session, emb, st, actor="t", clock=clock)
    conv = conversation(session)
    msg = record_answer(
        session, conv.id, answer(session, "nut allergy peanuts", embedder=emb, settings=st), clock=clock
    )
    clock.advance(days=st.kb_stale_days)
    assert knowledge.flag_stale_chunks(session, st, clock) == []
    allergy = knowledge.chunk_by_external_id(session, "allergy")
    knowledge.update_chunk(
        session,
        knowledge.chunk_by_external_id(session, "rain").id,
        actor="t",
        text="Rain: we bring a tent.",
        clock=clock,
    )
    clock.advance(days=1, seconds=1)
    stale = knowledge.flag_stale_chunks(session, st, clock)
    assert len(stale) == len(CHUNKS) - 1 and all(r["newly_flagged"] for r in stale)
    assert "rain" not in {r["external_id"] for r in stale}
    assert stale[0]["days"] == st.kb_stale_days + 1
    assert allergy.stale_flagged_at == clock.now()
    assert knowledge.messages_with_stale_chunks(
        session, since=clock.now() - __import__("datetime").timedelta(days=60)
    ) == [msg.id]
    knowledge.mark_reviewed(session, allergy.id, actor="admin", clock=clock)
    clock.advance(days=1)
    again = knowledge.flag_stale_chunks(session, st, clock)
    assert len(again) == len(CHUNKS) - 2 and not any(r["newly_flagged"] for r in again)
    assert allergy not in knowledge.stale_chunks(session)
    assert knowledge.messages_with_stale_chunks(session) == []


def test_refresh_needs_chunks_and_a_failing_embedder_writes_nothing(session, settings):
    with pytest.raises(NotFound, match="no chunks"):
        weekly_refresh(session, hashing(), kb_settings(settings))
    seed(session)
    with pytest.raises(RuntimeError):
        weekly_refresh(session, FailingEmbedder(hashing()), kb_settings(settings))
