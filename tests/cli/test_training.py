"""`supportloop dataset ...` and `supportloop finetune ...` through the command line, on SQLite and
PostgreSQL: build, list, show, approve (only an admin account), export, a launch's dry run,
status and cancel; a local fine-tune and the loop's embedding fine-tune queued for the job runner."""

import json

from sqlalchemy import select

from core.access.auth import create_user
from core.platform.config import get_settings
from core.platform.models import FineTuneJob, JobRun
from tests.factories import ADMIN
from tests.factories.training import add_example


def test_dataset_and_finetune_commands(db, session, settings, cli, tmp_path):
    create_user(session, "boss", "admin", "correct-horse-1", actor=ADMIN)
    create_user(session, "rita", "reviewer", "correct-horse-2", actor=ADMIN)
    for i in range(12):
        add_example(session, i)
    session.commit()
    run = cli
    out = run("dataset", "build", "--name", "cli test")
    assert "dataset 1  cli test  [chat]  status: pending_approval" in out
    assert "12 train + 0 validation" in out
    assert "pending_approval" in run("dataset", "list")
    assert "--only-bookings only work(s) without --queue" in run(
        "dataset", "build", "--queue", "--only-bookings", code=1)
    queued = run("dataset", "build", "--queue", "--name", "queued", "--max-examples", "5")
    assert "queued dataset_build as job run" in queued
    with db.session() as s:
        job = s.scalars(select(JobRun).where(JobRun.job == "dataset_build")).one()
        assert job.status == "queued"
        assert job.params == {"kind": "chat", "max_examples": 5, "name": "queued"}
    shown = json.loads(run("dataset", "show", "1", "--json"))
    assert shown["counts"]["written"] == 12 and shown["token_counter"] == "o200k_base"
    assert "only an approved dataset" in run("dataset", "export", "1", tmp_path / "x", code=1)
    assert "rita is a reviewer" in run("dataset", "approve", "1", "--actor", "rita", code=1)
    assert "approved by boss" in run("dataset", "approve", "1", "--actor", "boss")
    assert "train: " in run("dataset", "export", "1", tmp_path / "x")
    assert (tmp_path / "x" / "dataset-1-train.jsonl").exists()
    out = run("finetune", "launch", "1", "--actor", "boss", "--dry-run", code=1)
    assert "needs at least 200" in out
    assert "no fine-tunes yet" in run("finetune", "status")
    assert "does not exist" in run("finetune", "cancel", "9", "--actor", "boss", code=1)


def test_local_fine_tunes_and_the_loop_are_queued_for_the_job_runner(db, session, settings, cli, monkeypatch):
    create_user(session, "boss", "admin", "correct-horse-1", actor=ADMIN)
    for i in range(6):
        add_example(session, i)
    session.commit()
    monkeypatch.setenv("SUPPORTLOOP_DATASET_MIN_EXAMPLES", "4")
    cli("dataset", "build", "--name", "loop test")
    cli("dataset", "approve", "1", "--actor", "boss")
    out = cli("finetune", "launch", "1", "--provider", "local", "--actor", "boss")
    assert "queued finetune as job run 1" in out
    out = cli("finetune", "loop", "--mode", "split", "--share", "0.2", "--actor", "boss")
    assert "queued embedding_finetune as job run 2" in out
    runs = {r.id: r for r in session.scalars(select(JobRun))}
    assert (runs[1].job, runs[1].params, runs[1].requested_by) == (
        "finetune", {"dataset_version_id": 1, "provider": "local"}, "boss")
    assert runs[2].job == "embedding_finetune"
    assert runs[2].params == {"start": True, "mode": "split", "share": 0.2}
    assert session.scalars(select(FineTuneJob)).all() == []  # nothing trains in the command line
    monkeypatch.setenv("SUPPORTLOOP_DATASET_MIN_EXAMPLES", "50")
    get_settings.cache_clear()
    out = cli("finetune", "launch", "1", "--provider", "local", "--actor", "boss", code=1)
    assert "needs at least 50" in out and "queued" not in out
