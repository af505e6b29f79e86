"""core.enrichment: intents, profanity/abuse flags, tone scores, back-fill, metrics.

Runs on SQLite and PostgreSQL with the deterministic hashing embedder (the real MiniLM is
in test_enrich_minilm.py)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest
from sqlalchemy import select

from core.enrichment import enrich, intents, tone
from core.enrichment.profanity import check_text, check_texts
from core.platform import audit
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock
from core.platform.embeddings import HashingEmbedder
from core.platform.errors import NotFound, PermissionDenied, ValidationError
from core.platform.models import (
    Conversation,
    ConversationOutcome,
    IntentModel,
    Message,
    TrainingExample,
)
from tests.factories import ADMIN, REVIEWER, VIEWER
from tests.factories.knowledge import CHUNKS, seed

T0 = dt.datetime(2026, 3, 2, 9, 0)
ON_BRAND = ("Thanks for reaching out! The adult price is sixty dollars per adult guest, and every "
            "guest gets salad, rice and two proteins cooked by your own chef. Let me know your date!")
OFF_BRAND = "Unfortunately that is obviously on the website."


@pytest.fixture
def emb():
    return HashingEmbedder(dim=512)


@pytest.fixture
def enricher(settings, emb):
    return enrich.Enricher(settings, emb)


def conversation(session, *turns, channel="web", at=T0, intent=None, status="ai", escalated_at=None):
    """A stored conversation: turns are (role, text) or (role, text, extra fields)."""
    conv = Conversation(channel=channel, external_user_id="u-1", created_at=at, intent=intent, status=status,
                        escalated_at=escalated_at)
    for n, turn in enumerate(turns):
        role, text, *extra = turn
        conv.messages.append(Message(role=role, raw_content=text, redacted_content=text,
                                     created_at=at + dt.timedelta(minutes=n), **(extra[0] if extra else {})))
    conv.outcome = ConversationOutcome()
    session.add(conv)
    session.flush()
    return conv


# --- intents --------------------------------------------------------------------------------
def test_intents_are_learnt_from_kb_categories_stored_and_used(session, settings, enricher):
    clock = seed(session)
    rep = intents.train_intent_model(session, enricher.embedder, settings, clock, actor=ADMIN)
    assert rep.status == "trained" and rep.by_source["kb"] >= len(CHUNKS) and rep.by_source["eval"] == 10
    assert set(rep.by_intent) == {c["category"] for c in CHUNKS}
    row = session.get(IntentModel, rep.model_id)
    assert row.status == "active" and row.model_id == enricher.embedder.model_id and row.weights
    assert row.created_by == ADMIN.name
    with pytest.raises(PermissionDenied, match="manage_kb"):
        intents.train_intent_model(session, enricher.embedder, settings, clock, actor=REVIEWER)

    conv = conversation(session, ("user", "what is the adult price per adult guest"),
                        ("assistant", ON_BRAND), ("user", "zebra quantum saxophone"))
    report = enrich.enrich_conversations(session, [conv.id], enricher, clock)
    first, answer, odd = conv.messages
    assert (first.intent, first.intent_source) == ("pricing", "model") and first.intent_confidence >= 0.5
    assert odd.intent == intents.UNKNOWN and odd.intent_confidence < settings.intent_threshold
    assert answer.intent is None and answer.tone_score is not None
    assert (conv.intent, conv.intent_source) == ("pricing", "model")
    assert report.customer_messages == 2 and report.answers == 1 and report.intents["pricing"] == 1
    assert all(m.enriched_at == clock.now() for m in conv.messages)

    # retraining retires the old model; exactly one stays active
    again = intents.train_intent_model(session, enricher.embedder, settings, clock, actor=ADMIN)
    assert session.get(IntentModel, rep.model_id).status == "retired"
    actives = session.scalars(select(IntentModel).where(IntentModel.status == "active")).all()
    assert [m.id for m in actives] == [again.model_id]


def test_a_model_of_another_embedder_is_not_used_and_too_little_data_skips(session, settings):
    seed(session, questions=[])
    intents.train_intent_model(session, HashingEmbedder(dim=512), settings, actor=ADMIN)
    other = HashingEmbedder(dim=256)
    assert intents.load_classifier(session, other) is None
    clf = intents.ensure_classifier(session, other, settings)  # retrains for this embedder
    assert clf is not None and clf.dim == 256 and intents.active_model(session).model_id == other.model_id
    assert intents.active_model(session).created_by == SYSTEM.name

    # one category only: nothing to learn, nothing written, texts stay unknown
    for chunk in session.scalars(select(intents.Chunk)):
        chunk.category = "pricing"
    session.flush()
    before = len(intents.list_models(session))
    rep = intents.train_intent_model(session, HashingEmbedder(dim=128), settings, actor=ADMIN)
    assert rep.status == "skipped" and "two intents" in rep.reason
    assert len(intents.list_models(session)) == before
    with pytest.raises(ValidationError, match="at least two intents"):
        intents.IntentClassifier.fit(np.eye(3, dtype=np.float32), ["a", "a", "a"], model_id="x")


def test_the_classifier_round_trips_and_checks_dimensions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 8)).astype(np.float32)
    y = ["a" if v > 0 else "b" for v in x[:, 0]]
    clf = intents.IntentClassifier.fit(x, y, model_id="m")
    back = intents.IntentClassifier.from_bytes(clf.to_bytes(), clf.labels, "m")
    assert np.allclose(back.probabilities(x), clf.probabilities(x), atol=1e-6)
    assert [p.best for p in back.predict(x)] == y  # two classes: softmax of the sigmoid form
    assert all(p.intent == intents.UNKNOWN for p in back.predict(x, threshold=1.01))
    with pytest.raises(ValidationError, match="dimension"):
        clf.probabilities(np.zeros((1, 4), dtype=np.float32))


def test_admin_corrections_are_training_data_and_never_overwritten(session, settings, enricher):
    clock = seed(session, questions=[])
    conv = conversation(session, ("user", "do you bring the grill and propane"), ("assistant", ON_BRAND))
    enrich.enrich_conversations(session, [conv.id], enricher, clock)
    session.add(TrainingExample(message_id=conv.messages[1].id, question="q", answer="a", intent="menu",
                                source="approved", human_verified=True, active=True))
    session.flush()

    out = intents.correct_intent(session, "Logistics", REVIEWER, conversation_id=conv.id, clock=clock)
    assert out == {"conversation_id": conv.id, "message_id": conv.messages[0].id, "intent": "logistics",
                   "conversation_updated": True}
    q = conv.messages[0]
    assert (q.intent, q.intent_source, q.intent_confidence) == ("logistics", "admin", 1.0)
    assert (conv.intent, conv.intent_source) == ("logistics", "admin")
    assert session.scalars(select(TrainingExample.intent)).all() == ["logistics"]
    entry = audit.history(session, "conversation", conv.id)[-1]
    assert (entry.action, entry.actor) == ("intent.correct", REVIEWER.name)
    data = intents.intent_training_data(session)
    assert any(t.source == "correction" and t.intent == "logistics" for t in data)
    assert any(t.source == "label" and t.text == "logistics" for t in data)

    # a new model learns it, and enrichment never overwrites an admin's intent
    intents.train_intent_model(session, enricher.embedder, settings, clock, actor=ADMIN)
    enrich.enrich_conversations(session, [conv.id], enricher, clock)
    assert (q.intent, q.intent_source, conv.intent) == ("logistics", "admin", "logistics")

    with pytest.raises(ValidationError, match="not valid"):
        intents.correct_intent(session, "no way!", REVIEWER, message_id=q.id)
    with pytest.raises(ValidationError, match="customer messages"):
        intents.correct_intent(session, "menu", REVIEWER, message_id=conv.messages[1].id)
    with pytest.raises(ValidationError, match="either"):
        intents.correct_intent(session, "menu", REVIEWER)
    with pytest.raises(PermissionDenied, match="review"):
        intents.correct_intent(session, "menu", VIEWER, message_id=q.id)
    with pytest.raises(NotFound):
        intents.correct_intent(session, "menu", REVIEWER, conversation_id=999)


def test_an_imported_conversation_intent_is_kept(session, settings, enricher):
    clock = seed(session)
    conv = conversation(session, ("user", "kids price per child"), intent="complaint")
    enrich.enrich_conversations(session, [conv.id], enricher, clock)
    assert conv.messages[0].intent == "pricing"
    assert (conv.intent, conv.intent_source) == ("complaint", "import")


# --- profanity and abuse --------------------------------------------------------------------
def test_flagged_customer_messages_are_kept_but_never_training_data(session, settings, enricher):
    clock = seed(session, questions=[])
    conv = conversation(session, ("user", "you are a fucking idiot, what is the kids price"),
                        ("assistant", ON_BRAND), ("user", "I will find you"), ("agent", "sorry to hear that"))
    clean = conversation(session, ("user", "kids price per child"), ("assistant", ON_BRAND))
    report = enrich.enrich_conversations(session, [conv.id, clean.id], enricher, clock)
    rude, answer, threat, agent = conv.messages
    assert report.flagged == 2
    assert rude.flagged and "profanity" in rude.flag_reasons and rude.profanity_score > 0.9
    assert threat.flagged and threat.flag_reasons == ["abuse"]
    assert rude.redacted_content.startswith("you are")  # kept for the record
    assert not agent.flagged and agent.tone_score is None
    assert enrich.is_flagged(rude) and not enrich.is_flagged(answer)

    # neither the flagged question nor the answer to it may become training data or KB text
    assert not enrich.eligible_for_training(session, rude)
    assert not enrich.eligible_for_training(session, answer.id)
    assert enrich.eligible_for_training(session, clean.messages[1])
    with pytest.raises(NotFound):
        enrich.eligible_for_training(session, 12345)
    bad = TrainingExample(message_id=answer.id, question=rude.redacted_content, answer="Kids are $30.",
                          intent="pricing", source="approved", human_verified=True, active=True,
                          source_message_ids=[rude.id, answer.id])
    good = TrainingExample(message_id=clean.messages[1].id, question="kids price per child", answer=ON_BRAND,
                           intent="pricing", source="approved", human_verified=True, active=True,
                           source_message_ids=[clean.messages[0].id, clean.messages[1].id])
    session.add_all([bad, good])
    session.flush()
    assert enrich.flagged_example_ids(session, [bad.id, good.id]) == {bad.id}
    texts = [t.text for t in intents.intent_training_data(session)]
    assert rude.redacted_content not in texts and "kids price per child" in texts
    # the admin correction of a flagged message is not learnt either
    intents.correct_intent(session, "pricing", REVIEWER, message_id=rude.id)
    assert rude.redacted_content not in [t.text for t in intents.intent_training_data(session)]
    # nor does a flagged conversation's approved answer become a tone example
    examples = enricher.example_texts(session)
    assert ON_BRAND in examples and "Kids are $30." not in examples


def test_a_flagged_draft_is_held(session, settings, enricher):
    conv = conversation(session, ("user", "what is the price"),
                        ("assistant", "That's a stupid shit question"), ("assistant", ON_BRAND))
    enrich.enrich_conversations(session, [conv.id], enricher)
    rude, fine = conv.messages[1:]
    assert enrich.hold_reasons(rude) == ["flagged:profanity"]
    assert enrich.hold_reasons(fine) == [] and enrich.hold_reasons(conv.messages[0]) == []


def test_profanity_patterns_catch_masked_words_and_threats():
    assert check_text("f**k this, sh1t service").reasons == ["profanity"]
    assert "abuse" in check_text("your staff are useless").reasons
    assert "abuse" in check_text("I'll hurt you").reasons
    assert not check_text("Can the chef do the onion volcano for 20 guests?").flagged
    assert not check_text("").flagged and check_texts([]) == []


# --- tone -----------------------------------------------------------------------------------
def test_tone_score_has_parts_and_prefers_the_brand_voice(session, settings, enricher):
    conv = conversation(session, ("user", "price?"), ("assistant", ON_BRAND), ("assistant", OFF_BRAND),
                        channel="sms")
    enrich.enrich_conversations(session, [conv.id], enricher)
    good, bad = conv.messages[1:]
    assert 0 <= bad.tone_score < good.tone_score <= 1
    assert set(good.tone_parts) == {"phrases", "greeting", "sign_off", "length", "reading_level",
                                    "similarity"}
    assert bad.tone_parts["phrases"]["banned"] == ["unfortunately", "obviously"]
    assert bad.tone_parts["phrases"]["score"] == 0 and bad.tone_parts["greeting"]["score"] == 0
    assert good.tone_parts["greeting"]["found"] == "thanks for reaching out"
    assert json.loads(json.dumps(good.tone_parts)) == good.tone_parts  # stored as JSON
    outcome = session.get(ConversationOutcome, conv.id)
    assert outcome.computed_tone_score == pytest.approx((good.tone_score + bad.tone_score) / 2, abs=1e-4)


def test_reading_level_and_brand_voice_files(tmp_path):
    easy = "We cook at your home. The chef brings the grill. You pick the food."
    hard = ("Notwithstanding considerable organizational complexities, comprehensive accommodations "
            "necessitate preliminary consultation regarding individualized dietary specifications.")
    assert tone.flesch_kincaid_grade(easy) < 4 < 14 < tone.flesch_kincaid_grade(hard)
    assert tone.flesch_kincaid_grade("") == 0.0
    assert tone.count_syllables("chocolate") == 3 and tone.count_syllables("cake") == 1

    voice = tone.load_brand_voice()
    assert voice.name == "Ember Grill Hibachi" and voice.examples
    path = tmp_path / "voice.json"
    path.write_text(json.dumps({"greetings": ["hey"], "weights": {"greeting": 1}}), encoding="utf-8")
    custom = tone.load_brand_voice(path)
    assert tone.score_text("hey there", custom).score == 1.0
    assert tone.score_text("hello there", custom).score == 0.0
    for bad, msg in [({"weights": {"vibes": 1}}, "weights"), ({"min_words": 50, "max_words": 5}, "min_words"),
                     ({"greetings": ["ok", 3]}, "greetings"), ([], "object")]:
        path.write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(ValidationError, match=msg):
            tone.load_brand_voice(path)
    path.write_text("{nope", encoding="utf-8")
    with pytest.raises(ValidationError, match="not valid JSON"):
        tone.load_brand_voice(path)
    with pytest.raises(ValidationError, match="does not exist"):
        tone.load_brand_voice(tmp_path / "missing.json")


# --- back-fill and metrics ------------------------------------------------------------------
def test_backfill_since_and_missing_and_metrics(session, settings, enricher):
    clock = seed(session)
    old = conversation(session, ("user", "kids price per child"), ("assistant", ON_BRAND), at=T0,
                       status="closed")
    old.closed_at = T0 + dt.timedelta(hours=1)
    new = conversation(session, ("user", "how much is the travel fee for distance"), ("assistant", OFF_BRAND),
                       ("user", "this is shit"), at=T0 + dt.timedelta(days=3), channel="sms",
                       status="escalated", escalated_at=T0 + dt.timedelta(days=3, minutes=5))
    new.messages[1].model_used = "gpt-4o"
    old.outcome.booking_converted, old.outcome.csat = True, 5
    session.flush()
    seen = []
    rep = enrich.backfill(session, enricher, T0 + dt.timedelta(days=1), clock=clock,
                          progress=lambda d, t: seen.append((d, t)))
    assert rep.messages == 3 and seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert old.messages[0].enriched_at is None and new.messages[0].intent == "travel"
    rep = enrich.backfill(session, enricher, only_missing=True, clock=clock, batch_size=1)
    assert rep.messages == 2 and old.messages[0].intent == "pricing"
    assert enrich.backfill(session, enricher, only_missing=True).messages == 0
    assert "5 message(s)" not in rep.summary() and "flagged" in rep.summary()

    m = enrich.enrichment_metrics(session, T0 - dt.timedelta(days=1))
    by_intent = {r["intent"]: r for r in m["by_intent"]}
    assert by_intent["pricing"] == {"intent": "pricing", "conversations": 1, "containment_rate": 1.0,
                                    "csat": 5.0, "csat_responses": 1, "conversion": 1.0}
    assert by_intent["travel"]["containment_rate"] is None and by_intent["travel"]["conversion"] == 0.0
    assert m["flagged"]["customer_messages"] == 3 and m["flagged"]["customer_flagged"] == 1
    assert m["flagged"]["customer_share"] == pytest.approx(1 / 3, abs=1e-3)
    assert {r["channel"] for r in m["tone_by_channel"]} == {"web", "sms"}
    assert {r["model"] for r in m["tone_by_model"]} == {"", "gpt-4o"}
    later = enrich.enrichment_metrics(session, T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=2))
    assert later["by_intent"] == [] and later["flagged"]["customer_share"] is None


def test_retrain_for_the_weekly_refresh_and_the_enricher_cache(session, settings, emb):
    clock = FixedClock(T0)
    assert enrich.retrain(session, emb, settings, clock, actor=SYSTEM)["status"] == "skipped"
    seed(session, clock=clock)
    out = enrich.retrain(session, emb, settings, clock, actor=SYSTEM)
    assert out["status"] == "trained" and out["reason"] == "weekly refresh"
    e = enrich.get_enricher(settings, emb)
    assert enrich.get_enricher(settings, emb) is e
    calls = []

    class Counting(HashingEmbedder):
        def encode(self, texts):
            calls.append(list(texts))
            return super().encode(texts)

    counting = enrich.Enricher(settings, Counting(dim=64), cache_size=2)
    v = counting.encode(["a", "b", "a"])
    assert v.shape == (3, 64) and calls == [["a", "b"]] and np.allclose(v[0], v[2])
    counting.encode(["a", "c"])
    assert calls[-1] == ["c"]
    assert counting.encode([]).shape == (0, 64)


def test_a_request_enricher_never_trains_and_leaves_the_intent_to_the_backfill(session, settings, emb):
    """The API's enricher (may_train=False) does not train the intent classifier inside a request:
    without one, customer messages wait (no intent, not enriched) and the runner's back-fill
    trains it and classifies them."""
    clock = seed(session)
    request_enricher = enrich.Enricher(settings, emb, may_train=False)
    conv = conversation(session, ("user", "what is the adult price per adult guest"), ("assistant", ON_BRAND))
    enrich.enrich_conversations(session, [conv.id], request_enricher, clock)
    question, answer = conv.messages
    assert session.scalar(select(IntentModel.id)) is None
    assert question.intent is None and question.enriched_at is None and question.flagged is False
    assert answer.enriched_at == clock.now() and answer.tone_score is not None

    report = enrich.backfill(session, enrich.Enricher(settings, emb), only_missing=True, clock=clock)
    assert report.messages == 1 and session.scalar(select(IntentModel.id)) is not None
    assert (question.intent, question.intent_source) == ("pricing", "model")
    assert question.enriched_at == clock.now()

    # once a classifier exists, the request enricher uses it
    later = conversation(session, ("user", "what is the adult price per adult guest"))
    enrich.enrich_conversations(session, [later.id], request_enricher, clock)
    assert later.messages[0].intent == "pricing" and later.messages[0].enriched_at == clock.now()
