"""`supportloop demo`: load the deterministic hibachi-catering demo data (now, or as a job)."""

from __future__ import annotations

import click
from sqlalchemy import select
from tqdm import tqdm

from cli import OPERATOR, handle_errors, main, open_db, served_embedder, transaction
from core.demo.job import KIND, demo_params
from core.demo.loader import load_demo
from core.ops import queue
from core.platform.config import get_settings
from core.platform.db import is_empty
from core.platform.models import JobRun
from core.platform.pii import get_scrubber
from core.platform.statuses import JobRunStatus


class _Bar:
    """The Progress of a load in this process: a tqdm bar per phase (Ctrl-C stops it)."""

    def __init__(self, size: str):
        self.size, self.message, self.bar = size, None, None

    def report(self, done: int, total: int | None = None, message: str = "") -> None:
        if message != self.message:
            self.close()
            self.message = message
            self.bar = tqdm(total=total, desc=message or f"demo ({self.size})", disable=None)
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def cancelled(self) -> bool:
        return False

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _enqueue(params: dict, wait: bool) -> None:
    _, factory = open_db()
    with transaction() as s:
        open_q = select(JobRun.id).where(JobRun.job == KIND, JobRun.status.in_(queue.OPEN_STATUSES))
        open_run = s.scalar(open_q.order_by(JobRun.id).limit(1))
        run_id = open_run or queue.enqueue(s, KIND, params, actor=OPERATOR).id
    click.echo(f"demo load {'already queued' if open_run else 'queued'}: job run {run_id} "
               "(the job runner, `python -m jobs`, runs it; `supportloop jobs` shows its progress)")
    if not wait:
        return
    bar = _Bar(params["size"])
    try:
        run = queue.wait(factory, run_id, on_progress=lambda r: bar.report(
            r["progress_done"], r["progress_total"], r["progress_message"] or r["status"]))
    finally:
        bar.close()
    click.echo(f"job run {run_id}: {run['status']}")
    if run["status"] != JobRunStatus.SUCCEEDED:
        raise click.ClickException(run.get("error") or f"the demo load ended {run['status']}")
    summary = (run.get("summary") or {}).get("summary")
    if summary:
        click.echo(summary)


@main.command("demo")
@click.option("--size", type=click.Choice(["small", "full", "large"]), default="full", show_default=True,
              help="small: about 150 conversations; full: 90 days, 2,700 conversations; large: 5,400.")
@click.option("--if-empty", is_flag=True,
              help="Do nothing when the database already has conversations (used by `make run`).")
@click.option("--seed", type=int, default=None,
              help="Seed of the generator (default SUPPORTLOOP_DEMO_SEED); same seed, same data.")
@click.option("--conversations-only", is_flag=True,
              help="Only store the conversations: no KB, enrichment, votes, review queue or metrics.")
@click.option("--queue", "queued", is_flag=True,
              help="Enqueue a demo_load job for the job runner and return at once (one open demo job "
                   "at a time).")
@click.option("--wait", is_flag=True, help="With --queue: follow the job with a progress bar until it ends.")
@handle_errors
def demo_cmd(size: str, if_empty: bool, seed: int | None, conversations_only: bool, queued: bool,
             wait: bool) -> None:
    """Load demo data: a hibachi catering business with 90 days of conversations ending now.

    Every message is scrubbed on the way in, like any other import. Then the learning loop
    runs over them: the demo knowledge base is built and activated, messages are enriched
    (intents, flags, tone), votes, held drafts, the review queue, knowledge gaps, alert rules
    and the metrics roll-up are filled, so every dashboard page has something to show.
    The work is committed in short batches (the API and the dashboard keep answering); an
    interrupted load goes on where it stopped when run again (stored conversations are skipped).
    """
    settings = get_settings()
    if if_empty:
        with transaction() as session:
            if not is_empty(session):
                click.echo("The database already has conversations; demo data not loaded.")
                return
    if queued:
        _enqueue(demo_params({"size": size, "seed": seed, "if_empty": if_empty,
                              "conversations_only": conversations_only}), wait)
        return
    if wait:
        raise click.UsageError("--wait follows a queued job: use it with --queue.")
    click.echo("loading the PII scrubber ...", err=True)
    scrubber = get_scrubber(settings)
    embedder = None
    if not conversations_only:
        click.echo("loading the embedding model ...", err=True)
        embedder = served_embedder()
    bar = _Bar(size)
    try:
        with transaction() as session:
            report = load_demo(session, scrubber, settings, size=size, seed=seed, if_empty=if_empty,
                               progress=bar, embedder=embedder)
    finally:
        bar.close()
    click.echo(report.summary())
