"""message external ids unique per channel (issue 16): an id another channel uses is no duplicate

A message's ``external_id`` was unique across every channel, so an ingest key learned from a 409
that another channel's conversation held an id. The message now carries its conversation's
channel (filled for the messages that have an external id) and the id is unique per channel.

On SQLite the batch mode rebuilds ``message`` (copy, drop, rename), which drops the full-text
triggers 0005 puts on it: they are read before and created again after.

Revision ID: 0018_message_channel_ids
Revises: 0001
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0018_message_channel_ids"
down_revision = "0001"  # 0001_foundation created message and uq_message_external_id
branch_labels = None
depends_on = None

CHECK = "external_id IS NULL OR channel IS NOT NULL"


def _triggers() -> list[str]:
    """The SQL of the triggers on ``message`` (SQLite only: a rebuild drops them)."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return []
    rows = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'message' ORDER BY name"
    )
    return [r[0] for r in rows]


def _recreate(triggers: list[str]) -> None:
    for sql in triggers:
        op.execute(sql)


def upgrade() -> None:
    triggers = _triggers()
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=20), nullable=True))
    op.execute(
        "UPDATE message SET channel = (SELECT conversation.channel FROM conversation "
        "WHERE conversation.id = message.conversation_id) WHERE external_id IS NOT NULL"
    )
    # every row of the old constraint (unique ids) satisfies the new one (unique per channel)
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("uq_message_external_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_message_channel_external_id"), ["channel", "external_id"])
        batch_op.create_check_constraint(op.f("ck_message_external_id_channel"), CHECK)
    _recreate(triggers)


def downgrade() -> None:
    # Refused before any change while two channels hold the same message id (the old constraint
    # cannot hold them; on SQLite a failed rebuild would leave its copy behind).
    shared = op.get_bind().exec_driver_sql(
        "SELECT external_id FROM message WHERE external_id IS NOT NULL "
        "GROUP BY external_id HAVING COUNT(*) > 1 ORDER BY external_id LIMIT 5"
    ).scalars().all()
    if shared:
        raise RuntimeError(
            f"Cannot downgrade 0018_message_channel_ids: message ids used in several channels {shared}; "
            "ids were unique across channels before it. Delete or rename those messages first."
        )
    triggers = _triggers()
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_message_external_id_channel"), type_="check")
        batch_op.drop_constraint(op.f("uq_message_channel_external_id"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_message_external_id"), ["external_id"])
        batch_op.drop_column("channel")
    _recreate(triggers)
