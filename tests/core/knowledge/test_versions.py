"""KB versions: build with the embedding cache, evaluation gate, activation, rollback,
builds that die midway, damaged index files, and the process cache noticing a new version."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.answering.responder import answer
from core.knowledge import chunks as knowledge
from core.knowledge.evaluation import add_question, import_questions
from core.knowledge.index import IndexCache, IndexFileError, read_index_file
from core.knowledge.refresh import gate_version, weekly_refresh
from core.knowledge.versions import activate_version, active_version, build_version, list_versions, rollback
from core.platform import events
from core.platform.actors import SYSTEM
from core.platform.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.platform.models import EmbeddingCache, KBVersion, KBVersionChunk
from tests.factories import ADMIN, REVIEWER
from tests.factories.knowledge import CHUNKS, EVAL, FailingEmbedder, hashing, kb_settings, seed

ROOT = Path(__file__).resolve().parents[3]


def _first_version(session, settings):
    emb, st = hashing(), kb_settings(settings)
    clock = seed(session)
    rep = weekly_refresh(session, emb, st, clock, actor=ADMIN)
    session.commit()
    return emb, st, clock, rep


def test_refresh_builds_evaluates_and_activates(session, settings):
    emb, st, _, rep = _first_version(session, settings)
    assert rep.status == "activated" and rep.previous_version_id is None
    v = active_version(session)
    assert v.id == rep.active_version_id == rep.candidate_version_id
    assert (v.chunk_count, v.embedded_count, v.index_kind, v.model_id) == (
        len(CHUNKS),
        len(CHUNKS),
        "exact",
        emb.model_id,
    )
    assert v.eval_report["hit_at_1"] == 1.0 and v.eval_report["questions"] == len(EVAL)
    assert (Path(st.index_dir) / v.index_file).exists()
    assert not list(Path(st.index_dir).glob("*.tmp"))
    assert session.scalar(select(func.count()).select_from(KBVersionChunk)) == len(CHUNKS)
    assert session.scalar(select(func.count()).select_from(EmbeddingCache)) == len(CHUNKS)
    # nothing changed: no new version
    again = weekly_refresh(session, emb, st, actor=ADMIN)
    assert again.status == "unchanged" and len(list_versions(session)) == 1
    assert events.recent(session, kind="kb.activated")[0].details["version_id"] == v.id


def test_rebuild_embeds_only_changed_chunks(session, settings):
    emb, st, clock, _ = _first_version(session, settings)
    knowledge.update_chunk(
        session,
        knowledge.chunk_by_external_id(session, "rain").id,
        actor=ADMIN,
        text="If it rains the chef cooks under a covered patio or a tent.",
    )
    rep = weekly_refresh(session, emb, st, clock, actor=ADMIN)
    assert rep.status == "activated" and rep.embedded_count == 1
    forced = weekly_refresh(session, emb, st, clock, actor=ADMIN, force=True)
    assert forced.status == "activated" and forced.embedded_count == 0


def test_worse_candidate_is_rejected_and_the_active_version_keeps_serving(session, settings):
    emb, st, clock, first = _first_version(session, settings)
    for c in CHUNKS[::2]:  # half the chunks removed
        knowledge.archive_chunk(
            session, knowledge.chunk_by_external_id(session, c["external_id"]).id, actor=ADMIN
        )
    rep = weekly_refresh(session, emb, st, clock, actor=SYSTEM)
    session.commit()
    assert rep.status == "rejected"
    assert rep.active_version_id == first.active_version_id == active_version(session).id
    cand = session.get(KBVersion, rep.candidate_version_id)
    assert cand.status == "rejected" and "5 of 10 evaluation questions got worse" in cand.decision
    assert cand.eval_report["hit_at_1"] < 1.0 and cand.eval_report["baseline"]["hit_at_1"] == 1.0
    assert any("exact sign test p = 0.0312" in r for r in rep.reasons)
    assert rep.gate_tests[0]["losses"] == 5 and rep.gate_tests[0]["wins"] == 0
    assert "rejected and version 1 keeps serving" in rep.headline()
    ev = events.recent(session, kind="kb.refresh_rejected")[0]
    assert ev.severity == "warning" and ev.details["candidate_id"] == cand.id
    # the archived chunks are still served by the active version
    a = answer(
        session,
        "what is the adult price per adult guest",
        embedder=emb,
        settings=st,
        index_cache=IndexCache(),
    )
    assert a.kb_version_id == first.active_version_id and a.retrieved[0][1] == "price-adult"
    with pytest.raises(Conflict, match="rejected"):
        activate_version(session, cand.id, st, actor=ADMIN)
    assert activate_version(session, cand.id, st, actor=ADMIN, force=True).status == "active"


def test_gate_tolerance_lets_a_slightly_worse_candidate_through(session, settings):
    emb, st, clock, _ = _first_version(session, settings)
    knowledge.archive_chunk(session, knowledge.chunk_by_external_id(session, "rain").id, actor=ADMIN)
    lenient = st.model_copy(update={"kb_gate_tolerance": 0.2})
    assert weekly_refresh(session, emb, lenient, clock, actor=ADMIN).status == "activated"


def test_rollback_and_cache_reload_without_restart(db, session, settings):
    emb, st, clock, first = _first_version(session, settings)
    cache = IndexCache()
    q = "how to book a party booking form"
    assert (
        answer(session, q, embedder=emb, settings=st, index_cache=cache).kb_version_id
        == first.active_version_id
    )
    knowledge.propose_chunk(
        session, title="Parking", text="Guests park on the street near the house.", actor=ADMIN
    )
    second = weekly_refresh(session, emb, st, clock, actor=ADMIN)
    session.commit()
    assert second.status == "activated"
    # another process (a new session) sees the new version on its next answer
    with db.session() as other:
        assert (
            answer(other, q, embedder=emb, settings=st, index_cache=cache).kb_version_id
            == second.active_version_id
        )
    assert cache.loads == 2
    back = rollback(session, st, actor=ADMIN, clock=clock)
    session.commit()
    assert back.id == first.active_version_id
    assert session.get(KBVersion, second.active_version_id).status == "retired"
    assert answer(session, q, embedder=emb, settings=st, index_cache=cache).kb_version_id == back.id
    assert rollback(session, st, actor=ADMIN).id == second.active_version_id  # and forward again
    with pytest.raises(Conflict):
        activate_version(session, second.active_version_id, st, actor=ADMIN)
    with pytest.raises(NotFound):
        activate_version(session, 999, st, actor=ADMIN)


def test_activating_rolling_back_and_refreshing_need_the_manage_kb_right(session, settings):
    emb, st, clock, first = _first_version(session, settings)
    cand = build_version(session, emb, st, actor=ADMIN, clock=clock)
    with pytest.raises(PermissionDenied, match="manage_kb"):
        activate_version(session, cand.id, st, actor=REVIEWER)
    with pytest.raises(PermissionDenied):
        rollback(session, st, actor=REVIEWER)
    with pytest.raises(PermissionDenied):
        weekly_refresh(session, emb, st, clock, actor=REVIEWER, force=True)
    with pytest.raises(PermissionDenied):
        gate_version(session, cand.id, emb, st, actor=REVIEWER)
    with pytest.raises(PermissionDenied):
        add_question(session, "is parking free?", should_escalate=True, actor=REVIEWER)
    with pytest.raises(PermissionDenied):
        import_questions(session, EVAL, actor=REVIEWER)
    assert active_version(session).id == first.active_version_id and cand.status == "candidate"
    assert gate_version(session, cand.id, emb, st, actor=SYSTEM).status == "activated"


def test_rollback_without_history_and_search_on_an_empty_kb(session, settings):
    emb, st = hashing(), kb_settings(settings)
    with pytest.raises(NotFound, match="no active version"):
        answer(session, "hello", embedder=emb, settings=st, index_cache=IndexCache())
    with pytest.raises(NotFound, match="roll back"):
        rollback(session, st, actor=ADMIN)
    with pytest.raises(ValidationError, match="no active chunks"):
        build_version(session, emb, st, actor=ADMIN)


def test_a_build_that_raises_midway_leaves_the_active_version(db, session, settings):
    emb, st, clock, first = _first_version(session, settings)
    knowledge.propose_chunk(session, title="Parking", text="Guests park on the street.", actor=ADMIN)
    session.commit()
    for call in (1, 2):  # dies while embedding the chunks / while evaluating the candidate
        with pytest.raises(RuntimeError), db.session() as s:
            try:
                weekly_refresh(s, FailingEmbedder(emb, fail_on_call=call), st, clock, actor=ADMIN)
                s.commit()
            except BaseException:
                s.rollback()
                raise
    session.expire_all()
    assert active_version(session).id == first.active_version_id
    assert [v.id for v in list_versions(session)] == [first.active_version_id]


KILLED_BUILD = textwrap.dedent("""
    import os, signal, sys
    from core.platform.config import Settings
    from core.platform.db import make_engine, session_factory
    from core.knowledge.refresh import weekly_refresh
    from core.platform.actors import SYSTEM
    from tests.factories.knowledge import hashing, kb_settings

    class Dies:
        def __init__(self, inner, at):
            self.inner, self.model_id, self.dim, self.calls, self.at = inner, inner.model_id, inner.dim, 0, at
        def encode(self, texts):
            self.calls += 1
            if self.calls >= self.at:
                os.kill(os.getpid(), signal.SIGKILL)
            return self.inner.encode(texts)

    st = kb_settings(Settings(database_url=sys.argv[1], index_dir=sys.argv[2], data_dir=sys.argv[2],
                              _env_file=None))
    s = session_factory(make_engine(sys.argv[1]))()
    weekly_refresh(s, Dies(hashing(), int(sys.argv[3])), st, actor=SYSTEM)
    s.commit()
