"""Fine-tune job rows, on SQLite and PostgreSQL: a provider's answer applied (cost, candidate,
events), the candidates offered to experiments, and marking one taken (with the right)."""

import json

import pytest

from core.platform.clock import FixedClock
from core.platform.errors import Conflict, PermissionDenied, ProviderError, ValidationError
from core.platform.events import recent
from core.platform.models import DatasetVersion, FineTuneJob
from core.training.finetune.jobs import apply_state, experiment_candidates, get_job, list_jobs, mark_candidate
from core.training.finetune.provider import ProviderState
from tests.factories import ADMIN, VIEWER
from tests.factories.training import T0


def _job(session, status="running", provider="openai") -> FineTuneJob:
    ds = DatasetVersion(name="q", token_counter="o200k_base", built_by="t", status="approved")
    session.add(ds)
    session.flush()
    job = FineTuneJob(dataset_version_id=ds.id, provider=provider, status=status, base_model="gpt-4o-mini",
                      launched_by=ADMIN.name, estimated_tokens=1000, estimated_cost_usd=0.003, events=[],
                      result={}, created_at=T0, updated_at=T0, poll_count=0)
    session.add(job)
    session.flush()
    return job


def test_a_success_is_recorded_with_its_cost_and_offered(session, settings):
    job = _job(session)
    state = ProviderState(status="succeeded", fine_tuned_model="ft:gpt-4o-mini:x", trained_tokens=2_000_000,
                          events=[{"id": "ev-1", "message": "done"}])
    apply_state(session, settings, job, state, FixedClock(T0))
    done = get_job(session, job.id)
    assert done.status == "succeeded" and done.candidate_status == "offered" and done.finished_at == T0
    assert done.actual_cost_usd == round(2_000_000 * 3.00 / 1e6, 4) and done.events[-1]["id"] == "ev-1"
    assert recent(session, kind="finetune.succeeded")[0].details["model"] == "ft:gpt-4o-mini:x"
    assert json.loads(json.dumps(done.as_dict()))["status"] == "succeeded"
    with pytest.raises(ProviderError, match="unknown status"):
        apply_state(session, settings, _job(session), ProviderState(status="exploded"), FixedClock(T0))


def test_candidates_are_offered_until_an_experiment_takes_them(session):
    job = _job(session, status="succeeded")
    job.candidate_status = "offered"
    running = _job(session)
    assert [c.id for c in experiment_candidates(session)] == [job.id]
    assert [j.id for j in list_jobs(session, open_only=True)] == [running.id]
    with pytest.raises(PermissionDenied):
        mark_candidate(session, job.id, "taken", actor=VIEWER)
    with pytest.raises(ValidationError):
        mark_candidate(session, job.id, "stolen", actor=ADMIN)
    with pytest.raises(Conflict):
        mark_candidate(session, running.id, "taken", actor=ADMIN)
    assert mark_candidate(session, job.id, "taken", actor=ADMIN).candidate_status == "taken"
    assert experiment_candidates(session) == []
