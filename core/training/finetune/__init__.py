"""Fine-tunes of approved datasets: one provider interface, launch with preflight, monitoring.

Providers (``FineTuneProvider``): ``openai`` (``core.training.finetune.openai_provider``: upload the
files, create the job on the base model, read status and events, cancel; the real ``openai``
client) and ``local`` (``core.training.finetune.local_provider``: fine-tune the embedding model on the
dataset's question/answer pairs on the CPU, save it as a new embedding model version and build
a candidate KB version with it through the KB evaluation gate; no API key needed).

- ``launch`` (admin only): the dataset must be approved and pass ``preflight`` (minimum
  examples, price known, quarterly budget); the job row is stored, then submitted.
- ``poll(session, provider_factory, settings, clock)`` advances every open job once (the job
  runner calls it every ``finetune_poll_seconds``); the state lives in the ``finetune_job``
  row, so a restarted process (new provider object, new session) continues where it was.
  On success it records the fine-tuned model, trained tokens, actual cost and finish time and
  offers the model to experiments (``candidate_status = 'offered'``, see
  ``experiment_candidates``); on failure it records the error and a ``finetune.failed`` event.
- ``cancel`` (admin only) cancels an open job at its provider.

Nothing here sleeps or loops waiting: each call does one step and returns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform import audit, events
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, NotFound, ProviderError, SupportloopError, ValidationError
from core.platform.models import (
    CANDIDATE_STATUSES,
    FINETUNE_OPEN_STATUSES,
    FINETUNE_PROVIDERS,
    FINETUNE_STATUSES,
    FineTuneJob,
)
from core.training.datasets import dataset_paths, get_dataset, require_admin
from core.training.finetune.preflight import Preflight, preflight, price_of

MAX_STORED_EVENTS = 50

__all__ = [
    "FineTuneProvider",
    "JobView",
    "LaunchRequest",
    "ProviderState",
    "JobInfo",
    "Preflight",
    "launch",
    "check_launch",
    "poll",
    "cancel",
    "get_job",
    "list_jobs",
    "experiment_candidates",
    "mark_candidate",
    "default_provider_factory",
    "poll_task",
]


# --- the provider interface -------------------------------------------------------------------
@dataclass
class LaunchRequest:
    """What a provider needs to start a fine-tune."""

    job_id: int
    dataset_version_id: int
    base_model: str
    suffix: str | None
    epochs: int
    train_path: Path
    validation_path: Path | None
    hyperparameters: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobView:
    """The stored state of a job a provider is asked about (plain data)."""

    id: int
    provider_job_id: str | None
    status: str
    base_model: str
    epochs: int
    dataset_version_id: int
    train_path: Path | None
    validation_path: Path | None
    last_event_id: str | None
    result: dict[str, Any]


@dataclass
class ProviderState:
    """A provider's answer: the job's status and whatever it learned."""

    status: str
    provider_job_id: str | None = None
    training_file_id: str | None = None
    validation_file_id: str | None = None
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: str | None = None
    finished_at: dt.datetime | None = None
    events: list[dict[str, Any]] = field(default_factory=list)  # new events, oldest first
    result: dict[str, Any] = field(default_factory=dict)
    candidate: bool = True  # offer the model to experiments when it succeeded


class FineTuneProvider(Protocol):
    """One fine-tuning backend. Methods do one step and return; they never wait."""

    name: str

    def submit(self, request: LaunchRequest) -> ProviderState:
        """Start the fine-tune (upload files, create the job)."""
        ...

    def check(self, job: JobView, session: Session) -> ProviderState:
        """The job's current state (and new events since ``job.last_event_id``)."""
        ...

    def cancel(self, job: JobView) -> ProviderState:
        """Ask the provider to stop the job."""
        ...


ProviderFactory = Callable[[str], FineTuneProvider]


def default_provider_factory(
    settings: Settings, embedder_loader: Callable[[], Any] | None = None
) -> ProviderFactory:
    """Providers by name: ``openai`` (needs SUPPORTLOOP_OPENAI_API_KEY) or ``local``."""

    def make(name: str) -> FineTuneProvider:
        if name == "openai":
            from core.training.finetune.openai_provider import OpenAIProvider

            return OpenAIProvider(settings)
        if name == "local":
            from core.training.finetune.local_provider import LocalProvider

            return LocalProvider(settings, base_embedder_loader=embedder_loader)
        raise ValidationError(
            f"Unknown fine-tune provider {name!r}; use one of {', '.join(FINETUNE_PROVIDERS)}."
        )

    return make


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


def _view(settings: Settings, job: FineTuneJob) -> JobView:
    version = get_dataset_row(job)
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


