"""Launching and cancelling fine-tunes (the ``launch_finetune`` right).

``launch``: the dataset must be approved and pass ``preflight`` (minimum examples, price
known, quarterly budget); the job row is stored, then submitted to its provider. ``cancel``
cancels an open job at its provider. ``check_launch`` is the preflight alone (``--dry-run``
and the dashboard's cost preview).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.platform import audit
from core.platform.actors import Actor, require
from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import Conflict, ProviderError, ValidationError
from core.platform.models import FINETUNE_OPEN_STATUSES, FINETUNE_PROVIDERS, FineTuneJob
from core.platform.statuses import FinetuneProvider, FinetuneStatus
from core.training.datasets import dataset_paths, get_dataset
from core.training.finetune.factory import default_provider_factory
from core.training.finetune.jobs import JobInfo, apply_state, get_job_row, job_info, job_view
from core.training.finetune.preflight import Preflight, preflight
from core.training.finetune.provider import LaunchRequest, ProviderFactory, ProviderState

PERMISSION = "launch_finetune"


def check_launch(
    session: Session,
    settings: Settings,
    dataset_version_id: int,
    *,
    provider: str = FinetuneProvider.OPENAI,
    base_model: str | None = None,
    epochs: int | None = None,
    clock: Clock | None = None,
) -> Preflight:
    """The preflight of a launch without launching (``supportloop finetune launch --dry-run``)."""
    if provider not in FINETUNE_PROVIDERS:
        raise ValidationError(f"Unknown provider {provider!r}; use one of {', '.join(FINETUNE_PROVIDERS)}.")
    version = get_dataset(session, dataset_version_id)
    model = base_model or (settings.finetune_base_model if provider == FinetuneProvider.OPENAI else "minilm")
    n_epochs = epochs or (
        settings.finetune_epochs if provider == FinetuneProvider.OPENAI else settings.local_finetune_epochs
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
    actor: Actor,
    *,
    provider: str = FinetuneProvider.OPENAI,
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
    require(actor, PERMISSION)
    who = actor.name
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
        status=FinetuneStatus.PENDING,
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
        state = ProviderState(status=FinetuneStatus.FAILED, error=f"submit failed: {exc}")
    job.started_at = now
    apply_state(session, settings, job, state, clock)
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


def cancel(
    session: Session,
    settings: Settings,
    job_id: int,
    actor: Actor,
    *,
    provider_factory: ProviderFactory | None = None,
    clock: Clock | None = None,
) -> JobInfo:
    """An admin cancels an open fine-tune job at its provider."""
    clock = clock or SystemClock()
    require(actor, PERMISSION)
    who = actor.name
    job = get_job_row(session, job_id)
    if job.status not in FINETUNE_OPEN_STATUSES:
        raise Conflict(f"Fine-tune {job.id} is {job.status}; only an open job can be cancelled.")
    backend = (provider_factory or default_provider_factory(settings))(job.provider)
    if job.provider_job_id:
        state = backend.cancel(job_view(settings, job))
    else:
        state = ProviderState(status=FinetuneStatus.CANCELLED)
    apply_state(session, settings, job, state, clock)
    audit.record(
        session, who, "finetune.cancel", "finetune_job", job.id, after={"status": job.status}, clock=clock
    )
    session.flush()
    return job_info(job)
