"""Alembic environment: the URL comes from the caller (core.platform.db.upgrade) or settings."""

from alembic import context
from sqlalchemy import pool

from core.platform.db import make_engine
from core.platform.models import Base

config = context.config
target_metadata = Base.metadata

# Made by hand in migrations, not models: full-text search of messages (0005).
NOT_MODELS = ("message_fts", "ix_message_fts")


def include_name(name, type_, parent_names) -> bool:
    """Leave hand-made search tables and indexes out of autogenerate."""
    return not (name and name.startswith(NOT_MODELS))


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from core.platform.config import get_settings

    return get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # SQLite alters a table by copy, drop and rename; with foreign keys on, dropping
            # the old table would cascade deletes into every table that references it.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_name=include_name,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
