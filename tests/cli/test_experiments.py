"""`supportloop experiment ...` through the command line, on SQLite and PostgreSQL: start (as a
named admin account), status, compare, a refused promotion, stop, and a start that says what is
missing."""

from click.testing import CliRunner

from cli import main
from core.access.auth import create_user
from core.platform.config import get_settings
from tests.factories import ADMIN
from tests.factories.experiments import experiment_kb


def test_cli_start_status_compare_stop(db, session, settings, monkeypatch):
    kb = experiment_kb(session, settings)
    create_user(session, "alice", "admin", "correct-horse-1", actor=ADMIN)
    create_user(session, "victor", "viewer", "correct-horse-2", actor=ADMIN)
    session.commit()
    st = kb["settings"]
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", db.url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(st.data_dir))
    monkeypatch.setenv("SUPPORTLOOP_INDEX_DIR", str(st.index_dir))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        start = ["experiment", "start", "--kind", "kb_version", "--kb-version", str(kb["v2"].id),
                 "--share", "0.5"]
        r = runner.invoke(main, [*start, "--actor", "victor"])
        assert r.exit_code == 1 and "manage_experiments" in r.output
        r = runner.invoke(main, [*start, "--actor", "alice"])
        assert r.exit_code == 0, r.output
        assert "running (split, 50% of users)" in r.output
        r = runner.invoke(main, ["experiment", "status"])
        assert r.exit_code == 0 and "running" in r.output and "kb_version" in r.output
        r = runner.invoke(main, ["experiment", "compare", "1"])
        assert r.exit_code == 0 and "recommendation: CONTINUE_TESTING" in r.output, r.output
        r = runner.invoke(main, ["experiment", "promote", "1", "--actor", "alice"])
        assert r.exit_code == 1 and "does not recommend promotion" in r.output
        r = runner.invoke(main, ["experiment", "stop", "1", "--actor", "alice", "--reason", "done"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(main, ["experiment", "start", "--actor", "alice"])
        assert r.exit_code == 1 and "Say what to test" in r.output
    finally:
        get_settings.cache_clear()
