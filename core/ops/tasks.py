"""The registry of background tasks, and running them.

A task is a name, a function of a :class:`TaskContext` returning a JSON-able summary, and a
schedule (``core.ops.schedules``). What is due is computed from the job_run table (when each
job last started) and an injected clock, so a week of schedule decisions is tested in
milliseconds. The job runner (``python -m jobs``) goes through :func:`run_due` and
:func:`run_task`, which take the job's lock, record a job_run row and record a ``job.failed``
event when the task raises; a person runs one task on demand with :func:`run_now` (the
``run_jobs`` right).

Adding a task: write an adapter ``def my_task(ctx: TaskContext) -> dict`` here, calling the
core function it runs, and add a :class:`TaskSpec` to ``TASK_SPECS``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.answering.routing import production_embedder
from core.conversations.lifecycle import IDLE_BATCH, close_idle
from core.conversations.retention import purge
from core.enrichment.enrich import backfill, get_enricher, retrain
from core.enrichment.gaps import refresh_gaps
from core.experiments.lifecycle import check_running_experiments
from core.knowledge.refresh import weekly_refresh
from core.knowledge.staleness import flag_stale_chunks
from core.knowledge.versions import prune_index_files
from core.learning.agent_answers import propose_agent_answers
from core.ops import alerts, jobruns, queue
from core.ops.rollup import rollup
from core.ops.schedules import (
    Calendar,
    Daily,
    Every,
    Quarterly,
    Schedule,
    Weekly,
    parse_time,
    weekday_number,
    zone,
)
from core.platform import events, notify
from core.platform.actors import SYSTEM, Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.db import commit_batch, session_scope
from core.platform.embeddings import get_embedder
from core.platform.errors import NotFound
from core.platform.pii import get_scrubber
from core.platform.services import Embedder, Notifier
from core.platform.statuses import JobRunStatus, JobTrigger, Severity
from core.review.delivery import retry_due
from core.review.queue import refresh_queue
from core.training.builder import build_quarterly
from core.training.finetune.polling import poll_task

EMBEDDING_FINETUNE = "embedding_finetune"  # the quarterly task queues the job kind of this name


# --- context ------------------------------------------------------------------------------
@dataclass
class TaskContext:
    """What a task may ask for. Everything slow is created on first use and kept. ``actor``
    is who the task acts as: the system for scheduled runs, the person for a run on demand."""

    session_factory: sessionmaker[Session]
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    notifier_factory: Callable[[], Notifier] | None = None
    embedder_loader: Callable[[], Embedder] | None = None
    actor: Actor = SYSTEM
    tasks: list[Task] | None = None  # the registry the runner uses (None: the default one)
    _notifier: Notifier | None = None
    _embedder: Embedder | None = None

    def session(self) -> AbstractContextManager[Session]:
        """One transaction (committed at the end of the block)."""
        return session_scope(self.session_factory)

    @property
    def engine(self) -> Engine:
        return self.session_factory.kw["bind"]

    def notifier(self) -> Notifier:
        if self._notifier is None:
            factory = self.notifier_factory or (lambda: notify.Notifier(self.settings))
            self._notifier = factory()
        return self._notifier

    def base_embedder(self) -> Embedder:
        """The embedder of the settings (or of ``embedder_loader``), loaded once."""
        if self._embedder is None:
            loader = self.embedder_loader or (lambda: get_embedder(self.settings))
            self._embedder = loader()
        return self._embedder

    def embedder(self) -> Embedder:
        """The embedder production serves: an embedding model an experiment promoted, else
        ``base_embedder`` (read at every call, so a promotion or rollback is followed without
        restarting the runner)."""
        with self.session() as s:
            return production_embedder(s, self.settings, base=self.base_embedder)


@dataclass(frozen=True)
class Task:
    name: str
    run: Callable[[TaskContext], dict[str, Any]]
    schedule: Schedule
    description: str = ""


@dataclass(frozen=True)
class TaskSpec:
    """A task of the default registry, its schedule read from the settings."""

    name: str
    run: Callable[[TaskContext], dict[str, Any]]
    schedule: Callable[[Settings], Schedule]
    description: str


def _summary(result: Any) -> dict[str, Any]:
    """A JSON-able summary of whatever a core function returned."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    if not isinstance(result, dict):
        result = {"result": result}
    return json.loads(json.dumps(result, default=str))


