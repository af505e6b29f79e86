"""The `cli` fixture: run `supportloop` in-process against the test database."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import main
from core.platform.config import get_settings


@pytest.fixture
def cli(db, settings, monkeypatch):
    """``cli(*args, code=0)`` runs one command, checks its exit code and returns its output."""
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(settings.index_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args, code=0):
        result = runner.invoke(main, [str(a) for a in args])
        assert result.exit_code == code, result.output
        return result.output

    yield run
    get_settings.cache_clear()


@pytest.fixture
def cli_once(db, cli):
    """``cli`` on SQLite only: for commands whose database work other tests cover on both."""
    if db.backend == "postgresql":
        pytest.skip("the command line is the same on both databases; one is enough")
    return cli
