"""The runner as processes (`python -m jobs`) and in-process with an injected clock."""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from core.ops import jobruns
from core.ops.schedules import Every, Weekly
from core.ops.tasks import Task, TaskContext
from core.platform.clock import FixedClock, SystemClock
from core.platform.models import JobRun, RunnerHeartbeat
from jobs.__main__ import leave_a_core
from jobs.runner import Runner

ROOT = Path(__file__).resolve().parents[2]


def _env(db, tmp_path: Path, out: Path) -> dict:
    return dict(
        os.environ,
        SUPPORTLOOP_DATABASE_URL=db.url,
        SUPPORTLOOP_DATA_DIR=str(tmp_path / "var"),
        SUPPORTLOOP_INDEX_DIR=str(tmp_path / "var" / "indexes"),
        SUPPORTLOOP_JOBS_TICK_SECONDS="0.5",
        FAKE_TASKS_OUT=str(out),
        PYTHONPATH=str(ROOT),
    )


def _jobs(*args: str, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "jobs", *args], env=env, cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _runs(db) -> list[JobRun]:
    with db.session() as s:
        return list(s.scalars(select(JobRun).order_by(JobRun.id)))


def test_two_runners_at_once_run_each_job_once(db, tmp_path):
    out = tmp_path / "marks.txt"
    with db.session() as s:  # the daily job was first seen two days ago: it is due
        jobruns.set_first_seen(s, "gamma", SystemClock().now() - dt.timedelta(days=2))
        s.commit()
    env = _env(db, tmp_path, out)
    procs = [_jobs("--due", "--tasks", "tests.jobs.fake_tasks:registry", env=env, cwd=tmp_path)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = _runs(db)
    assert Counter(r.job for r in runs) == {"alpha": 1, "beta": 1, "gamma": 1}
    assert {r.status for r in runs} == {"succeeded"}
    marks = out.read_text().split()
    assert sorted(marks[::2]) == ["alpha", "beta", "gamma"]
    statuses = Counter(json.loads(line)["status"] for o in outputs for line in o.splitlines()
                       if line.startswith("{"))
    assert statuses["succeeded"] == 3


def test_sigterm_lets_the_current_job_finish_then_exits(db, tmp_path):
    out = tmp_path / "marks.txt"
    proc = _jobs("--tasks", "tests.jobs.fake_tasks:slow_registry", env=_env(db, tmp_path, out), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while not any(r.job == "slow" and r.status == "running" for r in _runs(db)):
            assert time.monotonic() < deadline and proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    runs = _runs(db)
    assert [(r.job, r.status) for r in runs] == [("slow", "succeeded")]  # "after" never started
    assert out.read_text().split()[0] == "slow"
    with db.session() as s:
        beat = s.scalars(select(RunnerHeartbeat)).one()
        assert beat.stopped_at is not None and beat.current_job is None


def test_list_and_once(db, tmp_path):
    if db.backend == "postgresql":
        pytest.skip("the command line is the same on both databases; one is enough")
    env = _env(db, tmp_path, tmp_path / "marks.txt")
    listing = subprocess.run([sys.executable, "-m", "jobs", "--list"], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert "metrics" in listing.stdout and "every 5 min" in listing.stdout
    once = subprocess.run([sys.executable, "-m", "jobs", "--once", "metrics"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert once.returncode == 0, once.stderr
    assert json.loads(once.stdout.splitlines()[-1])["status"] == "succeeded"
    (run,) = _runs(db)
    assert run.job == "metrics" and run.trigger == "manual" and "rollup" in run.summary
    bad = subprocess.run([sys.executable, "-m", "jobs", "--once", "nope"], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "No task named 'nope'" in bad.stderr


def test_in_process_runner_catches_up_a_missed_weekly_run(db, settings):
    clock = FixedClock(dt.datetime(2026, 3, 15, 2, 0))  # Sunday 02:00
    calls = Counter()
    weekly = Task("kb_refresh", lambda ctx: calls.update(["kb"]) or {}, Weekly("02:00", weekday=6))
    every = Task("metrics", lambda ctx: calls.update(["metrics"]) or {}, Every(300))
    with db.session() as s:
        jobruns.set_first_seen(s, "kb_refresh", clock.now() - dt.timedelta(days=30))
        s.commit()
    ctx = TaskContext(db.factory, settings, clock)
    runner = Runner(ctx, [weekly, every], runner="test:1")
    runner.start()
    assert {r.job for r in runner.tick()} == {"kb_refresh", "metrics"}
    # down from Monday to the next Monday 09:00: the missed Sunday refresh runs once at start-up
    clock.set(dt.datetime(2026, 3, 23, 9, 0))
    runner.start()
    assert [r.job for r in runner.tick() if r.job == "kb_refresh"] == ["kb_refresh"]
    for _ in range(12):
        clock.advance(minutes=5)
        runner.tick()
    assert calls["kb"] == 2 and calls["metrics"] == 14
    runner.request_stop()
    assert runner.tick() == []
    with db.session() as s:
        beat = s.get(RunnerHeartbeat, "test:1")
        assert beat.last_seen_at == clock.now() and beat.current_job is None


@pytest.mark.parametrize("signame", ["SIGINT"])
def test_signal_handler_sets_stop(db, settings, signame):
    runner = Runner(TaskContext(db.factory, settings, FixedClock(dt.datetime(2026, 3, 16))), [])
    runner.request_stop(getattr(signal, signame), None)
    assert runner.stopping


def test_the_runner_leaves_a_core_to_the_api(monkeypatch):
    """Models in the runner compute on all cores but one unless OMP_NUM_THREADS says otherwise."""
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    assert leave_a_core() == 3 and os.environ["OMP_NUM_THREADS"] == "3"
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # set by the operator: kept
    assert leave_a_core() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert leave_a_core() == 1  # one core: it still computes
