"""The task registry, schedules and runs (core.ops.tasks, core.ops.schedules)."""

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select

from core.ops import jobruns, tasks
from core.ops.schedules import Daily, Every, Quarterly, Weekly, zone
from core.ops.tasks import Task, TaskContext
from core.platform.clock import FixedClock
from core.platform.config import Settings
from core.platform.errors import NotFound, PermissionDenied, ValidationError
from core.platform.models import Event, JobRun
from core.platform.statuses import JobRunStatus, JobTrigger
from tests.factories import ADMIN, VIEWER

UTC = zone("UTC")
MONDAY = dt.datetime(2026, 3, 16, 0, 0)  # Monday 00:00 UTC


def standard_tasks(settings) -> list[Task]:
    """The schedules the real registry uses (from settings), plus the planned ones."""
    def noop(ctx):
        return {}

    return [
        Task("metrics", noop, Every(60 * settings.metrics_interval_minutes)),
        Task("retention_purge", noop, Daily(settings.purge_time)),
        Task("stale_check", noop, Daily(settings.stale_check_time)),
        Task("kb_refresh", noop, Weekly(settings.kb_refresh_time, weekday=6)),
        Task("finetune_poll", noop, Every(60)),
        Task("dataset_build", noop, Quarterly("03:30")),
    ]


def simulate(task_list, start, end, step, tz, last=None, anchors=None):
    """Schedule decisions over [start, end): what would run, when (pure, no database)."""
    last = dict(last or {})
    anchors = dict(anchors or {t.name: start for t in task_list})
    runs = []
    now = start
    while now < end:
        for t in tasks.due_from_history(task_list, last, anchors, now, tz):
            last[t.name] = now
            runs.append((t.name, now))
        now += step
    return runs


def test_a_week_of_schedule_decisions(tmp_path):
    settings = Settings(_env_file=None, data_dir=tmp_path)
    runs = simulate(standard_tasks(settings), MONDAY, MONDAY + dt.timedelta(days=7),
                    dt.timedelta(minutes=1), UTC)
    counts = Counter(name for name, _ in runs)
    assert counts == {"metrics": 2016, "finetune_poll": 10080, "retention_purge": 7, "stale_check": 7,
                      "kb_refresh": 1}
    kb = [at for name, at in runs if name == "kb_refresh"]
    assert kb == [dt.datetime(2026, 3, 22, 2, 0)]
    purges = [at for name, at in runs if name == "retention_purge"]
    assert all(at.time() == dt.time(3, 0) for at in purges)


def test_weekly_refresh_follows_the_configured_time_zone():
    chicago = zone("America/Chicago")
    weekly = Weekly("02:00", weekday=6)
    # Sunday 2026-03-01 02:00 CST = 08:00 UTC; after the DST change (8 March) 02:00 CDT = 07:00 UTC
    assert weekly.previous(dt.datetime(2026, 3, 2, 12, 0), chicago) == dt.datetime(2026, 3, 1, 8, 0)
    assert weekly.previous(dt.datetime(2026, 3, 16, 12, 0), chicago) == dt.datetime(2026, 3, 15, 7, 0)
    runs = simulate([Task("kb_refresh", lambda c: {}, weekly)], MONDAY, MONDAY + dt.timedelta(days=14),
                    dt.timedelta(minutes=5), chicago)
    assert [at for _, at in runs] == [dt.datetime(2026, 3, 22, 7, 0), dt.datetime(2026, 3, 29, 7, 0)]


def test_quarterly_schedule():
    q = Quarterly("03:30")
    assert q.previous(dt.datetime(2026, 5, 20), UTC) == dt.datetime(2026, 4, 1, 3, 30)
    assert q.previous(dt.datetime(2026, 4, 1, 3, 0), UTC) == dt.datetime(2026, 1, 1, 3, 30)
    assert q.following(dt.datetime(2026, 11, 2), UTC) == dt.datetime(2027, 1, 1, 3, 30)


def test_missed_weekly_run_runs_once_at_start_up():
    weekly = Task("kb_refresh", lambda c: {}, Weekly("02:00", weekday=6))
    last_run = dt.datetime(2026, 3, 15, 2, 0)  # Sunday
    # the runner was down from Saturday until Monday 10:00, after Sunday 22 March 02:00
    back_up = dt.datetime(2026, 3, 23, 10, 0)
    runs = simulate([weekly], back_up, back_up + dt.timedelta(days=3), dt.timedelta(seconds=5), UTC,
                    last={"kb_refresh": last_run}, anchors={"kb_refresh": MONDAY})
    assert runs == [("kb_refresh", back_up)]


