"""`supportloop dataset ...` (training datasets) and `supportloop finetune ...` (fine-tunes)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from tqdm import tqdm

from cli import acting, actor_option, choice, handle_errors, main, transaction
from cli.jobs import enqueue_and_report
from core.platform.config import get_settings
from core.platform.errors import ValidationError
from core.platform.pii import get_scrubber
from core.platform.statuses import (
    DatasetKind,
    DatasetStatus,
    ExperimentMode,
    FinetuneProvider,
    FinetuneStatus,
    TrainingSource,
)
from core.training.builder import build_dataset
from core.training.datasets import (
    approve_dataset,
    export_dataset,
    get_dataset,
    info,
    list_datasets,
    reject_dataset,
)
from core.training.examples import import_examples
from core.training.finetune import jobs as ft_jobs
from core.training.finetune import launch as ft_launch
from core.training.finetune import polling as ft_polling
from core.training.finetune.factory import default_provider_factory
from core.training.selection import DatasetFilters


def _progress():
    bars: dict[str, tqdm] = {}

    def step(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="ex", leave=False)
        bar.total = total
        bar.n = done
        bar.refresh()

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return step, close


def _print_dataset(d, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(d.as_dict(), indent=2, default=str))
        return
    est = " (estimate)" if d.tokens_estimated else ""
    click.echo(f"dataset {d.id}  {d.name}  [{d.kind}]  status: {d.status}")
    click.echo(f"  examples: {d.train_examples} train + {d.validation_examples} validation")
    click.echo(
        f"  tokens:   {d.train_tokens:,} train + {d.validation_tokens:,} validation, "
        f"counted with {d.token_counter}{est}"
    )
    click.echo(f"  files:    {d.train_file} sha256 {d.train_sha256}")
    if d.validation_file:
        click.echo(f"            {d.validation_file} sha256 {d.validation_sha256}")
    click.echo("  skipped:  " + (", ".join(f"{k} {v}" for k, v in d.skipped.items()) or "none"))
    click.echo(f"  built by {d.built_by} at {d.created_at:%Y-%m-%d %H:%M} in {d.build_seconds or 0:.1f}s")
    if d.decided_by:
        click.echo(
            f"  {d.status} by {d.decided_by} at {d.decided_at:%Y-%m-%d %H:%M}"
            + (f": {d.decision_reason}" if d.decision_reason else "")
        )


@main.group()
def dataset() -> None:
    """Training datasets: build, review (approve/reject), export."""


@dataset.command("build")
@click.option("--kind", type=choice(DatasetKind), default=DatasetKind.CHAT.value, show_default=True)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Only examples created since this day.")
@click.option("--only-bookings", is_flag=True, help="Only examples whose conversation led to a booking.")
@click.option("--include-unverified", is_flag=True, help="Also examples no human verified.")
@click.option("--min-quality", type=float, help="Default: SUPPORTLOOP_DATASET_MIN_QUALITY.")
@click.option("--min-rating", type=int, help="Default: SUPPORTLOOP_DATASET_MIN_RATING.")
@click.option("--intent", "intents", multiple=True, help="Only these intents (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only examples with one of these tags (repeatable).")
@click.option(
    "--source", "sources", multiple=True, type=choice(TrainingSource)
)
@click.option("--max-examples", type=int, help="Default: SUPPORTLOOP_DATASET_MAX_EXAMPLES.")
@click.option("--validation-share", type=float, help="Default: SUPPORTLOOP_DATASET_VALIDATION_SHARE.")
@click.option("--name", help="Name of the dataset version (default: quarter, kind and time).")
@actor_option()
@click.option("--json", "as_json", is_flag=True)
@click.option("--queue", "queued", is_flag=True,
              help="Enqueue a dataset_build job for the job runner instead of building here.")
@click.option("--wait", is_flag=True, help="With --queue: follow the job with a progress bar.")
@handle_errors
def dataset_build(
    kind,
    since,
    only_bookings,
    include_unverified,
    min_quality,
    min_rating,
    intents,
    tags,
    sources,
    max_examples,
    validation_share,
    name,
    actor,
    as_json,
    queued,
    wait,
) -> None:
    """Build a PII-free JSONL dataset version from the gold examples (pending approval);
    ``--queue`` hands the build to the job runner (``--wait`` follows it)."""
    settings = get_settings()
    if queued or wait:
        here_only = {"--only-bookings": only_bookings, "--include-unverified": include_unverified,
                     "--min-rating": min_rating is not None, "--intent": intents, "--tag": tags,
                     "--source": sources, "--validation-share": validation_share is not None}
        if any(here_only.values()):
            raise ValidationError(f"{', '.join(k for k, v in here_only.items() if v)} only work(s) "
                                  "without --queue (the queued build takes --kind, --since, --min-quality, "
                                  "--max-examples and --name).")
        params = {"kind": str(kind), **({"since": since.date().isoformat()} if since else {}),
                  **({"min_quality": min_quality} if min_quality is not None else {}),
                  **({"max_examples": max_examples} if max_examples is not None else {}),
                  **({"name": name} if name else {})}
        enqueue_and_report("dataset_build", params, actor, wait)
        return
    filters = DatasetFilters(
        kind=kind,
        human_verified=not include_unverified,
        min_quality=min_quality,
        min_rating=min_rating,
        only_bookings=only_bookings,
        since=since,
        intents=list(intents) or None,
        tags=list(tags) or None,
        sources=list(sources) or None,
        max_examples=max_examples,
        validation_share=validation_share,
    )
    click.echo("loading the PII scrubber ...", err=True)
    scrubber = get_scrubber(settings)
    step, close = _progress()
    try:
        with acting(actor) as (s, who):
            d = build_dataset(
                s, settings, scrubber, filters=filters, actor=who, name=name, progress=step
            )
    finally:
        close()
    _print_dataset(d, as_json)
    if not as_json:
        click.echo(f"an admin approves it with `supportloop dataset approve {d.id} --actor NAME`")


@dataset.command("list")
@click.option("--status", type=choice(DatasetStatus))
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def dataset_list(status, as_json) -> None:
    """Dataset versions, newest first."""
    with transaction() as s:
        rows = list_datasets(s, status=status)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, default=str))
        return
    if not rows:
        click.echo("no datasets yet: `supportloop dataset build`")
    for d in rows:
        est = "~" if d.tokens_estimated else ""
        click.echo(
            f"{d.id:>5}  {d.status:<16} {d.kind:<5} {d.examples:>6} examples {est}{d.tokens:>10,} tokens  "
            f"{d.created_at:%Y-%m-%d %H:%M}  {d.name}"
        )


@dataset.command("show")
@click.argument("version_id", type=int)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def dataset_show(version_id, as_json) -> None:
    """One dataset version: counts, skipped by reason, tokens, files, decision."""
    with transaction() as s:
        d = info(get_dataset(s, version_id))
    _print_dataset(d, as_json)
    if not as_json:
        click.echo(f"  counts:   {json.dumps(d.counts)}")


@dataset.command("approve")
@click.argument("version_id", type=int)
@actor_option(required=True, help="Your admin account name.")
@handle_errors
def dataset_approve(version_id, actor) -> None:
    """Approve a pending dataset (admins only); only approved datasets can train."""
    with acting(actor) as (s, who):
        d = approve_dataset(s, get_settings(), version_id, who)
    click.echo(f"dataset {d.id} approved by {d.decided_by}")


@dataset.command("reject")
@click.argument("version_id", type=int)
@actor_option(required=True, help="Your admin account name.")
@click.option("--reason", required=True)
@handle_errors
def dataset_reject(version_id, actor, reason) -> None:
    """Reject a pending dataset with a reason (admins only)."""
    with acting(actor) as (s, who):
        d = reject_dataset(s, get_settings(), version_id, who, reason)
    click.echo(f"dataset {d.id} rejected by {d.decided_by}: {d.decision_reason}")


@dataset.command("export")
@click.argument("version_id", type=int)
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@actor_option()
@handle_errors
def dataset_export(version_id, dest, actor) -> None:
    """Copy an approved dataset's JSONL files to DEST (checksums and every line verified)."""
    with acting(actor) as (s, who):
        out = export_dataset(s, get_settings(), version_id, dest, actor=who)
    for split, f in out["files"].items():
        click.echo(f"{split}: {f['path']}  {f['lines']} lines, {f['tokens']:,} tokens, sha256 {f['sha256']}")


