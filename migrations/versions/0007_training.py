"""training: dataset versions, dataset memberships, fine-tune jobs; tags and voice flag on
training examples (issue 6)

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-25
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('training_example', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('voice', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE training_example SET voice = " + ("true" if op.get_bind().dialect.name == "postgresql"
                                                          else "1") + " WHERE channel = 'phone'")

    op.create_table('dataset_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('skipped', sa.JSON(), nullable=False),
    sa.Column('train_examples', sa.Integer(), nullable=False),
    sa.Column('validation_examples', sa.Integer(), nullable=False),
    sa.Column('train_tokens', sa.Integer(), nullable=False),
    sa.Column('validation_tokens', sa.Integer(), nullable=False),
    sa.Column('token_counter', sa.String(length=100), nullable=False),
    sa.Column('tokens_estimated', sa.Boolean(), nullable=False),
    sa.Column('train_file', sa.String(length=300), nullable=True),
    sa.Column('train_sha256', sa.String(length=64), nullable=True),
    sa.Column('validation_file', sa.String(length=300), nullable=True),
    sa.Column('validation_sha256', sa.String(length=64), nullable=True),
    sa.Column('system_prompts', sa.JSON(), nullable=False),
    sa.Column('built_by', sa.String(length=200), nullable=False),
    sa.Column('build_seconds', sa.Float(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decision_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("kind IN ('chat', 'voice')", name=op.f('ck_dataset_version_kind')),
    sa.CheckConstraint("status IN ('pending_approval', 'approved', 'rejected')",
                       name=op.f('ck_dataset_version_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dataset_version'))
    )
    with op.batch_alter_table('dataset_version', schema=None) as batch_op:
        batch_op.create_index('ix_dataset_version_status', ['status', 'created_at'], unique=False)

    op.create_table('dataset_example',
    sa.Column('dataset_version_id', sa.Integer(), nullable=False),
    sa.Column('training_example_id', sa.Integer(), nullable=False),
    sa.Column('split', sa.String(length=20), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('tokens', sa.Integer(), nullable=False),
    sa.CheckConstraint("split IN ('train', 'validation')", name=op.f('ck_dataset_example_split')),
    sa.ForeignKeyConstraint(['dataset_version_id'], ['dataset_version.id'],
                            name=op.f('fk_dataset_example_dataset_version_id_dataset_version'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['training_example_id'], ['training_example.id'],
                            name=op.f('fk_dataset_example_training_example_id_training_example'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dataset_version_id', 'training_example_id', name=op.f('pk_dataset_example'))
    )
    with op.batch_alter_table('dataset_example', schema=None) as batch_op:
        batch_op.create_index('ix_dataset_example_example', ['training_example_id'], unique=False)

    op.create_table('finetune_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dataset_version_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('base_model', sa.String(length=200), nullable=False),
    sa.Column('suffix', sa.String(length=64), nullable=True),
    sa.Column('hyperparameters', sa.JSON(), nullable=False),
    sa.Column('provider_job_id', sa.String(length=200), nullable=True),
    sa.Column('training_file_id', sa.String(length=200), nullable=True),
    sa.Column('validation_file_id', sa.String(length=200), nullable=True),
    sa.Column('estimated_tokens', sa.Integer(), nullable=False),
    sa.Column('estimated_cost_usd', sa.Float(), nullable=False),
    sa.Column('trained_tokens', sa.Integer(), nullable=True),
    sa.Column('actual_cost_usd', sa.Float(), nullable=True),
    sa.Column('fine_tuned_model', sa.String(length=300), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('last_event_id', sa.String(length=200), nullable=True),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('candidate_status', sa.String(length=20), nullable=True),
    sa.Column('launched_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('last_polled_at', sa.DateTime(), nullable=True),
    sa.Column('poll_count', sa.Integer(), nullable=False),
    sa.CheckConstraint("provider IN ('openai', 'local')", name=op.f('ck_finetune_job_provider')),
    sa.CheckConstraint(
        "status IN ('pending', 'validating_files', 'queued', 'running', 'succeeded', 'failed', 'cancelled')",
        name=op.f('ck_finetune_job_status')),
    sa.CheckConstraint("candidate_status IS NULL OR candidate_status IN ('offered', 'taken', 'declined')",
                       name=op.f('ck_finetune_job_candidate')),
    sa.ForeignKeyConstraint(['dataset_version_id'], ['dataset_version.id'],
                            name=op.f('fk_finetune_job_dataset_version_id_dataset_version'),
                            ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finetune_job'))
    )
    with op.batch_alter_table('finetune_job', schema=None) as batch_op:
        batch_op.create_index('ix_finetune_job_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_finetune_job_status', ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('finetune_job', schema=None) as batch_op:
        batch_op.drop_index('ix_finetune_job_status')
        batch_op.drop_index('ix_finetune_job_created_at')
    op.drop_table('finetune_job')
    with op.batch_alter_table('dataset_example', schema=None) as batch_op:
        batch_op.drop_index('ix_dataset_example_example')
    op.drop_table('dataset_example')
    with op.batch_alter_table('dataset_version', schema=None) as batch_op:
        batch_op.drop_index('ix_dataset_version_status')
    op.drop_table('dataset_version')
    with op.batch_alter_table('training_example', schema=None) as batch_op:
        batch_op.drop_column('voice')
        batch_op.drop_column('tags')
