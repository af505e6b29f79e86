"""core.conversations.ingest: storing conversations with scrubbing at write time, and the import/purge CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from cli import main
from core.conversations.ingest import add_message, store_conversations
from core.conversations.schemas import ConversationIn, MessageIn, OutcomeIn
from core.platform.clock import FixedClock
from core.platform.config import Settings, get_settings
from core.platform.errors import Conflict, NotFound, ValidationError
from core.platform.models import Conversation, ConversationOutcome, Message
from core.platform.pii import get_scrubber

T0 = dt.datetime(2025, 3, 1, 10, 0, 0)
PII_TEXT = "Hi, this is Maria Gonzalez, email maria.gonzalez@example.com please"


@pytest.fixture(scope="session")
def scrubber():
    return get_scrubber(Settings(_env_file=None))


class CountingScrubber:
    """Wraps the real scrubber to count batch calls (the real one does the work)."""

    def __init__(self, inner):
        self.inner, self.batches = inner, []

    def scrub(self, text):
        return self.inner.scrub(text)

    def scrub_batch(self, texts):
        self.batches.append(len(texts))
        return self.inner.scrub_batch(texts)


def _conv(ext: str | None = "c1", **kw) -> ConversationIn:
    base = dict(
        channel="email",
        external_user_id="u-1",
        external_id=ext,
        messages=[
            MessageIn("user", PII_TEXT, created_at=T0),
            MessageIn(
                "assistant",
                "Thanks! Hibachi is $60 per adult.",
                created_at=T0 + dt.timedelta(minutes=2),
                cost_usd=0.003,
                tokens_in=100,
                tokens_out=20,
                model_used="extractive",
                confidence=0.8,
            ),
        ],
    )
    base.update(kw)
    return ConversationIn(**base)


def test_store_scrubs_in_one_batch_and_writes_everything(session, settings, scrubber):
    counting = CountingScrubber(scrubber)
    convs = [_conv(f"c{i}") for i in range(3)]
    report = store_conversations(session, convs, counting, settings, FixedClock(T0))
    session.commit()
    assert counting.batches == [2]  # the same two texts in each conversation are scrubbed once
    assert (report.conversations_created, report.messages_created) == (3, 6)
    conv = session.get(Conversation, report.conversation_ids[0])
    user_msg, reply = conv.messages
    assert user_msg.raw_content == PII_TEXT
    assert "maria.gonzalez@example.com" not in user_msg.redacted_content
    assert "EMAIL_ADDRESS" in user_msg.pii_entity_types
    assert reply.pii_entity_types == [] and reply.safe_for_training
    assert (reply.tokens_in, reply.model_used, reply.confidence) == (100, "extractive", 0.8)
    assert conv.first_response_at == T0 + dt.timedelta(minutes=2)
    assert conv.outcome.first_response_time_seconds == 120
    assert conv.outcome.total_cost_usd == pytest.approx(0.003)


def test_raw_text_is_not_kept_when_settings_say_so(session, settings, scrubber):
    settings.store_raw_content = False
    report = store_conversations(session, [_conv()], scrubber, settings, FixedClock(T0))
    msgs = session.scalars(select(Message).where(Message.conversation_id == report.conversation_ids[0]))
    assert all(m.raw_content is None and m.redacted_content for m in msgs)


def test_existing_and_repeated_external_ids_are_skipped(session, settings, scrubber):
    store_conversations(session, [_conv("a")], scrubber, settings)
    report = store_conversations(
        session, [_conv("a"), _conv("b"), _conv("b"), _conv(None)], scrubber, settings
    )
    assert (report.conversations_created, report.conversations_skipped) == (2, 2)
    assert session.scalar(select(func.count()).select_from(Conversation)) == 3


def test_invalid_conversation_stores_nothing(session, settings, scrubber):
    with pytest.raises(ValidationError, match="unknown channel"):
        store_conversations(session, [_conv("a"), _conv("b", channel="tiktok")], scrubber, settings)
    assert session.scalar(select(func.count()).select_from(Conversation)) == 0


def test_message_external_id_clash_is_a_conflict(session, settings, scrubber):
    conv = _conv("a")
    conv.messages[0].external_id = "m-1"
    store_conversations(session, [conv], scrubber, settings)
    other = _conv("b")
    other.messages[0].external_id = "m-1"
    with pytest.raises(Conflict):
        store_conversations(session, [other], scrubber, settings)


def test_message_external_ids_are_unique_per_channel(session, settings, scrubber):
    conv = _conv("a")
    conv.messages[0].external_id = "m-1"
    store_conversations(session, [conv], scrubber, settings)
    sms = _conv("a", channel="sms")  # the same conversation and message ids in another channel
    sms.messages[0].external_id = "m-1"
    report = store_conversations(session, [sms], scrubber, settings)
    assert report.conversations_created == 1
    rows = session.execute(
        select(Message.channel, Conversation.channel).join(Conversation).where(Message.external_id == "m-1")
    ).all()
    assert sorted(rows) == [("email", "email"), ("sms", "sms")]
    # a message without an id carries no channel; one with an id carries its conversation's
    unkeyed = select(func.count()).where(Message.external_id.is_(None), Message.channel.is_not(None))
    assert session.scalar(unkeyed) == 0
    # the same id twice within one batch of one channel is still a clash, across channels it is not
    one, two = _conv("c", channel="web"), _conv("d", channel="web")
    one.messages[0].external_id = two.messages[0].external_id = "m-2"
    with pytest.raises(Conflict, match="repeats within the batch"):
        store_conversations(session, [one, two], scrubber, settings)
    two.channel = "sms"
    assert store_conversations(session, [one, two], scrubber, settings).conversations_created == 2


def test_the_database_refuses_a_message_id_twice_in_a_channel(session, settings, scrubber):
    conv = _conv("a")
    conv.messages[0].external_id = "m-1"
    cid = store_conversations(session, [conv], scrubber, settings).conversation_ids[0]
    session.commit()
    session.add(Message(conversation_id=cid, channel="email", external_id="m-1", role="user",
                        redacted_content="again"))
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    session.add(Message(conversation_id=cid, channel=None, external_id="m-3", role="user",
                        redacted_content="x"))
    with pytest.raises(IntegrityError):  # an id without its channel would escape the constraint
        session.flush()


def test_add_message_with_an_id_another_channel_uses_is_a_new_message(session, settings, scrubber):
    email, web, web2 = store_conversations(
        session, [_conv("a"), _conv("a", channel="web"), _conv("b", channel="web")], scrubber, settings
    ).conversation_ids
    first = add_message(session, email, MessageIn("user", "hi", external_id="x"), scrubber, settings)
    other = add_message(session, web, MessageIn("user", "hello", external_id="x"), scrubber, settings)
    assert other.id != first.id and (other.channel, other.conversation_id) == ("web", web)
    retry = add_message(session, web, MessageIn("user", "hello", external_id="x"), scrubber, settings)
    assert retry.id == other.id
    with pytest.raises(Conflict, match=f"conversation {web}") as err:  # same channel: as before
        add_message(session, web2, MessageIn("user", "hi", external_id="x"), scrubber, settings)
    assert str(email) not in str(err.value).replace(str(web), "")


def test_defaults_for_missing_timestamps_and_outcome(session, settings, scrubber):
    clock = FixedClock(T0)
    conv = _conv(
        messages=[MessageIn("user", "hi there")],
        status="closed",
        outcome=OutcomeIn(booking_converted=True, booking_value_usd=900.0, csat=5),
    )
    cid = store_conversations(session, [conv], scrubber, settings, clock).conversation_ids[0]
    stored = session.get(Conversation, cid)
    assert stored.created_at == T0 and stored.messages[0].created_at == T0
    assert stored.first_response_at is None and stored.outcome.first_response_time_seconds is None
    assert stored.outcome.booking_value_usd == 900.0 and stored.outcome.successful_outcome


def test_add_message_scrubs_sets_first_response_and_is_idempotent(session, settings, scrubber):
    clock = FixedClock(T0)
    cid = store_conversations(
        session,
        [_conv(messages=[MessageIn("user", "Call me at 512-555-0147 please")])],
        scrubber,
        settings,
        clock,
    ).conversation_ids[0]
    clock.advance(seconds=45)
    reply = MessageIn("agent", "Calling you now", external_id="sms-99", cost_usd=0.01)
    msg = add_message(session, cid, reply, scrubber, settings, clock)
    again = add_message(session, cid, reply, scrubber, settings, clock)
    assert again.id == msg.id
    conv = session.get(Conversation, cid)
    assert conv.first_response_at == T0 + dt.timedelta(seconds=45)
    assert conv.outcome.first_response_time_seconds == 45 and conv.outcome.total_cost_usd == 0.01
    assert len(conv.messages) == 2


def test_concurrent_add_message_with_one_id_is_a_retry_not_an_error(db, session, settings, scrubber):
    """Two requests append the same message id at once: the one that loses the unique
    constraint answers with the winner's message (as a retry does), not an IntegrityError."""
    cid = store_conversations(session, [_conv("a")], scrubber, settings).conversation_ids[0]
    session.commit()
    msg = MessageIn("user", "are you open on sunday?", external_id="dup-1")
    first = add_message(session, cid, msg, scrubber, settings)  # inserted, not committed yet
    second: dict = {}

    def other_request() -> None:
        with db.session() as s:
            try:
                second["id"] = add_message(s, cid, msg, scrubber, settings).id
                s.commit()
            except Exception as exc:  # noqa: BLE001 - the test reports what it got
                second["error"] = exc

    worker = threading.Thread(target=other_request)
    worker.start()
    worker.join(0.5)  # it waits on the first insert's lock (row lock / SQLite write lock)
    assert worker.is_alive(), second
    session.commit()
    worker.join(30)
    assert second == {"id": first.id}
    stored = select(func.count()).select_from(Message).where(Message.external_id == "dup-1")
    assert session.scalar(stored) == 1


