"""``python -m jobs``: the job runner.

    python -m jobs              run due tasks and queued job runs until SIGTERM / Ctrl-C
    python -m jobs --list       the tasks, their schedules, last run and next due time
    python -m jobs --once NAME  run one task now (whether due or not) and exit
    python -m jobs --due        run every task that is due now (and one queued run) once and exit

SIGTERM and SIGINT are handled in every mode (``jobs.runner``): the current run ends
``cancelled`` or ``failed`` with the reason and its lock is released; the exit code is then 143.

The runner's models compute on all cores but one (``OMP_NUM_THREADS``, unless it is set): a
fine-tune on every core left the API's votes queueing (p99 720 ms beside it,
bench/background.py). The runner keeps its normal CPU priority: at a lower one it was starved
while it held a lock the API's writes wait for (SQLite's write lock, PostgreSQL's row locks on
the KB chunks every answer counts on), a priority inversion (chat p99 1.3 s on PostgreSQL).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys

from core.ops.jobkinds import default_kinds
from core.ops.queue import JobKind, RunnerStopped
from core.ops.tasks import Task, TaskContext, default_registry, describe_tasks, get_task, run_now
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from core.platform.config import Settings, get_settings
from core.platform.db import make_engine, require_current, session_factory
from core.platform.errors import SupportloopError
from core.platform.secrets import check_secret
from jobs.runner import Runner


def _load_tasks(spec: str | None, settings: Settings) -> list[Task]:
    """The default task registry, or ``module:attr`` of another one (a list, or a function of the
    settings that returns one; the runner's subprocess tests use it)."""
    if not spec:
        return default_registry(settings)
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "TASKS")
    return factory(settings) if callable(factory) else list(factory)


def demo_kinds() -> tuple[JobKind, ...]:
    """The demo's job kind (``core.demo.job.demo_load``): core.demo sits above core.ops, so the
    runner process adds it to the registry it assembles."""
    try:
        # lazy: the demo module is optional in a trimmed install and pulls in the demo data
        module = importlib.import_module("core.demo.job")
    except ModuleNotFoundError as exc:
        if exc.name != "core.demo.job":
            raise
        return ()
    return (JobKind("demo_load", module.demo_load, "Load the demo business (conversations, KB, warm-up)."),)


def leave_a_core() -> int:
    """Let torch (loaded later, when a model is) use all cores but one, unless OMP_NUM_THREADS is
    set; returns the thread count it will use."""
    threads = max(1, (os.cpu_count() or 2) - 1)
    return int(os.environ.setdefault("OMP_NUM_THREADS", str(threads)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="supportloop job runner")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="list tasks and exit")
    mode.add_argument("--once", metavar="NAME", help="run one task now and exit")
    mode.add_argument("--due", action="store_true", help="run what is due now once and exit")
    parser.add_argument("--tasks", help=argparse.SUPPRESS)  # module:attr of another registry (tests)
    parser.add_argument("--kinds", help=argparse.SUPPRESS)  # module:attr of extra job kinds (tests)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every run")
    parser.add_argument("--stop-grace", type=float, default=10.0, metavar="SECONDS",
                        help="after SIGTERM, interrupt the current run after this long (default 10)")
    args = parser.parse_args(argv)
    leave_a_core()
    quiet = (args.list or args.once) and not args.verbose
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
        settings.ensure_dirs()
        check_secret(settings, "The job runner")  # InsecureSecret: a known or short signing secret
        engine = make_engine(settings.database_url)
        require_current(engine)
        ctx = TaskContext(session_factory(engine), settings, SystemClock())
        tasks = _load_tasks(args.tasks, settings)
        ctx.tasks = tasks
        if args.list:
            with ctx.session() as s:
                rows = describe_tasks(s, settings, ctx.clock, tasks)
            for r in rows:
                print(f"{r['name']:<18} {r['schedule']:<34} last: {r['last_status'] or '-':<10} "
                      f"{r['last_started_at'] or '':<27} next: {r['next_due_at'] or '-'}")
            return 0
        extra = demo_kinds() + (tuple(_load_tasks(args.kinds, settings)) if args.kinds else ())
        runner = Runner(ctx, tasks, kinds=default_kinds(tasks, extra),
                        stop_grace_seconds=args.stop_grace, verbose=args.verbose)
        if args.once:
            task = get_task(tasks, args.once)
            runner.install_signals()
            runner.start()
            runner.start_heartbeat()
            try:
                runner.current = task.name
                result = run_now(ctx, task, runner.runner, actor=SYSTEM)
            finally:
                runner.current = None
                runner.finish()
            print(json.dumps({"job": result.job, "status": result.status, "run_id": result.run_id,
                              "error": result.error, "summary": result.summary}, default=str))
            return {"succeeded": 0, "locked": 2}.get(result.status, 1)
        if args.due:
            runner.install_signals()
            runner.start()
            runner.start_heartbeat()
            try:
                results = runner.tick()
            finally:
                runner.finish()
            for r in results:
                print(json.dumps({"job": r.job, "status": r.status, "run_id": r.run_id, "error": r.error}))
            statuses = [r.status for r in results]
            if runner.last_queued:
                q = runner.last_queued
                statuses.append(q["status"])
                print(json.dumps({"job": q["job"], "status": q["status"], "run_id": q["id"],
                                  "error": q["error"]}))
            return 1 if "failed" in statuses else 0
        runner.run_forever()
        return 0
    except RunnerStopped as exc:
        print(f"stopped: {exc}", file=sys.stderr)
        return 143
    except SupportloopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
