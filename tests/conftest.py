"""Shared fixtures. Every test that takes ``db`` runs twice: on SQLite and on
PostgreSQL (``tests.factories.database``). Each test session creates its own PostgreSQL
database and drops it at the end; each test starts with empty tables.

Fixtures only: builders that tests import live in ``tests.factories``.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from aiosmtpd.controller import Controller  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from core.platform.config import Settings  # noqa: E402
from core.platform.db import make_engine, session_factory, upgrade  # noqa: E402
from core.platform.embeddings import get_embedder  # noqa: E402
from core.platform.models import Base  # noqa: E402
from tests.factories.database import PG_ADMIN_URL, postgres_unavailable  # noqa: E402
from tests.smtp import Inbox, free_port  # noqa: E402


@dataclass
class TestDatabase:
    backend: str
    url: str
    engine: Engine
    factory: sessionmaker[Session]

    def session(self) -> Session:
        return self.factory()


@pytest.fixture(scope="session")
def _sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def _postgres_url():
    name = f"supportloop_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection problem means "unreachable"
        yield exc
        return
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _empty_tables(engine: Engine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            ))
        else:
            for t in tables:
                conn.execute(text(f'DELETE FROM "{t}"'))
            has_seq = conn.execute(text(
                "SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'"
            )).first()
            if has_seq:
                conn.execute(text("DELETE FROM sqlite_sequence"))


_ENGINES: dict[str, Engine] = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request) -> TestDatabase:
    """A migrated, empty database on each backend."""
    if request.param == "sqlite":
        url = request.getfixturevalue("_sqlite_url")
    else:
        url = request.getfixturevalue("_postgres_url")
        if isinstance(url, Exception):
            postgres_unavailable(str(url).splitlines()[0])
    engine = _ENGINES.get(url) or _ENGINES.setdefault(url, make_engine(url))
    _empty_tables(engine)
    yield TestDatabase(request.param, url, engine, session_factory(engine))


@pytest.fixture
def smtp():
    """A real SMTP server on a free local port: yields (inbox, port)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def session(db: TestDatabase):
    s = db.session()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def settings(tmp_path: Path, db: TestDatabase) -> Settings:
    """Settings pointing at the test database and a private data folder."""
    return Settings(
        data_dir=tmp_path / "var",
        database_url=db.url,
        index_dir=tmp_path / "var" / "indexes",
        _env_file=None,
    )


def pytest_sessionfinish(session, exitstatus):
    for engine in _ENGINES.values():
        engine.dispose()


@pytest.fixture(scope="session")
def minilm():
    """The real MiniLM embedder, loaded once per test session."""
    return get_embedder(Settings(_env_file=None))
