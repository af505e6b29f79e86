"""Job runs, job locks and runner heartbeats: the bookkeeping of background tasks.

- Every run of a task is a ``job_run`` row (job, trigger, runner, status, start, end, error,
  summary JSON), written in its own short transactions so other runners and the dashboard
  see a run while it is going. Runs asked for by a person start ``queued`` with their
  params and progress (``core.ops.queue``).
- ``job_lock`` keeps two runners from running one job at once: a PostgreSQL advisory lock
  (``pg_try_advisory_lock`` on a 64-bit hash of the job name, held by a dedicated connection
  and freed by the server if the process dies), or on SQLite a lease on the job's
  ``job_state`` row that expires after ``job_lease_minutes``.
- ``job_state.first_seen_at`` anchors calendar schedules of jobs that never ran.
- ``runner_heartbeat`` says which runners are alive and what they are doing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.platform.clock import Clock
from core.platform.db import session_scope
from core.platform.models import JobRun, JobState, RunnerHeartbeat
from core.platform.statuses import JobRunStatus, JobTrigger


def runner_id() -> str:
    """A name for this process: host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --- job runs -----------------------------------------------------------------------------
def start_run(
    session: Session, job: str, runner: str, clock: Clock, trigger: str = JobTrigger.SCHEDULE
) -> JobRun:
    """Add a running job_run row (the caller commits it before the work starts)."""
    run = JobRun(job=job, trigger=trigger, runner=runner, status=JobRunStatus.RUNNING, started_at=clock.now(),
                 summary={})
    session.add(run)
    session.flush()
    return run


def finish_run(
    session: Session,
    run_id: int,
    status: str,
    clock: Clock,
    *,
    error: str | None = None,
    summary: dict[str, Any] | None = None,
) -> JobRun:
    """Close a run as succeeded or failed with its error and summary."""
    run = session.get(JobRun, run_id)
    run.status = status
    run.finished_at = clock.now()
    run.error = error
    run.summary = summary or {}
    session.flush()
    return run


def last_started(session: Session) -> dict[str, dt.datetime]:
    """When each job last started (any trigger, any outcome)."""
    q = (select(JobRun.job, func.max(JobRun.started_at))
         .where(JobRun.status != JobRunStatus.QUEUED, JobRun.runner != "")  # not queued, not cancelled unrun
         .group_by(JobRun.job))
    return {job: at for job, at in session.execute(q)}


def latest_runs(session: Session) -> dict[str, JobRun]:
    """The newest run of each job."""
    newest = select(JobRun.job, func.max(JobRun.id).label("id")).group_by(JobRun.job).subquery()
    rows = session.scalars(select(JobRun).join(newest, newest.c.id == JobRun.id))
    return {r.job: r for r in rows}


def latest_finished(session: Session) -> dict[str, JobRun]:
    """The newest finished (succeeded or failed) run of each job."""
    newest = (
        select(JobRun.job, func.max(JobRun.id).label("id"))
        .where(JobRun.status.not_in((JobRunStatus.RUNNING, JobRunStatus.QUEUED)))
        .group_by(JobRun.job)
        .subquery()
    )
    rows = session.scalars(select(JobRun).join(newest, newest.c.id == JobRun.id))
    return {r.job: r for r in rows}


def run_as_dict(run: JobRun) -> dict[str, Any]:
    """A run as plain data (times as ISO strings, ``seconds`` it took)."""

    def iso(v: dt.datetime | None) -> str | None:
        return v.isoformat() if v else None

    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "id": run.id, "job": run.job, "trigger": run.trigger, "runner": run.runner,
        "status": run.status, "started_at": iso(run.started_at), "finished_at": iso(run.finished_at),
        "seconds": seconds, "error": run.error, "summary": run.summary or {},
    }


