"""The learning loop wired end to end (shared/DESIGN.md), on SQLite and PostgreSQL: enrichment
at ingest and on answers, flagged content held and kept out of training data, bookings and
CSAT crediting the chunks that answered (once), the runner's tasks, the weekly refresh held
while an experiment runs, and the production embedder."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import func, select

from core.access.auth import create_user
from core.answering import responder, routing
from core.conversations import ingest, schemas
from core.enrichment import enrich
from core.experiments import lifecycle as experiments
from core.feedback import links, survey
from core.knowledge import chunks as knowledge
from core.knowledge import scoring
from core.knowledge.chunks import chunk_by_external_id, update_chunk
from core.knowledge.refresh import weekly_refresh
from core.knowledge.versions import activate_version, active_version, build_version, get_version
from core.learning import loop as learning
from core.ops import tasks
from core.ops.tasks import TaskContext
from core.platform.clock import FixedClock
from core.platform.embeddings import HashingEmbedder
from core.platform.errors import Conflict, NotFound, ValidationError
from core.platform.models import (
    Chunk,
    ConversationOutcome,
    Event,
    Feedback,
    JobRun,
    Message,
    MessageChunk,
    ProductionConfig,
    ReviewItem,
    Survey,
    TrainingExample,
)
from core.review import decisions, delivery, policy
from core.review import queue as review
from tests.factories import ADMIN, ANSWERED_AT, REVIEWER, add_answers, make_answer
from tests.factories.knowledge import T0, hashing, kb_settings, seed

SWEAR = "This is bullshit, what the fuck is the adult price per adult guest"


@pytest.fixture(scope="module")
def scrubber():
    from core.platform.config import Settings
    from core.platform.pii import get_scrubber

    return get_scrubber(Settings(_env_file=None))


@pytest.fixture
def loop(session, settings):
    """The small test KB built and active (hashing embedder), an admin, and an enricher."""
    st = kb_settings(settings)
    st.ensure_dirs()
    clock = seed(session)
    emb = hashing()
    v1 = build_version(session, emb, st, actor=ADMIN, clock=clock)
    activate_version(session, v1.id, st, actor=ADMIN, clock=clock, force=True)
    create_user(session, "alice", "admin", "correct-horse-1", actor=ADMIN)
    session.commit()
    return {"settings": st, "clock": clock, "emb": emb, "v1": v1, "enricher": enrich.Enricher(st, emb)}


def _store(session, loop, scrubber, *texts, enricher=True, external_id=None):
    conv = schemas.ConversationIn(
        channel="web", external_user_id="visitor-1", external_id=external_id,
        messages=[schemas.MessageIn(role="user", content=t) for t in texts],
    )
    report = ingest.store_conversations(session, [conv], scrubber, loop["settings"], loop["clock"],
                                        enricher=loop["enricher"] if enricher else None)
    return report.conversation_ids[0]


def _answer(session, loop, cid, question, *, enricher=True):
    ans = responder.answer(session, question, embedder=loop["emb"], settings=loop["settings"])
    return responder.record_answer(session, cid, ans, clock=loop["clock"], settings=loop["settings"],
                                   enricher=loop["enricher"] if enricher else None)


def _messages(session, cid):
    return list(session.scalars(select(Message).where(Message.conversation_id == cid).order_by(Message.id)))


# --- 1. enrichment at ingest and on answers ----------------------------------------------
def test_ingest_and_answers_are_enriched_when_an_enricher_is_given(session, loop, scrubber):
    cid = _store(session, loop, scrubber, "what is the adult price per adult guest")
    (first,) = _messages(session, cid)
    assert first.enriched_at == loop["clock"].now() and first.intent == "pricing" and not first.flagged
    ingest.add_message(session, cid, schemas.MessageIn(role="user", content=SWEAR), scrubber,
                       loop["settings"], loop["clock"], enricher=loop["enricher"])
    answer = _answer(session, loop, cid, "what is the adult price per adult guest")
    first, swear, answer = _messages(session, cid)
    assert swear.flagged and swear.enriched_at is not None
    assert answer.role == "assistant" and answer.tone_score is not None and answer.enriched_at is not None
    assert session.get(ConversationOutcome, cid).computed_tone_score == pytest.approx(answer.tone_score)

    # without an enricher nothing is enriched (the old behaviour)
    plain = _store(session, loop, scrubber, "kids price per child", enricher=False)
    ans = _answer(session, loop, plain, "kids price per child", enricher=False)
    assert all(m.enriched_at is None for m in _messages(session, plain)) and ans.tone_score is None


def test_nul_characters_and_lone_surrogates_are_refused(session, loop, scrubber):
    bad = {"a\x00b": "NUL character", "broken \ud83d text": "lone surrogate"}
    for text, why in bad.items():
        with pytest.raises(ValidationError, match=rf"messages\[0\]\.content: contains a {why}"):
            _store(session, loop, scrubber, text)
        problems = schemas.validate_message(schemas.MessageIn(role="user", content=text), loop["settings"])
        assert [f for f, _m in problems] == ["content"]
    with pytest.raises(ValidationError, match="external_id: contains a NUL"):
        _store(session, loop, scrubber, "hello", external_id="x\x00y")
    cid = _store(session, loop, scrubber, "hello")
    with pytest.raises(ValidationError, match="content: contains a lone surrogate"):
        ingest.add_message(session, cid, schemas.MessageIn(role="user", content="\udc00"), scrubber,
                           loop["settings"])
    # a valid emoji (a surrogate pair in UTF-16) is fine
    assert not schemas.validate_message(schemas.MessageIn(role="user", content="ok 😀"), loop["settings"])
    # an empty external id is no id: two of them do not collide on the unique index
    for _ in range(2):
        conv = schemas.ConversationIn(channel="web", external_user_id="v", external_id="",
                                     messages=[schemas.MessageIn(role="user", content="hi", external_id="")])
        cid = ingest.store_conversations(session, [conv], scrubber, loop["settings"]).conversation_ids[0]
        assert _messages(session, cid)[0].external_id is None


# --- 2. flagged content ---------------------------------------------------------------------
def test_a_flagged_draft_is_held_and_flagged_content_never_becomes_training_data(session, loop, scrubber):
    st = loop["settings"]
    cid = _store(session, loop, scrubber, "what is the adult price per adult guest")
    draft = _answer(session, loop, cid, "what is the adult price per adult guest", enricher=False)
    draft.raw_content = "The adult price is sixty dollars, you stupid fucking idiot."
    assert policy.risk_reasons(st, draft.confidence, "pricing") == []  # only the flag holds it
    d = delivery.queue_reply(session, draft.id, st, clock=loop["clock"], enricher=loop["enricher"])
    assert draft.flagged and d.status == "held"
    item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == draft.id))
    assert item.kind == "presend" and "flagged:profanity" in item.reasons
    # approving it releases it, but it is no gold data and no KB proposal
    decision = decisions.approve(session, item.id, REVIEWER, propose_chunk=True, clock=loop["clock"])
    assert decision.training_example_id is None and decision.proposed_chunk_id is None
    assert "flagged for profanity or abuse" in decision.notes[0]
    assert delivery.delivery_for(session, draft.id).status == "pending"

    # an answer to a swearing customer: queued as "flagged"; approving or editing it makes nothing
    cid2 = _store(session, loop, scrubber, SWEAR)
    answer = _answer(session, loop, cid2, "what is the adult price per adult guest")
    assert not answer.flagged and not enrich.eligible_for_training(session, answer)
    assert review.refresh_queue(session, st, loop["clock"], actor=REVIEWER) >= 1
    queued = session.scalar(select(ReviewItem).where(ReviewItem.message_id == answer.id,
                                                     ReviewItem.kind == "review"))
    assert "flagged" in queued.reasons and queued.expected_value >= review.REASON_WEIGHTS["flagged"]
    edited = decisions.edit(session, queued.id, REVIEWER, "The adult price is $60.", "clearer",
                         propose_chunk=True, clock=loop["clock"], enricher=loop["enricher"])
    assert edited.training_example_id is None and "customer's question is flagged" in edited.notes[0]
    assert session.scalar(select(func.count()).select_from(TrainingExample)) == 0
    assert session.scalar(select(func.count()).where(Chunk.status == "proposed")) == 0

    # a clean answer still becomes gold data
    cid3 = _store(session, loop, scrubber, "kids price per child")
    clean = _answer(session, loop, cid3, "kids price per child")
    item3 = review.flag_message(session, clean.id, "low_confidence", actor=REVIEWER, clock=loop["clock"])
    ok = decisions.approve(session, item3.id, REVIEWER, clock=loop["clock"])
    assert ok.training_example_id is not None and ok.notes == []


# --- 3. outcomes credit the chunks that answered, once ---------------------------------------
def test_bookings_and_csat_credit_the_used_chunks_exactly_once(session, loop, scrubber):
    st, clock = loop["settings"], loop["clock"]
    cid = _store(session, loop, scrubber, "what is the adult price per adult guest")
    _answer(session, loop, cid, "what is the adult price per adult guest")
    chunk = chunk_by_external_id(session, "price-adult")
    assert (chunk.times_used_in_response, chunk.times_led_to_booking, chunk.rating_count) == (1, 0, 0)

    def counters():
        session.refresh(chunk)
        return chunk.times_led_to_booking, chunk.rating_count, chunk.rating_sum

    learning.record_booking(session, cid, True, 900.0, clock, settings=st)
    learning.record_booking(session, cid, True, 950.0, clock, settings=st)  # the same booking again
    assert counters() == (1, 0, 0)
    score = chunk.performance_score
    assert score > 0.5

    learning.record_csat(session, cid, 2, clock, settings=st)
    learning.record_csat(session, cid, 2, clock, settings=st)  # the same score again
    assert counters() == (1, 1, 2.0)
    learning.record_csat(session, cid, 5, clock, settings=st)  # a changed score replaces it
    assert counters() == (1, 1, 5.0)

    # through the survey: one answer, one credit (the survey does not credit on its own)
    cid2 = _store(session, loop, scrubber, "what is the adult price per adult guest")
    _answer(session, loop, cid2, "what is the adult price per adult guest")
    session.add(Survey(conversation_id=cid2, status="sent", attempts=1, created_at=T0))
    session.flush()
    learning.answer_survey(session, st, survey.make_token(st, cid2, clock), 4, clock=clock)
    assert counters() == (1, 2, 9.0)


# --- 4. the runner's tasks ---------------------------------------------------------------------
def test_the_runner_has_the_loop_tasks_and_runs_them(db, session, loop, scrubber):
    st = loop["settings"]
    registry = {t.name: t for t in tasks.default_registry(st)}
    assert {"gaps_refresh", "review_refresh", "delivery_retry", "experiments_check"} <= set(registry)
    assert registry["review_refresh"].schedule == tasks.Every(60 * st.review_refresh_minutes)
    assert registry["delivery_retry"].schedule == tasks.Every(st.delivery_poll_seconds)
    assert registry["gaps_refresh"].schedule == tasks.Daily(st.gaps_time)
    assert registry["experiments_check"].schedule == tasks.Daily(st.experiment_check_time)

    cid = _store(session, loop, scrubber, SWEAR)
    _answer(session, loop, cid, "what is the adult price per adult guest")
    session.commit()
    clock = FixedClock(T0 + dt.timedelta(hours=1))
    ctx = TaskContext(db.factory, st, clock, embedder_loader=lambda: loop["emb"])
    for name in ("review_refresh", "delivery_retry", "experiments_check", "gaps_refresh", "kb_refresh"):
        result = tasks.run_task(ctx, registry[name], "test", trigger="manual", require_due=False)
        assert result.status == "succeeded", (name, result.error)
    runs = dict(session.execute(select(JobRun.job, JobRun.summary)).all())
    assert runs["review_refresh"]["reasons_added"] >= 1
    assert runs["experiments_check"] == {"experiments": []}
    assert runs["kb_refresh"]["status"] == "unchanged"
    assert runs["kb_refresh"]["intents"]["status"] == "trained"  # retrained after the refresh


# --- 5. experiments and the weekly refresh ------------------------------------------------------
def test_weekly_refresh_does_not_activate_while_a_kb_experiment_runs(session, loop):
    st, clock, emb = loop["settings"], loop["clock"], loop["emb"]
    chunk = chunk_by_external_id(session, "price-adult")
    update_chunk(session, chunk.id, actor=ADMIN, clock=clock,
                 text="Adults pay sixty dollars each; the adult price includes salad, rice and two proteins.")
    v2 = build_version(session, emb, st, actor=ADMIN, clock=clock)
    exp = experiments.start_experiment(session, st, kind="kb_version", candidate={"kb_version_id": v2.id},
                                       actor=ADMIN, clock=clock)
    knowledge.propose_chunk(session, question="do you bring plates", answer="Yes, we bring plates.",
                            actor=ADMIN, clock=clock)
    report = weekly_refresh(session, emb, st, clock, actor=ADMIN)
    assert report.status == "held" and report.active_version_id == loop["v1"].id
    assert active_version(session).id == loop["v1"].id
    cand = get_version(session, report.candidate_version_id)
    assert cand.status == "candidate" and f"experiment {exp.id} (kb_version) is running" in cand.decision
    assert any("is running" in r for r in report.reasons)
    held = session.scalar(select(Event).where(Event.kind == "kb.refresh_held"))
    assert held.severity == "info" and held.details["candidate_id"] == cand.id
    assert session.scalar(select(func.count()).where(Chunk.status == "proposed")) == 1  # still waiting

    # once the experiment ends the next refresh activates as usual
    experiments.stop(session, exp.id, actor=ADMIN, reason="done", clock=clock)
    assert weekly_refresh(session, emb, st, clock, actor=ADMIN).status == "activated"


def test_the_production_embedder_follows_a_promoted_embedding_model(db, session, loop):
    st = loop["settings"]
    other = HashingEmbedder(dim=64, model_id="promoted-model")
    loaded = []

    def loader(path):
        loaded.append(path)
        return other

    base = loop["emb"]
    assert routing.production_embedder(session, st, base=lambda: base, loader=loader) is base
    session.add(ProductionConfig(key="embedding_model_path", value="/models/ft-1", updated_by="alice",
                                 updated_at=T0))
    session.commit()
    assert routing.production_embedder(session, st, base=lambda: base, loader=loader) is other
    assert loaded == ["/models/ft-1"]
    # the runner asks at every use, so a promotion needs no restart
    ctx = TaskContext(db.factory, st, loop["clock"], embedder_loader=lambda: base)
    assert ctx.base_embedder() is base
    row = session.get(ProductionConfig, "embedding_model_path")
    row.value = ""  # rolled back to the settings' model
    session.commit()
    assert ctx.embedder() is base


# --- 6. what follows a vote -------------------------------------------------------------------
def _answer_with_chunk(session, **kw):
    conv, q, ans = make_answer(session, **kw)
    chunk = knowledge.add_chunk(session, text="Hibachi parties cost $60 per adult, $600 minimum.",
                                title="Pricing", actor=ADMIN)
    session.add(MessageChunk(message_id=ans.id, chunk_id=chunk.id, rank=0, score=0.9, used=True))
    session.commit()
    return conv, ans, chunk


def test_a_down_vote_counts_on_the_outcome_and_queues_the_answer(session, settings):
    clock = FixedClock(ANSWERED_AT)
    conv, _, ans = make_answer(session)
    up = links.sign_vote(settings, ans.id, "cust@example.com", "up", clock)
    down = links.sign_vote(settings, ans.id, "cust@example.com", "down", clock)
    assert learning.vote_with_signature(session, settings, ans.id, "up", up, clock=clock).changed
    assert not learning.vote_with_signature(session, settings, ans.id, "up", up, clock=clock).changed
    r = learning.vote_with_signature(session, settings, ans.id, "down", down, clock=clock)
    assert r.changed and r.previous == "up"
    session.commit()
    outcome = session.get(ConversationOutcome, conv.id)
    session.refresh(outcome)
    assert outcome.down_votes == 1 and outcome.successful_outcome is False
    assert outcome.updated_at == ANSWERED_AT
    item = session.scalar(select(ReviewItem).where(ReviewItem.message_id == ans.id))
    assert item.reasons == ["down_vote"] and item.kind == "review" and item.status == "open"
    # a comment on the vote changes no count
    assert learning.add_comment(session, ans.id, "cust@example.com", "The minimum was wrong").comment_saved
    # back to up: the down vote no longer counts; the queued item stays for a reviewer
    learning.vote_with_signature(session, settings, ans.id, "up", up, clock=clock)
    session.commit()
    session.refresh(outcome)
    assert outcome.down_votes == 0 and outcome.successful_outcome is True
    assert session.scalar(select(func.count()).select_from(ReviewItem)) == 1


def test_a_vote_creates_a_missing_outcome_row(session, settings):
    conv, _, ans = make_answer(session)
    session.delete(session.get(ConversationOutcome, conv.id))
    session.commit()
    session.expire_all()
    learning.record_vote(session, ans.id, "down", "cust@example.com", clock=FixedClock(ANSWERED_AT))
    outcome = session.get(ConversationOutcome, conv.id)
    assert outcome.down_votes == 1 and outcome.successful_outcome is False


def test_votes_update_the_chunks_behind_the_answer_once_per_voter(session, settings):
    _, ans, chunk = _answer_with_chunk(session)
    sig = links.sign_vote(settings, ans.id, "cust@example.com", "up")
    for _ in range(3):  # the replays change nothing
        learning.vote_with_signature(session, settings, ans.id, "up", sig)
    session.commit()
    session.refresh(chunk)
    assert (chunk.rating_count, chunk.rating_sum) == (1, 5.0)
    learning.record_vote(session, ans.id, "down", "cust@example.com", settings=settings)
    learning.record_vote(session, ans.id, "up", "someone-else", settings=settings)
    session.commit()
    session.refresh(chunk)
    assert (chunk.rating_count, chunk.rating_sum) == (2, 6.0)
    assert chunk.performance_score == scoring.performance_score(chunk, settings.kb_score_prior_weight)


def test_concurrent_votes_are_never_double_counted(db, settings):
    s = db.session()
    conv, _, ans = make_answer(s)
    targets = [ans.id] + add_answers(s, conv.id, 3, ANSWERED_AT)
    s.close()
    errors = []

    def worker(n):
        try:
            for i in range(12):
                mid, voter = targets[(n + i) % len(targets)], f"v{(n * 7 + i) % 5}"
                with db.session() as ws:
                    learning.record_vote(ws, mid, "down" if (n + i) % 3 else "up", voter)
                    ws.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s2:
        votes = s2.scalars(select(Feedback.vote)).all()
        assert s2.get(ConversationOutcome, conv.id).down_votes == votes.count("down")


def test_concurrent_mixed_votes_of_one_voter_leave_exact_counters(db, settings):
    """Many threads vote up and down on the same message as the same voter at once: one row,
    exactly one first vote, and every counter equals what the final vote implies."""
    s = db.session()
    conv, ans, chunk = _answer_with_chunk(s)
    ids = (conv.id, ans.id, chunk.id)
    s.close()
    results, errors = [], []
    barrier = threading.Barrier(8)

    def worker(n):
        try:
            barrier.wait()
            for i in range(10):
                with db.session() as ws:
                    vote = "down" if (n + i) % 2 else "up"
                    r = learning.record_vote(ws, ids[1], vote, "cust@example.com", settings=settings)
                    results.append(r)
                    ws.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(1 for r in results if r.previous is None) == 1  # one first vote, all others see it
    assert all(r.changed == (r.previous != r.vote) for r in results)
    with db.session() as s2:
        (final,) = s2.execute(select(Feedback.vote)).scalars().all()
        outcome = s2.get(ConversationOutcome, ids[0])
        assert outcome.down_votes == (1 if final == "down" else 0)
        assert outcome.successful_outcome is (final == "up")
        row = s2.get(Chunk, ids[2])
        assert (row.rating_count, row.rating_sum) == (1, 5.0 if final == "up" else 1.0)
        assert row.performance_score == scoring.performance_score(row, settings.kb_score_prior_weight)
        assert s2.scalar(select(ReviewItem.reasons).where(ReviewItem.message_id == ids[1])) == ["down_vote"]


# --- 7. what follows a CSAT answer --------------------------------------------------------------
def test_a_low_survey_score_becomes_the_csat_and_queues_the_answers(session, settings):
    clock = FixedClock(ANSWERED_AT)
    conv, _, ans = make_answer(session)
    session.add(Survey(conversation_id=conv.id, status="sent", attempts=1, created_at=ANSWERED_AT))
    session.flush()
    token = survey.make_token(settings, conv.id, clock)
    answered = learning.answer_survey(session, settings, token, 2, "The chef was late", clock=clock)
    assert answered.status == "answered" and answered.csat == 2
    out = session.get(ConversationOutcome, conv.id)
    assert out.csat == 2 and out.successful_outcome is False
    assert session.scalar(select(ReviewItem.reasons).where(ReviewItem.message_id == ans.id)) == ["low_csat"]
    with pytest.raises(Conflict):
        learning.answer_survey(session, settings, token, 5, clock=clock)
    assert session.get(ConversationOutcome, conv.id).csat == 2

    good, _, good_answer = make_answer(session, user="happy@example.com")
    learning.record_csat(session, good.id, settings.review_csat_below, clock, settings=settings)
    assert session.scalar(select(ReviewItem.id).where(ReviewItem.message_id == good_answer.id)) is None
    with pytest.raises(NotFound):
        learning.record_booking(session, 424242, True, 10.0)
