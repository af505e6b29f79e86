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
from core.experiments.cycle import CycleOutcome, embedding_finetune_cycle
from core.ops.queue import JobKind
from core.ops.tasks import Task, TaskContext, _summary, kb_refresh, warm_scrubber
from core.platform.db import commit_batch
from core.platform.errors import SupportloopError, ValidationError
from core.platform.progress import Progress, check_cancelled
from core.platform.statuses import FinetuneProvider, FinetuneStatus
from core.training.builder import build_dataset
from core.training.datasets import export_dataset, export_dir
from core.training.finetune.factory import default_provider_factory
from core.training.finetune.jobs import JobInfo
from core.training.finetune.launch import launch
from core.training.finetune.local_run import run_local_job
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


def dataset_export_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Export approved dataset ``dataset_version_id`` (checksums, validation and the independent PII
    check on every line) to its export folder, where the dashboard offers the files."""
    version_id = _int(params, "dataset_version_id")
    progress.report(0, 1, "checking every line and copying the files")
    with ctx.session() as s:
        dest = export_dir(ctx.settings, version_id)
        out = export_dataset(s, ctx.settings, version_id, dest, actor=ctx.actor)
    progress.report(1, 1, "done")
    return _summary({split: {"lines": f.get("lines"), "tokens": f.get("tokens")}
                     for split, f in out["files"].items()})


def finetune_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Launch a fine-tune of approved dataset ``dataset_version_id`` (``provider`` openai or
    local; ``epochs``), or take already launched local fine-tune ``finetune_job_id``. A local fine-tune is
    trained here (``run_local_job``: progress per training step, cancel between steps); an
    OpenAI one is then followed by the scheduled ``finetune_poll``."""
    provider = str(params.get("provider", FinetuneProvider.OPENAI))
    if params.get("finetune_job_id") not in (None, ""):
        job_id, provider = _int(params, "finetune_job_id"), FinetuneProvider.LOCAL
    else:
        version_id = _int(params, "dataset_version_id")
        progress.report(0, None, f"launching the {provider} fine-tune")
        factory = default_provider_factory(ctx.settings, embedder_loader=ctx.embedder)
        with ctx.session() as s:
            job = launch(s, ctx.settings, version_id, ctx.actor, provider=provider, provider_factory=factory,
                         epochs=_int(params, "epochs") if params.get("epochs") else None, clock=ctx.clock)
        if provider != FinetuneProvider.LOCAL or job.status == FinetuneStatus.FAILED:
            return _finetune_summary(job)
        job_id = job.id
    check_cancelled(progress)
    done = run_local_job(ctx.session_factory, ctx.settings, job_id, actor=ctx.actor, progress=progress,
                         base_embedder=ctx.embedder(), clock=ctx.clock)
    return _finetune_summary(done)


def _finetune_summary(job: JobInfo) -> dict[str, Any]:
    """The run's summary of a fine-tune; a failed one fails the run with its error."""
    if job.status == FinetuneStatus.FAILED:
        raise SupportloopError(f"Fine-tune {job.id} failed: {job.error}")
    keep = ("gate", "kb_version_id", "pairs", "steps", "train_seconds", "candidate", "active", "reasons")
    kept = {k: job.result[k] for k in keep if k in job.result}
    return _summary({"finetune_job_id": job.id, "status": job.status, "model": job.fine_tuned_model,
                     "candidate_status": job.candidate_status, **kept})


def embedding_finetune_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """The loop's embedding fine-tune (``core.experiments.cycle``): dataset of approved and
    corrected answers, local training, candidate KB version through the gate, then an
    experiment; params ``mode`` (shadow / split), ``share`` and ``start`` (false: no experiment)."""
    share = float(params["share"]) if params.get("share") not in (None, "") else None
    start = str(params.get("start", "true")).lower() not in ("0", "false", "no")
    progress.report(0, None, "loading the PII scrubber and the embedding model")
    scrubber = warm_scrubber(ctx.settings)
    report = embedding_finetune_cycle(ctx.session_factory, ctx.settings, actor=ctx.actor, scrubber=scrubber,
                                      base_embedder=ctx.embedder(), progress=progress, clock=ctx.clock,
                                      mode=params.get("mode") or None, share=share, start=start)
    if report.outcome == CycleOutcome.FAILED:
        raise SupportloopError(report.reason)
    return _summary(report.as_dict())


def enrich_backfill_job(ctx: TaskContext, params: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """Enrich messages (``only_missing``: default true; ``since``: ISO date), committing every
    batch so a cancel or a stop keeps what was done and a rerun goes on from there."""
    since = dt.datetime.fromisoformat(str(params["since"])) if params.get("since") else None
    only_missing = str(params.get("only_missing", "true")).lower() not in ("0", "false", "no")
    enricher = get_enricher(ctx.settings, ctx.embedder())
    with ctx.session() as s:

        def step(done: int, total: int) -> None:
            commit_batch(s)  # each batch of whole conversations is committed before the next starts
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
    JobKind("dataset_export", dataset_export_job, "Export an approved dataset's checked JSONL files."),
    JobKind("finetune", finetune_job, "Launch (and, locally, train) a fine-tune of an approved dataset."),
    JobKind("embedding_finetune", embedding_finetune_job,
            "Train a candidate embedder on approved answers, gate it and start an experiment."),
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
