"""The registry of background tasks and when each is due.

A task is a name, a function of a :class:`TaskContext` returning a JSON-able summary, and a
schedule. What is due is computed from the job_run table (when each job last started) and an
injected clock, so a week of schedule decisions is tested in milliseconds. The job runner
(``python -m jobs``) and ``supportloop jobs run NAME`` both go through :func:`run_task`,
which takes the job's lock, records a job_run row and records a ``job.failed`` event when
the task raises.

Schedules:

- ``Every(seconds)``: due when that long has passed since the last start (or never ran).
- ``Daily(at)``, ``Weekly(weekday, at)``, ``Quarterly(at)``: local wall-clock times in
  ``settings.timezone``; due when the latest scheduled time is after the last start (or,
  for a job that never ran, after the runner first saw it). A run missed while the runner
  was down therefore runs once at start-up, and only once.

Adding a task: write an adapter ``def my_task(ctx: TaskContext) -> dict`` and add a
:class:`TaskSpec` to ``TASK_SPECS``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session, sessionmaker

from core.ops import jobruns
from core.platform import events
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.db import session_scope
from core.platform.errors import NotFound, ValidationError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --- schedules ----------------------------------------------------------------------------
def _parse_time(value: str, what: str) -> dt.time:
    try:
        hh, mm = value.strip().split(":")
        return dt.time(int(hh), int(mm))
    except (ValueError, AttributeError):
        raise ValidationError(f"{what} {value!r} is not a time; use HH:MM, e.g. 02:00.") from None


def zone(name: str) -> ZoneInfo:
    """The ZoneInfo of ``name`` or a ValidationError saying how to fix SUPPORTLOOP_TIMEZONE."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            f"Unknown time zone {name!r}; set SUPPORTLOOP_TIMEZONE to an IANA name such as "
            "UTC or America/Chicago."
        ) from None


@lru_cache(maxsize=4096)
def _local_time_utc(at: str, local_day: dt.date, tz: ZoneInfo) -> dt.datetime:
    """``at`` (HH:MM) on ``local_day`` in ``tz``, as naive UTC."""
    return _to_utc(dt.datetime.combine(local_day, _parse_time(at, "Schedule time"), tzinfo=tz))


def _to_local(now: dt.datetime, tz: ZoneInfo) -> dt.datetime:
    return now.replace(tzinfo=dt.UTC).astimezone(tz)


def _to_utc(local: dt.datetime) -> dt.datetime:
    return local.astimezone(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Every:
    """Every ``seconds`` seconds, counted from the last start."""

    seconds: int

    def describe(self) -> str:
        s = self.seconds
        return f"every {s // 60} min" if s % 60 == 0 and s >= 60 else f"every {s} s"

    def is_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
               tz: ZoneInfo) -> bool:
        return last is None or now - last >= dt.timedelta(seconds=self.seconds)

    def next_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
                 tz: ZoneInfo) -> dt.datetime:
        return now if last is None else max(now, last + dt.timedelta(seconds=self.seconds))

    def overdue_after(self) -> dt.timedelta:
        return max(dt.timedelta(seconds=2 * self.seconds), dt.timedelta(minutes=15))