def test_a_job_that_never_ran_waits_for_its_time():
    weekly = Task("kb_refresh", lambda c: {}, Weekly("02:00", weekday=6))
    first_seen = dt.datetime(2026, 3, 18, 9, 0)  # a Wednesday
    assert not tasks.due_from_history([weekly], {}, {"kb_refresh": first_seen}, first_seen, UTC)
    sunday = dt.datetime(2026, 3, 22, 2, 0)
    assert tasks.due_from_history([weekly], {}, {"kb_refresh": first_seen}, sunday, UTC) == [weekly]
    # an interval task that never ran is due at once
    every = Task("metrics", lambda c: {}, Every(300))
    assert tasks.due_from_history([every], {}, {}, first_seen, UTC) == [every]


def test_schedule_settings_are_validated(tmp_path):
    with pytest.raises(ValidationError, match="time zone"):
        tasks.default_registry(Settings(_env_file=None, timezone="Mars/Olympus"))
    with pytest.raises(ValidationError, match="HH:MM"):
        tasks.default_registry(Settings(_env_file=None, purge_time="25h"))
    with pytest.raises(ValidationError, match="weekday"):
        tasks.default_registry(Settings(_env_file=None, kb_refresh_weekday="caturday"))


def test_the_registry_names_and_schedules(settings):
    listed = {t.name: t.schedule.describe() for t in tasks.default_registry(settings)}
    assert listed == {
        "metrics": "every 5 min",
        "retention_purge": "daily at 03:00",
        "conversation_idle_close": "every 5 min",
        "enrich_missing": "every 5 min",
        "stale_check": f"daily at {settings.stale_check_time}",
        "kb_refresh": "weekly on Sunday at 02:00",
        "kb_prune": f"daily at {settings.kb_prune_time}",
        "gaps_refresh": f"daily at {settings.gaps_time}",
        "review_refresh": f"every {settings.review_refresh_minutes} min",
        "delivery_retry": Every(settings.delivery_poll_seconds).describe(),
        "experiments_check": f"daily at {settings.experiment_check_time}",
        "finetune_poll": Every(settings.finetune_poll_seconds).describe(),
        "dataset_build": f"quarterly (1 Jan/Apr/Jul/Oct) at {settings.dataset_build_time}",
        "embedding_finetune": f"quarterly (1 Jan/Apr/Jul/Oct) at {settings.local_finetune_time}",
    }
    with pytest.raises(NotFound, match="metrics"):
        tasks.get_task(tasks.default_registry(settings), "nope")


# --- with the database --------------------------------------------------------------------
def make_ctx(db, settings, clock, task_list=None):
    return TaskContext(db.factory, settings, clock, tasks=task_list)


def test_runs_are_recorded_and_failures_become_events(db, settings):
    clock = FixedClock(MONDAY + dt.timedelta(hours=10))
    calls = Counter()

    def ok(ctx):
        calls["ok"] += 1
        return {"n": calls["ok"], "at": ctx.clock.now()}

    def broken(ctx):
        calls["broken"] += 1
        raise RuntimeError("disk full")

    task_list = [Task("ok", ok, Every(300)), Task("broken", broken, Every(3600))]
    ctx = make_ctx(db, settings, clock, task_list)
    for _ in range(24):  # two hours, a tick every 5 minutes
        tasks.run_due(ctx, task_list, "test-runner")
        clock.advance(minutes=5)
    assert calls == {"ok": 24, "broken": 2}
    with db.session() as s:
        runs = s.scalars(select(JobRun).order_by(JobRun.id)).all()
        assert Counter((r.job, r.status) for r in runs) == {("ok", "succeeded"): 24, ("broken", "failed"): 2}
        failed = next(r for r in runs if r.job == "broken")
        assert "RuntimeError: disk full" in failed.error and failed.finished_at is not None
        assert next(r for r in runs if r.job == "ok").summary["n"] == 1
        events = s.scalars(select(Event).where(Event.kind == "job.failed")).all()
        assert len(events) == 2 and events[0].severity == "error"
        assert "broken" in events[0].subject
        health = tasks.job_health(s, settings, clock, task_list)
        assert health == {"failing": ["broken"], "overdue": []}
        listed = tasks.describe_tasks(s, settings, clock, task_list)
        assert {r["name"]: r["last_status"] for r in listed} == {"ok": "succeeded", "broken": "failed"}
        assert jobruns.recent_runs(s, "broken", limit=1)[0]["status"] == "failed"


