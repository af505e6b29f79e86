"""knowledge base: chunks, KB versions, embedding cache, message chunks, evaluation set

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 18:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kb_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('model_id', sa.String(length=200), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('index_kind', sa.String(length=20), nullable=False),
    sa.Column('index_file', sa.String(length=300), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('file_size', sa.Integer(), nullable=False),
    sa.Column('chunk_count', sa.Integer(), nullable=False),
    sa.Column('embedded_count', sa.Integer(), nullable=False),
    sa.Column('build_seconds', sa.Float(), nullable=True),
    sa.Column('built_by', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('eval_report', sa.JSON(), nullable=True),
    sa.Column('decision', sa.Text(), nullable=True),
    sa.Column('parent_version_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('activated_at', sa.DateTime(), nullable=True),
    sa.Column('retired_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("status IN ('candidate', 'active', 'retired', 'rejected')", name=op.f('ck_kb_version_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kb_version'))
    )
    with op.batch_alter_table('kb_version', schema=None) as batch_op:
        batch_op.create_index('uq_kb_version_one_active', ['status'], unique=True,
                              sqlite_where=sa.text("status = 'active'"),
                              postgresql_where=sa.text("status = 'active'"))

    op.create_table('kb_version_chunk',
    sa.Column('kb_version_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('chunk_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['kb_version_id'], ['kb_version.id'], name=op.f('fk_kb_version_chunk_kb_version_id_kb_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('kb_version_id', 'position', name=op.f('pk_kb_version_chunk'))
    )
    with op.batch_alter_table('kb_version_chunk', schema=None) as batch_op:
        batch_op.create_index('ix_kb_version_chunk_chunk', ['chunk_id'], unique=False)

    op.create_table('embedding_cache',
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('model_id', sa.String(length=200), nullable=False),
    sa.Column('dim', sa.Integer(), nullable=False),
    sa.Column('vector', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('content_hash', 'model_id', name=op.f('pk_embedding_cache'))
    )

    op.create_table('chunk',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=False),
    sa.Column('source_type', sa.String(length=30), nullable=False),
    sa.Column('source_message_id', sa.Integer(), nullable=True),
    sa.Column('chunk_metadata', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('duplicate_of_id', sa.Integer(), nullable=True),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('last_reviewed_at', sa.DateTime(), nullable=True),
    sa.Column('stale_flagged_at', sa.DateTime(), nullable=True),
    sa.Column('times_retrieved', sa.Integer(), nullable=False),
    sa.Column('times_used_in_response', sa.Integer(), nullable=False),
    sa.Column('times_led_to_booking', sa.Integer(), nullable=False),
    sa.Column('rating_count', sa.Integer(), nullable=False),
    sa.Column('rating_sum', sa.Float(), nullable=False),
    sa.Column('last_user_feedback_at', sa.DateTime(), nullable=True),
    sa.Column('performance_score', sa.Float(), nullable=False),
    sa.CheckConstraint("status IN ('proposed', 'active', 'archived')", name=op.f('ck_chunk_status')),
    sa.CheckConstraint("source_type IN ('manual', 'imported', 'approved_answer')", name=op.f('ck_chunk_source_type')),
    sa.ForeignKeyConstraint(['duplicate_of_id'], ['chunk.id'], name=op.f('fk_chunk_duplicate_of_id_chunk'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_message_id'], ['message.id'], name=op.f('fk_chunk_source_message_id_message'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_chunk')),
    sa.UniqueConstraint('external_id', name=op.f('uq_chunk_external_id'))
    )
    with op.batch_alter_table('chunk', schema=None) as batch_op:
        batch_op.create_index('ix_chunk_content_hash', ['content_hash'], unique=False)
        batch_op.create_index('ix_chunk_status', ['status', 'id'], unique=False)

    op.create_table('message_chunk',
    sa.Column('message_id', sa.Integer(), nullable=False),
    sa.Column('chunk_id', sa.Integer(), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('used', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['chunk_id'], ['chunk.id'], name=op.f('fk_message_chunk_chunk_id_chunk'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_message_chunk_message_id_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('message_id', 'chunk_id', name=op.f('pk_message_chunk'))
    )
    with op.batch_alter_table('message_chunk', schema=None) as batch_op:
        batch_op.create_index('ix_message_chunk_chunk', ['chunk_id'], unique=False)

    op.create_table('evaluation_question',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('expected_chunk_id', sa.Integer(), nullable=True),
    sa.Column('expected_external_id', sa.String(length=200), nullable=True),
    sa.Column('expected_answer', sa.Text(), nullable=True),
    sa.Column('should_escalate', sa.Boolean(), nullable=False),
    sa.Column('intent', sa.String(length=100), nullable=True),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('source_message_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['expected_chunk_id'], ['chunk.id'], name=op.f('fk_evaluation_question_expected_chunk_id_chunk'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['source_message_id'], ['message.id'], name=op.f('fk_evaluation_question_source_message_id_message'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_question'))
    )
    with op.batch_alter_table('evaluation_question', schema=None) as batch_op:
        batch_op.create_index('ix_evaluation_question_active', ['active'], unique=False)

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kb_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_message_kb_version_id_kb_version'), 'kb_version', ['kb_version_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_message_kb_version_id_kb_version'), type_='foreignkey')
        batch_op.drop_column('kb_version_id')

    with op.batch_alter_table('evaluation_question', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluation_question_active')
    op.drop_table('evaluation_question')
    with op.batch_alter_table('message_chunk', schema=None) as batch_op:
        batch_op.drop_index('ix_message_chunk_chunk')
    op.drop_table('message_chunk')
    with op.batch_alter_table('chunk', schema=None) as batch_op:
        batch_op.drop_index('ix_chunk_status')
        batch_op.drop_index('ix_chunk_content_hash')
    op.drop_table('chunk')
    op.drop_table('embedding_cache')
    with op.batch_alter_table('kb_version_chunk', schema=None) as batch_op:
        batch_op.drop_index('ix_kb_version_chunk_chunk')
    op.drop_table('kb_version_chunk')
    with op.batch_alter_table('kb_version', schema=None) as batch_op:
        batch_op.drop_index('uq_kb_version_one_active')
    op.drop_table('kb_version')
