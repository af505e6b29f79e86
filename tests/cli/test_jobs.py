"""`supportloop jobs|metrics|alerts|apikey ...` through the command line."""

import json
import threading
import time

from core.access import apikeys
from core.ops import queue
from core.ops.jobkinds import default_kinds
from core.ops.tasks import TaskContext, default_registry
from core.platform.clock import SystemClock
from core.platform.models import JobRun


def test_jobs_metrics_alerts_and_apikeys(cli_once, db):
    out = cli_once("jobs", "run", "metrics")
    assert json.loads(out)["status"] == "succeeded"
    assert "metrics" in cli_once("jobs", "list") and "every 5 min" in cli_once("jobs", "list")
    assert "succeeded" in cli_once("jobs", "runs", "--job", "metrics")
    assert "No task named" in cli_once("jobs", "run", "nope", code=1)
    assert "rebuilt" in cli_once("metrics", "rollup", "--full")
    assert "containment_rate" in cli_once("metrics", "show", "--days", "30")
    assert "containment_low" in cli_once("alerts", "rules")
    rule = json.loads(cli_once("alerts", "set", "csat_low", "--threshold", "3.5", "--disable"))
    assert rule["enabled"] is False
    assert "unknown" not in cli_once("alerts", "check")
    cli_once("alerts", "list")
    assert "error" in cli_once("alerts", "set", "nope", "--threshold", "1", code=1)

    key = cli_once("apikey", "create", "--scope", "read", "--name", "grafana").strip().splitlines()[-1]
    sms = cli_once("apikey", "create", "--channel", "sms").strip().splitlines()[-1]
    with db.session() as s:
        assert apikeys.verify_api_key(s, key, "read").name == "grafana"
        assert apikeys.verify_api_key(s, sms, "ingest:sms").scope == "ingest:sms"
    listing = cli_once("apikey", "list")
    assert "ingest:sms" in listing and key not in listing
    cli_once("apikey", "revoke", "1")
    assert "revoked" in cli_once("apikey", "list")
    assert "Unknown API key scope" in cli_once("apikey", "create", "--scope", "admin", code=1)


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


def test_jobs_enqueue_list_cancel_and_wait(cli_once, db, settings):
    run_id = int(cli_once("jobs", "enqueue", "kb_refresh", "--param", "note=x").strip().splitlines()[-1])
    listing = cli_once("jobs", "list")
    assert f"{run_id:>6} kb_refresh" in listing and "queued" in listing
    assert "No job runner is alive" in listing
    assert "cancelled" in cli_once("jobs", "cancel", str(run_id))
    assert "already finished" in cli_once("jobs", "cancel", str(run_id), code=1)
    assert "does not exist" in cli_once("jobs", "cancel", "9999", code=1)
    assert "No job kind 'nope'" in cli_once("jobs", "enqueue", "nope", code=1)
    assert "KEY=VALUE" in cli_once("jobs", "enqueue", "kb_refresh", "--param", "oops", code=1)
    assert "No user named" in cli_once("jobs", "enqueue", "kb_refresh", "--actor", "ghost", code=1)
    with db.session() as s:
        assert s.get(JobRun, run_id).params == {"note": "x"}
        assert queue.open_runs(s) == []

    thread = _run_queue_in_a_thread(db, settings)
    out = cli_once("jobs", "enqueue", "metrics", "--wait")
    thread.join()
    assert json.loads(out[out.index("{"):])["status"] == "succeeded"

    thread = _run_queue_in_a_thread(db, settings)  # a run that fails: --wait exits 1 and says why
    out = cli_once("jobs", "enqueue", "experiment_analysis", "--param", "experiment_id=999", "--wait", code=1)
    thread.join()
    assert "failed" in out and "999" in out
