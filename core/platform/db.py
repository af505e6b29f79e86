"""Database engine, sessions and migrations. SQLite is the embedded default,
PostgreSQL the real database; both go through the same code.

The caller owns the transaction: core functions take a ``Session`` and never commit,
``session_scope`` commits once at the end or rolls everything back. Long work that commits in
batches does so with ``commit_batch`` (see there).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from core.platform.errors import SupportloopError
from core.platform.models import Conversation

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``. SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "before_cursor_execute")
        def _note_write(conn, _cursor, statement, _params, _context, _many) -> None:  # pragma: no cover
            if "write_started" not in conn.info and statement.lstrip()[:6].upper() in _WRITES:
                conn.info["write_started"] = time.monotonic()  # SQLite's write lock is taken here

        @event.listens_for(engine, "commit")
        @event.listens_for(engine, "rollback")
        def _note_end(conn) -> None:  # pragma: no cover - trivial
            conn.info.pop("write_started", None)

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions on ``engine`` whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")
MAX_WRITER_PAUSE_S = 0.1  # SQLite's busy handler sleeps at most 100 ms between two tries


def commit_batch(session: Session) -> None:
    """Commit one batch of long work, then, on SQLite, pause as long as the batch held the
    write lock (at most ``MAX_WRITER_PAUSE_S``). A writer that waited for the lock meanwhile
    (a vote, a chat turn) sleeps in SQLite's busy handler and tries again only after its
    sleep: without the pause the next batch takes the lock first, and the API's writes starve
    behind a long job (bench/background.py). On PostgreSQL it only commits."""
    started = None
    if session.get_bind().dialect.name == "sqlite" and session.in_transaction():
        started = session.connection().info.get("write_started")
    session.commit()
    if started is not None:
        time.sleep(min(MAX_WRITER_PAUSE_S, time.monotonic() - started) + 0.002)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit when the block ends, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Create or migrate the database at ``url`` to ``revision``."""
    make_engine(url).dispose()  # creates the SQLite folder if needed
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_revisions(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def head_revisions() -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def applied_revisions(engine: Engine) -> set[str]:
    """Every revision the database holds: its current heads and all they build on
    (down revisions and ``depends_on``), so branched migrations count as applied."""
    current = current_revisions(engine)
    if not current:
        return set()
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    return {r.revision for r in script.revision_map.iterate_revisions(tuple(current), "base")}


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that is not migrated to the latest revision."""
    current, heads = current_revisions(engine), head_revisions()
    if not heads <= applied_revisions(engine):
        raise SupportloopError(
            f"The database is at revision {', '.join(sorted(current)) or 'none'}, the code needs "
            f"{', '.join(sorted(heads))}. Run `supportloop db upgrade`."
        )


def is_empty(session: Session) -> bool:
    """Whether the database holds no conversation yet."""
    return session.scalar(select(func.count()).select_from(Conversation)) == 0


def backend(engine: Engine) -> str:
    return engine.dialect.name