def test_add_message_failures(session, settings, scrubber):
    cid = store_conversations(session, [_conv("a"), _conv("b")], scrubber, settings).conversation_ids
    with pytest.raises(NotFound):
        add_message(session, 99999, MessageIn("user", "hi"), scrubber, settings)
    with pytest.raises(ValidationError, match="empty"):
        add_message(session, cid[0], MessageIn("user", " "), scrubber, settings)
    add_message(session, cid[0], MessageIn("user", "hi", external_id="x"), scrubber, settings)
    with pytest.raises(Conflict):
        add_message(session, cid[1], MessageIn("user", "hi", external_id="x"), scrubber, settings)


# --- CLI -------------------------------------------------------------------------------------
@pytest.fixture
def cli_env(db, settings, monkeypatch, scrubber):
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(settings.index_dir))
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()


def _line(ext, channel="sms", role="user"):
    return json.dumps(
        {
            "external_id": ext,
            "channel": channel,
            "external_user_id": "u",
            "messages": [
                {"role": role, "content": "Is the deposit refundable?", "created_at": "2025-03-01T10:00:00"}
            ],
        }
    )


def test_cli_import_summary_and_reimport(cli_env, tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(_line("a") + "\n" + _line("b") + "\n")
    runner = CliRunner()
    first = runner.invoke(main, ["import", str(p)])
    assert first.exit_code == 0, first.output
    assert "2 conversation(s) and 2 message(s) imported" in first.output
    second = runner.invoke(main, ["import", str(p), "--format", "jsonl"])
    assert second.exit_code == 0 and "2 conversation(s) already present" in second.output
    with cli_env.session() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 2


def test_cli_import_bad_file_exits_nonzero_and_writes_nothing(cli_env, tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(_line("a") + "\n" + _line("b", channel="pigeon") + "\n")
    result = CliRunner().invoke(main, ["import", str(p)])
    assert result.exit_code == 1
    assert f"{p}:2: channel: unknown channel 'pigeon'" in result.output
    with cli_env.session() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 0


def test_cli_import_skip_invalid_with_rejects(cli_env, tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text(_line("a") + "\n" + _line("b", role="ghost") + "\n")
    rejects = tmp_path / "rej.jsonl"
    result = CliRunner().invoke(main, ["import", str(p), "--skip-invalid", "--rejects", str(rejects)])
    assert result.exit_code == 0, result.output
    assert "1 row(s) in 1 conversation(s) rejected" in result.output
    assert json.loads(rejects.read_text())["field"] == "messages[0].role"


def test_cli_purge(cli_env, tmp_path):
    old = json.dumps(
        {
            "external_id": "old",
            "channel": "web",
            "external_user_id": "u",
            "messages": [{"role": "user", "content": "hello", "created_at": "2000-01-01T00:00:00"}],
        }
    )
    p = tmp_path / "c.jsonl"
    p.write_text(old + "\n" + _line("new").replace("2025-03-01", dt.date.today().isoformat()) + "\n")
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(p)]).exit_code == 0
    result = runner.invoke(main, ["purge"])
    assert result.exit_code == 0 and "message.raw_content: 1" in result.output
    with cli_env.session() as s:
        rows = dict(s.execute(select(Conversation.external_id, Message.raw_content).join(Message)).all())
    assert rows["old"] is None and rows["new"] == "Is the deposit refundable?"


def test_outcome_row_exists_for_every_stored_conversation(session, settings, scrubber):
    store_conversations(session, [_conv("a"), _conv("b")], scrubber, settings)
    assert session.scalar(select(func.count()).select_from(ConversationOutcome)) == 2
