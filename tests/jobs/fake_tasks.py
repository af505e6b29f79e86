"""Task registries for runner subprocess tests (``python -m jobs --tasks tests.jobs.fake_tasks:NAME``).

Each task appends "<task> <pid>" to the file in $FAKE_TASKS_OUT, so a test can count who ran what.
"""

from __future__ import annotations

import os
import time

from core.ops.queue import JobKind
from core.ops.schedules import Daily, Every
from core.ops.tasks import Task
from core.platform.progress import check_cancelled


def _mark(name: str) -> None:
    with open(os.environ["FAKE_TASKS_OUT"], "a", encoding="utf-8") as fh:
        fh.write(f"{name} {os.getpid()}\n")


def _task(name: str, seconds: float):
    def run(ctx):
        time.sleep(seconds)
        _mark(name)
        return {"slept": seconds}

    return run


def registry(settings):
    """Three tasks that are all due on a fresh database (the daily one once anchored earlier)."""
    return [
        Task("alpha", _task("alpha", 0.4), Every(300)),
        Task("beta", _task("beta", 0.4), Every(3600)),
        Task("gamma", _task("gamma", 0.4), Daily("00:00")),
    ]


def slow_registry(settings):
    """A slow task, then one that must not start after SIGTERM."""
    return [
        Task("slow", _task("slow", 3.0), Every(300)),
        Task("after", _task("after", 0.0), Every(300)),
    ]


def sleepy_registry(settings):
    """A task that sleeps a minute without checking for a stop (``--once sleepy``)."""
    return [Task("sleepy", _task("sleepy", 60.0), Every(3600))]


def _batches(ctx, params, progress):
    """Queued work in 0.1 s batches that stops at a cancel (up to two minutes)."""
    for i in range(1200):
        progress.report(i, 1200, "batch")
        check_cancelled(progress)
        time.sleep(0.1)
    return {"batches": 1200}


def batch_kinds(settings):
    """An extra job kind for ``--kinds`` (enqueued with ``task_names={"batches"}``)."""
    return [JobKind("batches", _batches, "0.1 s batches")]