@dataclass(frozen=True)
class _Calendar:
    at: str

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        """The scheduled time on ``local_day`` as naive UTC, or None if it has none."""
        raise NotImplementedError

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        """Local days, newest first, among which the latest occurrence up to ``local_day``
        (or the one before it) is found."""
        return [local_day - dt.timedelta(days=back) for back in range(0, 100)]

    def previous(self, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
        """The latest scheduled time at or before ``now``."""
        for day in self.candidate_days(_to_local(now, tz).date()):
            when = self.occurrence(day, tz)
            if when is not None and when <= now:
                return when
        return None

    def following(self, now: dt.datetime, tz: ZoneInfo) -> dt.datetime | None:
        """The first scheduled time after ``now``."""
        day = _to_local(now, tz).date()
        for ahead in range(0, 100):
            when = self.occurrence(day + dt.timedelta(days=ahead), tz)
            if when is not None and when > now:
                return when
        return None

    def _at(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime:
        return _local_time_utc(self.at, local_day, tz)

    def is_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
               tz: ZoneInfo) -> bool:
        reference = last or anchor
        prev = self.previous(now, tz)
        return prev is not None and (reference is None or prev > reference)

    def next_due(self, last: dt.datetime | None, anchor: dt.datetime | None, now: dt.datetime,
                 tz: ZoneInfo) -> dt.datetime | None:
        return now if self.is_due(last, anchor, now, tz) else self.following(now, tz)

    def overdue_after(self) -> dt.timedelta:
        return dt.timedelta(hours=1)


@dataclass(frozen=True)
class Daily(_Calendar):
    """Every day at ``at`` (HH:MM local time)."""

    def describe(self) -> str:
        return f"daily at {self.at}"

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        return [local_day, local_day - dt.timedelta(days=1), local_day - dt.timedelta(days=2)]

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        return self._at(local_day, tz)


@dataclass(frozen=True)
class Weekly(_Calendar):
    """Every week on ``weekday`` (0 = Monday) at ``at``."""

    weekday: int = 6

    def describe(self) -> str:
        return f"weekly on {WEEKDAYS[self.weekday].title()} at {self.at}"

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        this_week = local_day - dt.timedelta(days=(local_day.weekday() - self.weekday) % 7)
        return [this_week, this_week - dt.timedelta(days=7)]

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        return self._at(local_day, tz) if local_day.weekday() == self.weekday else None


@dataclass(frozen=True)
class Quarterly(_Calendar):
    """On the first day of January, April, July and October at ``at``."""

    def describe(self) -> str:
        return f"quarterly (1 Jan/Apr/Jul/Oct) at {self.at}"

    def candidate_days(self, local_day: dt.date) -> list[dt.date]:
        first = dt.date(local_day.year, 3 * ((local_day.month - 1) // 3) + 1, 1)
        before = first - dt.timedelta(days=1)
        return [first, dt.date(before.year, 3 * ((before.month - 1) // 3) + 1, 1)]

    def occurrence(self, local_day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
        return self._at(local_day, tz) if local_day.day == 1 and local_day.month in (1, 4, 7, 10) else None


Schedule = Every | Daily | Weekly | Quarterly


# --- context and registry -----------------------------------------------------------------
@dataclass
class TaskContext:
    """What a task may ask for. Everything slow is created on first use and kept."""

    session_factory: sessionmaker[Session]
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    notifier_factory: Callable[[], Any] | None = None
    embedder_loader: Callable[[], Any] | None = None
    actor: str = "jobs"
    tasks: list[Task] | None = None  # the registry the runner uses (None: the default one)
    _notifier: Any = None
    _embedder: Any = None

    def session(self) -> AbstractContextManager[Session]:
        """One transaction (committed at the end of the block)."""
        return session_scope(self.session_factory)

    @property
    def engine(self):
        return self.session_factory.kw["bind"]

    def notifier(self):
        if self._notifier is None:
            if self.notifier_factory is not None:
                self._notifier = self.notifier_factory()
            else:
                from core.platform.notify import Notifier

                self._notifier = Notifier(self.settings)
        return self._notifier

    def base_embedder(self):
        """The embedder of the settings (or of ``embedder_loader``), loaded once."""
        if self._embedder is None:
            if self.embedder_loader is not None:
                self._embedder = self.embedder_loader()
            else:
                from core.platform.embeddings import get_embedder

                self._embedder = get_embedder(self.settings)
        return self._embedder

    def embedder(self):
        """The embedder production serves: an embedding model an experiment promoted, else
        ``base_embedder`` (``core.experiments.lifecycle.production_embedder``; read at every call, so a
        promotion or rollback is followed without restarting the runner)."""
        from core.experiments.lifecycle import production_embedder

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
    """A task of the default registry: ``target`` is "module:function"."""

    name: str
    target: str
    schedule: Callable[[Settings], Schedule]
    description: str


def _summary(result: Any) -> dict[str, Any]:
    """A JSON-able summary of whatever a core function returned."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    if not isinstance(result, dict):
        result = {"result": result}
    return json.loads(json.dumps(result, default=str))


def metrics_and_alerts(ctx: TaskContext) -> dict[str, Any]:
    """Roll metrics up, then check every alert rule and send what fired or resolved."""
    from core.ops import alerts, metrics

    rollup_error: Exception | None = None
    try:
        with ctx.session() as s:
            rolled = metrics.rollup(s, ctx.clock)
    except Exception as exc:  # noqa: BLE001 - alerts still run, then the job fails
        rollup_error, rolled = exc, None
    with ctx.session() as s:
        health = job_health(s, ctx.settings, ctx.clock, ctx.tasks)
        checked = alerts.check_alerts(s, ctx.settings, ctx.clock, ctx.notifier(), job_health=health)
    if rollup_error is not None:
        raise rollup_error
    return {"rollup": rolled, "alerts": checked}


def retention_purge(ctx: TaskContext) -> dict[str, Any]:
    """Remove raw message text older than the retention window."""
    from core.conversations.retention import purge_raw

    with ctx.session() as s:
        return _summary({"purged": purge_raw(s, ctx.settings, ctx.clock)})


def stale_check(ctx: TaskContext) -> dict[str, Any]:
    """Flag KB chunks not updated or reviewed within kb_stale_days."""
    from core.knowledge.chunks import flag_stale_chunks

    with ctx.session() as s:
        return _summary(flag_stale_chunks(s, ctx.settings, ctx.clock))


def kb_refresh(ctx: TaskContext) -> dict[str, Any]:
    """Build a new KB version, evaluate it and activate it when it is not worse; then (in its
    own transaction) retrain the intent classifier on the new KB categories, approved examples
    and admin corrections. A failed retrain is reported (summary and a warning event); the
    refresh stays done."""
    from core.knowledge.chunks import weekly_refresh

    embedder = ctx.embedder()
    with ctx.session() as s:
        summary = _summary(weekly_refresh(s, embedder, ctx.settings, ctx.clock, actor=ctx.actor))
    retrain = _resolve("core.enrichment.enrich:retrain")
    if retrain is not None:
        try:
            with ctx.session() as s:
                summary["intents"] = _summary(retrain(s, embedder, ctx.settings, ctx.clock, actor=ctx.actor))
        except Exception as exc:  # noqa: BLE001 - the refresh is committed; say what failed
            error = f"{type(exc).__name__}: {exc}"[:500]
            summary["intents"] = {"status": "failed", "error": error}
            with ctx.session() as s:
                events.record(s, "intents.retrain_failed", f"Intent classifier retrain failed: {error}"[:300],
                              severity="warning", details={"error": error}, clock=ctx.clock)
    return summary


def gaps_refresh(ctx: TaskContext) -> dict[str, Any]:
    """Recluster the badly handled questions into knowledge gaps."""
    from core.enrichment.gaps import refresh_gaps

    embedder = ctx.embedder()
    with ctx.session() as s:
        return _summary(refresh_gaps(s, embedder, ctx.settings, ctx.clock))


def review_refresh(ctx: TaskContext) -> dict[str, Any]:
    """Queue the answers an admin should look at (down votes, low confidence, flags...)."""
    from core.review.queue import refresh_queue

    with ctx.session() as s:
        return {"reasons_added": refresh_queue(s, ctx.settings, ctx.clock)}


def delivery_retry(ctx: TaskContext) -> dict[str, Any]:
    """Send the replies whose (re)try is due."""
    from core.review.delivery import retry_due

    with ctx.session() as s:
        return _summary(retry_due(s, ctx.notifier(), ctx.settings, ctx.clock))


def experiments_check(ctx: TaskContext) -> dict[str, Any]:
    """Look at every running experiment: roll back losers, extend or stop, ask to promote."""
    from core.experiments.lifecycle import check_running_experiments

    with ctx.session() as s:
        return {"experiments": check_running_experiments(s, ctx.settings, ctx.clock, actor=ctx.actor)}


TASK_SPECS: tuple[TaskSpec, ...] = (
    TaskSpec("metrics", "core.ops.tasks:metrics_and_alerts",
             lambda s: Every(60 * s.metrics_interval_minutes),
             "Roll up metrics and check alert rules."),
    TaskSpec("retention_purge", "core.ops.tasks:retention_purge", lambda s: Daily(s.purge_time),
             "Purge raw message text older than the retention window."),
    TaskSpec("stale_check", "core.ops.tasks:stale_check", lambda s: Daily(s.stale_check_time),
             "Flag stale KB chunks."),
    TaskSpec("kb_refresh", "core.ops.tasks:kb_refresh",
             lambda s: Weekly(s.kb_refresh_time, weekday=_weekday(s.kb_refresh_weekday)),
             "Weekly KB refresh behind the evaluation gate."),
    TaskSpec("gaps_refresh", "core.ops.tasks:gaps_refresh", lambda s: Daily(s.gaps_time),
             "Recluster badly handled questions into knowledge gaps."),
    TaskSpec("review_refresh", "core.ops.tasks:review_refresh",
             lambda s: Every(60 * s.review_refresh_minutes),
             "Fill the review queue."),
    TaskSpec("delivery_retry", "core.ops.tasks:delivery_retry", lambda s: Every(s.delivery_poll_seconds),
             "Send replies whose (re)try is due."),
    TaskSpec("experiments_check", "core.ops.tasks:experiments_check",
             lambda s: Daily(s.experiment_check_time),
             "Check running experiments (guardrails, decisions, planned ends)."),
    TaskSpec("finetune_poll", "core.training.finetune:poll_task", lambda s: Every(s.finetune_poll_seconds),
             "Advance every open fine-tune job once."),
    TaskSpec("dataset_build", "core.training.datasets:quarterly_task",
             lambda s: Quarterly(s.dataset_build_time),
             "Build the quarter's training datasets (left pending approval)."),
)


def _weekday(name: str) -> int:
    key = name.strip().lower()
    for i, day in enumerate(WEEKDAYS):
        if key in (day, day[:3]):
            return i
    raise ValidationError(f"Unknown weekday {name!r}; use one of {', '.join(WEEKDAYS)}.")


def _resolve(path: str) -> Callable | None:
    """The function at "module:function", or None when the module or function does not exist
    yet (an import error inside an existing module is raised, not hidden)."""
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name == exc.name or module_name.startswith(exc.name + ".")):
            return None
        raise
    return getattr(module, attr, None)


def default_registry(settings: Settings) -> list[Task]:
    """The tasks whose code exists, with schedules from ``settings`` (validated)."""
    zone(settings.timezone)
    tasks = []
    for spec in TASK_SPECS:
        schedule = spec.schedule(settings)  # validates the settings of every task, registered or not
        if isinstance(schedule, _Calendar):
            _parse_time(schedule.at, f"Time of task {spec.name}")
        fn = _resolve(spec.target)
        if fn is None:
            raise ValidationError(f"Task {spec.name}: {spec.target} does not exist.")
        tasks.append(Task(spec.name, fn, schedule, spec.description))
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
    failing = sorted(j for j, run in finished.items() if run.status == "failed"
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
    trigger: str = "schedule",
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
                jobruns.finish_run(s, run_id, "failed", ctx.clock, error=f"{error}\n{detail}")
                events.record(s, "job.failed", f"Job {task.name} failed: {error}"[:300], severity="error",
                              details={"job": task.name, "run_id": run_id, "error": error[:2000]},
                              clock=ctx.clock)
            if not isinstance(exc, Exception):
                raise
            return RunResult(task.name, "failed", run_id, error)
        with ctx.session() as s:
            jobruns.finish_run(s, run_id, "succeeded", ctx.clock, summary=summary)
        return RunResult(task.name, "succeeded", run_id, None, summary)


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