def warm_scrubber(settings: Settings) -> Any:
    """The PII scrubber, its analyzer loaded now (tens of seconds the first time): before a
    transaction opens, so no write lock is held while it loads."""
    scrubber = get_scrubber(settings)
    scrubber.scrub("warm-up")
    return scrubber


# --- the tasks ------------------------------------------------------------------------------
def metrics_and_alerts(ctx: TaskContext) -> dict[str, Any]:
    """Roll metrics up, then check every alert rule and send what fired or resolved."""
    rollup_error: Exception | None = None
    try:
        with ctx.session() as s:
            rolled = rollup(s, ctx.clock)
    except Exception as exc:  # noqa: BLE001 - alerts still run, then the job fails
        rollup_error, rolled = exc, None
    with ctx.session() as s:
        health = job_health(s, ctx.settings, ctx.clock, ctx.tasks)
        checked = alerts.check_alerts(s, ctx.settings, ctx.clock, ctx.notifier(), job_health=health)
    if rollup_error is not None:
        raise rollup_error
    return {"rollup": rolled, "alerts": checked}


def retention_purge(ctx: TaskContext) -> dict[str, Any]:
    """Clear personal data older than the retention window (raw text, identifiers, free text)."""
    scrubber = warm_scrubber(ctx.settings)
    with ctx.session() as s:
        report = purge(s, ctx.settings, ctx.clock, actor=ctx.actor, scrubber=scrubber)
        return _summary({"purged": report.total, "cleared": report.cleared})


def conversation_idle_close(ctx: TaskContext) -> dict[str, Any]:
    """Close conversations idle for conversation_idle_minutes, one committed batch at a time."""
    closed = 0
    while True:
        with ctx.session() as s:
            n = close_idle(s, ctx.settings, ctx.clock, actor=ctx.actor, limit=IDLE_BATCH)
        closed += n
        if n < IDLE_BATCH:
            return {"closed": closed}


def enrich_missing(ctx: TaskContext) -> dict[str, Any]:
    """Enrich what the API left waiting (no intent classifier yet; the API never trains one in a
    request): train the classifier when none fits, then classify, one committed batch at a time."""
    enricher = get_enricher(ctx.settings, ctx.embedder())
    with ctx.session() as s:
        report = backfill(s, enricher, only_missing=True, clock=ctx.clock,
                          progress=lambda _done, _total: commit_batch(s))
    return {"messages": report.messages, "conversations": report.conversations}


def stale_check(ctx: TaskContext) -> dict[str, Any]:
    """Flag KB chunks not updated or reviewed within kb_stale_days."""
    with ctx.session() as s:
        return _summary(flag_stale_chunks(s, ctx.settings, ctx.clock))


def kb_refresh(ctx: TaskContext) -> dict[str, Any]:
    """Propose the agents' replies to handed-off questions as chunks (``kb_learn_from_agent_answers``,
    committed on their own); build a new KB version, evaluate it and activate it when it is not
    worse; then (in its own transaction) retrain the intent classifier on the new KB categories,
    approved examples and admin corrections. A failed retrain is reported (summary and a warning
    event); the refresh stays done."""
    embedder = ctx.embedder()
    learned = None
    if ctx.settings.kb_learn_from_agent_answers:
        scrubber = warm_scrubber(ctx.settings)
        with ctx.session() as s:
            learned = propose_agent_answers(s, ctx.settings, actor=ctx.actor, scrubber=scrubber,
                                            clock=ctx.clock).as_dict()
    with ctx.session() as s:
        summary = _summary(weekly_refresh(s, embedder, ctx.settings, ctx.clock, actor=ctx.actor,
                                          checkpoint=lambda: commit_batch(s)))
    if learned is not None:
        summary["agent_answers"] = learned
    try:
        with ctx.session() as s:
            summary["intents"] = _summary(retrain(s, embedder, ctx.settings, ctx.clock, actor=ctx.actor))
    except Exception as exc:  # noqa: BLE001 - the refresh is committed; say what failed
        error = f"{type(exc).__name__}: {exc}"[:500]
        summary["intents"] = {"status": "failed", "error": error}
        with ctx.session() as s:
            events.record(s, "intents.retrain_failed", f"Intent classifier retrain failed: {error}"[:300],
                          severity=Severity.WARNING, details={"error": error}, clock=ctx.clock)
    return summary


