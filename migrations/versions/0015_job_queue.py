"""job queue (issue 15): job_run gets queued/cancelled runs, params, requester, progress, cancel

Revision ID: 0015_job_queue
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0015_job_queue"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD = "status IN ('running', 'succeeded', 'failed')"
NEW = "status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')"


def upgrade() -> None:
    with op.batch_alter_table("job_run", schema=None) as batch:
        batch.drop_constraint("status", type_="check")
        batch.add_column(sa.Column("params", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("requested_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("queued_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("progress_done", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("progress_total", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("progress_message", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("progress_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("cancel_requested", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.create_check_constraint("status", NEW)
        batch.create_index("ix_job_run_status", ["status"], unique=False)


def downgrade() -> None:
    op.execute("UPDATE job_run SET status = 'failed' WHERE status IN ('queued', 'cancelled')")
    with op.batch_alter_table("job_run", schema=None) as batch:
        batch.drop_index("ix_job_run_status")
        batch.drop_constraint("status", type_="check")
        for column in ("cancel_requested", "progress_at", "progress_message", "progress_total",
                       "progress_done", "queued_at", "requested_by", "params"):
            batch.drop_column(column)
        batch.create_check_constraint("status", OLD)
