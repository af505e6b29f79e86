"""users: dashboard accounts and login sessions; full-text search of messages (issue 9)

Revision ID: 0005
Revises: 0001

Search of the redacted message text: on SQLite an external-content FTS5 table ``message_fts``
kept current by triggers; on PostgreSQL a GIN index on ``to_tsvector('english', ...)``.
Neither is a model (migrations/env.py leaves them out of autogenerate).
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('user_account',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'reviewer', 'viewer')", name=op.f('ck_user_account_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_account')),
    sa.UniqueConstraint('name', name=op.f('uq_user_account_name'))
    )
    op.create_table('user_session',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_user_session_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_user_session'))
    )
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.create_index('ix_user_session_user', ['user_id'], unique=False)

    if op.get_bind().dialect.name == 'sqlite':
        for stmt in SQLITE_FTS:
            op.execute(stmt)
    elif op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE INDEX ix_message_fts ON message USING gin (to_tsvector('english', redacted_content))")


SQLITE_FTS = [
    "CREATE VIRTUAL TABLE message_fts USING fts5(redacted_content, content='message', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN "
    "INSERT INTO message_fts(rowid, redacted_content) VALUES (new.id, new.redacted_content); END",
    "CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, redacted_content) "
    "VALUES ('delete', old.id, old.redacted_content); END",
    "CREATE TRIGGER message_fts_update AFTER UPDATE OF redacted_content ON message BEGIN "
    "INSERT INTO message_fts(message_fts, rowid, redacted_content) "
    "VALUES ('delete', old.id, old.redacted_content); "
    "INSERT INTO message_fts(rowid, redacted_content) VALUES (new.id, new.redacted_content); END",
    "INSERT INTO message_fts(message_fts) VALUES ('rebuild')",
]


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name in ('insert', 'delete', 'update'):
            op.execute(f"DROP TRIGGER IF EXISTS message_fts_{name}")
        op.execute("DROP TABLE IF EXISTS message_fts")
    elif op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP INDEX IF EXISTS ix_message_fts")
    with op.batch_alter_table('user_session', schema=None) as batch_op:
        batch_op.drop_index('ix_user_session_user')
    op.drop_table('user_session')
    op.drop_table('user_account')