@dataset.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--source", type=choice(TrainingSource.IMPORTED, TrainingSource.GENERATED),
              default=TrainingSource.IMPORTED.value, show_default=True)
@actor_option()
@handle_errors
def dataset_import(file, source, actor) -> None:
    """Add training examples from a JSONL FILE (question, answer, optional intent, tags, channel,
    voice, quality_score, human_verified, led_to_booking); both texts are scrubbed."""
    records = []
    for n, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValidationError(
                    f"{file}:{n}: not valid JSON ({exc.msg}); nothing was imported."
                ) from None
    scrubber = get_scrubber(get_settings())
    with acting(actor) as (s, who):
        ids = import_examples(s, records, scrubber, actor=who, source=source)
    click.echo(f"{len(ids)} training examples added ({source})")


# --- fine-tunes ------------------------------------------------------------------------------------
def _print_job(j, as_json: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(j.as_dict(), indent=2, default=str))
        return
    cost = (
        f"${j.actual_cost_usd:.2f}" if j.actual_cost_usd is not None else f"~${j.estimated_cost_usd:.2f} est."
    )
    click.echo(
        f"fine-tune {j.id}  [{j.provider}] {j.base_model}  dataset {j.dataset_version_id}  "
        f"status: {j.status}  cost {cost}"
    )
    if j.provider_job_id:
        click.echo(f"  provider job: {j.provider_job_id}")
    if j.fine_tuned_model:
        click.echo(
            f"  model: {j.fine_tuned_model}  trained tokens: {j.trained_tokens}  "
            f"candidate: {j.candidate_status}"
        )
    if j.error:
        click.echo(f"  error: {j.error}")
    for ev in j.events[-5:]:
        click.echo(f"  {ev.get('at') or ''} {ev.get('level', '')}: {ev.get('message', '')}")
    if j.result.get("gate"):
        click.echo(
            f"  KB gate: {j.result['gate']} (KB version {j.result.get('kb_version_id')}) "
            f"{j.result.get('candidate') or ''}"
        )


