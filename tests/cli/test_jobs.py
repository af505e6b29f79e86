"""`supportloop jobs|metrics|alerts|apikey ...` through the command line."""

import json
import threading
import time

import pytest
from click.testing import CliRunner

from cli import main
from core.access import apikeys
from core.ops import queue
from core.ops.jobkinds import default_kinds
from core.ops.tasks import TaskContext, default_registry
from core.platform.clock import SystemClock
from core.platform.config import get_settings
from core.platform.models import JobRun


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


def _run_queue_in_a_thread(db, settings):
    """A runner in a thread: runs queued runs (the real kinds) until one ran."""
    ctx = TaskContext(db.factory, settings, SystemClock())
    kinds = default_kinds(default_registry(settings))

    def loop():
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and queue.run_next(ctx, kinds, "test:runner") is None:
            time.sleep(0.1)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread


def test_jobs_enqueue_list_cancel_and_wait(cli, db, settings):
    run_id = int(cli("jobs", "enqueue", "kb_refresh", "--param", "note=x").strip().splitlines()[-1])
    listing = cli("jobs", "list")
    assert f"{run_id:>6} kb_refresh" in listing and "queued" in listing
    assert "No job runner is alive" in listing
    assert "cancelled" in cli("jobs", "cancel", str(run_id))
    assert "already finished" in cli("jobs", "cancel", str(run_id), code=1)
    assert "does not exist" in cli("jobs", "cancel", "9999", code=1)
    assert "No job kind 'nope'" in cli("jobs", "enqueue", "nope", code=1)
    assert "KEY=VALUE" in cli("jobs", "enqueue", "kb_refresh", "--param", "oops", code=1)
    assert "No user named" in cli("jobs", "enqueue", "kb_refresh", "--actor", "ghost", code=1)
    with db.session() as s:
        assert s.get(JobRun, run_id).params == {"note": "x"}
        assert queue.open_runs(s) == []

    thread = _run_queue_in_a_thread(db, settings)
    out = cli("jobs", "enqueue", "metrics", "--wait")
    thread.join()
    assert json.loads(out[out.index("{"):])["status"] == "succeeded"

    thread = _run_queue_in_a_thread(db, settings)  # a run that fails: --wait exits 1 and says why
    out = cli("jobs", "enqueue", "experiment_analysis", "--param", "experiment_id=999", "--wait", code=1)
    thread.join()
    assert "failed" in out and "999" in out