def get_dataset_row(job: FineTuneJob):  # noqa: ANN201 - DatasetVersion
    from sqlalchemy.orm import object_session

    return get_dataset(object_session(job), job.dataset_version_id)


# --- launch ----------------------------------------------------------------------------------------
def check_launch(
    session: Session,
    settings: Settings,
    dataset_version_id: int,
    *,
    provider: str = "openai",
    base_model: str | None = None,
    epochs: int | None = None,
    clock: Clock | None = None,
) -> Preflight:
    """The preflight of a launch without launching (``supportloop finetune launch --dry-run``)."""
    if provider not in FINETUNE_PROVIDERS:
        raise ValidationError(f"Unknown provider {provider!r}; use one of {', '.join(FINETUNE_PROVIDERS)}.")
    version = get_dataset(session, dataset_version_id)
    model = base_model or (settings.finetune_base_model if provider == "openai" else "minilm")
    n_epochs = epochs or (
        settings.finetune_epochs if provider == "openai" else settings.local_finetune_epochs
    )
    return preflight(
        session,
        settings,
        version,
        provider=provider,
        base_model=model,
        epochs=n_epochs,
        now=(clock or SystemClock()).now(),
    )


def launch(
    session: Session,
    settings: Settings,
    dataset_version_id: int,
    actor: Any,
    *,
    provider: str = "openai",
    provider_factory: ProviderFactory | None = None,
    base_model: str | None = None,
    epochs: int | None = None,
    suffix: str | None = None,
    clock: Clock | None = None,
) -> JobInfo:
    """An admin launches a fine-tune of an approved dataset. Refused (ValidationError saying what
    is missing) when the preflight fails. The job is stored, then submitted; a provider error
    at submit marks the job failed (with a ``finetune.failed`` event) and is returned, not raised,
    so the failure is kept."""
    clock = clock or SystemClock()
    who = require_admin(session, actor, "launch_finetune")
    pf = check_launch(
        session,
        settings,
        dataset_version_id,
        provider=provider,
        base_model=base_model,
        epochs=epochs,
        clock=clock,
    )
    if not pf.ok:
        raise ValidationError("Fine-tune refused: " + "; ".join(pf.problems) + ".")
    version = get_dataset(session, dataset_version_id)
    paths = dataset_paths(settings, version)
    factory = provider_factory or default_provider_factory(settings)
    backend = factory(provider)
    now = clock.now()
    job = FineTuneJob(
        dataset_version_id=version.id,
        provider=provider,
        status="pending",
        base_model=pf.base_model,
        suffix=(suffix if suffix is not None else settings.finetune_suffix)[:18] or None,
        hyperparameters={"n_epochs": pf.epochs},
        estimated_tokens=pf.estimated_tokens,
        estimated_cost_usd=pf.estimated_cost_usd,
        events=[],
        result={},
        launched_by=who,
        created_at=now,
        updated_at=now,
        poll_count=0,
    )
    session.add(job)
    session.flush()
    request = LaunchRequest(
        job_id=job.id,
        dataset_version_id=version.id,
        base_model=job.base_model,
        suffix=job.suffix,
        epochs=pf.epochs,
        train_path=paths["train"],
        validation_path=paths.get("validation"),
        hyperparameters=dict(job.hyperparameters),
    )
    try:
        state = backend.submit(request)
    except ProviderError as exc:
        state = ProviderState(status="failed", error=f"submit failed: {exc}")
    job.started_at = now
    _apply(session, settings, job, state, clock)
    audit.record(
        session,
        who,
        "finetune.launch",
        "finetune_job",
        job.id,
        after={
            "dataset_version_id": version.id,
            "provider": provider,
            "base_model": job.base_model,
            "estimated_cost_usd": job.estimated_cost_usd,
            "status": job.status,
        },
        clock=clock,
    )
    session.flush()
    return job_info(job)


# --- applying provider answers ----------------------------------------------------------------------
def _actual_cost(settings: Settings, job: FineTuneJob, trained_tokens: int | None) -> float | None:
    if job.provider == "local":
        return 0.0
    if trained_tokens is None:
        return None
    price = price_of(settings, job.base_model)
    return None if price is None else round(trained_tokens * price / 1_000_000, 4)


def _apply(
    session: Session, settings: Settings, job: FineTuneJob, state: ProviderState, clock: Clock
) -> None:
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
    if state.status == "succeeded":
        job.finished_at = state.finished_at or now
        job.actual_cost_usd = _actual_cost(settings, job, job.trained_tokens)
        job.candidate_status = "offered" if state.candidate else "declined"
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
    elif state.status == "failed":
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
    elif state.status == "cancelled":
        job.finished_at = state.finished_at or now
        events.record(
            session,
            "finetune.cancelled",
            f"Fine-tune {job.id} cancelled",
            clock=clock,
            details={"job_id": job.id},
        )


