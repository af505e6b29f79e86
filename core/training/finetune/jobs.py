"""Fine-tune job rows: reading them, a view for providers, applying a provider's answer, and
the candidates a succeeded job offers to experiments.

A provider's answer (``ProviderState``) is applied by ``apply_state``: on success it records
the fine-tuned model, trained tokens, actual cost and finish time and offers the model to
experiments (``candidate_status = 'offered'``); on failure it records the error and a
``finetune.failed`` event; a cancellation records its finish time.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from core.platform import audit, events
from core.platform.actors import Actor, require
from core.platform.clock import Clock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, ProviderError, ValidationError
from core.platform.models import CANDIDATE_STATUSES, FINETUNE_OPEN_STATUSES, FINETUNE_STATUSES, FineTuneJob
from core.platform.statuses import CandidateStatus, FinetuneProvider, FinetuneStatus
from core.training.datasets import get_dataset
from core.training.finetune.preflight import price_of
from core.training.finetune.provider import JobView, ProviderState

MAX_STORED_EVENTS = 50


# --- plain results -------------------------------------------------------------------------------
@dataclass
class JobInfo:
    """A fine-tune job as the CLI and the dashboard show it."""

    id: int
    dataset_version_id: int
    provider: str
    status: str
    base_model: str
    suffix: str | None
    hyperparameters: dict[str, Any]
    provider_job_id: str | None
    estimated_tokens: int
    estimated_cost_usd: float
    trained_tokens: int | None
    actual_cost_usd: float | None
    fine_tuned_model: str | None
    error: str | None
    candidate_status: str | None
    launched_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None
    last_polled_at: dt.datetime | None
    events: list[dict[str, Any]]
    result: dict[str, Any]

    @property
    def open(self) -> bool:
        return self.status in FINETUNE_OPEN_STATUSES

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k in ("created_at", "finished_at", "last_polled_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


def job_info(job: FineTuneJob) -> JobInfo:
    """Plain data of a fine-tune job row."""
    return JobInfo(
        id=job.id,
        dataset_version_id=job.dataset_version_id,
        provider=job.provider,
        status=job.status,
        base_model=job.base_model,
        suffix=job.suffix,
        hyperparameters=dict(job.hyperparameters or {}),
        provider_job_id=job.provider_job_id,
        estimated_tokens=job.estimated_tokens,
        estimated_cost_usd=job.estimated_cost_usd,
        trained_tokens=job.trained_tokens,
        actual_cost_usd=job.actual_cost_usd,
        fine_tuned_model=job.fine_tuned_model,
        error=job.error,
        candidate_status=job.candidate_status,
        launched_by=job.launched_by,
        created_at=job.created_at,
        finished_at=job.finished_at,
        last_polled_at=job.last_polled_at,
        events=list(job.events or []),
        result=dict(job.result or {}),
    )


def job_view(settings: Settings, job: FineTuneJob) -> JobView:
    """What a provider is told about a stored job (its dataset's files resolved)."""
    version = get_dataset(object_session(job), job.dataset_version_id)
    paths = {}
    for split, rel in (("train", version.train_file), ("validation", version.validation_file)):
        paths[split] = Path(settings.data_dir) / rel if rel else None
    return JobView(
        id=job.id,
        provider_job_id=job.provider_job_id,
        status=job.status,
        base_model=job.base_model,
        epochs=int((job.hyperparameters or {}).get("n_epochs", settings.finetune_epochs)),
        dataset_version_id=job.dataset_version_id,
        train_path=paths["train"],
        validation_path=paths["validation"],
        last_event_id=job.last_event_id,
        result=dict(job.result or {}),
    )


# --- applying provider answers ----------------------------------------------------------------------
def _actual_cost(settings: Settings, job: FineTuneJob, trained_tokens: int | None) -> float | None:
    if job.provider == FinetuneProvider.LOCAL:
        return 0.0
    if trained_tokens is None:
        return None
    price = price_of(settings, job.base_model)
    return None if price is None else round(trained_tokens * price / 1_000_000, 4)


def apply_state(
    session: Session, settings: Settings, job: FineTuneJob, state: ProviderState, clock: Clock
) -> None:
    """Record a provider's answer on the job row (and an event when its status changes)."""
    if state.status not in FINETUNE_STATUSES:
        raise ProviderError(f"Provider reported unknown status {state.status!r} for fine-tune job {job.id}.")
    now = clock.now()
    before = job.status
    for attr in ("provider_job_id", "training_file_id", "validation_file_id", "fine_tuned_model"):
        value = getattr(state, attr)
        if value:
            setattr(job, attr, value)
    if state.trained_tokens is not None:
        job.trained_tokens = int(state.trained_tokens)
    if state.events:
        job.events = (list(job.events or []) + state.events)[-MAX_STORED_EVENTS:]
        job.last_event_id = str(state.events[-1].get("id") or job.last_event_id)
    if state.result:
        job.result = {**(job.result or {}), **state.result}
    job.status = state.status
    job.updated_at = now
    if state.status == before:
        return
    if state.status == FinetuneStatus.SUCCEEDED:
        job.finished_at = state.finished_at or now
        job.actual_cost_usd = _actual_cost(settings, job, job.trained_tokens)
        job.candidate_status = CandidateStatus.OFFERED if state.candidate else CandidateStatus.DECLINED
        events.record(
            session,
            "finetune.succeeded",
            f"Fine-tune {job.id} succeeded: {job.fine_tuned_model}",
            clock=clock,
            details={
                "job_id": job.id,
                "model": job.fine_tuned_model,
                "trained_tokens": job.trained_tokens,
                "cost_usd": job.actual_cost_usd,
                "candidate_status": job.candidate_status,
            },
        )
    elif state.status == FinetuneStatus.FAILED:
        job.finished_at = state.finished_at or now
        job.error = state.error or "the provider reported failure without a message"
        job.actual_cost_usd = _actual_cost(settings, job, job.trained_tokens) if job.trained_tokens else None
        events.record(
            session,
            "finetune.failed",
            f"Fine-tune {job.id} failed: {job.error}"[:300],
            severity="error",
            clock=clock,
            details={
                "job_id": job.id,
                "provider": job.provider,
                "provider_job_id": job.provider_job_id,
                "error": job.error,
                "dataset_version_id": job.dataset_version_id,
            },
        )
    elif state.status == FinetuneStatus.CANCELLED:
        job.finished_at = state.finished_at or now
        events.record(
            session,
            "finetune.cancelled",
            f"Fine-tune {job.id} cancelled",
            clock=clock,
            details={"job_id": job.id},
        )


# --- reading ---------------------------------------------------------------------------------------
def get_job_row(session: Session, job_id: int) -> FineTuneJob:
    """The fine-tune job row, or NotFound."""
    job = session.get(FineTuneJob, job_id)
    if job is None:
        raise NotFound(f"Fine-tune job {job_id} does not exist; `supportloop finetune status` lists them.")
    return job


def get_job(session: Session, job_id: int) -> JobInfo:
    """The fine-tune job as plain data, or NotFound."""
    return job_info(get_job_row(session, job_id))


def list_jobs(session: Session, *, open_only: bool = False, limit: int = 50) -> list[JobInfo]:
    """Fine-tune jobs, newest first."""
    q = select(FineTuneJob).order_by(FineTuneJob.id.desc()).limit(limit)
    if open_only:
        q = q.where(FineTuneJob.status.in_(FINETUNE_OPEN_STATUSES))
    return [job_info(j) for j in session.scalars(q)]


def experiment_candidates(session: Session) -> list[JobInfo]:
    """Succeeded fine-tunes offered to experiments and not yet taken (oldest first)."""
    q = (
        select(FineTuneJob)
        .where(FineTuneJob.status == FinetuneStatus.SUCCEEDED,
               FineTuneJob.candidate_status == CandidateStatus.OFFERED)
        .order_by(FineTuneJob.id)
    )
    return [job_info(j) for j in session.scalars(q)]


def mark_candidate(
    session: Session, job_id: int, status: str, *, actor: Actor, clock: Clock | None = None
) -> JobInfo:
    """The experiments side marks an offered model ``taken`` (an experiment uses it) or
    ``declined`` (``manage_experiments`` right)."""
    require(actor, "manage_experiments")
    if status not in CANDIDATE_STATUSES:
        raise ValidationError(
            f"Unknown candidate status {status!r}; use one of {', '.join(CANDIDATE_STATUSES)}."
        )
    job = get_job_row(session, job_id)
    if job.status != FinetuneStatus.SUCCEEDED:
        raise Conflict(f"Fine-tune {job.id} is {job.status}; only a succeeded fine-tune is a candidate.")
    before = {"candidate_status": job.candidate_status}
    job.candidate_status = status
    audit.record(
        session,
        actor.name,
        "finetune.candidate",
        "finetune_job",
        job.id,
        before=before,
        after={"candidate_status": status},
        clock=clock,
    )
    session.flush()
    return job_info(job)