def kb_prune(ctx: TaskContext) -> dict[str, Any]:
    """Delete KB index files nothing needs any more (never the active or rollback versions)."""
    with ctx.session() as s:
        report = prune_index_files(s, ctx.settings, actor=ctx.actor, clock=ctx.clock)
    return {"deleted": len(report.deleted), "freed_bytes": report.freed_bytes, "versions": report.versions}


def gaps_refresh(ctx: TaskContext) -> dict[str, Any]:
    """Recluster the badly handled questions into knowledge gaps."""
    embedder = ctx.embedder()
    with ctx.session() as s:
        return _summary(refresh_gaps(s, embedder, ctx.settings, ctx.clock, actor=ctx.actor))


def review_refresh(ctx: TaskContext) -> dict[str, Any]:
    """Queue the answers an admin should look at (down votes, low confidence, flags...)."""
    with ctx.session() as s:
        added = refresh_queue(s, ctx.settings, ctx.clock, actor=ctx.actor, checkpoint=lambda: commit_batch(s))
        return {"reasons_added": added}


def delivery_retry(ctx: TaskContext) -> dict[str, Any]:
    """Send the replies whose (re)try is due."""
    with ctx.session() as s:
        return _summary(retry_due(s, ctx.notifier(), ctx.settings, ctx.clock))


def experiments_check(ctx: TaskContext) -> dict[str, Any]:
    """Look at every running experiment: roll back losers, extend or stop, ask to promote."""
    with ctx.session() as s:
        return {"experiments": check_running_experiments(s, ctx.settings, ctx.clock, actor=ctx.actor)}


def embedding_finetune_enqueue(ctx: TaskContext) -> dict[str, Any]:
    """Queue the loop's embedding fine-tune (the ``embedding_finetune`` job: progress and cancel
    on the job run) unless one is already queued or running."""
    with ctx.session() as s:
        waiting = [r["id"] for r in queue.list_runs(s, statuses=queue.OPEN_STATUSES, trigger=JobTrigger.QUEUE)
                   if r["job"] == EMBEDDING_FINETUNE]  # queued by a person or an earlier quarter
        if waiting:
            return {"enqueued": None, "already_open": waiting[0]}
        return {"enqueued": queue.enqueue(s, EMBEDDING_FINETUNE, {}, actor=ctx.actor, clock=ctx.clock).id}


def dataset_build(ctx: TaskContext) -> dict[str, Any]:
    """Build the quarter's training datasets, left pending an admin's approval."""
    scrubber = warm_scrubber(ctx.settings)
    with ctx.session() as s:
        return _summary(build_quarterly(s, ctx.settings, scrubber, ctx.clock, actor=ctx.actor))


