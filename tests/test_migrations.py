"""Migrations keep data: altering a table on SQLite (copy, drop, rename) must not cascade."""

from sqlalchemy import text

from core.platform.db import make_engine, upgrade


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
