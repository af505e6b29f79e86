"""Monitoring fine-tunes: ``poll`` advances every open job once (the job runner calls it
every ``finetune_poll_seconds``). The state lives in the ``finetune_job`` row, so a restarted
process (new provider object, new session) continues where it was. Nothing here sleeps or
loops waiting: each call does one step and returns.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.platform.clock import Clock, SystemClock
from core.platform.config import Settings
from core.platform.errors import SupportloopError
from core.platform.models import FINETUNE_OPEN_STATUSES, FineTuneJob
from core.training.finetune.factory import default_provider_factory
from core.training.finetune.jobs import apply_state, job_view
from core.training.finetune.provider import FineTuneProvider, ProviderFactory


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
            state = backend.check(job_view(settings, job), session)
        except SupportloopError as exc:  # unreachable provider, missing key: try again next poll
            job.result = {**(job.result or {}), "last_poll_error": str(exc)[:500]}
            out.append({"job_id": job.id, "status": job.status, "error": str(exc)})
            continue
        result = dict(job.result or {})
        result.pop("last_poll_error", None)
        job.result = result
        apply_state(session, settings, job, state, clock)
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


def poll_task(ctx) -> dict[str, Any]:  # noqa: ANN001 - core.ops.tasks.TaskContext
    """The job runner's adapter (core.ops.tasks): poll every open fine-tune once."""
    factory = default_provider_factory(ctx.settings, embedder_loader=ctx.embedder)
    with ctx.session() as s:
        return {"polled": poll(s, factory, ctx.settings, ctx.clock)}
