import threading
import time

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError

from core.platform import audit, events
from core.platform.db import applied_revisions, commit_batch, head_revisions, require_current
from core.platform.errors import ValidationError
from core.platform.models import Base, Conversation, Message


def test_migrations_create_every_model_table(db):
    assert head_revisions() <= applied_revisions(db.engine)
    require_current(db.engine)
    tables = set(inspect(db.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_unknown_channel_is_refused_by_the_database(session):
    session.add(Conversation(channel="telegram", external_user_id="u1"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_conversation_and_messages_round_trip(session):
    conv = Conversation(channel="sms", external_user_id="+1555", channel_metadata={"k": 1})
    conv.messages.append(Message(role="user", raw_content="hi", redacted_content="hi"))
    session.add(conv)
    session.commit()
    again = session.get(Conversation, conv.id)
    assert again.messages[0].redacted_content == "hi"
    assert again.channel_metadata == {"k": 1}


def test_events_and_audit_are_recorded(session):
    events.record(session, "kb.refresh_rejected", "v3 worse than v2", severity="warning",
                  details={"hit_at_1": 0.4})
    audit.record(session, "alice", "edit", "message", 7, before={"a": 1}, after={"a": 2})
    session.commit()
    assert events.recent(session, kind="kb.")[0].details == {"hit_at_1": 0.4}
    assert events.recent(session, min_severity="error") == []
    assert audit.history(session, "message", 7)[0].after == {"a": 2}
    with pytest.raises(ValidationError):
        events.record(session, "x", "y", severity="loud")


def test_a_writer_waiting_for_sqlite_gets_in_between_two_batches_of_long_work(db):
    """Long work commits each batch with ``commit_batch``: a writer that waited for SQLite's
    write lock (sleeping in the busy handler) writes before the next batch, instead of
    starving until the work ends. On PostgreSQL (row locks) it only commits."""
    order: list[str] = []
    batches, hold_s = 4, 0.25

    def long_work() -> None:
        with db.session() as s:
            for k in range(batches):
                audit.record(s, "job", "batch", "test", k)
                s.flush()  # the write lock is taken here and held while the batch "computes"
                time.sleep(hold_s)
                commit_batch(s)
                order.append(f"batch {k}")

    def one_vote() -> None:
        time.sleep(hold_s / 2)  # arrives while the first batch holds the lock
        with db.session() as s:
            audit.record(s, "customer", "vote", "test", 0)
            s.commit()
        order.append("vote")

    threads = [threading.Thread(target=long_work), threading.Thread(target=one_vote)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if db.backend == "sqlite":
        assert order.index("vote") <= 1, order  # right after the first batch, not after the last
    assert sorted(order) == sorted(["vote"] + [f"batch {k}" for k in range(batches)])
