"""Monitoring fine-tunes, on SQLite and PostgreSQL: the OpenAI path start to finish against a fake
server at the wire (real `openai` client) across a restart, a failed job, an unreachable provider,
and the runner's schedule. (The local embedding fine-tune is trained by the job runner, not by a
poll: tests/core/training/finetune/test_local_run.py.)"""

from __future__ import annotations

from pathlib import Path

from core.ops.tasks import default_registry
from core.platform.clock import FixedClock
from core.platform.events import recent
from core.platform.models import DatasetVersion, FineTuneJob
from core.training.finetune.factory import default_provider_factory
from core.training.finetune.jobs import experiment_candidates, get_job
from core.training.finetune.launch import check_launch, launch
from core.training.finetune.polling import poll
from tests.factories import ADMIN
from tests.factories.training import T0, approved_dataset


# --- the OpenAI path ----------------------------------------------------------------------------------
def test_openai_job_runs_to_success_across_a_restart(db, cfg, scrubber, fake):
    clock = FixedClock(T0)
    with db.session() as s:
        ds_id = approved_dataset(s, cfg, scrubber)
        job = launch(s, cfg, ds_id, ADMIN, clock=clock)
        s.commit()
        ds_file = Path(cfg.data_dir) / s.get(DatasetVersion, ds_id).train_file
    assert job.status == "validating_files" and job.provider_job_id.startswith("ftjob-")
    (remote,) = fake.jobs.values()
    assert remote["model"] == "gpt-4o-mini" and remote["suffix"] == "supportloop" and remote["n_epochs"] == 3
    assert remote["request"]["validation_file"] and remote["seed"] == cfg.dataset_seed
    train = fake.files[remote["training_file"]]
    assert train["purpose"] == "fine-tune" and train["content"] == ds_file.read_bytes()

    # monitoring, two polls in one process ...
    factory = default_provider_factory(cfg)
    for _ in range(2):
        clock.advance(seconds=60)
        with db.session() as s:
            poll(s, factory, cfg, clock)
            s.commit()
    with db.session() as s:
        stored = s.get(FineTuneJob, job.id)
        assert stored.status == "running" and stored.poll_count == 2
    # ... then the process restarts: a new provider object and new sessions continue
    factory = default_provider_factory(cfg)
    seen = []
    for _ in range(4):
        clock.advance(seconds=60)
        with db.session() as s:
            seen.extend(r["status"] for r in poll(s, factory, cfg, clock))
            s.commit()
    assert seen == ["running", "succeeded"]  # nothing open after success: no more polls
    with db.session() as s:
        done = get_job(s, job.id)
        assert done.fine_tuned_model == "ft:gpt-4o-mini:fake-org:supportloop:abc123"
        assert done.trained_tokens == 123_456 and done.actual_cost_usd == round(123_456 * 3.00 / 1e6, 4)
        assert done.finished_at is not None and done.candidate_status == "offered"
        assert [e["message"] for e in done.events] == [
            "Created fine-tuning job",
            "Job is queued",
            "Job is running",
            "Job is running",
            "Job is succeeded",
        ]
        assert [c.id for c in experiment_candidates(s)] == [job.id]
        assert recent(s, kind="finetune.succeeded")[0].details["model"] == done.fine_tuned_model
        s.commit()


def test_failed_job_records_the_error_and_an_event(session, cfg, scrubber, fake):
    clock = FixedClock(T0)
    ds_id = approved_dataset(session, cfg, scrubber)
    fake.next_outcome = "failed"
    job = launch(session, cfg, ds_id, ADMIN, clock=clock)
    factory = default_provider_factory(cfg)
    for _ in range(5):
        poll(session, factory, cfg, clock)
    failed = get_job(session, job.id)
    assert failed.status == "failed" and failed.candidate_status is None
    assert failed.error == "invalid_training_file: Training file has 3 invalid lines. (param training_file)"
    ev = recent(session, kind="finetune.failed")
    assert len(ev) == 1 and ev[0].severity == "error" and ev[0].details["job_id"] == job.id
    assert experiment_candidates(session) == []
    assert check_launch(session, cfg, ds_id, clock=clock).quarter_spent_usd == 0.0  # failed, no cost


def test_an_unreachable_provider_leaves_the_job_open(session, cfg, scrubber, fake):
    clock = FixedClock(T0)
    ds_id = approved_dataset(session, cfg, scrubber)
    job = launch(session, cfg, ds_id, ADMIN, clock=clock)
    # the API goes away: the job stays open, the error is kept, the next poll retries
    down = cfg.model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"})
    out = poll(session, default_provider_factory(down), down, clock)
    assert out[0]["status"] == "validating_files" and "OpenAI status failed" in out[0]["error"]
    assert "last_poll_error" in get_job(session, job.id).result
    poll(session, default_provider_factory(cfg), cfg, clock)
    assert (
        get_job(session, job.id).status == "queued"
        and "last_poll_error" not in get_job(session, job.id).result
    )
    assert session.get(FineTuneJob, job.id).poll_count == 2


def test_the_runner_registers_polling_and_the_quarterly_build(settings):
    tasks = {t.name: t for t in default_registry(settings)}
    assert tasks["finetune_poll"].schedule.seconds == 60
    assert tasks["dataset_build"].schedule.at == "03:30"
