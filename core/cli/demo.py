"""`supportloop demo`: load the deterministic hibachi-catering demo data."""

from __future__ import annotations

import click
from tqdm import tqdm

from core.cli import handle_errors, main, open_db
from core.config import get_settings


@main.command("demo")
@click.option("--size", type=click.Choice(["small", "full"]), default="full", show_default=True,
              help="small: about 150 conversations; full: 90 days, over 5,000 conversations.")
@click.option("--if-empty", is_flag=True,
              help="Do nothing when the database already has conversations (used by `make run`).")
@click.option("--seed", type=int, default=None,
              help="Seed of the generator (default SUPPORTLOOP_DEMO_SEED); same seed, same data.")
@handle_errors
def demo_cmd(size: str, if_empty: bool, seed: int | None) -> None:
    """Load demo data: a hibachi catering business with 90 days of conversations ending now.

    Every message is scrubbed on the way in, like any other import. Loading twice with the
    same seed skips the conversations already there.
    """
    from core.db import is_empty, session_scope
    from core.demo import load_demo
    from core.pii import get_scrubber

    settings = get_settings()
    _engine, factory = open_db()
    if if_empty:
        with session_scope(factory) as session:
            if not is_empty(session):
                click.echo("The database already has conversations; demo data not loaded.")
                return
    click.echo("loading the PII scrubber ...", err=True)
    scrubber = get_scrubber(settings)
    bar = tqdm(total=0, unit="conv", desc=f"demo ({size})", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        with session_scope(factory) as session:
            report = load_demo(session, scrubber, settings, size=size, seed=seed, if_empty=if_empty,
                               progress=progress)
    finally:
        bar.close()
    click.echo(report.summary())
