"""chunk source ``agent_answer`` (issue 19): a human agent's reply to a handed-off question,
proposed as knowledge before the weekly refresh (``core.learning.agent_answers``)

Revision ID: 0019_chunk_agent_answer
Revises: 0002
Create Date: 2026-12-06
"""
from alembic import op

revision = "0019_chunk_agent_answer"
down_revision = "0002"  # 0002_knowledge created chunk and its source_type check
branch_labels = None
depends_on = None

OLD = "source_type IN ('manual', 'imported', 'approved_answer')"
NEW = "source_type IN ('manual', 'imported', 'approved_answer', 'agent_answer')"


def upgrade() -> None:
    with op.batch_alter_table("chunk", schema=None) as batch:
        batch.drop_constraint("source_type", type_="check")
        batch.create_check_constraint("source_type", NEW)


def downgrade() -> None:
    op.execute("UPDATE chunk SET source_type = 'approved_answer' WHERE source_type = 'agent_answer'")
    with op.batch_alter_table("chunk", schema=None) as batch:
        batch.drop_constraint("source_type", type_="check")
        batch.create_check_constraint("source_type", OLD)
