"""The job queue: long work (KB refresh, dataset build, fine-tune, gaps, enrichment back-fill,
demo load, experiment analysis) asked for by a person and run by the job runner.

- :func:`enqueue` adds a ``queued`` job run (a ``job_run`` row: kind in ``job``, ``params``,
  ``requested_by``); the dashboard, the API and the CLI call it and return at once.
- The runner (``python -m jobs``) calls :func:`run_next` between scheduled tasks: it claims the
  oldest queued run atomically (PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED``; SQLite a
  conditional ``UPDATE ... WHERE status = 'queued'``), takes the job's lock (the same lock as
  the scheduled task of that name, so a queued and a scheduled KB refresh never overlap) and
  runs it with a :class:`RunProgress`.
- :class:`RunProgress` keeps progress and the cancel flag on the run: ``report`` only stores
  the figures in memory; a small thread writes them in their own short transaction at most
  every ``interval`` seconds and reads ``cancel_requested``, so the job never waits on it.
- :func:`cancel` cancels a queued run at once, and asks a running one to stop (it stops at its
  next batch, keeping what it committed).

A job kind is a function ``run(ctx, params, progress) -> dict`` (``core.ops.jobkinds``); the
permission needed to enqueue it is in :data:`KIND_PERMISSIONS` (every scheduled task may also
be enqueued by name, with ``run_jobs``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.access import auth
from core.ops import jobruns
from core.platform import events
from core.platform.actors import SYSTEM, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.db import session_scope
from core.platform.errors import Conflict, NotFound, ValidationError
from core.platform.models import JobRun
from core.platform.progress import JobCancelled, Progress
from core.platform.statuses import JobRunStatus, JobTrigger, Severity

# The long actions a person enqueues, and the right each needs (the demo's kind is added by the
# runner process, above ops, but its permission is known here so enqueue can check it).
KIND_PERMISSIONS: dict[str, str] = {
    "kb_refresh": "manage_kb",
    "dataset_build": "build_dataset",
    "dataset_export": "build_dataset",
    "finetune": "launch_finetune",
    "embedding_finetune": "launch_finetune",
    "gaps_refresh": "manage_kb",
    "enrich_backfill": "run_jobs",
    "experiment_analysis": "manage_experiments",
    "demo_load": "run_jobs",
}
OPEN_STATUSES = (JobRunStatus.QUEUED, JobRunStatus.RUNNING)
SYSTEM_NAMES = frozenset({SYSTEM.name, "cli"})  # actors with no account (the runner, the shell operator)


class RunnerStopped(BaseException):
    """Raised in the runner's main thread when it must stop now (SIGTERM after the grace time)."""


@dataclass(frozen=True)
class JobKind:
    """A long action the runner executes from the queue."""

    name: str
    run: Callable[[Any, dict[str, Any], Progress], dict[str, Any]]
    description: str = ""


def permission_for(kind: str, task_names: set[str] | frozenset[str] = frozenset()) -> str:
    """The right needed to enqueue ``kind``: the action's own, else ``run_jobs`` for a task."""
    if kind in KIND_PERMISSIONS:
        return KIND_PERMISSIONS[kind]
    if kind in task_names:
        return "run_jobs"
    known = sorted(set(KIND_PERMISSIONS) | set(task_names))
    raise ValidationError(f"No job kind {kind!r}; kinds: {', '.join(known)}.")


# --- asking ----------------------------------------------------------------------------------
def enqueue(
    session: Session,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    actor: Actor,
    clock: Clock | None = None,
    task_names: set[str] | frozenset[str] = frozenset(),
) -> JobRun:
    """Queue ``kind`` with ``params`` (JSON-able) for the runner; ``actor`` needs the kind's
    right (:data:`KIND_PERMISSIONS`, or ``run_jobs`` for a scheduled task in ``task_names``).
    Returns the queued run (flushed, so it has its id)."""
    require(actor, permission_for(kind, task_names))
    params = dict(params or {})
    try:
        params = json.loads(json.dumps(params))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"Job parameters must be plain values (text, numbers, lists): {exc}") from exc
    now = (clock or SystemClock()).now()
    run = JobRun(job=kind, trigger=JobTrigger.QUEUE, runner="", status=JobRunStatus.QUEUED, started_at=now,
                 queued_at=now, summary={}, params=params, requested_by=actor.name, progress_done=0,
                 cancel_requested=False)
    session.add(run)
    session.flush()
    return run


