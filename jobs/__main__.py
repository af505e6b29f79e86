"""``python -m jobs``: the job runner.

    python -m jobs              run due tasks every few seconds until SIGTERM / Ctrl-C
    python -m jobs --list       the tasks, their schedules, last run and next due time
    python -m jobs --once NAME  run one task now (whether due or not) and exit
    python -m jobs --due        run every task that is due now once and exit
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys

from core.ops import jobruns
from core.ops.tasks import Task, TaskContext, default_registry, describe_tasks, get_task, run_now
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from core.platform.config import Settings, get_settings
from core.platform.db import make_engine, require_current, session_factory
from core.platform.errors import SupportloopError
from jobs.runner import Runner


def _load_tasks(spec: str | None, settings: Settings) -> list[Task]:
    """The default task registry, or ``module:attr`` of another one (a list, or a function of the
    settings that returns one; the runner's subprocess tests use it)."""
    if not spec:
        return default_registry(settings)
    module_name, _, attr = spec.partition(":")
    factory = getattr(importlib.import_module(module_name), attr or "TASKS")
    return factory(settings) if callable(factory) else list(factory)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs", description="supportloop job runner")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--list", action="store_true", help="list tasks and exit")
    mode.add_argument("--once", metavar="NAME", help="run one task now and exit")
    mode.add_argument("--due", action="store_true", help="run what is due now once and exit")
    parser.add_argument("--tasks", help=argparse.SUPPRESS)  # module:attr of another registry (tests)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every run")
    args = parser.parse_args(argv)
    quiet = (args.list or args.once) and not args.verbose
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = get_settings()
        settings.ensure_dirs()
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
        runner = Runner(ctx, tasks)
        if args.once:
            result = run_now(ctx, get_task(tasks, args.once), runner.runner, actor=SYSTEM)
            print(json.dumps({"job": result.job, "status": result.status, "run_id": result.run_id,
                              "error": result.error, "summary": result.summary}, default=str))
            return {"succeeded": 0, "locked": 2}.get(result.status, 1)
        if args.due:
            runner.start()
            results = runner.tick()
            with ctx.session() as s:
                jobruns.stopped(s, runner.runner, ctx.clock)
            for r in results:
                print(json.dumps({"job": r.job, "status": r.status, "run_id": r.run_id, "error": r.error}))
            return 1 if any(r.status == "failed" for r in results) else 0
        runner.run_forever()
        return 0
    except SupportloopError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
