"""`supportloop demo`: load the deterministic hibachi-catering demo data."""

from __future__ import annotations

import click
from tqdm import tqdm

from cli import handle_errors, main, served_embedder, transaction
from core.demo.loader import load_demo
from core.platform.config import get_settings
from core.platform.db import is_empty
from core.platform.pii import get_scrubber


@main.command("demo")
@click.option("--size", type=click.Choice(["small", "full"]), default="full", show_default=True,
              help="small: about 150 conversations; full: 90 days, over 5,000 conversations.")
@click.option("--if-empty", is_flag=True,
              help="Do nothing when the database already has conversations (used by `make run`).")
@click.option("--seed", type=int, default=None,
              help="Seed of the generator (default SUPPORTLOOP_DEMO_SEED); same seed, same data.")
@click.option("--conversations-only", is_flag=True,
              help="Only store the conversations: no KB, enrichment, votes, review queue or metrics.")
@handle_errors
def demo_cmd(size: str, if_empty: bool, seed: int | None, conversations_only: bool) -> None:
    """Load demo data: a hibachi catering business with 90 days of conversations ending now.

    Every message is scrubbed on the way in, like any other import. Then the learning loop
    runs over them: the demo knowledge base is built and activated, messages are enriched
    (intents, flags, tone), votes, held drafts, the review queue, knowledge gaps, alert rules
    and the metrics roll-up are filled, so every dashboard page has something to show.
    Loading twice with the same seed skips the conversations already there.
    """
    settings = get_settings()
    if if_empty:
        with transaction() as session:
            if not is_empty(session):
                click.echo("The database already has conversations; demo data not loaded.")
                return
    click.echo("loading the PII scrubber ...", err=True)
    scrubber = get_scrubber(settings)
    embedder = None
    if not conversations_only:
        click.echo("loading the embedding model ...", err=True)
        embedder = served_embedder()
    bar = tqdm(total=0, unit="conv", desc=f"demo ({size})", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    def stage(name: str) -> None:
        bar.close()
        click.echo(f"{name} ...", err=True)

    try:
        with transaction() as session:
            report = load_demo(session, scrubber, settings, size=size, seed=seed, if_empty=if_empty,
                               progress=progress, embedder=embedder, on_stage=stage)
    finally:
        bar.close()
    click.echo(report.summary())