TASK_SPECS: tuple[TaskSpec, ...] = (
    TaskSpec("metrics", metrics_and_alerts, lambda s: Every(60 * s.metrics_interval_minutes),
             "Roll up metrics and check alert rules."),
    TaskSpec("retention_purge", retention_purge, lambda s: Daily(s.purge_time),
             "Purge personal data older than the retention window."),
    TaskSpec("conversation_idle_close", conversation_idle_close,
             lambda s: Every(60 * min(5, s.conversation_idle_minutes)),
             "Close conversations without a message for the idle window."),
    TaskSpec("enrich_missing", enrich_missing, lambda s: Every(300),
             "Enrich messages the API left waiting for an intent classifier."),
    TaskSpec("stale_check", stale_check, lambda s: Daily(s.stale_check_time),
             "Flag stale KB chunks."),
    TaskSpec("kb_refresh", kb_refresh,
             lambda s: Weekly(s.kb_refresh_time, weekday=weekday_number(s.kb_refresh_weekday)),
             "Weekly KB refresh behind the evaluation gate."),
    TaskSpec("kb_prune", kb_prune, lambda s: Daily(s.kb_prune_time),
             "Delete unused and orphaned KB index files."),
    TaskSpec("gaps_refresh", gaps_refresh, lambda s: Daily(s.gaps_time),
             "Recluster badly handled questions into knowledge gaps."),
    TaskSpec("review_refresh", review_refresh, lambda s: Every(60 * s.review_refresh_minutes),
             "Fill the review queue."),
    TaskSpec("delivery_retry", delivery_retry, lambda s: Every(s.delivery_poll_seconds),
             "Send replies whose (re)try is due."),
    TaskSpec("experiments_check", experiments_check, lambda s: Daily(s.experiment_check_time),
             "Check running experiments (guardrails, decisions, planned ends)."),
    TaskSpec("finetune_poll", poll_task, lambda s: Every(s.finetune_poll_seconds),
             "Advance every open fine-tune job once."),
    TaskSpec("dataset_build", dataset_build, lambda s: Quarterly(s.dataset_build_time),
             "Build the quarter's training datasets (left pending approval)."),
    TaskSpec(EMBEDDING_FINETUNE, embedding_finetune_enqueue, lambda s: Quarterly(s.local_finetune_time),
             "Queue the loop's embedding fine-tune (candidate embedder, gate, experiment)."),
)


def default_registry(settings: Settings) -> list[Task]:
    """Every task of ``TASK_SPECS`` with its schedule from ``settings`` (validated)."""
    zone(settings.timezone)
    tasks = []
    for spec in TASK_SPECS:
        schedule = spec.schedule(settings)
        if isinstance(schedule, Calendar):
            parse_time(schedule.at, f"Time of task {spec.name}")
        tasks.append(Task(spec.name, spec.run, schedule, spec.description))
    return tasks


def get_task(tasks: list[Task], name: str) -> Task:
    for t in tasks:
        if t.name == name:
            return t
    raise NotFound(f"No task named {name!r}; tasks: {', '.join(t.name for t in tasks) or 'none'}.")


# --- what is due --------------------------------------------------------------------------------
def due_from_history(
    tasks: list[Task],
    last: dict[str, dt.datetime],
    anchors: dict[str, dt.datetime],
    now: dt.datetime,
    tz: ZoneInfo,
) -> list[Task]:
    """The tasks due at ``now`` given when each last started and was first seen (pure)."""
    return [t for t in tasks if t.schedule.is_due(last.get(t.name), anchors.get(t.name), now, tz)]


def due_tasks(session: Session, settings: Settings, clock: Clock, tasks: list[Task]) -> list[Task]:
    """The tasks due now according to the job_run table (records first sightings)."""
    anchors = jobruns.first_seen(session, [t.name for t in tasks], clock)
    last = jobruns.last_started(session)
    return due_from_history(tasks, last, anchors, clock.now(), zone(settings.timezone))


def job_health(
    session: Session, settings: Settings, clock: Clock, tasks: list[Task] | None = None
) -> dict[str, list[str]]:
    """Jobs whose latest finished run failed, and jobs due for longer than they should be."""
    tasks = default_registry(settings) if tasks is None else tasks
    tz = zone(settings.timezone)
    now = clock.now()
    finished = jobruns.latest_finished(session)
    last = jobruns.last_started(session)
    anchors = jobruns.first_seen(session, [t.name for t in tasks], clock)
    failing = sorted(j for j, run in finished.items() if run.status == JobRunStatus.FAILED
                     and j in {t.name for t in tasks})
    overdue = []
    for t in tasks:
        ref_last, anchor = last.get(t.name), anchors.get(t.name)
        if isinstance(t.schedule, Every):
            reference = ref_last or anchor
            due_since = reference + dt.timedelta(seconds=t.schedule.seconds) if reference else None
        elif t.schedule.is_due(ref_last, anchor, now, tz):
            due_since = t.schedule.previous(now, tz)
        else:
            due_since = None
        if due_since is not None and now - due_since > t.schedule.overdue_after():
            overdue.append(t.name)
    return {"failing": failing, "overdue": overdue}


