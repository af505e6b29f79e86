"""core.learning.agent_answers on SQLite and PostgreSQL: a human agent's reply to a handed-off
question becomes a KB proposal (clean title, scrubbed, once), what must not become knowledge is
left out with its reason, and the runner's weekly refresh proposes before it builds."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.conversations import ingest, schemas
from core.enrichment import intents
from core.knowledge.versions import activate_version, build_version
from core.learning import loop as learning
from core.learning.agent_answers import propose_agent_answers
from core.ops import tasks
from core.ops.tasks import TaskContext
from core.platform.clock import FixedClock
from core.platform.models import Chunk, Conversation
from core.platform.statuses import ChunkSource, ChunkStatus
from tests.factories import ADMIN
from tests.factories.knowledge import T0, hashing, kb_settings, seed

QUESTION = ("Hi there, this is Maria Lopez, do you bring your own propane grill to a park? "
            "call me at 415-555-0199")
REPLY = "Yes: our chef brings a propane grill and sets it up in any park that allows cooking."


@pytest.fixture(scope="module")
def scrubber():
    from core.platform.config import Settings
    from core.platform.pii import get_scrubber

    return get_scrubber(Settings(_env_file=None))


@pytest.fixture
def st(settings):
    assert settings.kb_learn_from_agent_answers is False  # opt-in
    s = kb_settings(settings).model_copy(update={"kb_learn_from_agent_answers": True})
    s.ensure_dirs()
    return s


def _handed_off(session, st, scrubber, *messages: tuple[str, str], at: dt.datetime = T0) -> int:
    """A conversation of ``(role, text)`` messages; the first agent message hands it off."""
    conv = schemas.ConversationIn(
        channel="web", external_user_id="visitor-1",
        messages=[schemas.MessageIn(role=r, content=t, created_at=at + dt.timedelta(minutes=i))
                  for i, (r, t) in enumerate(messages)],
    )
    return ingest.store_conversations(session, [conv], scrubber, st, FixedClock(at)).conversation_ids[0]


def _proposals(session) -> list[Chunk]:
    return list(session.scalars(select(Chunk).where(Chunk.source_type == ChunkSource.AGENT_ANSWER)))


def test_an_agents_reply_becomes_a_clean_scrubbed_proposal_once(session, st, scrubber):
    cid = _handed_off(session, st, scrubber, ("user", QUESTION),
                      ("assistant", "Let me pass this to our team."), ("agent", REPLY),
                      ("agent", "Anything else I can help with?"))
    assert session.get(Conversation, cid).escalated_at is not None
    clock = FixedClock(T0 + dt.timedelta(days=1))
    report = propose_agent_answers(session, st, actor=ADMIN, scrubber=scrubber, clock=clock)
    assert report.proposed == 1 and report.left_out == {}
    (chunk,) = _proposals(session)
    assert chunk.status == ChunkStatus.PROPOSED and chunk.text == REPLY  # the first reply only
    assert chunk.title.lower().startswith("do you bring your own propane grill")
    assert "Hi there" not in chunk.title  # the metadata keeps the whole redacted question
    for personal in ("Maria", "Lopez", "415"):
        assert personal not in chunk.title + chunk.text + str(chunk.chunk_metadata), personal
    assert chunk.chunk_metadata["conversation_id"] == cid and chunk.created_by == ADMIN.name
    assert chunk.category == "general"  # a new text, no topic an admin set: never the classifier's guess
    # a second run proposes nothing new (the reply is the chunk's source)
    again = propose_agent_answers(session, st, actor=ADMIN, scrubber=scrubber, clock=clock)
    assert again.proposed == 0 and len(_proposals(session)) == 1


def test_what_must_not_become_knowledge_is_left_out_with_its_reason(session, st, scrubber):
    clock = FixedClock(T0 + dt.timedelta(days=1))
    _handed_off(session, st, scrubber, ("user", "Can I change my booking date?"),
                ("agent", "I've passed this to our team and someone will get back to you shortly."))
    _handed_off(session, st, scrubber, ("agent", "Hello! Following up on your event."))  # no question
    _handed_off(session, st, scrubber, ("user", "Can I get a refund for the late chef?"),
                ("agent", "Hi Maria, I've issued a partial refund of $50 to your card."))  # for one customer
    low = _handed_off(session, st, scrubber, ("user", "Do you serve lobster?"),
                      ("agent", "Yes, lobster tail is an upgrade at twenty dollars a guest."))
    learning.record_csat(session, low, 1, clock, settings=st)
    _handed_off(session, st, scrubber, ("user", "Is the deposit refundable?"),
                ("agent", "Yes, the deposit is refundable up to seven days before the event."),
                at=T0 - dt.timedelta(days=st.kb_agent_answer_days + 1))  # handed off too long ago
    report = propose_agent_answers(session, st, actor=ADMIN, scrubber=scrubber, clock=clock)
    assert report.proposed == 0
    assert report.left_out == {"a hand-off or apology text": 1, "no customer question before it": 1,
                               "addressed to a person": 1, "low CSAT": 1}
    assert _proposals(session) == []

    off = st.model_copy(update={"kb_learn_from_agent_answers": False})
    _handed_off(session, st, scrubber, ("user", "Do you do weddings?"),
                ("agent", "Yes, weddings of any size."))
    assert propose_agent_answers(session, off, actor=ADMIN, scrubber=scrubber, clock=clock).as_dict() == {
        "proposed": 0, "left_out": {}}
    assert propose_agent_answers(session, st, actor=ADMIN, scrubber=scrubber, clock=clock).proposed == 1


def test_the_weekly_refresh_task_proposes_the_replies_and_activates_them(db, session, st, scrubber):
    clock = seed(session)
    v1 = build_version(session, hashing(), st, actor=ADMIN, clock=clock)
    activate_version(session, v1.id, st, actor=ADMIN, clock=clock, force=True)
    _handed_off(session, st, scrubber, ("user", QUESTION), ("agent", REPLY), at=clock.now())
    canned = _handed_off(session, st, scrubber, ("user", "how much for my 8 year old?"),
                         ("agent", "The kids price is thirty dollars per child  aged four to twelve."),
                         at=clock.now())  # a KB text word for word (but a space): its topic
    corrected = _handed_off(session, st, scrubber, ("user", "can your chef come up to the mountains?"),
                            ("agent", "Yes, our chef drives to the mountains for a sixty dollar travel fee."),
                            at=clock.now())
    intents.correct_intent(session, "travel", ADMIN, conversation_id=corrected, clock=clock)
    session.commit()
    ctx = TaskContext(db.factory, st, FixedClock(clock.now() + dt.timedelta(hours=1)),
                      embedder_loader=hashing)
    refresh = {t.name: t for t in tasks.default_registry(st)}["kb_refresh"]
    result = tasks.run_task(ctx, refresh, "test", trigger="manual", require_due=False)
    assert result.status == "succeeded", result.error
    assert result.summary["agent_answers"] == {"proposed": 3, "left_out": {}}
    session.expire_all()
    chunks = {c.chunk_metadata["conversation_id"]: c for c in _proposals(session)}
    assert [c.status for c in chunks.values()] == [ChunkStatus.ACTIVE] * 3, result.summary  # the gate passed
    assert chunks[canned].category == "pricing" and chunks[corrected].category == "travel"