# --- monitoring ----------------------------------------------------------------------------------------
def poll(
    session: Session, provider_factory: ProviderFactory, settings: Settings, clock: Clock | None = None
) -> list[dict[str, Any]]:
    """Advance every open fine-tune job once. A provider that cannot be reached leaves the job
    as it is (the error is kept in ``result['last_poll_error']``, retried next poll). Returns one
    summary per job polled."""
    clock = clock or SystemClock()
    jobs = list(
        session.scalars(
            select(FineTuneJob).where(FineTuneJob.status.in_(FINETUNE_OPEN_STATUSES)).order_by(FineTuneJob.id)
        )
    )
    out = []
    providers: dict[str, FineTuneProvider] = {}
    for job in jobs:
        before = job.status
        job.poll_count = (job.poll_count or 0) + 1
        job.last_polled_at = clock.now()
        try:
            backend = providers.get(job.provider) or providers.setdefault(
                job.provider, provider_factory(job.provider)
            )
            state = backend.check(_view(settings, job), session)
        except SupportloopError as exc:  # unreachable provider, missing key: try again next poll
            job.result = {**(job.result or {}), "last_poll_error": str(exc)[:500]}
            out.append({"job_id": job.id, "status": job.status, "error": str(exc)})
            continue
        result = dict(job.result or {})
        result.pop("last_poll_error", None)
        job.result = result
        _apply(session, settings, job, state, clock)
        out.append(
            {
                "job_id": job.id,
                "from": before,
                "status": job.status,
                "fine_tuned_model": job.fine_tuned_model,
                "error": job.error,
            }
        )
    session.flush()
    return out


def cancel(
    session: Session,
    settings: Settings,
    job_id: int,
    actor: Any,
    *,
    provider_factory: ProviderFactory | None = None,
    clock: Clock | None = None,
) -> JobInfo:
    """An admin cancels an open fine-tune job at its provider."""
    clock = clock or SystemClock()
    who = require_admin(session, actor, "launch_finetune")
    job = _job(session, job_id)
    if job.status not in FINETUNE_OPEN_STATUSES:
        raise Conflict(f"Fine-tune {job.id} is {job.status}; only an open job can be cancelled.")
    backend = (provider_factory or default_provider_factory(settings))(job.provider)
    if job.provider_job_id:
        state = backend.cancel(_view(settings, job))
    else:
        state = ProviderState(status="cancelled")
    _apply(session, settings, job, state, clock)
    audit.record(
        session, who, "finetune.cancel", "finetune_job", job.id, after={"status": job.status}, clock=clock
    )
    session.flush()
    return job_info(job)


# --- reading -----------------------------------------------------------------------------------------
def _job(session: Session, job_id: int) -> FineTuneJob:
    job = session.get(FineTuneJob, job_id)
    if job is None:
        raise NotFound(f"Fine-tune job {job_id} does not exist; `supportloop finetune status` lists them.")
    return job


def get_job(session: Session, job_id: int) -> JobInfo:
    return job_info(_job(session, job_id))


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
        .where(FineTuneJob.status == "succeeded", FineTuneJob.candidate_status == "offered")
        .order_by(FineTuneJob.id)
    )
    return [job_info(j) for j in session.scalars(q)]


def mark_candidate(
    session: Session, job_id: int, status: str, *, actor: str, clock: Clock | None = None
) -> JobInfo:
    """The experiments side marks an offered model ``taken`` (an experiment uses it) or
    ``declined``."""
    if status not in CANDIDATE_STATUSES:
        raise ValidationError(
            f"Unknown candidate status {status!r}; use one of {', '.join(CANDIDATE_STATUSES)}."
        )
    job = _job(session, job_id)
    if job.status != "succeeded":
        raise Conflict(f"Fine-tune {job.id} is {job.status}; only a succeeded fine-tune is a candidate.")
    before = {"candidate_status": job.candidate_status}
    job.candidate_status = status
    audit.record(
        session,
        actor,
        "finetune.candidate",
        "finetune_job",
        job.id,
        before=before,
        after={"candidate_status": status},
        clock=clock,
    )
    session.flush()
    return job_info(job)


def poll_task(ctx) -> dict[str, Any]:  # noqa: ANN001 - core.ops.tasks.TaskContext
    """The job runner's adapter (core.ops.tasks): poll every open fine-tune once."""
    factory = default_provider_factory(ctx.settings, embedder_loader=ctx.embedder)
    with ctx.session() as s:
        return {"polled": poll(s, factory, ctx.settings, ctx.clock)}
