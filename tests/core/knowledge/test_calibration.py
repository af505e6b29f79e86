"""Score calibration of KB versions: measured when a version is built (from the evaluation set,
else from the chunks' titles), kept in the index file, and used by the responder and the gate,
on both databases."""

from pathlib import Path

from core.answering.responder import answer
from core.knowledge.calibration import MIN_SAMPLES, decision_settings
from core.knowledge.chunks import import_chunks
from core.knowledge.evaluation import evaluate, import_questions
from core.knowledge.index import IndexCache, read_index_file
from core.knowledge.versions import activate_version, build_version
from core.platform.actors import SYSTEM
from tests.factories.knowledge import hashing, kb_settings

TOPICS = [
    "card pin", "online password", "mailing address", "phone number", "email address", "account name",
    "daily limit", "overdraft limit", "savings goal", "direct deposit", "billing date", "statement format",
    "paper statements", "travel notice", "card design", "joint owner", "beneficiary", "tax form",
    "security questions", "login alerts", "spending alerts", "linked account", "payment method",
    "auto pay", "currency setting",
]
NOT_IN_KB = "delivery window"  # a topic the knowledge base does not hold


def _kb(session, settings, *, with_questions: bool, calibration: str = "auto"):
    st = kb_settings(settings).model_copy(update={"kb_score_calibration": calibration})
    records = [
        {"external_id": f"faq-{i}", "title": f"how do i change my {t} right now",
         "text": f"To change your {t}, open settings and pick {t}.", "category": t.replace(" ", "_")}
        for i, t in enumerate(TOPICS)
    ]
    import_chunks(session, records, actor=SYSTEM, source_type="imported")
    if with_questions:
        import_questions(session, [{"question": f"how can i change my {t} please", "expected_external_id":
                                    f"faq-{i}"} for i, t in enumerate(TOPICS)], actor=SYSTEM)
    emb = hashing()
    version = build_version(session, emb, st, actor=SYSTEM)
    activate_version(session, version.id, st, actor=SYSTEM)
    session.commit()
    return emb, st, version


def test_a_version_is_calibrated_on_its_evaluation_set_and_escalates_what_it_does_not_hold(session, settings):
    emb, st, version = _kb(session, settings, with_questions=True)
    idx = IndexCache().active(session, st)
    cal = idx.calibration
    assert cal is not None and cal.source == "evaluation" and cal.samples >= MIN_SAMPLES
    assert 0 < cal.floor < cal.ceiling <= 1
    # written into the version's index file: a fresh read (another process) has it too
    again = read_index_file(Path(st.index_dir) / version.index_file, version.checksum, version_id=version.id)
    assert again.calibration == cal
    inside = answer(session, "how can i change my tax form today", embedder=emb, settings=st)
    outside = answer(session, f"how do i change my {NOT_IN_KB} right now", embedder=emb, settings=st)
    assert not inside.escalated and inside.used_chunk_ids
    assert outside.escalated
    # the fixed floor and ceiling would have answered the question the KB does not hold
    fixed = st.model_copy(update={"kb_score_calibration": "off"})
    question = f"how do i change my {NOT_IN_KB} right now"
    assert not answer(session, question, embedder=emb, settings=fixed).escalated


def test_the_gate_decides_with_the_calibration_of_the_version_it_scores(session, settings):
    emb, st, _ = _kb(session, settings, with_questions=True)
    idx = IndexCache().active(session, st)
    oos = type("Q", (), {"id": 0, "question": f"how do i change my {NOT_IN_KB} right now",
                         "should_escalate": True, "expected_chunk_id": None, "expected_external_id": None,
                         "expected_answer": None, "intent": None})()
    assert evaluate(idx, [oos], emb, st)["out_of_scope_escalated"] == 1.0
    assert evaluate(idx, [oos], emb, st.model_copy(update={"kb_score_calibration": "off"}))[
        "out_of_scope_escalated"] == 0.0


def test_without_an_evaluation_set_the_titles_calibrate(session, settings):
    _, st, _ = _kb(session, settings, with_questions=False)
    # each topic has one chunk: no title finds another chunk of its category
    assert IndexCache().active(session, st).calibration is None
    more = [{"external_id": f"faq-b-{i}", "title": f"{t} settings",
             "text": f"Update your {t} in settings.", "category": t.replace(" ", "_")}
            for i, t in enumerate(TOPICS)]
    import_chunks(session, more, actor=SYSTEM, source_type="imported")
    version = build_version(session, hashing(), st, actor=SYSTEM)
    session.commit()
    cal = read_index_file(Path(st.index_dir) / version.index_file, version.checksum).calibration
    assert cal is not None and cal.source == "titles" and cal.samples >= MIN_SAMPLES


def test_calibration_off_keeps_the_fixed_settings_and_still_measures(session, settings):
    emb, st, _ = _kb(session, settings, with_questions=True, calibration="off")
    cal = IndexCache().active(session, st).calibration
    assert cal is not None and cal.source == "evaluation"  # measured, so "auto" needs no rebuild
    assert decision_settings(st, cal) is st
    on = decision_settings(st.model_copy(update={"kb_score_calibration": "auto"}), cal)
    assert (on.kb_score_floor, on.kb_score_ceiling) == (cal.floor, cal.ceiling)
    assert on.kb_search_k == st.kb_search_k
    question = f"how do i change my {NOT_IN_KB} right now"
    auto = st.model_copy(update={"kb_score_calibration": "auto"})
    assert not answer(session, question, embedder=emb, settings=st).escalated
    assert answer(session, question, embedder=emb, settings=auto).escalated