@main.group()
def finetune() -> None:
    """Fine-tunes of approved datasets: launch, status, cancel."""


@finetune.command("launch")
@click.argument("dataset_version", type=int)
@actor_option(required=True, help="Your admin account name.")
@click.option("--provider", type=choice(FinetuneProvider), default=FinetuneProvider.OPENAI.value,
              show_default=True)
@click.option("--base-model", help="Default: SUPPORTLOOP_FINETUNE_BASE_MODEL (openai).")
@click.option("--epochs", type=int)
@click.option("--suffix")
@click.option("--dry-run", is_flag=True, help="Only run the preflight (examples, cost, budget).")
@click.option("--wait", is_flag=True, help="local: follow the training job with a progress bar.")
@handle_errors
def finetune_launch(dataset_version, actor, provider, base_model, epochs, suffix, dry_run, wait) -> None:
    """Launch a fine-tune of an approved DATASET_VERSION (admins only), after the preflight. A
    local one is queued for the job runner, which trains it (progress and cancel on the job run)."""
    settings = get_settings()
    with transaction() as s:
        pf = ft_launch.check_launch(
            s, settings, dataset_version, provider=provider, base_model=base_model, epochs=epochs
        )
    est = " (token estimate)" if pf.tokens_estimated else ""
    click.echo(
        f"preflight: {pf.examples} examples (min {pf.min_examples}), {pf.estimated_tokens:,} trained tokens"
        f"{est}, estimated ${pf.estimated_cost_usd:.2f}; {pf.quarter} spent ${pf.quarter_spent_usd:.2f} "
        f"of ${pf.budget_usd:.2f}"
    )
    for p in pf.problems:
        click.echo(f"  - {p}", err=True)
    if dry_run:
        sys.exit(0 if pf.ok else 1)
    if provider == FinetuneProvider.LOCAL:  # trained by the job runner, with progress and cancel
        if not pf.ok:
            raise ValidationError("Fine-tune refused: " + "; ".join(pf.problems) + ".")
        params = {"dataset_version_id": dataset_version, "provider": provider,
                  **({"epochs": epochs} if epochs else {})}
        enqueue_and_report("finetune", params, actor, wait)
        return
    with acting(actor) as (s, who):
        j = ft_launch.launch(
            s,
            settings,
            dataset_version,
            who,
            provider=provider,
            base_model=base_model,
            epochs=epochs,
            suffix=suffix,
        )
    _print_job(j)
    if j.status == FinetuneStatus.FAILED:
        sys.exit(1)
    click.echo("the job runner polls it every minute; or run `supportloop finetune status --poll`")


