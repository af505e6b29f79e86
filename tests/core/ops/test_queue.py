"""The job queue (core.ops.queue): enqueue, claim, run with progress, cancel, fail."""

import datetime as dt
import threading
import time

import pytest
from sqlalchemy import select

from core.access import auth
from core.ops import jobruns, queue
from core.ops.jobkinds import default_kinds
from core.ops.queue import JobKind
from core.ops.tasks import TaskContext
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock, SystemClock
from core.platform.errors import Conflict, NotFound, PermissionDenied, ValidationError
from core.platform.models import Event, JobRun, JobState
from core.platform.progress import check_cancelled
from core.platform.statuses import JobRunStatus, JobTrigger
from tests.factories import ADMIN, VIEWER

NOW = dt.datetime(2026, 3, 16, 9, 0)


@pytest.fixture
def admin(db):
    with db.session() as s:
        who, _ = auth.create_user(s, "ops-admin", "admin", actor=SYSTEM)
        s.commit()
    return who


def _enqueue(db, kind, params=None, actor=ADMIN, **kw):
    with db.session() as s:
        run = queue.enqueue(s, kind, params, actor=actor, clock=FixedClock(NOW), **kw)
        s.commit()
        return run.id


def _run(db, run_id) -> JobRun:
    with db.session() as s:
        return s.get(JobRun, run_id)


def test_enqueue_checks_the_kind_the_right_and_the_params(db):
    run_id = _enqueue(db, "kb_refresh", {"reason": "test"})
    run = _run(db, run_id)
    assert (run.job, run.status, run.trigger, run.params, run.requested_by) == (
        "kb_refresh", JobRunStatus.QUEUED, JobTrigger.QUEUE, {"reason": "test"}, ADMIN.name)
    with db.session() as s:
        with pytest.raises(PermissionDenied, match="manage_kb"):
            queue.enqueue(s, "kb_refresh", {}, actor=VIEWER)
        with pytest.raises(ValidationError, match="No job kind 'nope'"):
            queue.enqueue(s, "nope", {}, actor=ADMIN)
        with pytest.raises(ValidationError, match="plain values"):
            queue.enqueue(s, "kb_refresh", {"when": object()}, actor=ADMIN)
        with pytest.raises(PermissionDenied, match="run_jobs"):  # a scheduled task by name
            queue.enqueue(s, "metrics", {}, actor=VIEWER, task_names={"metrics"})
        assert queue.enqueue(s, "metrics", {}, actor=ADMIN, task_names={"metrics"}).status == "queued"
        assert s.scalar(select(JobRun.id).where(JobRun.job == "nope")) is None


def test_a_queued_run_is_not_a_start_of_its_scheduled_task(db):
    _enqueue(db, "kb_refresh")
    with db.session() as s:
        assert jobruns.last_started(s) == {}
        assert jobruns.latest_finished(s) == {}


def test_cancel_a_queued_run_and_refuse_unknown_or_finished(db):
    run_id = _enqueue(db, "dataset_build")
    with db.session() as s:
        with pytest.raises(PermissionDenied):
            queue.cancel(s, run_id, actor=VIEWER)
        out = queue.cancel(s, run_id, actor=ADMIN)
        s.commit()
    assert out["status"] == JobRunStatus.CANCELLED and "before it started" in out["error"]
    with db.session() as s:
        with pytest.raises(Conflict, match="already finished"):
            queue.cancel(s, run_id, actor=ADMIN)
        with pytest.raises(NotFound):
            queue.cancel(s, 99999, actor=ADMIN)
        with pytest.raises(NotFound):
            queue.get_run(s, 99999)
        assert jobruns.last_started(s) == {}  # never ran


def _ctx(db, settings):
    return TaskContext(db.factory, settings, SystemClock())


def test_run_next_runs_as_the_requester_with_progress(db, settings, admin):
    seen = {}

    def work(ctx, params, progress):
        seen["actor"] = ctx.actor
        for i in range(3):
            progress.report(i + 1, 3, f"step {i + 1}")
        return {"n": params["n"], "when": dt.date(2026, 1, 2)}

    kinds = {"kb_refresh": JobKind("kb_refresh", work)}
    run_id = _enqueue(db, "kb_refresh", {"n": 7}, actor=admin)
    out = queue.run_next(_ctx(db, settings), kinds, "test:1")
    assert out["id"] == run_id and out["status"] == JobRunStatus.SUCCEEDED
    assert out["summary"] == {"n": 7, "when": "2026-01-02"}
    assert (out["progress_done"], out["progress_total"], out["progress_message"]) == (3, 3, "step 3")
    assert out["percent"] == 100.0 and out["runner"] == "test:1"
    assert seen["actor"].name == "ops-admin" and seen["actor"].id == admin.id
    assert queue.run_next(_ctx(db, settings), kinds, "test:1") is None  # nothing left
    with db.session() as s:
        assert "kb_refresh" in jobruns.last_started(s)


def test_a_runner_claims_a_run_once(db):
    run_id = _enqueue(db, "kb_refresh")
    with db.session() as s:
        assert queue._claim(s, run_id, "a:1", SystemClock()) is True
        s.commit()
    with db.session() as s:
        assert queue._claim(s, run_id, "b:2", SystemClock()) is False
    assert _run(db, run_id).runner == "a:1"


def test_a_kind_whose_lock_is_held_waits_in_the_queue(db, settings, admin):
    run_id = _enqueue(db, "kb_refresh", actor=admin)
    kinds = {"kb_refresh": JobKind("kb_refresh", lambda ctx, params, progress: {})}
    lease = dt.timedelta(minutes=5)
    with jobruns.job_lock(db.engine, "kb_refresh", "scheduled:1", SystemClock(), lease) as got:
        assert got
        assert queue.run_next(_ctx(db, settings), kinds, "test:1") is None
    assert _run(db, run_id).status == JobRunStatus.QUEUED
    assert queue.run_next(_ctx(db, settings), kinds, "test:1")["status"] == JobRunStatus.SUCCEEDED