def describe_tasks(session: Session, settings: Settings, clock: Clock, tasks: list[Task]) -> list[dict]:
    """One row per task: schedule, last run and when it is next due."""
    tz = zone(settings.timezone)
    now = clock.now()
    last = jobruns.last_started(session)
    anchors = jobruns.first_seen(session, [t.name for t in tasks], clock)
    latest = jobruns.latest_runs(session)
    rows = []
    for t in tasks:
        run = latest.get(t.name)
        nxt = t.schedule.next_due(last.get(t.name), anchors.get(t.name), now, tz)
        rows.append({
            "name": t.name,
            "schedule": t.schedule.describe(),
            "description": t.description,
            "last_status": run.status if run else None,
            "last_started_at": run.started_at.isoformat() if run else None,
            "next_due_at": nxt.isoformat() if nxt else None,
        })
    return rows


# --- running --------------------------------------------------------------------------------------
@dataclass
class RunResult:
    job: str
    status: str  # succeeded | failed | locked | not_due
    run_id: int | None = None
    error: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def run_task(
    ctx: TaskContext,
    task: Task,
    runner: str,
    *,
    trigger: str = JobTrigger.SCHEDULE,
    require_due: bool = True,
) -> RunResult:
    """Run ``task`` once under its lock and record it as a job_run. With ``require_due`` it
    is skipped unless it is (still) due once the lock is held, so two runners never run the
    same scheduled job twice. A task that raises is recorded as failed with a ``job.failed``
    event; the error is returned, not raised."""
    lease = dt.timedelta(minutes=ctx.settings.job_lease_minutes)
    with jobruns.job_lock(ctx.engine, task.name, runner, ctx.clock, lease) as got:
        if not got:
            return RunResult(task.name, "locked")
        with ctx.session() as s:
            if require_due and not due_from_history(
                [task],
                jobruns.last_started(s),
                jobruns.first_seen(s, [task.name], ctx.clock),
                ctx.clock.now(),
                zone(ctx.settings.timezone),
            ):
                return RunResult(task.name, "not_due")
            run_id = jobruns.start_run(s, task.name, runner, ctx.clock, trigger).id
        try:
            summary = _summary(task.run(ctx))
        except BaseException as exc:  # noqa: BLE001 - recorded, then re-raised if not an Exception
            error = f"{type(exc).__name__}: {exc}"
            detail = "".join(traceback.format_exception(exc)[-5:])[-4000:]
            with ctx.session() as s:
                jobruns.finish_run(s, run_id, JobRunStatus.FAILED, ctx.clock, error=f"{error}\n{detail}")
                events.record(s, "job.failed", f"Job {task.name} failed: {error}"[:300],
                              severity=Severity.ERROR,
                              details={"job": task.name, "run_id": run_id, "error": error[:2000]},
                              clock=ctx.clock)
            if not isinstance(exc, Exception):
                raise
            return RunResult(task.name, JobRunStatus.FAILED, run_id, error)
        with ctx.session() as s:
            jobruns.finish_run(s, run_id, JobRunStatus.SUCCEEDED, ctx.clock, summary=summary)
        return RunResult(task.name, JobRunStatus.SUCCEEDED, run_id, None, summary)


def run_now(ctx: TaskContext, task: Task, runner: str, *, actor: Actor) -> RunResult:
    """Run ``task`` now, whether due or not, acting as ``actor`` (who needs the ``run_jobs``
    right); recorded as a manual job run."""
    require(actor, "run_jobs")
    return run_task(dataclasses.replace(ctx, actor=actor), task, runner, trigger=JobTrigger.MANUAL,
                    require_due=False)


def run_due(
    ctx: TaskContext,
    tasks: list[Task],
    runner: str,
    *,
    should_stop: Callable[[], bool] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> list[RunResult]:
    """Run every task that is due now, one after the other (stopping early when asked)."""
    with ctx.session() as s:
        due = due_tasks(s, ctx.settings, ctx.clock, tasks)
    results = []
    for task in due:
        if should_stop and should_stop():
            break
        if on_start:
            on_start(task.name)
        results.append(run_task(ctx, task, runner))
    return results
