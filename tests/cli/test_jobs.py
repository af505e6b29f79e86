"""`supportloop jobs|metrics|alerts|apikey ...` through the command line."""

import json

import pytest
from click.testing import CliRunner

from cli import main
from core.access import apikeys
from core.platform.config import get_settings


@pytest.fixture
def cli(db, settings, monkeypatch):
    if db.backend == "postgresql":
        pytest.skip("the commands are the same on both databases; one is enough")
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


def test_jobs_metrics_alerts_and_apikeys(cli, db):
    out = cli("jobs", "run", "metrics")
    assert json.loads(out)["status"] == "succeeded"
    assert "metrics" in cli("jobs", "list") and "every 5 min" in cli("jobs", "list")
    assert "succeeded" in cli("jobs", "runs", "--job", "metrics")
    assert "No task named" in cli("jobs", "run", "nope", code=1)
    assert "rebuilt" in cli("metrics", "rollup", "--full")
    assert "containment_rate" in cli("metrics", "show", "--days", "30")
    assert "containment_low" in cli("alerts", "rules")
    assert json.loads(cli("alerts", "set", "csat_low", "--threshold", "3.5", "--disable"))["enabled"] is False
    assert "unknown" not in cli("alerts", "check")
    cli("alerts", "list")
    assert "error" in cli("alerts", "set", "nope", "--threshold", "1", code=1)

    key = cli("apikey", "create", "--scope", "read", "--name", "grafana").strip().splitlines()[-1]
    sms = cli("apikey", "create", "--channel", "sms").strip().splitlines()[-1]
    with db.session() as s:
        assert apikeys.verify_api_key(s, key, "read").name == "grafana"
        assert apikeys.verify_api_key(s, sms, "ingest:sms").scope == "ingest:sms"
    listing = cli("apikey", "list")
    assert "ingest:sms" in listing and key not in listing
    cli("apikey", "revoke", "1")
    assert "revoked" in cli("apikey", "list")
    assert "Unknown API key scope" in cli("apikey", "create", "--scope", "admin", code=1)
