"""conversation lifecycle (issue 17): external_id unique per channel, conversation.resolution,
conversation_outcome.computed_tone_score, costs rounded to micro-dollars

Revision ID: 0017_lifecycle
Revises: 0001
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0017_lifecycle"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows that clash on external_id alone (same id, different channels) cannot exist yet (the old
    # constraint refused them); every row of the old constraint satisfies the new one.
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_constraint("uq_conversation_external_id", type_="unique")
        batch_op.add_column(sa.Column("resolution", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(
            "uq_conversation_channel_external_id", ["channel", "external_id"]
        )
    with op.batch_alter_table("conversation_outcome", schema=None) as batch_op:
        batch_op.add_column(sa.Column("computed_tone_score", sa.Float(), nullable=True))
    # Costs are kept to micro-dollars: round what is stored (float sums may carry 1e-17 noise).
    op.execute("UPDATE message SET cost_usd = ROUND(CAST(cost_usd AS NUMERIC), 6) WHERE cost_usd IS NOT NULL")
    op.execute("UPDATE conversation_outcome SET total_cost_usd = ROUND(CAST(total_cost_usd AS NUMERIC), 6)")


def downgrade() -> None:
    with op.batch_alter_table("conversation_outcome", schema=None) as batch_op:
        batch_op.drop_column("computed_tone_score")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_constraint("uq_conversation_channel_external_id", type_="unique")
        batch_op.drop_column("resolution")
        batch_op.create_unique_constraint("uq_conversation_external_id", ["external_id"])
