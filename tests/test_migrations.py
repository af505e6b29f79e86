"""Migrations keep data: altering a table on SQLite (copy, drop, rename) must not cascade."""

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from core.platform.db import downgrade, make_engine, upgrade
from tests.factories.database import PG_ADMIN_URL, postgres_unavailable


def test_altering_message_keeps_rows_that_reference_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0004")  # foundation + feedback, before the migrations that alter message
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO conversation (id, channel, external_user_id, status, channel_metadata, "
            "created_at, updated_at) VALUES (1, 'sms', 'u', 'ai', '{}', '2026-01-01', '2026-01-01')"
        ))
        conn.execute(text(
            "INSERT INTO message (id, conversation_id, role, redacted_content, pii_entity_types, "
            "safe_for_training, human_edited, created_at) "
            "VALUES (1, 1, 'assistant', 'hi', '[]', 1, 0, '2026-01-01')"
        ))
        conn.execute(text(
            "INSERT INTO feedback (message_id, conversation_id, voter, vote, source, created_at, updated_at) "
            "VALUES (1, 1, 'u', 'down', 'email', '2026-01-01', '2026-01-01')"
        ))
    engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM message")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM feedback")).scalar() == 1
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """The URL of a new, empty database on each backend (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    name = f"supportloop_mig_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "unreachable"
        postgres_unavailable(str(exc).splitlines()[0])
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _message(conn, mid: int, cid: int, ext: str | None, channel: str | None = None, body: str = "hi") -> None:
    cols = "id, conversation_id, external_id, role, redacted_content, pii_entity_types, safe_for_training, " \
        "human_edited, created_at"
    values = ":id, :cid, :ext, 'user', :t, '[]', true, false, '2026-01-01'"
    params = {"id": mid, "cid": cid, "ext": ext, "t": body}
    if channel is not None:
        cols, values, params = cols + ", channel", values + ", :ch", {**params, "ch": channel}
    conn.execute(text(f"INSERT INTO message ({cols}) VALUES ({values})"), params)


def test_message_ids_become_unique_per_channel(empty_url):
    upgrade(empty_url, "0005")  # users + full-text search (SQLite: triggers on message)
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        for cid, channel in ((1, "sms"), (2, "web")):
            conn.execute(text(
                "INSERT INTO conversation (id, channel, external_user_id, status, channel_metadata, "
                "created_at, updated_at) VALUES (:id, :ch, 'u', 'ai', '{}', '2026-01-01', '2026-01-01')"
            ), {"id": cid, "ch": channel})
        _message(conn, 1, 1, "m-1")
        _message(conn, 2, 2, None)
    engine.dispose()
    upgrade(empty_url, "0018_message_channel_ids")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, channel FROM message ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [(1, "sms"), (2, None)]  # filled where there is an id
        _message(conn, 3, 2, "m-1", "web", "searchable pineapple")  # the same id in another channel
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _message(conn, 4, 2, "m-1", "web")  # twice in one channel
    with pytest.raises(IntegrityError), engine.begin() as conn:
        _message(conn, 4, 2, "m-2")  # an id without its channel
    if engine.dialect.name == "sqlite":  # the rebuild kept the full-text triggers
        with engine.connect() as conn:
            hits = conn.execute(text("SELECT rowid FROM message_fts WHERE message_fts MATCH 'pineapple'"))
            hits = hits.all()
        assert [h[0] for h in hits] == [3]
    engine.dispose()
    # going back is refused while two channels share an id, then works
    with pytest.raises(RuntimeError, match=r"several channels \['m-1'\]"):
        downgrade(empty_url, "0018_message_channel_ids@-1")
    engine = make_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM message WHERE id = 3"))
    engine.dispose()
    downgrade(empty_url, "0018_message_channel_ids@-1")
    upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT channel FROM message WHERE id = 1")).scalar() == "sms"
    engine.dispose()


def test_chunks_may_come_from_agent_answers_and_going_back_keeps_them(empty_url):
    from core.knowledge.chunks import propose_chunk
    from core.platform.config import Settings
    from core.platform.db import session_factory
    from core.platform.pii import get_scrubber
    from core.platform.statuses import ChunkSource
    from tests.factories import ADMIN

    upgrade(empty_url)
    engine = make_engine(empty_url)
    with session_factory(engine)() as s:
        propose_chunk(s, actor=ADMIN, title="Propane grill", text="Our chef brings a propane grill.",
                      source_type=ChunkSource.AGENT_ANSWER, scrubber=get_scrubber(Settings(_env_file=None)))
        s.commit()
    engine.dispose()
    downgrade(empty_url, "0019_chunk_agent_answer@-1")
    engine = make_engine(empty_url)
    with engine.connect() as conn:  # the row is kept, as the old constraint's nearest kind
        assert conn.execute(text("SELECT source_type FROM chunk")).scalar() == "approved_answer"
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text("UPDATE chunk SET source_type = 'agent_answer'"))
    engine.dispose()
    upgrade(empty_url)

