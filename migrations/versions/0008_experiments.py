"""experiments: experiment, exposures, shadow answers, production config; message.experiment_id / arm

Revision ID: 0008
Revises: 0002
Create Date: 2026-12-02 10:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('experiment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('mode', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('control', sa.JSON(), nullable=False),
    sa.Column('candidate', sa.JSON(), nullable=False),
    sa.Column('share', sa.Float(), nullable=False),
    sa.Column('salt', sa.String(length=64), nullable=False),
    sa.Column('min_users_per_arm', sa.Integer(), nullable=False),
    sa.Column('finetune_job_id', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('planned_end_at', sa.DateTime(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('recommendation', sa.String(length=30), nullable=True),
    sa.Column('last_comparison', sa.JSON(), nullable=True),
    sa.Column('last_checked_at', sa.DateTime(), nullable=True),
    sa.Column('decision', sa.String(length=30), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('confirmed_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('previous', sa.JSON(), nullable=True),
    sa.CheckConstraint("kind IN ('chat_model', 'kb_version', 'embedding_model')", name=op.f('ck_experiment_kind')),
    sa.CheckConstraint("mode IN ('split', 'shadow')", name=op.f('ck_experiment_mode')),
    sa.CheckConstraint("status IN ('running', 'promoted', 'rolled_back', 'stopped')", name=op.f('ck_experiment_status')),
    sa.CheckConstraint('share > 0 AND share < 1', name=op.f('ck_experiment_share')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment'))
    )
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_status', ['status', 'started_at'], unique=False)
        batch_op.create_index('uq_experiment_one_running', ['kind'], unique=True,
                              sqlite_where=sa.text("status = 'running'"),
                              postgresql_where=sa.text("status = 'running'"))

    op.create_table('experiment_exposure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('user_key', sa.String(length=200), nullable=False),
    sa.Column('arm', sa.String(length=20), nullable=False),
    sa.Column('error', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("arm IN ('control', 'candidate')", name=op.f('ck_experiment_exposure_arm')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_experiment_exposure_conversation_id_conversation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], name=op.f('fk_experiment_exposure_experiment_id_experiment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_experiment_exposure_message_id_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_experiment_exposure'))
    )
    with op.batch_alter_table('experiment_exposure', schema=None) as batch_op:
        batch_op.create_index('ix_experiment_exposure_experiment', ['experiment_id', 'created_at'], unique=False)
        batch_op.create_index('ix_experiment_exposure_message', ['message_id', 'experiment_id'], unique=True)

    op.create_table('shadow_answer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('user_key', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('used_chunk_ids', sa.JSON(), nullable=False),
    sa.Column('kb_version_id', sa.Integer(), nullable=True),
    sa.Column('model_used', sa.String(length=200), nullable=True),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('tokens_in', sa.Integer(), nullable=True),
    sa.Column('tokens_out', sa.Integer(), nullable=True),
    sa.Column('cost_usd', sa.Float(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('same_chunk', sa.Boolean(), nullable=True),
    sa.Column('similarity', sa.Float(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], name=op.f('fk_shadow_answer_experiment_id_experiment'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_shadow_answer_message_id_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shadow_answer'))
    )
    with op.batch_alter_table('shadow_answer', schema=None) as batch_op:
        batch_op.create_index('ix_shadow_answer_experiment', ['experiment_id', 'created_at'], unique=False)
        batch_op.create_index('ix_shadow_answer_message', ['message_id'], unique=False)

    op.create_table('production_config',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_by', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('experiment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['experiment_id'], ['experiment.id'], name=op.f('fk_production_config_experiment_id_experiment'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_production_config'))
    )

    # message.experiment_id / arm. SQLite: a plain ADD COLUMN with an inline REFERENCES (no
    # table copy: copying `message` would drop and re-create a table other tables cascade from).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE message ADD COLUMN experiment_id INTEGER '
                   'CONSTRAINT fk_message_experiment_id_experiment REFERENCES experiment (id) ON DELETE SET NULL')
        op.add_column('message', sa.Column('arm', sa.String(length=20), nullable=True))
    else:
        op.add_column('message', sa.Column('experiment_id', sa.Integer(), nullable=True))
        op.add_column('message', sa.Column('arm', sa.String(length=20), nullable=True))
        op.create_foreign_key(op.f('fk_message_experiment_id_experiment'), 'message', 'experiment',
                              ['experiment_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_message_experiment_id_experiment'), type_='foreignkey')
        batch_op.drop_column('arm')
        batch_op.drop_column('experiment_id')
    op.drop_table('production_config')
    with op.batch_alter_table('shadow_answer', schema=None) as batch_op:
        batch_op.drop_index('ix_shadow_answer_message')
        batch_op.drop_index('ix_shadow_answer_experiment')
    op.drop_table('shadow_answer')
    with op.batch_alter_table('experiment_exposure', schema=None) as batch_op:
        batch_op.drop_index('ix_experiment_exposure_message')
        batch_op.drop_index('ix_experiment_exposure_experiment')
    op.drop_table('experiment_exposure')
    with op.batch_alter_table('experiment', schema=None) as batch_op:
        batch_op.drop_index('uq_experiment_one_running')
        batch_op.drop_index('ix_experiment_status')
    op.drop_table('experiment')
