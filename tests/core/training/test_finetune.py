"""Fine-tunes (issue 6): preflight and cost control, the OpenAI path start to finish against
a fake server at the wire (real `openai` client), a failed job, a restart mid-monitoring,
cancel, an unreachable provider, and the local embedding fine-tune through the KB gate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from core.access.auth import create_user
from core.ops.tasks import default_registry
from core.platform.clock import FixedClock
from core.platform.config import Settings
from core.platform.errors import Conflict, PermissionDenied, ValidationError
from core.platform.events import recent
from core.platform.models import DatasetVersion, FineTuneJob, KBVersion, TrainingExample
from core.training import finetune as ft
from core.training.datasets import DatasetFilters, approve_dataset, build_dataset
from core.training.finetune.preflight import quarter_of
from tests.core.finetune_fakes import FakeOpenAI

T0 = dt.datetime(2026, 5, 10, 12, 0)
INTENTS = ["pricing", "travel", "menu", "booking"]


@pytest.fixture(scope="session")
def scrubber():
    from core.platform.pii import get_scrubber

    return get_scrubber(Settings(_env_file=None))


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture
def cfg(settings, fake):
    return settings.model_copy(
        update={
            "openai_base_url": fake.base_url,
            "openai_api_key": "sk-test",
            "dataset_min_examples": 20,
            "finetune_timeout_s": 5.0,
        }
    )


def seed_examples(session, n: int) -> None:
    for i in range(n):
        session.add(
            TrainingExample(
                question=f"Question {i}: how much is option {i} for {10 + i} guests in town {i}?",
                answer=f"Answer {i}: option {i} is {50 + i} dollars per guest, {600 + i} dollar minimum.",
                intent=INTENTS[i % 4],
                source="approved",
                human_verified=True,
                quality_score=1.0,
                led_to_booking=False,
                channel="web",
                active=True,
                source_message_ids=[],
                tags=[],
                voice=False,
                created_at=T0 - dt.timedelta(days=2),
            )
        )
    session.add_all([])
    session.flush()
    create_user(session, "boss", "admin", "correct-horse-1")
    create_user(session, "vic", "viewer", "correct-horse-2")
    session.flush()


def approved_dataset(session, settings, scrubber, n: int = 24, approve: bool = True) -> int:
    seed_examples(session, n)
    d = build_dataset(session, settings, scrubber, actor="t", clock=FixedClock(T0))
    if approve:
        approve_dataset(session, settings, d.id, "boss", clock=FixedClock(T0))
    return d.id


# --- preflight and cost control ---------------------------------------------------------------------
def test_preflight_refuses_with_what_is_missing(session, cfg, scrubber, fake):
    pending = approved_dataset(session, cfg, scrubber, approve=False)
    clock = FixedClock(T0)
    with pytest.raises(ValidationError, match="an admin must approve it first"):
        ft.launch(session, cfg, pending, "boss", clock=clock)
    approve_dataset(session, cfg, pending, "boss")
    with pytest.raises(PermissionDenied, match="vic is a viewer"):
        ft.launch(session, cfg, pending, "vic", clock=clock)
    strict = cfg.model_copy(update={"dataset_min_examples": 200})
    with pytest.raises(ValidationError, match=r"has 24 examples; a fine-tune needs at least 200 \(176 more"):
        ft.launch(session, strict, pending, "boss", clock=clock)
    pf = ft.check_launch(session, cfg, pending, clock=clock)
    ds = session.get(__import__("core.platform.models", fromlist=["DatasetVersion"]).DatasetVersion, pending)
    assert pf.ok and pf.estimated_tokens == ds.train_tokens * 3
    assert pf.estimated_cost_usd == round(ds.train_tokens * 3 * 3.00 / 1e6, 4)
    poor = cfg.model_copy(update={"finetune_quarterly_budget_usd": pf.estimated_cost_usd / 2})
    with pytest.raises(ValidationError, match="exceeds the quarterly budget"):
        ft.launch(session, poor, pending, "boss", clock=clock)
    with pytest.raises(ValidationError, match="no training price for base model 'mystery-model'"):
        ft.launch(session, cfg, pending, "boss", base_model="mystery-model", clock=clock)
    assert session.query(FineTuneJob).count() == 0 and fake.requests == []
    # spend of the quarter counts: a launched job's estimate uses the budget up
    tight = cfg.model_copy(update={"finetune_quarterly_budget_usd": pf.estimated_cost_usd * 1.5})
    ft.launch(session, tight, pending, "boss", clock=clock)
    again = ft.check_launch(session, tight, pending, clock=clock)
    assert again.quarter_spent_usd == pf.estimated_cost_usd and not again.ok
    # next quarter the budget is fresh
    label, start, end = quarter_of(T0)
    assert label == "2026-Q2" and (start, end) == (dt.datetime(2026, 4, 1), dt.datetime(2026, 7, 1))
    assert ft.check_launch(session, tight, pending, clock=FixedClock(end)).ok


# --- the OpenAI path ----------------------------------------------------------------------------------
def test_openai_job_runs_to_success_across_a_restart(db, cfg, scrubber, fake):
    clock = FixedClock(T0)
    with db.session() as s:
        ds_id = approved_dataset(s, cfg, scrubber)
        job = ft.launch(s, cfg, ds_id, "boss", clock=clock)
        s.commit()
        ds_file = Path(cfg.data_dir) / s.get(DatasetVersion, ds_id).train_file
    assert job.status == "validating_files" and job.provider_job_id.startswith("ftjob-")
    (remote,) = fake.jobs.values()
    assert remote["model"] == "gpt-4o-mini" and remote["suffix"] == "supportloop" and remote["n_epochs"] == 3
    assert remote["request"]["validation_file"] and remote["seed"] == cfg.dataset_seed
    train = fake.files[remote["training_file"]]
    assert train["purpose"] == "fine-tune" and train["content"] == ds_file.read_bytes()

    # monitoring, two polls in one process ...
    factory = ft.default_provider_factory(cfg)
    for _ in range(2):
        clock.advance(seconds=60)
        with db.session() as s:
            ft.poll(s, factory, cfg, clock)
            s.commit()
    with db.session() as s:
        stored = s.get(FineTuneJob, job.id)
        assert stored.status == "running" and stored.poll_count == 2
    # ... then the process restarts: a new provider object and new sessions continue
    factory = ft.default_provider_factory(cfg)
    seen = []
    for _ in range(4):
        clock.advance(seconds=60)
        with db.session() as s:
            seen.extend(r["status"] for r in ft.poll(s, factory, cfg, clock))
            s.commit()
    assert seen == ["running", "succeeded"]  # nothing open after success: no more polls
    with db.session() as s:
        done = ft.get_job(s, job.id)
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
        assert [c.id for c in ft.experiment_candidates(s)] == [job.id]
        ft.mark_candidate(s, job.id, "taken", actor="experiments")
        assert ft.experiment_candidates(s) == []
        assert recent(s, kind="finetune.succeeded")[0].details["model"] == done.fine_tuned_model
        s.commit()


def test_failed_job_records_the_error_and_an_event(session, cfg, scrubber, fake):
    clock = FixedClock(T0)
    ds_id = approved_dataset(session, cfg, scrubber)
    fake.next_outcome = "failed"
    job = ft.launch(session, cfg, ds_id, "boss", clock=clock)
    factory = ft.default_provider_factory(cfg)
    for _ in range(5):
        ft.poll(session, factory, cfg, clock)
    failed = ft.get_job(session, job.id)
    assert failed.status == "failed" and failed.candidate_status is None
    assert failed.error == "invalid_training_file: Training file has 3 invalid lines. (param training_file)"
    ev = recent(session, kind="finetune.failed")
    assert len(ev) == 1 and ev[0].severity == "error" and ev[0].details["job_id"] == job.id
    assert ft.experiment_candidates(session) == []
    assert ft.check_launch(session, cfg, ds_id, clock=clock).quarter_spent_usd == 0.0  # failed, no cost


def test_cancel_and_an_unreachable_provider(session, cfg, scrubber, fake):
    clock = FixedClock(T0)
    ds_id = approved_dataset(session, cfg, scrubber)
    job = ft.launch(session, cfg, ds_id, "boss", clock=clock)
    # the API goes away: the job stays open, the error is kept, the next poll retries
    down = cfg.model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"})
    out = ft.poll(session, ft.default_provider_factory(down), down, clock)
    assert out[0]["status"] == "validating_files" and "OpenAI status failed" in out[0]["error"]
    assert "last_poll_error" in ft.get_job(session, job.id).result
    ft.poll(session, ft.default_provider_factory(cfg), cfg, clock)
    assert (
        ft.get_job(session, job.id).status == "queued"
        and "last_poll_error" not in ft.get_job(session, job.id).result
    )
    with pytest.raises(PermissionDenied):
        ft.cancel(session, cfg, job.id, "vic")
    assert ft.cancel(session, cfg, job.id, "boss", clock=clock).status == "cancelled"
    with pytest.raises(Conflict, match="only an open job"):
        ft.cancel(session, cfg, job.id, "boss")
    assert ft.poll(session, ft.default_provider_factory(cfg), cfg, clock) == []
    # a missing key is refused before anything is stored
    nokey = cfg.model_copy(update={"openai_api_key": ""})
    with pytest.raises(ValidationError, match="SUPPORTLOOP_OPENAI_API_KEY"):
        ft.launch(session, nokey, ds_id, "boss", clock=clock)


def test_the_runner_registers_polling_and_the_quarterly_build(settings):
    tasks = {t.name: t for t in default_registry(settings)}
    assert tasks["finetune_poll"].schedule.seconds == 60
    assert tasks["dataset_build"].schedule.at == "03:30"


# --- the local path -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_local_finetune_builds_a_candidate_kb_version_through_the_gate(session, settings, scrubber, minilm):
    from core.knowledge.chunks import load_demo_knowledge

    cfg = settings.model_copy(update={"dataset_min_examples": 20, "local_finetune_batch_size": 8})
    load_demo_knowledge(session, minilm, cfg, FixedClock(T0))
    active_before = session.query(KBVersion).filter_by(status="active").one()
    ds_id = approved_dataset(session, cfg, scrubber, n=22)
    job = ft.launch(session, cfg, ds_id, "boss", provider="local", clock=FixedClock(T0))
    assert job.status == "queued" and job.estimated_cost_usd == 0.0
    factory = ft.default_provider_factory(cfg, embedder_loader=lambda: minilm)
    (out,) = ft.poll(session, factory, cfg, FixedClock(T0))
    done = ft.get_job(session, job.id)
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model.startswith("local:minilm-ft-") and done.actual_cost_usd == 0.0
    model_dir = Path(done.result["model_path"])
    assert (model_dir / "config.json").exists() or (model_dir / "modules.json").exists()
    assert done.result["pairs"] == 18 and done.result["epochs"] == 1  # the train split (4 held out)
    kb = session.get(KBVersion, done.result["kb_version_id"])
    assert kb.model_id == done.fine_tuned_model and kb.eval_report["hit_at_1"] is not None
    assert kb.eval_report["baseline_version_id"] == active_before.id
    # never activated by the fine-tune: the active version keeps serving
    assert session.query(KBVersion).filter_by(status="active").one().id == active_before.id
    if done.result["gate"] == "passed":
        assert kb.status == "candidate" and done.candidate_status == "offered"
    else:
        assert kb.status == "rejected" and done.candidate_status == "declined"
    json.dumps(done.as_dict())


def test_local_finetune_failure_is_recorded(session, settings, scrubber, tmp_path):
    cfg = settings.model_copy(
        update={"dataset_min_examples": 20, "embedding_model_path": str(tmp_path / "no-model-here")}
    )
    ds_id = approved_dataset(session, cfg, scrubber, n=22)
    job = ft.launch(session, cfg, ds_id, "boss", provider="local", clock=FixedClock(T0))
    ft.poll(session, ft.default_provider_factory(cfg), cfg, FixedClock(T0))
    failed = ft.get_job(session, job.id)
    assert failed.status == "failed" and failed.error
    assert recent(session, kind="finetune.failed")[0].details["provider"] == "local"
    assert not any((Path(cfg.data_dir) / "models").glob("minilm-ft-*"))


_ = DatasetFilters
