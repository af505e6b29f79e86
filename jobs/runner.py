"""The runner loop: a ``schedule`` tick every few seconds asks core which tasks are due and
runs them one after the other, under their locks, with a heartbeat and a graceful stop.

SIGTERM or SIGINT lets the job that is running finish, starts no other, and exits.
"""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from collections.abc import Callable

import schedule

from core.ops import jobruns
from core.ops.tasks import RunResult, Task, TaskContext, run_due

log = logging.getLogger("supportloop.jobs")


class Runner:
    """Runs due tasks of ``tasks`` with ``ctx``; ``tick()`` is one round (tests call it with a
    FixedClock), ``run_forever()`` the process loop."""

    def __init__(
        self,
        ctx: TaskContext,
        tasks: list[Task],
        *,
        runner: str | None = None,
        tick_seconds: float | None = None,
        heartbeat_seconds: float = 15.0,
    ):
        self.ctx = ctx
        self.tasks = tasks
        self.ctx.tasks = tasks
        self.runner = runner or jobruns.runner_id()
        self.tick_seconds = tick_seconds or ctx.settings.jobs_tick_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self.current: str | None = None
        self._stop = threading.Event()
        self._beats: threading.Thread | None = None

    # --- one round ---------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> None:
        """Record the start-up heartbeat and fail runs of runners that died mid-job."""
        with self.ctx.session() as s:
            jobruns.beat(s, self.runner, self.ctx.clock, started=True)
            # a runner that missed 4 heartbeats (at least 2 minutes) is dead
            dead_after = max(dt.timedelta(seconds=4 * self.heartbeat_seconds), dt.timedelta(minutes=2))
            abandoned = jobruns.fail_abandoned(s, self.ctx.clock, older_than=dead_after)
        if abandoned:
            log.warning("marked %d run(s) of stopped runners as failed", abandoned)

    def _beat(self) -> None:
        with self.ctx.session() as s:
            jobruns.beat(s, self.runner, self.ctx.clock, current_job=self.current)

    def _started(self, name: str) -> None:
        self.current = name
        self._beat()
        log.info("running %s", name)

    def tick(self) -> list[RunResult]:
        """Run what is due now (a missed weekly run included) and return what happened."""
        if self.stopping:
            return []
        self._beat()
        try:
            results = run_due(self.ctx, self.tasks, self.runner, should_stop=lambda: self.stopping,
                              on_start=self._started)
        finally:
            self.current = None
            self._beat()
        for r in results:
            if r.status == "failed":
                log.error("%s failed: %s", r.job, r.error)
            elif r.status == "succeeded":
                log.info("%s succeeded", r.job)
        return results

    # --- the process loop --------------------------------------------------------------------
    def request_stop(self, *_args) -> None:
        """Signal handler: finish the current job, then stop."""
        if not self.stopping:
            log.info("stop requested; %s", f"finishing {self.current}" if self.current else "stopping")
        self._stop.set()

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(self.heartbeat_seconds):
            try:
                self._beat()
            except Exception:  # noqa: BLE001 - a missed beat is not fatal
                log.exception("heartbeat failed")

    def run_forever(self, *, install_signals: bool = True,
                    on_tick: Callable[[list[RunResult]], None] | None = None) -> None:
        """Tick every ``tick_seconds`` until SIGTERM/SIGINT (or ``request_stop``)."""
        if install_signals:
            signal.signal(signal.SIGTERM, self.request_stop)
            signal.signal(signal.SIGINT, self.request_stop)
        self.start()
        self._beats = threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True)
        self._beats.start()
        scheduler = schedule.Scheduler()

        def job() -> None:
            results = self.tick()
            if on_tick:
                on_tick(results)

        scheduler.every(self.tick_seconds).seconds.do(job)
        try:
            job()  # at start-up: catch up on anything missed while down
            while not self.stopping:
                scheduler.run_pending()
                self._stop.wait(min(0.5, self.tick_seconds))
        finally:
            self._stop.set()
            with self.ctx.session() as s:
                jobruns.stopped(s, self.runner, self.ctx.clock)
            log.info("runner %s stopped", self.runner)

