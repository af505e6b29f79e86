import pytest

from core.knowledge import chunks as knowledge
from core.knowledge import refresh
from core.knowledge import versions as kb_versions
from core.knowledge.evaluation import import_questions
from core.ops import queue
from core.platform.audit import history
from core.platform.config import Settings
from core.platform.embeddings import get_embedder
from tests.factories import ADMIN
from tests.factories.dashboard import button, page, refused, token_for

CHUNKS = [
    {"external_id": ext, "title": title, "text": text, "category": cat}
    for ext, title, text, cat in [
        ("kb-price", "Adult price", "Adults are $60 per person.", "pricing"),
        ("kb-travel", "Travel fee", "Travel to Irvine costs $50.", "travel"),
        ("kb-kids", "Kids price", "Kids under 12 are $30.", "pricing"),
    ]
]


@pytest.fixture(scope="session")
def embedder():
    return get_embedder(Settings(_env_file=None))  # the dashboard's embedder (same process cache)


def _seed_versions(session, embedder, tmp_path, n=2) -> list[int]:
    s = Settings(_env_file=None, index_dir=tmp_path / "var" / "indexes", data_dir=tmp_path / "var")
    knowledge.import_chunks(session, CHUNKS, actor=ADMIN)
    ids = [refresh.weekly_refresh(session, embedder, s, actor=ADMIN).active_version_id]
    for i in range(1, n):
        knowledge.update_chunk(session, 1, actor=ADMIN, text=f"Adults are ${60 + i} per person.")
        ids.append(refresh.weekly_refresh(session, embedder, s, actor=ADMIN).active_version_id)
    session.commit()
    return ids


def test_anonymous_visitor_is_refused(app_db, session):
    assert refused(page("knowledge").run())


def test_viewer_sees_chunks_versions_and_search_scores(app_db, session, embedder, tmp_path):
    _seed_versions(session, embedder, tmp_path, n=1)
    at = page("knowledge", token_for(app_db, "viewer")).run()
    assert not at.exception
    m = {x.label: x.value for x in at.metric}
    assert m["Active version"] == "v1" and m["Active chunks"] == "3"
    assert len(at.dataframe[0].value) == 3
    assert not [b for b in at.button if b.label.startswith("Refresh now")]  # admins only
    ask = next(t for t in at.text_input if t.label == "Ask like a customer would")
    ask.input("travel fee to Irvine").run()
    assert not at.exception
    hits = at.dataframe[-1].value
    assert hits.iloc[0]["chunk"] == "kb-travel" and 0 < hits.iloc[0]["score"] <= 1


def test_admin_rolls_back_to_the_previous_version(app_db, session, embedder, tmp_path):
    v1, v2 = _seed_versions(session, embedder, tmp_path, n=2)
    assert v1 != v2
    at = page("knowledge", token_for(app_db, "admin", "ada")).run()
    assert {x.label: x.value for x in at.metric}["Active version"] == f"v{v2}"
    button(at, "Roll back to the previous version").click().run()
    assert not at.exception
    with app_db.session() as s:
        assert kb_versions.active_version(s).id == v1
    assert {x.label: x.value for x in at.metric}["Active version"] == f"v{v1}"


def test_admin_edits_a_chunk(app_db, session, embedder, tmp_path):
    _seed_versions(session, embedder, tmp_path, n=1)
    at = page("knowledge", token_for(app_db, "admin", "ada")).run()
    next(t for t in at.text_area if t.label == "Text").input("Adults are $65 per person.")
    button(at, "Save").click().run()
    assert not at.exception
    with app_db.session() as s:
        chunk = knowledge.get_chunk(s, at.selectbox[2].value)
        assert chunk.text == "Adults are $65 per person."
        assert history(s, "chunk", chunk.id)


def test_empty_knowledge_base_renders(app_db, session):
    at = page("knowledge", token_for(app_db, "admin")).run()
    assert not at.exception
    assert {x.label: x.value for x in at.metric}["Active version"] == "none"


QUESTIONS = [
    {"question": q, "expected_external_id": ext} for q, ext in [
        ("How much does an adult cost?", "kb-price"), ("What do adults pay per person?", "kb-price"),
        ("adult price", "kb-price"), ("How much for kids?", "kb-kids"),
        ("price for children under 12", "kb-kids"), ("kids price", "kb-kids"),
        ("travel fee to Irvine", "kb-travel"),
    ]
]


def test_refresh_now_shows_a_rejection_as_a_warning_with_why_and_the_next_run(app_db, session, embedder,
                                                                              tmp_path):
    s = Settings(_env_file=None, index_dir=tmp_path / "var" / "indexes", data_dir=tmp_path / "var")
    knowledge.import_chunks(session, CHUNKS, actor=ADMIN)
    import_questions(session, QUESTIONS, actor=ADMIN)
    refresh.weekly_refresh(session, embedder, s, actor=ADMIN)
    for ext in ("kb-price", "kb-kids"):  # six questions lose their chunk: the gate rejects
        knowledge.archive_chunk(session, knowledge.chunk_by_external_id(session, ext).id, actor=ADMIN)
    assert refresh.weekly_refresh(session, embedder, s, actor=ADMIN).status == "rejected"
    session.commit()
    at = page("knowledge", token_for(app_db, "admin", "ada")).run()
    assert not at.exception
    warned = " ".join(w.value for w in at.warning)
    assert "Version 2 was rejected and version 1 keeps serving" in warned and "sign test" in warned
    assert not [x for x in at.success if "rejected" in x.value]  # never a green check
    assert any(c.value.startswith("Next scheduled refresh: 20") for c in at.caption)
    button(at, "Refresh now: build, evaluate, activate if not worse").click().run()
    assert not at.exception and any("KB refresh queued as job run" in i.value for i in at.info)
    with app_db.session() as s2:
        assert [r["job"] for r in queue.open_runs(s2)] == ["kb_refresh"]


def test_a_reviewer_retitles_and_rejects_a_proposal_and_an_admin_archives(app_db, session, embedder,
                                                                          tmp_path):
    _seed_versions(session, embedder, tmp_path, n=1)
    prop = knowledge.propose_chunk(session, question="Hi, this is <PERSON>. Do you cook vegan food?",
                                   answer="Yes: tofu and vegetables.", actor=ADMIN)
    session.commit()
    at = page("knowledge", token_for(app_db, "reviewer", "rita")).run()
    at.selectbox[0].select("proposed").run()
    assert at.selectbox[2].value == prop.id
    title = next(t for t in at.text_input if t.label == "Title")
    assert title.value == "Do you cook vegan food?" and not title.disabled
    title.input("Vegan menu")
    button(at, "Save").click().run()
    assert not at.exception
    next(t for t in at.text_input if t.label == "Why reject this proposal?").input("we are not vegan")
    button(at, "Reject proposal").click().run()
    assert not at.exception
    with app_db.session() as s2:
        chunk = knowledge.get_chunk(s2, prop.id)
        assert (chunk.title, chunk.status) == ("Vegan menu", "archived")
        assert chunk.chunk_metadata["rejected"]["by"] == "rita"
    at = page("knowledge", token_for(app_db, "admin", "ada")).run()
    chosen = at.selectbox[2].value
    button(at, "Archive").click().run()
    assert not at.exception and at.selectbox[2].value != chosen  # gone from the active chunks
    with app_db.session() as s2:
        assert knowledge.get_chunk(s2, chosen).status == "archived"
