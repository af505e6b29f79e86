"""Enrichment with the real MiniLM (loaded once per session): an intent accuracy sanity check
on the demo knowledge base, and the `supportloop enrich / intents / gaps` commands."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from cli import main
from core.access.auth import create_user
from core.demo.knowledge import demo_kb_entries
from core.enrichment import enrich, intents
from core.knowledge.chunks import import_chunks
from core.platform.config import get_settings
from core.platform.models import Conversation, JobRun, Message
from tests.factories import ADMIN

# customer questions worded unlike the KB text (not in the demo evaluation set)
HELD_OUT = [
    ("what do you charge for a grown up", "pricing"),
    ("how much is it for my 8 year old", "pricing"),
    ("do you come out to sacramento and is there an extra charge", "travel"),
    ("is the food gluten free", "dietary"),
    ("my son is allergic to peanuts", "dietary"),
    ("can we get filet mignon or lobster", "menu"),
    ("what proteins can guests choose from", "menu"),
    ("how do I reserve a date for my party", "booking"),
    ("is the deposit refundable if we cancel", "policy"),
    ("how much room does the chef need to set up", "logistics"),
]


@pytest.mark.slow
def test_intent_accuracy_on_the_demo_kb(minilm):
    rows = demo_kb_entries()
    texts = [r["title"] for r in rows] + [r["text"] for r in rows]
    labels = [r["category"] for r in rows] * 2
    clf = intents.IntentClassifier.fit(minilm.encode(texts), labels, model_id=minilm.model_id)
    preds = clf.predict(minilm.encode([q for q, _ in HELD_OUT]))
    correct = sum(p.best == want for p, (_q, want) in zip(preds, HELD_OUT, strict=True))
    assert correct >= 8, [(q, p.best) for (q, _w), p in zip(HELD_OUT, preds, strict=True)]


@pytest.fixture
def cli(db, settings, monkeypatch, minilm):
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(settings.index_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args, ok=True):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == (0 if ok else 1), result.output
        return result.output

    yield run
    get_settings.cache_clear()


@pytest.mark.slow
def test_enrich_intents_and_gaps_commands(cli, db):
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with db.session() as s:
        import_chunks(s, demo_kb_entries(), actor=ADMIN)
        create_user(s, "ana", "reviewer", actor=ADMIN)
        for n, (q, _intent) in enumerate(HELD_OUT[:4] + [("do you come out to sacramento", "")] * 2):
            at = now - dt.timedelta(days=2 if n < 3 else 10)
            conv = Conversation(channel="sms", external_user_id=f"u{n}", created_at=at,
                                escalated_at=at + dt.timedelta(minutes=1))
            reply = "Thanks for reaching out! Let me check."
            conv.messages += [Message(role="user", raw_content=q, redacted_content=q, created_at=at),
                              Message(role="assistant", raw_content=reply, redacted_content=reply,
                                      created_at=at)]
            s.add(conv)
        s.commit()

    assert "not a date" in cli("enrich", "--since", "yesterday", ok=False)
    out = cli("intents", "train")
    assert "intent model #1" in out and "pricing" in out
    since = (now - dt.timedelta(days=7)).date().isoformat()
    out = cli("enrich", "--since", since)
    assert "6 message(s) enriched" in out and "3 from customers" in out
    out = cli("enrich", "--missing", "--retrain")
    assert "intent model: trained" in out and "6 message(s) enriched" in out
    assert "#2 active" in cli("intents", "list")
    assert "--retrain runs here" in cli("enrich", "--queue", "--retrain", ok=False)
    queued = cli("enrich", "--since", since, "--queue")
    assert "queued enrich_backfill as job run" in queued
    with db.session() as s:
        run = s.scalars(select(JobRun).where(JobRun.job == "enrich_backfill")).one()
        assert run.status == "queued" and run.params == {"only_missing": False, "since": f"{since}T00:00:00"}
    with db.session() as s:
        first = s.query(Message).filter(Message.role == "user").order_by(Message.id).first()
        assert first.intent == "pricing" and first.enriched_at is not None
        conv_id = first.conversation_id
    out = cli("intents", "correct", "menu", "--conversation", conv_id, "--actor", "ana")
    assert '"intent": "menu"' in out
    assert "No knowledge gaps" in cli("gaps", "list")
    assert "manage_kb" in cli("gaps", "refresh", "--actor", "ana", ok=False)  # a reviewer
    assert "knowledge gap(s) stored" in cli("gaps", "refresh")
    out = cli("gaps", "list")
    assert "sacramento" in out.lower() and "no close chunk" in out  # no active KB version
    assert '"question_count"' in cli("gaps", "list", "--json")
    with db.session() as s:
        assert enrich.enrichment_metrics(s, now - dt.timedelta(days=60))["flagged"]["customer_messages"] == 6
