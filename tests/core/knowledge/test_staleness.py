"""Stale content: chunks flagged when nobody touched them for kb_stale_days, cleared by an
edit or a review, and the answers that relied on them."""

import datetime as dt

from core.answering.responder import answer, record_answer
from core.knowledge.chunks import chunk_by_external_id, mark_reviewed, update_chunk
from core.knowledge.refresh import weekly_refresh
from core.knowledge.staleness import flag_stale_chunks, messages_with_stale_chunks, stale_chunks
from tests.factories import ADMIN
from tests.factories.knowledge import CHUNKS, conversation, hashing, kb_settings, seed


def test_stale_chunks_are_flagged_and_cleared(session, settings):
    emb, st = hashing(), kb_settings(settings)
    clock = seed(session)
    weekly_refresh(session, emb, st, actor=ADMIN, clock=clock)
    conv = conversation(session)
    msg = record_answer(
        session, conv.id, answer(session, "nut allergy peanuts", embedder=emb, settings=st), clock=clock
    )
    clock.advance(days=st.kb_stale_days)
    assert flag_stale_chunks(session, st, clock) == []
    allergy = chunk_by_external_id(session, "allergy")
    update_chunk(
        session,
        chunk_by_external_id(session, "rain").id,
        actor=ADMIN,
        text="Rain: we bring a tent.",
        clock=clock,
    )
    clock.advance(days=1, seconds=1)
    stale = flag_stale_chunks(session, st, clock)
    assert len(stale) == len(CHUNKS) - 1 and all(r["newly_flagged"] for r in stale)
    assert "rain" not in {r["external_id"] for r in stale}
    assert stale[0]["days"] == st.kb_stale_days + 1
    assert allergy.stale_flagged_at == clock.now()
    assert messages_with_stale_chunks(
        session, since=clock.now() - dt.timedelta(days=60)
    ) == [msg.id]
    mark_reviewed(session, allergy.id, actor=ADMIN, clock=clock)
    clock.advance(days=1)
    again = flag_stale_chunks(session, st, clock)
    assert len(again) == len(CHUNKS) - 2 and not any(r["newly_flagged"] for r in again)
    assert allergy not in stale_chunks(session)
    assert messages_with_stale_chunks(session) == []