""")


def test_a_build_killed_with_sigkill_leaves_the_active_version(db, session, settings, tmp_path):
    emb, st, clock, first = _first_version(session, settings)
    knowledge.propose_chunk(session, title="Parking", text="Guests park on the street.", actor=ADMIN)
    session.commit()
    script = tmp_path / "killed_build.py"
    script.write_text(KILLED_BUILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    files_before = set(Path(st.index_dir).iterdir())
    for at in (1, 2):  # killed while embedding; killed after the index file was written
        proc = subprocess.run(
            [sys.executable, str(script), db.url, str(st.index_dir), str(at)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == -9, proc.stderr
    session.expire_all()
    assert active_version(session).id == first.active_version_id
    assert len(list_versions(session)) == 1
    assert len(set(Path(st.index_dir).iterdir()) - files_before) == 1  # an orphan file, never referenced
    # the knowledge base still answers and the next refresh succeeds
    assert (
        answer(session, "nut allergy peanuts", embedder=emb, settings=st, index_cache=IndexCache()).retrieved[
            0
        ][1]
        == "allergy"
    )
    assert weekly_refresh(session, emb, st, clock, actor=ADMIN).status == "activated"


def test_missing_or_damaged_index_file_is_a_clear_error(session, settings):
    emb, st, clock, first = _first_version(session, settings)
    knowledge.propose_chunk(session, title="Parking", text="Guests park on the street.", actor=ADMIN)
    second = weekly_refresh(session, emb, st, clock, actor=ADMIN)
    session.commit()
    v1, v2 = session.get(KBVersion, first.active_version_id), session.get(KBVersion, second.active_version_id)
    path1 = Path(st.index_dir) / v1.index_file
    data = bytearray(path1.read_bytes())
    data[-10] ^= 0xFF
    path1.write_bytes(bytes(data))
    with pytest.raises(IndexFileError, match="fails its checksum"):
        rollback(session, st, actor=ADMIN)
    assert active_version(session).id == v2.id  # not switched
    path1.unlink()
    with pytest.raises(IndexFileError, match="missing"):
        activate_version(session, v1.id, st, actor=ADMIN)
    assert active_version(session).id == v2.id
    # the active version's file damaged: answering says so (a fresh process cache)
    (Path(st.index_dir) / v2.index_file).write_bytes(b"garbage")
    with pytest.raises(IndexFileError, match="checksum"):
        answer(session, "kids price", embedder=emb, settings=st, index_cache=IndexCache())
    with pytest.raises(IndexFileError, match="damaged"):
        read_index_file(Path(st.index_dir) / v2.index_file, None)


def test_large_versions_use_an_approximate_index(session, settings):
    emb = hashing()
    st = kb_settings(settings).model_copy(update={"kb_exact_search_max": 5})
    seed(session)
    rep = weekly_refresh(session, emb, st, actor=ADMIN)
    v = active_version(session)
    assert v.index_kind == "hnsw" and rep.candidate_report["hit_at_1"] == 1.0
    idx = read_index_file(Path(st.index_dir) / v.index_file, v.checksum)
    assert idx.kind == "hnsw" and len(idx) == len(CHUNKS)


def test_an_embedder_of_another_model_cannot_search_an_index(session, settings):
    emb, st, _, _ = _first_version(session, settings)
    from core.platform.embeddings import HashingEmbedder

    other = HashingEmbedder(dim=512, model_id="other-model")
    with pytest.raises(ValidationError, match="other-model"):
        answer(session, "kids price", embedder=other, settings=st, index_cache=IndexCache())
    # a refresh with the new model builds a new version, compared on the stored report
    rep = weekly_refresh(session, other, st, actor=ADMIN)
    assert rep.status == "activated" and any("stored report" in r for r in rep.reasons)
