"""`supportloop jobs|metrics|alerts ...`: background tasks, the job queue, metric roll-ups and
alerts by hand.

Long work is enqueued (``jobs enqueue KIND``, core.ops.queue) and run by the job runner;
``--wait`` follows it with a progress bar. ``jobs run NAME`` runs a scheduled task in this
process through core.ops.tasks (the same code path, locks and job_run rows as the runner).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from tqdm import tqdm

from cli import OPERATOR, acting, actor_option, choice, handle_errors, main, open_db, transaction
from core.ops import alerts, jobruns, metrics, queue, rollup
from core.ops.tasks import Task, TaskContext, default_registry, describe_tasks, get_task, job_health, run_now
from core.platform.clock import SystemClock
from core.platform.config import get_settings
from core.platform.errors import ValidationError
from core.platform.statuses import AlertState, JobRunStatus


def _context() -> tuple[TaskContext, list[Task]]:
    """The task context and registry the runner uses, acting as the shell operator."""
    settings = get_settings()
    _, factory = open_db()
    tasks = default_registry(settings)
    return TaskContext(factory, settings, SystemClock(), actor=OPERATOR, tasks=tasks), tasks


# --- jobs ----------------------------------------------------------------------------------
@main.group("jobs")
def jobs_group() -> None:
    """Background tasks: what exists, when it runs, run one now."""


def progress_line(run: dict[str, Any]) -> str:
    """One line for a queued or running run: id, kind, status, progress, message."""
    done, total = run["progress_done"], run["progress_total"]
    figures = f"{done}/{total} ({run['percent']:.0f}%)" if total else (str(done) if done else "-")
    note = run["progress_message"] or ""
    if run["cancel_requested"] and run["status"] == JobRunStatus.RUNNING:
        note = "cancelling; " + note
    return (f"{run['id']:>6} {run['job']:<20} {run['status']:<9} {figures:<18} "
            f"by {run['requested_by'] or '-':<10} {note}")


@jobs_group.command("list")
@handle_errors
def jobs_list() -> None:
    """Queued and running job runs with their progress, every task with its schedule, last run
    and next due time, and the runners seen."""
    ctx, tasks = _context()
    with ctx.session() as s:
        open_runs = queue.open_runs(s)
        rows = describe_tasks(s, ctx.settings, ctx.clock, tasks)
        beats = jobruns.heartbeats(s, ctx.clock)
    click.echo("queued and running:" if open_runs else "queued and running: none")
    for run in open_runs:
        click.echo(progress_line(run))
    click.echo("tasks:")
    for r in rows:
        click.echo(f"{r['name']:<18} {r['schedule']:<34} last: {r['last_status'] or '-':<10} "
                   f"{r['last_started_at'] or '':<27} next: {r['next_due_at'] or '-'}")
    for b in beats[:5]:
        state = "alive" if b["alive"] else "stopped" if b["stopped_at"] else "silent"
        click.echo(f"runner {b['runner']}: {state}, last seen {b['last_seen_at']}"
                   + (f", running {b['current_job']}" if b["current_job"] else ""))
    if not any(b["alive"] for b in beats) and open_runs:
        click.secho("No job runner is alive: queued runs wait until one starts "
                    "(`python -m jobs` or `supportloop serve`).", fg="yellow", err=True)


def parse_params(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``k=v`` pairs as a dict (``v`` read as JSON when it parses: numbers, true/false, lists)."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--param takes KEY=VALUE, not {pair!r}.")
        try:
            params[key.strip()] = json.loads(value)
        except ValueError:
            params[key.strip()] = value
    return params


def wait_for(run_id: int) -> dict[str, Any]:
    """Follow run ``run_id`` with a progress bar until it ends; exit 1 unless it succeeded."""
    _, factory = open_db()
    bar = tqdm(total=None, desc=f"run {run_id}", unit="", disable=None, file=sys.stderr)

    def show(run: dict[str, Any]) -> None:
        if run["progress_total"] is not None and bar.total != run["progress_total"]:
            bar.total = run["progress_total"]
        bar.n = run["progress_done"]
        bar.set_postfix_str(f"{run['status']}: {run['progress_message'] or ''}"[:60], refresh=False)
        bar.refresh()

    try:
        final = queue.wait(factory, run_id, on_progress=show)
    finally:
        bar.close()
    click.echo(json.dumps({k: final[k] for k in ("id", "job", "status", "error", "summary")}, default=str,
                          indent=2))
    if final["status"] != JobRunStatus.SUCCEEDED:
        reason = (final["error"] or "").splitlines()[0] if final["error"] else final["status"]
        raise click.ClickException(f"run {run_id} ({final['job']}) {final['status']}: {reason}")
    return final


def enqueue_and_report(kind: str, params: dict[str, Any], actor: str | None, wait: bool) -> int:
    """Enqueue ``kind`` as ``actor``, say so, and follow it when ``wait``; returns the run id."""
    names = {t.name for t in default_registry(get_settings())}
    with acting(actor) as (s, who):
        run = queue.enqueue(s, kind, params, actor=who, clock=SystemClock(), task_names=names)
        run_id = run.id
    click.echo(f"queued {kind} as job run {run_id}; follow it with `supportloop jobs list` or "
               f"`supportloop jobs wait {run_id}`, stop it with `supportloop jobs cancel {run_id}`", err=True)
    if wait:
        wait_for(run_id)
    else:
        click.echo(run_id)
    return run_id


@jobs_group.command("enqueue")
@click.argument("kind")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE",
              help="A parameter of the job (repeatable), e.g. --param dataset_version_id=3.")
@click.option("--wait", is_flag=True, help="Follow the run with a progress bar; exit 1 unless it succeeds.")
@actor_option()
@handle_errors
def jobs_enqueue(kind: str, params: tuple[str, ...], wait: bool, actor: str | None) -> None:
    """Queue long work KIND for the job runner (kb_refresh, dataset_build, finetune,
    gaps_refresh, enrich_backfill, experiment_analysis, demo_load, or any task name); prints
    the run id."""
    enqueue_and_report(kind, parse_params(params), actor, wait)


@jobs_group.command("wait")
@click.argument("run_id", type=int)
@handle_errors
def jobs_wait(run_id: int) -> None:
    """Follow job run RUN_ID with a progress bar until it ends; exit 1 unless it succeeded."""
    wait_for(run_id)


@jobs_group.command("cancel")
@click.argument("run_id", type=int)
@actor_option()
@handle_errors
def jobs_cancel(run_id: int, actor: str | None) -> None:
    """Cancel job run RUN_ID: a queued run at once, a running one at its next batch."""
    with acting(actor) as (s, who):
        run = queue.cancel(s, run_id, actor=who, clock=SystemClock())
    if run["status"] == JobRunStatus.CANCELLED:
        click.echo(f"run {run_id} ({run['job']}) cancelled")
    else:
        click.echo(f"run {run_id} ({run['job']}) asked to stop; it stops at its next batch")


@jobs_group.command("run")
@click.argument("name")
@actor_option()
@handle_errors
def jobs_run(name: str, actor: str | None) -> None:
    """Run task NAME now in this process (whether due or not), recorded as a manual job run.
    Long work is better queued: `supportloop jobs enqueue NAME --wait`."""
    ctx, tasks = _context()
    with acting(actor) as (_, who):
        task = get_task(tasks, name)
    runner = jobruns.runner_id()
    with jobruns.beating(ctx.session_factory, runner, ctx.clock, current_job=name):
        result = run_now(ctx, task, runner, actor=who)
    click.echo(json.dumps({"job": result.job, "status": result.status, "run_id": result.run_id,
                           "summary": result.summary}, default=str, indent=2))
    if result.status == "locked":
        raise click.ClickException(f"{name} is running in another process; try again when it is done.")
    if result.status != "succeeded":
        raise click.ClickException(f"{name} failed: {result.error}")


@jobs_group.command("runs")
@click.option("--job", default=None, help="Only this task.")
@click.option("--limit", default=20, show_default=True)
@handle_errors
def jobs_runs(job: str | None, limit: int) -> None:
    """Recent job runs, newest first."""
    with transaction() as s:
        for r in jobruns.recent_runs(s, job, limit):
            took = f"{r['seconds']:.1f}s" if r["seconds"] is not None else "-"
            click.echo(f"{r['id']:>6} {r['job']:<18} {r['status']:<10} {r['started_at']} {took:>8} "
                       f"{r['trigger']:<8} {(r['error'] or '').splitlines()[0] if r['error'] else ''}")


# --- metrics -------------------------------------------------------------------------------
@main.group("metrics")
def metrics_group() -> None:
    """Metric roll-ups and the dashboard figures."""


@metrics_group.command("rollup")
@click.option("--full", is_flag=True, help="Rebuild every day instead of the days touched since last time.")
@handle_errors
def metrics_rollup(full: bool) -> None:
    """Roll metrics up now (the runner does this every few minutes)."""
    with transaction() as s:
        result = rollup.rollup(s, SystemClock(), full=full)
    click.echo(f"rebuilt {result['days_rebuilt']} day(s) in {result['seconds']:.2f}s")


@metrics_group.command("show")
@click.option("--days", default=7, show_default=True)
@click.option("--channel", default=None)
@handle_errors
def metrics_show(days: int, channel: str | None) -> None:
    """Print the dashboard KPIs (value, previous period, change) as read from the roll-ups."""
    with transaction() as s:
        board = metrics.dashboard(s, days, channel, SystemClock(),
                                  training_target=get_settings().training_examples_quarter_target)
    click.echo(f"{board['period']['start']} .. {board['period']['end']}"
               f" (rolled up {board['rolled_up_at'] or 'never'})")
    for name, k in board["kpis"].items():
        click.echo(f"  {name:<28} {k['value']!s:>12}  previous {k['previous']!s:>12}  change {k['change']}")


# --- alerts --------------------------------------------------------------------------------
@main.group("alerts")
def alerts_group() -> None:
    """Alert rules and alerts."""


@alerts_group.command("check")
@handle_errors
def alerts_check() -> None:
    """Evaluate every rule now and send what fired or resolved."""
    ctx, tasks = _context()
    with ctx.session() as s:
        health = job_health(s, ctx.settings, ctx.clock, tasks)
        result = alerts.check_alerts(s, ctx.settings, ctx.clock, ctx.notifier(), job_health=health)
    click.echo(json.dumps(result, indent=2))


@alerts_group.command("list")
@click.option("--state", type=choice(AlertState), default=None)
@click.option("--limit", default=20, show_default=True)
@handle_errors
def alerts_list(state: str | None, limit: int) -> None:
    """Alerts, newest first."""
    with transaction() as s:
        rows = alerts.list_alerts(s, state=state, limit=limit)
    if not rows:
        click.echo("no alerts")
    for a in rows:
        click.echo(f"{a['id']:>5} {a['state']:<9} {a['fired_at']}  {a['title']}\n      {a['message']}")


@alerts_group.command("rules")
@handle_errors
def alerts_rules() -> None:
    """The alert rules (the defaults are added when there are none)."""
    clock = SystemClock()
    with transaction() as s:
        if not alerts.list_rules(s):
            alerts.seed_default_rules(s, clock)
        rows = alerts.list_rules(s)
    for r in rows:
        thr = "budget" if r["threshold"] is None else r["threshold"]
        click.echo(f"{'on ' if r['enabled'] else 'off'} {r['name']:<24} {r['metric']} {r['comparison']} {thr}"
                   f"  window {r['window_minutes']}-{r['max_window_minutes']} min, min volume "
                   f"{r['min_volume']}, cooldown {r['cooldown_minutes']} min"
                   + (f", channel {r['channel']}" if r["channel"] else ""))


@alerts_group.command("set")
@click.argument("name")
@click.option("--threshold", type=float, default=None)
@click.option("--window", "window_minutes", type=int, default=None, help="Starting window, minutes.")
@click.option("--min-volume", type=int, default=None)
@click.option("--cooldown", "cooldown_minutes", type=int, default=None, help="Minutes.")
@click.option("--enable/--disable", "enabled", default=None)
@actor_option()
@handle_errors
def alerts_set(name: str, actor: str | None, **changes) -> None:
    """Change alert rule NAME."""
    changes = {k: v for k, v in changes.items() if v is not None}
    with acting(actor) as (s, who):
        if not alerts.list_rules(s):
            alerts.seed_default_rules(s, SystemClock())
        rule = alerts.update_rule(s, name, SystemClock(), actor=who, **changes)
    click.echo(json.dumps(rule, indent=2))
