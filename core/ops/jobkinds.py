"""The long actions the job queue runs (``core.ops.queue``): ``run(ctx, params, progress)``.

Each adapter calls the core function of its domain with the job's acting user, reports
progress (per committed batch where the function works in batches, else at phase boundaries)
and stops at the next batch when the run is cancelled. The demo's kind (``demo_load``) lives
in ``core.demo.job``, above ops; the runner process adds it (``jobs.__main__``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.enrichment.enrich import backfill, get_enricher
from core.enrichment.gaps import refresh_gaps
from core.experiments.analysis import compare_performance
from core.ops.queue import JobKind
from core.ops.tasks import Task, TaskContext, _summary, kb_refresh, warm_scrubber
from core.platform.errors import ValidationError
from core.platform.progress import Progress, check_cancelled
from core.platform.statuses import FinetuneProvider, FinetuneStatus
from core.training.builder import build_dataset
from core.training.finetune.factory import default_provider_factory
from core.training.finetune.launch import launch
from core.training.finetune.polling import poll
from core.training.selection import DatasetFilters


def _int(params: dict[str, Any], key: str) -> int:
    try:
        return int(params[key])
    except KeyError:
        raise ValidationError(f"This job needs the parameter {key} (e.g. --param {key}=1).") from None
    except (TypeError, ValueError):
        raise ValidationError(f"Parameter {key} must be a whole number, not {params[key]!r}.") from None


def kb_refresh_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """The KB refresh (build, evaluate, activate if not worse; then retrain intents)."""
    progress.report(0, 2, "building, evaluating and activating the new KB version")
    check_cancelled(progress)
    summary = kb_refresh(ctx)
    progress.report(2, 2, "done")
    return summary


def gaps_refresh_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Recluster the badly handled questions into knowledge gaps."""
    progress.report(0, 3, "loading the embedding model")
    embedder = ctx.embedder()
    check_cancelled(progress)
    with ctx.session() as s:
        report = refresh_gaps(s, embedder, ctx.settings, ctx.clock, actor=ctx.actor, progress=progress)
    return _summary(report)


def dataset_build_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Build a dataset version (left pending approval); params: ``kind``, ``name``,
    ``max_examples``, ``min_quality``, ``since`` (ISO date)."""
    fields: dict[str, Any] = {}
    if "kind" in params:
        fields["kind"] = str(params["kind"])
    if "max_examples" in params:
        fields["max_examples"] = _int(params, "max_examples")
    if "min_quality" in params:
        fields["min_quality"] = float(params["min_quality"])
    if "since" in params:
        fields["since"] = dt.datetime.fromisoformat(str(params["since"]))
    progress.report(0, None, "loading the PII scrubber")
    scrubber = warm_scrubber(ctx.settings)

    def step(stage: str, done: int, total: int) -> None:
        progress.report(done, total, stage)
        check_cancelled(progress)  # nothing is committed before the end: a cancel keeps nothing

    with ctx.session() as s:
        info = build_dataset(s, ctx.settings, scrubber, filters=DatasetFilters(**fields), actor=ctx.actor,
                             name=params.get("name"), clock=ctx.clock, progress=step)
    return _summary(info)


def finetune_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Launch a fine-tune of approved dataset ``dataset_version_id`` (``provider`` openai or
    local). A local fine-tune is trained here too (one step); an OpenAI one is then followed by
    the scheduled ``finetune_poll``."""
    version_id = _int(params, "dataset_version_id")
    provider = str(params.get("provider", FinetuneProvider.OPENAI))
    factory = default_provider_factory(ctx.settings, embedder_loader=ctx.embedder)
    progress.report(0, 2, f"launching the {provider} fine-tune")
    with ctx.session() as s:
        job = launch(s, ctx.settings, version_id, ctx.actor, provider=provider, provider_factory=factory,
                     clock=ctx.clock)
    out: dict[str, Any] = {"finetune_job_id": job.id, "status": job.status}
    if provider == FinetuneProvider.LOCAL and job.status not in (FinetuneStatus.FAILED,):
        check_cancelled(progress)
        progress.report(1, 2, "training the embedding model on the CPU")
        with ctx.session() as s:
            out["polled"] = poll(s, factory, ctx.settings, ctx.clock)
    progress.report(2, 2, "done")
    return _summary(out)


def enrich_backfill_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Enrich messages (``only_missing``: default true; ``since``: ISO date), committing every
    batch so a cancel or a stop keeps what was done and a rerun goes on from there."""
    since = dt.datetime.fromisoformat(str(params["since"])) if params.get("since") else None
    only_missing = str(params.get("only_missing", "true")).lower() not in ("0", "false", "no")
    enricher = get_enricher(ctx.settings, ctx.embedder())
    with ctx.session() as s:

        def step(done: int, total: int) -> None:
            s.commit()  # each batch of whole conversations is committed before the next starts
            progress.report(done, total, "enriching messages")
            check_cancelled(progress)

        report = backfill(s, enricher, since, only_missing=only_missing, clock=ctx.clock, progress=step)
    return _summary(report)


def experiment_analysis_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Compare the arms of experiment ``experiment_id`` (``days``: only the last days)."""
    experiment_id = _int(params, "experiment_id")
    days = _int(params, "days") if params.get("days") not in (None, "") else None
    progress.report(0, 1, f"comparing the arms of experiment {experiment_id}")
    with ctx.session() as s:
        cmp = compare_performance(s, experiment_id, ctx.settings, days=days, clock=ctx.clock)
    progress.report(1, 1, "done")
    return _summary(cmp.as_dict())


JOB_KINDS: tuple[JobKind, ...] = (
    JobKind("kb_refresh", kb_refresh_job, "Build, evaluate and activate a new KB version."),
    JobKind("gaps_refresh", gaps_refresh_job, "Recluster badly handled questions into knowledge gaps."),
    JobKind("dataset_build", dataset_build_job, "Build a training dataset (left pending approval)."),
    JobKind("finetune", finetune_job, "Launch (and, locally, train) a fine-tune of an approved dataset."),
    JobKind("enrich_backfill", enrich_backfill_job, "Enrich messages that are not enriched yet."),
    JobKind("experiment_analysis", experiment_analysis_job, "Compare the arms of an experiment."),
)


def task_kind(task: Task) -> JobKind:
    """A scheduled task run from the queue (``supportloop jobs enqueue metrics``)."""
    return JobKind(task.name, lambda ctx, params, progress: task.run(ctx), task.description)


def default_kinds(tasks: list[Task], extra: tuple[JobKind, ...] = ()) -> dict[str, JobKind]:
    """Every kind the runner executes: each task by name, then the long actions, then ``extra``
    (the demo's kind, from the runner process)."""
    kinds = {t.name: task_kind(t) for t in tasks}
    kinds.update({k.name: k for k in JOB_KINDS + tuple(extra)})
    return kinds