def cancel(session: Session, run_id: int, *, actor: Actor, clock: Clock | None = None) -> dict[str, Any]:
    """Cancel a queued run now, or ask a running one to stop at its next batch. NotFound for an
    unknown id, Conflict for a run that already finished."""
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"Job run {run_id} does not exist.")
    require(actor, KIND_PERMISSIONS.get(run.job, "run_jobs"))
    if run.status not in OPEN_STATUSES:
        raise Conflict(f"Job run {run_id} already finished ({run.status}); there is nothing to cancel.")
    now = (clock or SystemClock()).now()
    if run.status == JobRunStatus.QUEUED:
        result = session.execute(
            update(JobRun).where(JobRun.id == run_id, JobRun.status == JobRunStatus.QUEUED)
            .values(status=JobRunStatus.CANCELLED, finished_at=now, cancel_requested=True,
                    error=f"Cancelled by {actor.name} before it started.")
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            session.expire(run)
            return run_as_dict(session.get(JobRun, run_id))
        session.refresh(run)  # a runner claimed it meanwhile: ask it to stop
    run.cancel_requested = True
    run.progress_message = f"cancel requested by {actor.name}"
    session.flush()
    return run_as_dict(run)


# --- reading ---------------------------------------------------------------------------------
def run_as_dict(run: JobRun) -> dict[str, Any]:
    """A run with its progress as plain data (``percent`` when the total is known)."""
    out = jobruns.run_as_dict(run)
    total = run.progress_total
    out.update(
        params=run.params or {}, requested_by=run.requested_by,
        queued_at=run.queued_at.isoformat() if run.queued_at else None,
        progress_done=run.progress_done or 0, progress_total=total, progress_message=run.progress_message,
        percent=round(100.0 * (run.progress_done or 0) / total, 1) if total else None,
        cancel_requested=bool(run.cancel_requested),
    )
    if run.status == JobRunStatus.QUEUED:
        out["started_at"] = None
    return out


def table_rows(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open runs as the dashboard's job table shows them (``progress`` 0..1)."""
    rows = []
    for r in runs:
        cancelling = r["cancel_requested"] and r["status"] == JobRunStatus.RUNNING
        rows.append({
            "run": r["id"], "job": r["job"], "status": r["status"] + (" (cancelling)" if cancelling else ""),
            "progress": (r["percent"] or 0.0) / 100,
            "done": f"{r['progress_done']}/{r['progress_total'] or '?'}", "now": r["progress_message"] or "",
            "requested by": r["requested_by"],
            "queued at": (r["queued_at"] or "")[:19],
        })
    return rows


def get_run(session: Session, run_id: int) -> dict[str, Any]:
    """One job run with its progress; NotFound for an unknown id."""
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"Job run {run_id} does not exist.")
    return run_as_dict(run)


def list_runs(
    session: Session, *, statuses: tuple[str, ...] | None = None, trigger: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Job runs newest first (only ``statuses`` / ``trigger`` when given), with progress."""
    q = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if statuses:
        q = q.where(JobRun.status.in_(statuses))
    if trigger:
        q = q.where(JobRun.trigger == trigger)
    return [run_as_dict(r) for r in session.scalars(q)]


def open_runs(session: Session, limit: int = 100) -> list[dict[str, Any]]:
    """Queued and running runs (oldest first): what the dashboard and ``jobs list`` show."""
    q = select(JobRun).where(JobRun.status.in_(OPEN_STATUSES)).order_by(JobRun.id).limit(limit)
    return [run_as_dict(r) for r in session.scalars(q)]


def wait(
    factory: sessionmaker[Session],
    run_id: int,
    *,
    on_progress: Callable[[dict[str, Any]], None] | None = None,
    poll_seconds: float = 0.5,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Follow a run until it finishes (``on_progress`` gets each reading); returns the last
    reading. TimeoutError after ``timeout`` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        with factory() as s:
            run = get_run(s, run_id)
        if on_progress:
            on_progress(run)
        if run["status"] not in OPEN_STATUSES:
            return run
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"Job run {run_id} is still {run['status']} after {timeout} s.")
        time.sleep(poll_seconds)


# --- progress --------------------------------------------------------------------------------
class RunProgress:
    """The :class:`Progress` of a running job run. ``report`` and ``cancelled`` never touch the
    database: a thread writes the latest figures (own short transaction, at most every
    ``interval`` seconds) and reads the cancel flag. ``stopping`` (the runner's stop flag)
    also counts as a cancel."""

    def __init__(self, factory: sessionmaker[Session], run_id: int, *, interval: float = 0.5,
                 stopping: Callable[[], bool] | None = None):
        self.factory, self.run_id, self.interval = factory, run_id, interval
        self.stopping = stopping or (lambda: False)
        self._lock = threading.Lock()
        self._pending: tuple[int, int | None, str] | None = None
        self._cancel = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def report(self, done: int, total: int | None = None, message: str = "") -> None:
        with self._lock:
            self._pending = (int(done), None if total is None else int(total), str(message)[:500])

    def cancelled(self) -> bool:
        return self._cancel or self.stopping()

    def start(self) -> RunProgress:
        self._thread = threading.Thread(target=self._loop, name=f"progress-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and write the last figures."""
        self._done.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()

    def _loop(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - a missed progress write is not fatal; next one tries again
                pass

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, None
        values: dict[str, Any] = {"progress_at": SystemClock().now()}
        if pending is not None:
            values.update(progress_done=pending[0], progress_total=pending[1], progress_message=pending[2])
        with session_scope(self.factory) as s:
            if pending is not None:
                s.execute(update(JobRun).where(JobRun.id == self.run_id).values(**values)
                          .execution_options(synchronize_session=False))
            self._cancel = bool(s.scalar(select(JobRun.cancel_requested).where(JobRun.id == self.run_id)))


# --- running ---------------------------------------------------------------------------------
def _claim(session: Session, run_id: int, runner: str, clock: Clock) -> bool:
    """Take queued run ``run_id`` for ``runner`` (False when another runner took it first)."""
    if session.get_bind().dialect.name == "postgresql":
        mine = select(JobRun.id).where(JobRun.id == run_id, JobRun.status == JobRunStatus.QUEUED)
        row = session.scalar(mine.with_for_update(skip_locked=True))
        if row is None:
            return False
    result = session.execute(
        update(JobRun).where(JobRun.id == run_id, JobRun.status == JobRunStatus.QUEUED)
        .values(status=JobRunStatus.RUNNING, runner=runner, started_at=clock.now())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _actor(session: Session, name: str | None) -> Actor:
    """Who a queued run acts as: the account that asked for it (checked again now)."""
    if not name or name in SYSTEM_NAMES:
        return dataclasses.replace(SYSTEM, name=name or SYSTEM.name)
    return auth.actor_for(session, name)


def queued_ids(session: Session, kinds: set[str]) -> list[tuple[int, str]]:
    """Queued runs of ``kinds``, oldest first."""
    q = (select(JobRun.id, JobRun.job).where(JobRun.status == JobRunStatus.QUEUED, JobRun.job.in_(kinds))
         .order_by(JobRun.id))
    return [(i, j) for i, j in session.execute(q)]


def run_next(
    ctx: Any,
    kinds: dict[str, JobKind],
    runner: str,
    *,
    stopping: Callable[[], bool] | None = None,
    on_start: Callable[[int, str], None] | None = None,
    progress_interval: float = 0.5,
) -> dict[str, Any] | None:
    """Claim and run the oldest queued run of ``kinds`` whose job lock is free; None when there
    is none. ``ctx`` is a ``core.ops.tasks.TaskContext``. The run ends ``succeeded``,
    ``failed`` (with a ``job.failed`` event) or ``cancelled``; a :class:`RunnerStopped` ends it
    failed with the reason and is raised again."""
    lease = dt.timedelta(minutes=ctx.settings.job_lease_minutes)
    with ctx.session() as s:
        candidates = queued_ids(s, set(kinds))
    for run_id, kind in candidates:
        with jobruns.job_lock(ctx.engine, kind, runner, ctx.clock, lease) as got:
            if not got:
                continue
            with ctx.session() as s:
                if not _claim(s, run_id, runner, ctx.clock):
                    continue
            if on_start:
                on_start(run_id, kind)
            return _execute(ctx, kinds[kind], run_id, stopping, progress_interval)
    return None


def _execute(ctx: Any, kind: JobKind, run_id: int, stopping: Callable[[], bool] | None,
             interval: float) -> dict[str, Any]:
    progress = RunProgress(ctx.session_factory, run_id, interval=interval, stopping=stopping).start()
    status, error, summary = JobRunStatus.SUCCEEDED, None, {}
    try:
        with ctx.session() as s:
            run = s.get(JobRun, run_id)
            params, actor = dict(run.params or {}), _actor(s, run.requested_by)
        summary = _jsonable(kind.run(dataclasses.replace(ctx, actor=actor), params, progress))
    except JobCancelled as exc:
        status = JobRunStatus.CANCELLED
        error = ("The runner was stopping (SIGTERM); the run was cancelled. " if stopping and stopping()
                 else "") + str(exc)
    except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised if not an Exception
        status = JobRunStatus.FAILED
        if isinstance(exc, RunnerStopped):
            error = f"The runner was stopped during this run ({exc})."
        else:
            error = f"{type(exc).__name__}: {exc}\n" + "".join(traceback.format_exception(exc)[-5:])[-4000:]
        _finish(ctx, progress, run_id, kind.name, status, error, summary)
        if not isinstance(exc, Exception):
            raise
        return _result(ctx, run_id)
    _finish(ctx, progress, run_id, kind.name, status, error, summary)
    return _result(ctx, run_id)


def _finish(ctx: Any, progress: RunProgress, run_id: int, kind: str, status: str, error: str | None,
            summary: dict[str, Any]) -> None:
    try:
        progress.stop()
    except Exception:  # noqa: BLE001 - the outcome matters more than the last progress figure
        pass
    with ctx.session() as s:
        jobruns.finish_run(s, run_id, status, ctx.clock, error=error, summary=summary)
        if status == JobRunStatus.FAILED:
            first = (error or "").splitlines()[0] if error else ""
            events.record(s, "job.failed", f"Job {kind} (run {run_id}) failed: {first}"[:300],
                          severity=Severity.ERROR, clock=ctx.clock,
                          details={"job": kind, "run_id": run_id, "error": first[:2000]})


def _result(ctx: Any, run_id: int) -> dict[str, Any]:
    with ctx.session() as s:
        return get_run(s, run_id)


def _jsonable(result: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    if not isinstance(result, dict):
        result = {"result": result}
    return json.loads(json.dumps(result, default=str))
