"""The runner and the job queue as real processes: SIGTERM in every mode, the heartbeat failing
abandoned runs, queued runs end to end."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from core.ops import jobruns, queue
from core.ops.tasks import TaskContext
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from core.platform.models import JobRun, JobState, RunnerHeartbeat
from core.platform.statuses import JobRunStatus
from jobs.runner import Runner

ROOT = Path(__file__).resolve().parents[2]


def _env(db, tmp_path: Path) -> dict:
    return dict(
        os.environ,
        SUPPORTLOOP_DATABASE_URL=db.url,
        SUPPORTLOOP_DATA_DIR=str(tmp_path / "var"),
        SUPPORTLOOP_INDEX_DIR=str(tmp_path / "var" / "indexes"),
        SUPPORTLOOP_JOBS_TICK_SECONDS="0.5",
        FAKE_TASKS_OUT=str(tmp_path / "marks.txt"),
        PYTHONPATH=str(ROOT),
    )


def _jobs(*args: str, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(db, proc, predicate, what: str, timeout: float = 90) -> JobRun:
    deadline = time.monotonic() + timeout
    while True:
        with db.session() as s:
            for run in s.scalars(select(JobRun).order_by(JobRun.id)):
                if predicate(run):
                    return run
        assert proc is None or proc.poll() is None, proc.stdout.read()
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _lock_is_free(db, job: str) -> bool:
    with jobruns.job_lock(db.engine, job, "test:other", SystemClock(), dt.timedelta(minutes=5)) as got:
        return got


def test_sigterm_during_once_fails_the_run_and_releases_its_lock(db, tmp_path):
    proc = _jobs("--once", "sleepy", "--tasks", "tests.jobs.fake_tasks:sleepy_registry", "--stop-grace", "1",
                 env=_env(db, tmp_path), cwd=tmp_path)
    try:
        _wait_for(db, proc, lambda r: r.job == "sleepy" and r.status == JobRunStatus.RUNNING, "the run")
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, output
    assert time.monotonic() - started < 30  # not the task's 60 s
    with db.session() as s:
        run = s.scalars(select(JobRun)).one()
        assert run.status == JobRunStatus.FAILED and "SIGTERM" in run.error and run.finished_at is not None
        state = s.get(JobState, "sleepy")
        assert state is None or state.lease_owner is None
        beat = s.scalars(select(RunnerHeartbeat)).one()
        assert beat.stopped_at is not None
    assert _lock_is_free(db, "sleepy")


def test_sigterm_cancels_a_queued_run_at_its_next_batch(db, tmp_path):
    with db.session() as s:
        run_id = queue.enqueue(s, "batches", {}, actor=SYSTEM, task_names={"batches"}).id
        s.commit()
    proc = _jobs("--tasks", "tests.jobs.fake_tasks:sleepy_registry", "--stop-grace", "1",
                 "--kinds", "tests.jobs.fake_tasks:batch_kinds", env=_env(db, tmp_path), cwd=tmp_path)
    try:
        # the scheduled "sleepy" task is due at start-up and runs first; stop it quickly instead
        _wait_for(db, proc, lambda r: r.job == "sleepy" and r.status == JobRunStatus.RUNNING, "sleepy")
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    # the scheduled task did not check for a stop: interrupted after the grace time, failed
    assert proc.returncode == 143, output
    with db.session() as s:
        sleepy = s.scalars(select(JobRun).where(JobRun.job == "sleepy")).one()
        assert sleepy.status == JobRunStatus.FAILED and "SIGTERM" in sleepy.error
        assert s.get(JobRun, run_id).status == JobRunStatus.QUEUED  # never started: still queued

    proc = _jobs("--tasks", "tests.jobs.fake_tasks:registry", "--kinds", "tests.jobs.fake_tasks:batch_kinds",
                 env=_env(db, tmp_path), cwd=tmp_path)
    try:
        _wait_for(db, proc, lambda r: r.id == run_id and r.status == JobRunStatus.RUNNING
                  and r.progress_done > 2, "the queued run to make progress")
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    with db.session() as s:
        run = s.get(JobRun, run_id)
        assert run.status == JobRunStatus.CANCELLED and "SIGTERM" in run.error, run.error
        assert 2 < run.progress_done < 1200
    assert _lock_is_free(db, "batches")
    assert f"run {run_id}: batches started" in output and "cancelled" in output
    assert "alpha succeeded" not in output  # scheduled successes are not logged (quiet logs)


def test_the_heartbeat_fails_runs_of_runners_that_stopped_beating(db, settings):
    clock = SystemClock()
    long_ago = clock.now() - dt.timedelta(minutes=10)
    with db.session() as s:
        s.add(RunnerHeartbeat(runner="gone:1", host="gone", pid=1, started_at=long_ago,
                              last_seen_at=long_ago))
        s.commit()
    runner = Runner(TaskContext(db.factory, settings, clock), [], runner="test:1", heartbeat_seconds=0.05)
    runner.start()  # nothing abandoned yet
    with db.session() as s:
        s.add(JobRun(job="kb_refresh", trigger="queue", runner="gone:1", status=JobRunStatus.RUNNING,
                     started_at=long_ago, summary={}, params={}))
        s.commit()
    runner.start_heartbeat()
    try:
        run = _wait_for(db, None, lambda r: r.job == "kb_refresh" and r.status == JobRunStatus.FAILED,
                        "the heartbeat to fail the abandoned run", timeout=30)
    finally:
        runner.finish()
    assert "runner stopped" in run.error
