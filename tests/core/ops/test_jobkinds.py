"""The long actions the job queue runs (core.ops.jobkinds), on SQLite and PostgreSQL: the loop's
embedding fine-tune queued by its quarterly task (once), cancelled through the job run in the
middle of its training, and a local fine-tune whose training fails failing its job run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from core.ops import queue
from core.ops.jobkinds import default_kinds
from core.ops.tasks import TaskContext, default_registry, get_task, run_now
from core.platform.actors import SYSTEM
from core.platform.clock import SystemClock
from core.platform.models import FineTuneJob, JobRun
from core.platform.pii import get_scrubber
from core.platform.statuses import JobRunStatus, TrainingSource
from tests.factories import ADMIN
from tests.factories.training import add_example, approved_dataset


@pytest.fixture
def cfg(settings):
    """A handful of pairs in batches of two: a few training steps."""
    return settings.model_copy(update={"dataset_min_examples": 4, "local_finetune_batch_size": 2})


def _ctx(db, cfg, minilm) -> TaskContext:
    return TaskContext(db.factory, cfg, SystemClock(), embedder_loader=lambda: minilm)


def test_the_quarterly_task_queues_one_embedding_fine_tune(db, cfg, minilm):
    tasks = default_registry(cfg)
    task = get_task(tasks, "embedding_finetune")
    assert task.schedule.describe() == "quarterly (1 Jan/Apr/Jul/Oct) at 04:30"
    first = run_now(_ctx(db, cfg, minilm), task, "test:1", actor=SYSTEM)
    again = run_now(_ctx(db, cfg, minilm), task, "test:1", actor=SYSTEM)
    run_id = first.summary["enqueued"]
    assert again.summary == {"enqueued": None, "already_open": run_id}
    with db.session() as s:
        run = s.get(JobRun, run_id)
        assert (run.job, run.status, run.requested_by) == ("embedding_finetune", "queued", "system")
    assert "embedding_finetune" in default_kinds(tasks)


def test_cancelling_the_job_run_stops_the_training_between_steps(db, cfg, minilm):
    with db.session() as s:
        for i in range(8):
            add_example(s, i, source=TrainingSource.EDITED if i % 2 else TrainingSource.APPROVED)
        run_id = queue.enqueue(s, "embedding_finetune", {"mode": "split"}, actor=SYSTEM).id
        s.commit()
    kinds = default_kinds(default_registry(cfg))
    out: dict = {}
    worker = threading.Thread(target=lambda: out.update(
        queue.run_next(_ctx(db, cfg, minilm), kinds, "test:1", progress_interval=0.1)))
    worker.start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # wait until the training has started, as an admin watching
        with db.session() as s:
            message = s.get(JobRun, run_id).progress_message or ""
        if message.startswith("training the embedding model"):
            break
        time.sleep(0.05)
    with db.session() as s:
        queue.cancel(s, run_id, actor=ADMIN)
        s.commit()
    worker.join(timeout=300)
    assert out["status"] == JobRunStatus.CANCELLED, out.get("error")
    assert "cancelled" in out["error"] and out["progress_message"].startswith("training the embedding model")
    with db.session() as s:
        (job,) = s.query(FineTuneJob).all()
        assert job.status == "cancelled" and job.fine_tuned_model is None
    assert not any((Path(cfg.data_dir) / "models").glob("minilm-ft-*"))


def test_a_failed_local_training_fails_its_job_run(db, cfg, minilm, tmp_path):
    broken = cfg.model_copy(update={"embedding_model_path": str(tmp_path / "no-model-here")})
    with db.session() as s:
        ds_id = approved_dataset(s, cfg, get_scrubber(cfg), n=8)
        run_id = queue.enqueue(s, "finetune", {"dataset_version_id": ds_id, "provider": "local"},
                               actor=SYSTEM).id
        s.commit()
    out = queue.run_next(_ctx(db, broken, minilm), default_kinds(default_registry(cfg)), "test:1")
    assert out["id"] == run_id and out["status"] == JobRunStatus.FAILED
    assert out["error"].startswith("SupportloopError: Fine-tune 1 failed:")
    assert "no-model-here" in out["error"]
    with db.session() as s:
        assert s.get(FineTuneJob, 1).status == "failed"