@finetune.command("status")
@click.argument("job_id", type=int, required=False)
@click.option(
    "--poll", "do_poll", is_flag=True,
    help="Ask the provider about every open OpenAI job first (local jobs are trained by the job runner)."
)
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def finetune_status(job_id, do_poll, as_json) -> None:
    """Show one fine-tune job, or list them."""
    settings = get_settings()
    if do_poll:
        with tqdm(total=1, desc="poll", leave=False) as bar, transaction() as s:
            ft_polling.poll(s, default_provider_factory(settings), settings)
            bar.update(1)
    with transaction() as s:
        jobs = [ft_jobs.get_job(s, job_id)] if job_id else ft_jobs.list_jobs(s)
    if as_json:
        click.echo(json.dumps([j.as_dict() for j in jobs], indent=2, default=str))
        return
    if not jobs:
        click.echo("no fine-tunes yet: `supportloop finetune launch DATASET_VERSION --actor ADMIN`")
    for j in jobs:
        _print_job(j)


@finetune.command("cancel")
@click.argument("job_id", type=int)
@actor_option(required=True, help="Your admin account name.")
@handle_errors
def finetune_cancel(job_id, actor) -> None:
    """Cancel an open fine-tune job (admins only)."""
    settings = get_settings()
    with acting(actor) as (s, who):
        j = ft_launch.cancel(s, settings, job_id, who)
    _print_job(j)


@finetune.command("loop")
@click.option("--mode", type=choice(ExperimentMode), help="How the new embedder is tested (default: "
              "SUPPORTLOOP_LOCAL_FINETUNE_EXPERIMENT_MODE, shadow).")
@click.option("--share", type=float, help="Share of users in the experiment (default from settings).")
@click.option("--no-experiment", is_flag=True, help="Only train and gate; start no experiment.")
@click.option("--wait", is_flag=True, help="Follow the job with a progress bar; exit 1 unless it succeeds.")
@actor_option()
@handle_errors
def finetune_loop(mode, share, no_experiment, wait, actor) -> None:
    """Queue the loop's embedding fine-tune now (it also runs quarterly): a dataset of the approved
    and corrected answers, a candidate embedder trained on it, its KB version through the gate,
    then an experiment against production. Promotion stays an admin's decision."""
    params: dict = {"start": not no_experiment}
    if mode:
        params["mode"] = mode
    if share is not None:
        params["share"] = share
    enqueue_and_report("embedding_finetune", params, actor, wait)