def test_cancel_a_running_run_stops_it_at_its_next_batch(db, settings):
    run_id = _enqueue(db, "enrich_backfill", actor=SYSTEM)
    batches = []

    def work(ctx, params, progress):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batches.append(len(batches))
            progress.report(len(batches), None, "batch")
            check_cancelled(progress)
            time.sleep(0.02)
        return {}

    def admin_cancels():
        while _run(db, run_id).status != JobRunStatus.RUNNING:
            time.sleep(0.02)
        with db.session() as s:
            assert queue.cancel(s, run_id, actor=ADMIN)["status"] == JobRunStatus.RUNNING
            s.commit()

    t = threading.Thread(target=admin_cancels)
    t.start()
    out = queue.run_next(_ctx(db, settings), {"enrich_backfill": JobKind("enrich_backfill", work)}, "test:1",
                         progress_interval=0.05)
    t.join()
    assert out["status"] == JobRunStatus.CANCELLED and "cancelled" in out["error"]
    assert out["progress_done"] == len(batches) and out["cancel_requested"]


def test_a_run_acts_as_an_existing_account_only(db, settings):
    run_id = _enqueue(db, "gaps_refresh")  # test-admin has no account (deleted since, say)
    out = queue.run_next(_ctx(db, settings), {"gaps_refresh": JobKind("gaps_refresh", lambda c, p, g: {})},
                         "test:1")
    assert out["id"] == run_id and out["status"] == JobRunStatus.FAILED and "No user named" in out["error"]


def test_a_failing_run_is_recorded_with_an_event(db, settings):
    run_id = _enqueue(db, "gaps_refresh", actor=SYSTEM)

    def boom(ctx, params, progress):
        raise RuntimeError("no embedder")

    out = queue.run_next(_ctx(db, settings), {"gaps_refresh": JobKind("gaps_refresh", boom)}, "test:1")
    assert out["status"] == JobRunStatus.FAILED and out["error"].startswith("RuntimeError: no embedder")
    with db.session() as s:
        ev = s.scalars(select(Event).where(Event.kind == "job.failed")).one()
        assert ev.details["run_id"] == run_id


def test_a_runner_stop_fails_the_run_with_the_reason_and_is_raised_again(db, settings):
    run_id = _enqueue(db, "kb_refresh", actor=SYSTEM)

    def stopped(ctx, params, progress):
        raise queue.RunnerStopped("SIGTERM: test")

    with pytest.raises(queue.RunnerStopped):
        queue.run_next(_ctx(db, settings), {"kb_refresh": JobKind("kb_refresh", stopped)}, "test:1")
    run = _run(db, run_id)
    assert run.status == JobRunStatus.FAILED and "runner was stopped" in run.error
    with db.session() as s:  # the lock was released (SQLite lease; PostgreSQL advisory lock)
        state = s.get(JobState, "kb_refresh")
        assert state is None or state.lease_owner is None
    with jobruns.job_lock(db.engine, "kb_refresh", "other:2", SystemClock(), dt.timedelta(minutes=5)) as got:
        assert got


def test_list_and_open_runs(db):
    a = _enqueue(db, "kb_refresh")
    b = _enqueue(db, "gaps_refresh")
    with db.session() as s:
        queue.cancel(s, a, actor=ADMIN)
        s.commit()
        assert [r["id"] for r in queue.open_runs(s)] == [b]
        assert [r["id"] for r in queue.list_runs(s)] == [b, a]
        assert [r["id"] for r in queue.list_runs(s, statuses=(JobRunStatus.CANCELLED,))] == [a]
        assert queue.get_run(s, b)["started_at"] is None


def test_the_real_kinds_check_their_params_and_report_core_errors(db, settings):
    kinds = default_kinds([])
    assert {"kb_refresh", "gaps_refresh", "dataset_build", "finetune", "enrich_backfill",
            "experiment_analysis"} <= set(kinds)
    missing = _enqueue(db, "experiment_analysis", {}, actor=SYSTEM)
    out = queue.run_next(_ctx(db, settings), kinds, "test:1")
    assert out["id"] == missing and out["status"] == JobRunStatus.FAILED
    assert "needs the parameter experiment_id" in out["error"]
    unknown = _enqueue(db, "experiment_analysis", {"experiment_id": 404}, actor=SYSTEM)
    out = queue.run_next(_ctx(db, settings), kinds, "test:1")
    assert out["id"] == unknown and out["status"] == JobRunStatus.FAILED and "404" in out["error"]
    empty = _enqueue(db, "dataset_build", {"max_examples": 10}, actor=SYSTEM)
    out = queue.run_next(_ctx(db, settings), kinds, "test:1")  # no approved examples: a clear error
    assert out["id"] == empty and out["status"] == JobRunStatus.FAILED and "ValidationError" in out["error"]


def test_a_dataset_export_is_a_job_that_names_an_unknown_dataset(db, settings):
    kinds = default_kinds([])
    assert queue.KIND_PERMISSIONS["dataset_export"] == "build_dataset" and "dataset_export" in kinds
    unknown = _enqueue(db, "dataset_export", {"dataset_version_id": 404}, actor=SYSTEM)
    out = queue.run_next(_ctx(db, settings), kinds, "test:1")
    assert out["id"] == unknown and out["status"] == JobRunStatus.FAILED
    assert "Dataset version 404 does not exist" in out["error"]
