"""core.demo.job: the demo loads as a job of the runner in short committed batches, with
progress, and stops cleanly when cancelled (loading again goes on where it stopped)."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from cli import main
from core.demo.business import SIZES
from core.demo.job import KIND, demo_load, demo_params
from core.ops import queue
from core.ops.tasks import TaskContext
from core.platform.actors import SYSTEM
from core.platform.clock import FixedClock
from core.platform.config import get_settings
from core.platform.db import make_engine, upgrade
from core.platform.embeddings import HashingEmbedder
from core.platform.errors import ValidationError
from core.platform.models import Conversation, Feedback, JobRun, Message
from core.platform.progress import JobCancelled
from core.platform.statuses import JobRunStatus

NOW = dt.datetime(2025, 6, 15, 18, 30)


def _ctx(db, settings) -> TaskContext:
    hashing = HashingEmbedder(dim=256)  # the warm-up runs on the fast hashing embedder here
    return TaskContext(db.factory, settings, FixedClock(NOW), embedder_loader=lambda: hashing)


class Watcher:
    """A Progress that checks, at every report, what another connection sees: the batches
    reported are committed, and (SQLite) no write lock is held between batches."""

    def __init__(self, db, cancel_at: str | None = None):
        self.db, self.cancel_at = db, cancel_at
        self.reports: list[tuple[int, int | None, str]] = []
        self.engine = make_engine(db.url)
        self._cancel = False
        with self.engine.connect() as conn:  # stored before this load (a load after a cancel)
            self.base = conn.scalar(select(func.count()).select_from(Conversation))

    def report(self, done: int, total: int | None = None, message: str = "") -> None:
        self.reports.append((done, total, message))
        with self.engine.connect() as conn:
            if message.startswith("storing") and done:
                assert conn.scalar(select(func.count()).select_from(Conversation)) == self.base + done
            if self.db.backend == "sqlite":  # another writer gets the lock at once
                conn.exec_driver_sql("PRAGMA busy_timeout = 0")
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                conn.exec_driver_sql("ROLLBACK")
        if self.cancel_at and message.startswith(self.cancel_at) and done:
            self._cancel = True

    def cancelled(self) -> bool:
        return self._cancel


def test_demo_params_are_checked():
    assert demo_params({}) == {"size": "full", "seed": None, "if_empty": False, "conversations_only": False}
    assert demo_params({"size": "small", "seed": "3", "if_empty": "true"})["seed"] == 3
    for bad, words in [({"size": "huge"}, "Unknown demo size"), ({"seed": "x"}, "whole number"),
                       ({"colour": 1}, "Unknown demo_load parameter"),
                       ({"if_empty": "maybe"}, "true or false")]:
        with pytest.raises(ValidationError, match=words):
            demo_params(bad)


def test_demo_load_commits_each_batch_and_reports_every_step(db, settings):
    watcher = Watcher(db)
    out = demo_load(_ctx(db, settings), {"size": "small", "seed": 5}, watcher)
    assert out["conversations"] == SIZES["small"] and out["loop"]["enriched"] > 0
    stored = [(d, t) for d, t, m in watcher.reports if m.startswith("storing")]
    assert stored[0] == (0, SIZES["small"]) and stored[-1] == (SIZES["small"], SIZES["small"])
    assert len(stored) >= 3  # more than one batch
    messages = [m for _d, _t, m in watcher.reports]
    for step in ("knowledge base", "enrichment", "votes", "review queue", "metrics", "warm-up done"):
        assert any(step in m for m in messages), step
    enriching = [(d, t) for d, t, m in watcher.reports if "enrichment (messages)" in m]
    assert enriching[-1][0] == enriching[-1][1] > 0
    watcher.engine.dispose()


def test_a_cancel_stops_at_the_next_batch_and_loading_again_finishes(db, settings):
    ctx = _ctx(db, settings)
    watcher = Watcher(db, cancel_at="storing")
    with pytest.raises(JobCancelled):
        demo_load(ctx, {"size": "small", "seed": 5}, watcher)
    with db.factory() as s:
        kept = s.scalar(select(func.count()).select_from(Conversation))
    assert 0 < kept < SIZES["small"]  # the first batch stays committed

    watcher = Watcher(db, cancel_at="warm-up 3/6: enrichment (messages)")
    with pytest.raises(JobCancelled):
        demo_load(ctx, {"size": "small", "seed": 5}, watcher)
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == SIZES["small"]
        left = s.scalar(select(func.count()).select_from(Message).where(Message.enriched_at.is_(None)))
        assert left > 0  # stopped within the enrichment

    out = demo_load(ctx, {"size": "small", "seed": 5}, Watcher(db))
    assert out["conversations"] == 0 and out["conversations_skipped"] == SIZES["small"]
    with db.factory() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.enriched_at.is_(None))) == 0
        assert s.scalar(select(func.count()).select_from(Feedback)) == out["loop"]["votes"] > 0


def test_the_runner_runs_a_queued_demo_load_with_progress_on_the_run(db, settings):
    ctx = _ctx(db, settings)
    with ctx.session() as s:
        run_id = queue.enqueue(s, KIND, {"size": "small", "conversations_only": True}, actor=SYSTEM).id
    kinds = {KIND: queue.JobKind(KIND, demo_load)}
    result = queue.run_next(ctx, kinds, "test-runner", progress_interval=0.05)
    assert result["id"] == run_id and result["status"] == JobRunStatus.SUCCEEDED, result
    assert result["summary"]["conversations"] == SIZES["small"]
    with db.factory() as s:
        run = s.get(JobRun, run_id)
        assert run.progress_done == run.progress_total == SIZES["small"]
        assert s.scalar(text("SELECT count(*) FROM conversation")) == SIZES["small"]


def test_cli_queues_one_demo_job_and_refuses_wait_without_queue(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'q.db'}"
    upgrade(url)
    monkeypatch.setenv("SUPPORTLOOP_DATABASE_URL", url)
    monkeypatch.setenv("SUPPORTLOOP_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(main, ["demo", "--size", "small", "--queue", "--if-empty"])
        again = CliRunner().invoke(main, ["demo", "--size", "small", "--queue"])
        wait_alone = CliRunner().invoke(main, ["demo", "--size", "small", "--wait"])
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0 and "demo load queued: job run 1" in first.output, first.output
    assert again.exit_code == 0 and "already queued: job run 1" in again.output, again.output
    assert wait_alone.exit_code == 2 and "--queue" in wait_alone.output
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT job, status, params FROM job_run")).all()
    engine.dispose()
    assert len(rows) == 1 and rows[0][0] == KIND and rows[0][1] == JobRunStatus.QUEUED
    assert '"size": "small"' in rows[0][2] and '"if_empty": true' in rows[0][2]
