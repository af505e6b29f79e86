"""The runner loop: a ``schedule`` tick every few seconds asks core which tasks are due and
runs them one after the other, under their locks, then runs one queued job run (the job
queue, ``core.ops.queue``), with a heartbeat and a graceful stop.

Stopping (SIGTERM or SIGINT, in every mode): no new task or queued run starts; a queued run
that is going sees its progress say "cancelled" and stops at its next batch (recorded
``cancelled`` with the reason); whatever is still running after ``stop_grace_seconds`` (or at
a second signal) is interrupted and recorded ``failed`` with the reason, and its lock is
released. The heartbeat thread also fails the runs of runners that stopped beating.

Logs are quiet: a queued run is logged when it starts and ends, a scheduled task only when it
fails (``-v`` logs every run); an idle tick logs nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import schedule
from sqlalchemy.exc import OperationalError

from core.ops import jobruns
from core.ops.jobkinds import default_kinds
from core.ops.queue import JobKind, RunnerStopped, run_next
from core.ops.tasks import RunResult, Task, TaskContext, run_due
from core.platform.statuses import JobRunStatus

log = logging.getLogger("supportloop.jobs")


class Runner:
    """Runs due tasks of ``tasks`` and queued runs of ``kinds`` with ``ctx``; ``tick()`` is one
    round (tests call it with a FixedClock), ``run_forever()`` the process loop."""

    def __init__(
        self,
        ctx: TaskContext,
        tasks: list[Task],
        *,
        kinds: dict[str, JobKind] | None = None,
        runner: str | None = None,
        tick_seconds: float | None = None,
        heartbeat_seconds: float = 15.0,
        stop_grace_seconds: float = 10.0,
        verbose: bool = False,
    ):
        self.ctx = ctx
        self.tasks = tasks
        self.ctx.tasks = tasks
        self.kinds = default_kinds(tasks) if kinds is None else kinds
        self.runner = runner or jobruns.runner_id()
        self.tick_seconds = tick_seconds or ctx.settings.jobs_tick_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.stop_grace_seconds = stop_grace_seconds
        self.verbose = verbose
        self.current: str | None = None
        self.last_queued: dict[str, Any] | None = None
        self._stop = threading.Event()
        self._beats: threading.Thread | None = None
        self._signals = 0
        self._signal_name: str | None = None

    # --- one round ---------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def dead_after(self) -> dt.timedelta:
        """A runner that missed 4 heartbeats (and at least 2 minutes) is dead."""
        return max(dt.timedelta(seconds=4 * self.heartbeat_seconds), dt.timedelta(minutes=2))

    def start(self) -> None:
        """Record the start-up heartbeat and fail runs of runners that died mid-job."""
        with self.ctx.session() as s:
            jobruns.beat(s, self.runner, self.ctx.clock, started=True)
        self._fail_abandoned()

    def _fail_abandoned(self) -> None:
        with self.ctx.session() as s:
            abandoned = jobruns.fail_abandoned(s, self.ctx.clock, older_than=self.dead_after)
        if abandoned:
            log.warning("marked %d run(s) of stopped runners as failed", abandoned)

    def _beat(self) -> None:
        try:
            with self.ctx.session() as s:
                jobruns.beat(s, self.runner, self.ctx.clock, current_job=self.current)
        except OperationalError as exc:  # a busy database skips one beat; it never stops the runner
            log.warning("heartbeat skipped: %s", str(exc.orig).splitlines()[0])

    def _started(self, name: str) -> None:
        self.current = name
        self._beat()
        log.log(logging.INFO if self.verbose else logging.DEBUG, "running %s", name)

    def _queued_started(self, run_id: int, kind: str) -> None:
        self.current = f"{kind} (run {run_id})"
        self._beat()
        log.info("run %d: %s started", run_id, kind)

    def tick(self) -> list[RunResult]:
        """Run what is due now (a missed weekly run included), then one queued run; return what
        the scheduled tasks did (the queued run is in ``last_queued``)."""
        self.last_queued = None
        if self.stopping:
            return []
        self._beat()
        try:
            results = run_due(self.ctx, self.tasks, self.runner, should_stop=lambda: self.stopping,
                              on_start=self._started)
            self.current = None
            if not self.stopping:
                self.last_queued = run_next(self.ctx, self.kinds, self.runner, stopping=lambda: self.stopping,
                                            on_start=self._queued_started)
        finally:
            self.current = None
            self._beat()
        for r in results:
            if r.status == JobRunStatus.FAILED:
                log.error("%s failed: %s", r.job, (r.error or "").splitlines()[0] if r.error else "")
            elif r.status == JobRunStatus.SUCCEEDED:
                log.log(logging.INFO if self.verbose else logging.DEBUG, "%s succeeded", r.job)
        if self.last_queued:
            q = self.last_queued
            level = logging.ERROR if q["status"] == JobRunStatus.FAILED else logging.INFO
            first = (q["error"] or "").splitlines()[0] if q["error"] else ""
            log.log(level, "run %d: %s %s%s", q["id"], q["job"], q["status"], f": {first}" if first else "")
        return results

    # --- stopping ----------------------------------------------------------------------------
    def request_stop(self, signum: int | None = None, _frame: Any = None) -> None:
        """Signal handler: start no new work; stop the current run at its next batch, and
        interrupt it after ``stop_grace_seconds`` (or at a second signal)."""
        self._signals += 1
        first = not self.stopping
        if signum is not None and self._signal_name is None:
            self._signal_name = signal.Signals(signum).name
        self._stop.set()
        if first:
            log.info("stop requested; %s", f"stopping {self.current}" if self.current else "stopping")
        if signum is None or self.current is None:
            return
        if first and self.stop_grace_seconds > 0:
            signal.signal(signal.SIGALRM, self._interrupt)
            signal.setitimer(signal.ITIMER_REAL, self.stop_grace_seconds)
        else:
            self._interrupt(signum)

    def _interrupt(self, signum: int | None = None, _frame: Any = None) -> None:
        if self.current is not None:
            raise RunnerStopped(f"{self._signal_name or 'stop'}: the runner stopped while {self.current} "
                                f"was running (it did not stop within {self.stop_grace_seconds:g} s)")

    def install_signals(self) -> None:
        """SIGTERM and SIGINT stop the runner (see the module docstring); every mode calls it."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self._beat()
                self._fail_abandoned()
            except Exception:  # noqa: BLE001 - a missed beat is not fatal
                log.exception("heartbeat failed")

    def start_heartbeat(self) -> None:
        """Beat (and fail abandoned runs) every ``heartbeat_seconds`` in a thread until stopped."""
        self._beats = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        self._beats.start()

    def finish(self) -> None:
        """Stop the heartbeat and record that this runner stopped."""
        self._stop.set()
        if threading.current_thread() is threading.main_thread():
            signal.setitimer(signal.ITIMER_REAL, 0)  # no interrupt after the work ended
        with self.ctx.session() as s:
            jobruns.stopped(s, self.runner, self.ctx.clock)

    # --- the process loop --------------------------------------------------------------------
    def run_forever(self, *, install_signals: bool = True,
                    on_tick: Callable[[list[RunResult]], None] | None = None) -> None:
        """Tick every ``tick_seconds`` (at once again after a queued run) until SIGTERM/SIGINT;
        raises :class:`RunnerStopped` when a run had to be interrupted."""
        if install_signals:
            self.install_signals()
        self.start()
        self.start_heartbeat()
        scheduler = schedule.Scheduler()

        def job() -> None:
            try:
                results = self.tick()
            except OperationalError as exc:  # e.g. SQLite busy past its timeout: try again next tick
                log.error("tick failed, retrying at the next tick: %s", str(exc.orig).splitlines()[0])
                self.last_queued = None
                return
            if on_tick:
                on_tick(results)

        scheduler.every(self.tick_seconds).seconds.do(job)
        log.info("runner %s started (%d tasks, %d job kinds)", self.runner, len(self.tasks), len(self.kinds))
        try:
            job()  # at start-up: catch up on anything missed while down
            while not self.stopping:
                if self.last_queued is not None:
                    job()  # more may be queued: do not wait a tick between queued runs
                    continue
                scheduler.run_pending()
                self._stop.wait(min(0.5, self.tick_seconds))
        except RunnerStopped as exc:
            log.warning("%s", exc)
            raise
        finally:
            self.finish()
            log.info("runner %s stopped", self.runner)