def recent_runs(session: Session, job: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Runs newest first, optionally of one job."""
    q = select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if job:
        q = q.where(JobRun.job == job)
    return [run_as_dict(r) for r in session.scalars(q)]


def fail_abandoned(session: Session, clock: Clock, older_than: dt.timedelta) -> int:
    """Mark 'running' runs of runners not seen for ``older_than`` as failed (the process died).
    Every live runner calls it with its heartbeat, so an abandoned run is failed within a few
    minutes, not only when a runner next starts."""
    cutoff = clock.now() - older_than
    alive = select(RunnerHeartbeat.runner).where(
        RunnerHeartbeat.last_seen_at >= cutoff, RunnerHeartbeat.stopped_at.is_(None)
    )
    result = session.execute(
        update(JobRun)
        .where(JobRun.status == JobRunStatus.RUNNING, JobRun.started_at < cutoff, JobRun.runner.not_in(alive))
        .values(status=JobRunStatus.FAILED, finished_at=clock.now(),
                error="The runner stopped during this run.")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


# --- job state (first seen, SQLite leases) ---------------------------------------------------
def _insert_ignore(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    ins = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(ins(JobState).values(rows).on_conflict_do_nothing(index_elements=["job"]))


def first_seen(session: Session, jobs: Iterable[str], clock: Clock) -> dict[str, dt.datetime]:
    """When each job was first seen by a runner (recorded now for jobs never seen)."""
    jobs = list(jobs)
    known = {job: at for job, at in session.execute(select(JobState.job, JobState.first_seen_at))}
    missing = [{"job": j, "first_seen_at": clock.now()} for j in jobs if j not in known]
    if missing:
        _insert_ignore(session, missing)
        known = {job: at for job, at in session.execute(select(JobState.job, JobState.first_seen_at))}
    return {j: known[j] for j in jobs if j in known}


def set_first_seen(session: Session, job: str, when: dt.datetime) -> None:
    """Move a job's anchor (used by tests and to re-anchor a calendar job)."""
    _insert_ignore(session, [{"job": job, "first_seen_at": when}])
    session.execute(update(JobState).where(JobState.job == job).values(first_seen_at=when))


# --- locks ------------------------------------------------------------------------------------
def advisory_key(job: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock``."""
    digest = hashlib.sha256(f"supportloop.job:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def job_lock(
    engine: Engine, job: str, owner: str, clock: Clock, lease: dt.timedelta
) -> Iterator[bool]:
    """Try to take ``job``'s lock without waiting; yields whether it was taken. Released at
    the end of the block (on PostgreSQL also when the process dies, on SQLite when the lease
    expires)."""
    if engine.dialect.name == "postgresql":
        conn = engine.connect()
        try:
            key = advisory_key(job)
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    conn.commit()
        finally:
            conn.close()
        return

    with Session(engine) as s, s.begin():
        _insert_ignore(s, [{"job": job, "first_seen_at": clock.now()}])
        now = clock.now()
        result = s.execute(
            update(JobState)
            .where(
                JobState.job == job,
                (JobState.lease_owner.is_(None))
                | (JobState.lease_expires_at < now)
                | (JobState.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        got = result.rowcount == 1
    try:
        yield got
    finally:
        if got:
            with Session(engine) as s, s.begin():
                s.execute(
                    update(JobState)
                    .where(JobState.job == job, JobState.lease_owner == owner)
                    .values(lease_owner=None, lease_expires_at=None)
                    .execution_options(synchronize_session=False)
                )


# --- heartbeats -------------------------------------------------------------------------------
_PID = re.compile(r"[0-9]{1,9}")  # ASCII digits only (str.isdigit takes "¹" and other scripts' digits)


def _pid(text: str) -> int:
    """The process id a runner name ends with (``host:pid``); 0 when it holds none (the column is
    a 32-bit integer: nine digits at most)."""
    return int(text) if _PID.fullmatch(text) else 0


def beat(
    session: Session, runner: str, clock: Clock, *, current_job: str | None = None, started: bool = False
) -> None:
    """Record that ``runner`` is alive (and what it runs). ``started`` resets its start time."""
    row = session.get(RunnerHeartbeat, runner)
    now = clock.now()
    if row is None:
        host, _, pid = runner.rpartition(":")
        row = RunnerHeartbeat(runner=runner, host=host or runner, pid=_pid(pid),
                              started_at=now, last_seen_at=now)
        session.add(row)
    if started:
        row.started_at = now
        row.stopped_at = None
    row.last_seen_at = now
    row.current_job = current_job
    session.flush()


@contextmanager
def beating(
    factory: sessionmaker[Session], runner: str, clock: Clock, *, current_job: str | None = None,
    every: float = 15.0,
) -> Iterator[None]:
    """Beat for ``runner`` every ``every`` seconds while the block runs (a command that runs a
    task itself, so a runner's heartbeat does not take its run for abandoned); records the stop."""
    done = threading.Event()

    def loop() -> None:
        while True:
            try:
                with session_scope(factory) as s:
                    beat(s, runner, clock, current_job=current_job)
            except Exception:  # noqa: BLE001 - a missed beat is not fatal
                pass
            if done.wait(every):
                return

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)
        with session_scope(factory) as s:
            stopped(s, runner, clock)


def stopped(session: Session, runner: str, clock: Clock) -> None:
    """Record that ``runner`` stopped cleanly."""
    row = session.get(RunnerHeartbeat, runner)
    if row is not None:
        row.stopped_at = clock.now()
        row.last_seen_at = clock.now()
        row.current_job = None
        session.flush()


def heartbeats(
    session: Session, clock: Clock, alive_within: dt.timedelta = dt.timedelta(minutes=2)
) -> list[dict]:
    """Every runner with whether it looks alive (seen within ``alive_within`` and not stopped)."""
    now = clock.now()
    out = []
    for r in session.scalars(select(RunnerHeartbeat).order_by(RunnerHeartbeat.last_seen_at.desc())):
        out.append({
            "runner": r.runner, "host": r.host, "pid": r.pid,
            "started_at": r.started_at.isoformat(), "last_seen_at": r.last_seen_at.isoformat(),
            "current_job": r.current_job,
            "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None,
            "alive": r.stopped_at is None and now - r.last_seen_at <= alive_within,
        })
    return out
