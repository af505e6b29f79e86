"""Knowledge gaps, Training and Experiments pages."""

import datetime as dt

from sqlalchemy import select

from core.platform.models import Chunk, KnowledgeGap
from tests.factories.dashboard import button, page, refused, token_for


def _gap(session) -> int:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    g = KnowledgeGap(label="Do you cater in Reno?", intent="travel", question_count=4, conversation_count=4,
                     this_week=3, last_week=1, trend="rising", reasons={"escalation": 4},
                     examples=["Do you cater in Reno?", "Can you come to Reno NV?"], message_ids=[],
                     first_seen_at=now, last_seen_at=now, model_id="m", refreshed_at=now)
    session.add(g)
    session.commit()
    return g.id


def test_pages_refuse_anonymous_visitors(app_db, session):
    for name in ("gaps", "training", "experiments"):
        at = page(name).run()
        assert not at.exception and refused(at), name


def test_gaps_show_examples_and_an_answer_becomes_a_proposed_chunk(app_db, session):
    _gap(session)
    at = page("gaps", token_for(app_db, "admin", "ada")).run()
    assert not at.exception
    assert {m.label: m.value for m in at.metric}["Questions in gaps"] == "4"
    assert "Can you come to Reno NV?" in [i.value for i in at.text]
    at.text_area[0].input("We travel to Reno for a $150 travel fee.")
    button(at, "Propose chunk").click().run()
    assert not at.exception and "Proposed as chunk" in at.success[0].value
    with app_db.session() as s:
        chunk = s.scalar(select(Chunk))
        assert chunk.status == "proposed" and chunk.text == "We travel to Reno for a $150 travel fee."


def test_viewer_cannot_propose_a_gap_answer(app_db, session):
    _gap(session)
    at = page("gaps", token_for(app_db, "viewer")).run()
    assert button(at, "Propose chunk").disabled


def test_experiments_page_renders_empty(app_db, session):
    at = page("experiments", token_for(app_db, "viewer")).run()
    assert not at.exception and "No experiment yet" in at.info[0].value