def test_overdue_jobs_are_reported(db, settings):
    clock = FixedClock(MONDAY)
    task_list = [Task("metrics", lambda c: {}, Every(300)), Task("purge", lambda c: {}, Daily("03:00"))]
    ctx = make_ctx(db, settings, clock, task_list)
    tasks.run_due(ctx, task_list, "r1")
    clock.advance(hours=5)  # nothing ran for 5 hours: both are late
    with db.session() as s:
        assert tasks.job_health(s, settings, clock, task_list)["overdue"] == ["metrics", "purge"]
        s.commit()
    tasks.run_due(ctx, task_list, "r1")
    with db.session() as s:
        assert tasks.job_health(s, settings, clock, task_list)["overdue"] == []


def test_a_locked_job_is_skipped_and_a_done_one_is_not_rerun(db, settings):
    clock = FixedClock(MONDAY)
    calls = Counter()
    task = Task("metrics", lambda c: calls.update(["run"]) or {}, Every(300))
    ctx = make_ctx(db, settings, clock, [task])
    lease = dt.timedelta(minutes=10)
    with jobruns.job_lock(db.engine, "metrics", "other-runner", clock, lease) as got:
        assert got
        assert tasks.run_task(ctx, task, "me").status == "locked"
    assert tasks.run_task(ctx, task, "me").status == "succeeded"
    # a second runner that saw it due before the first one finished does not run it again
    assert tasks.run_task(ctx, task, "someone-else").status == "not_due"
    # by hand it runs whether due or not
    assert tasks.run_now(ctx, task, "me", actor=ADMIN).status == JobRunStatus.SUCCEEDED
    assert calls["run"] == 2
    with db.session() as s:
        assert jobruns.recent_runs(s, "metrics", limit=1)[0]["trigger"] == JobTrigger.MANUAL


def test_running_a_task_by_hand_needs_the_run_jobs_right(db, settings):
    seen = []
    task = Task("metrics", lambda c: seen.append(c.actor) or {}, Every(300))
    ctx = make_ctx(db, settings, FixedClock(MONDAY), [task])
    with pytest.raises(PermissionDenied, match="run_jobs"):
        tasks.run_now(ctx, task, "me", actor=VIEWER)
    assert seen == []
    tasks.run_now(ctx, task, "me", actor=ADMIN)
    assert seen == [ADMIN]  # the task acts as who ran it


def test_sqlite_lease_expires(db, settings):
    if db.backend != "sqlite":
        pytest.skip("leases are the SQLite mechanism")
    clock = FixedClock(MONDAY)
    lease = dt.timedelta(minutes=10)
    lock = jobruns.job_lock(db.engine, "kb_refresh", "crashed-runner", clock, lease)
    assert lock.__enter__() is True  # never released: the runner "crashed"
    with jobruns.job_lock(db.engine, "kb_refresh", "me", clock, lease) as got:
        assert not got
    clock.advance(minutes=11)
    with jobruns.job_lock(db.engine, "kb_refresh", "me", clock, lease) as got:
        assert got


def test_heartbeats_and_abandoned_runs(db, settings):
    clock = FixedClock(MONDAY)
    with db.session() as s:
        jobruns.beat(s, "host-a:1", clock, started=True)
        run = jobruns.start_run(s, "metrics", "host-a:1", clock)
        s.commit()
        clock.advance(minutes=30)
        jobruns.beat(s, "host-b:2", clock, started=True)
        assert jobruns.fail_abandoned(s, clock, dt.timedelta(minutes=5)) == 1
        s.commit()
        s.refresh(run)
        assert run.status == "failed" and "runner stopped" in run.error
        beats = {b["runner"]: b for b in jobruns.heartbeats(s, clock)}
        assert beats["host-b:2"]["alive"] and not beats["host-a:1"]["alive"]
        jobruns.stopped(s, "host-b:2", clock)
        assert not jobruns.heartbeats(s, clock)[0]["alive"]
