"""`supportloop import` (conversations from files) and `supportloop purge` (retention)."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from cli import acting, actor_option, handle_errors, main, served_embedder, transaction
from core.conversations.importers import FORMATS
from core.conversations.ingest import import_file
from core.conversations.retention import purge
from core.enrichment import enrich
from core.platform.config import get_settings
from core.platform.errors import ImportFailed
from core.platform.pii import get_scrubber


@main.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="File format; by default from the extension (.jsonl .csv .vtt .json).")
@click.option("--skip-invalid", is_flag=True,
              help="Import the valid conversations and write the invalid rows to a rejects file.")
@click.option("--rejects", "rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="Where --skip-invalid writes rejected rows (default PATH.rejects.jsonl).")
@handle_errors
def import_cmd(path: Path, fmt: str | None, skip_invalid: bool, rejects: Path | None) -> None:
    """Import conversations from a file, scrubbing PII on the way in and enriching them
    (intents, profanity flags, tone scores).

    Nothing is written unless every row is valid (or --skip-invalid); conversations
    already imported are skipped, so running it twice creates no duplicates.
    """
    settings = get_settings()
    click.echo("loading the PII scrubber and the embedding model ...", err=True)
    enricher = enrich.get_enricher(settings, served_embedder())  # opens (and checks) the database first
    scrubber = get_scrubber(settings)
    bar = tqdm(total=0, unit="msg", desc="importing", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        with transaction() as session:
            report = import_file(session, path, scrubber, settings, fmt=fmt, skip_invalid=skip_invalid,
                                 rejects_path=rejects, progress=progress, enricher=enricher)
    except ImportFailed as exc:
        bar.close()
        for p in exc.problems[:50]:
            click.echo(f"  {p}", err=True)
        if len(exc.problems) > 50:
            click.echo(f"  ... and {len(exc.problems) - 50} more", err=True)
        raise
    bar.close()
    click.echo(report.summary())
    if report.rejected_rows:
        for p in report.problems[:20]:
            click.echo(f"  rejected: {p}", err=True)


@main.command("purge")
@actor_option()
@handle_errors
def purge_cmd(actor: str | None) -> None:
    """Clear personal data older than the retention window: raw message text, identifiers
    (hashed) and free text (scrubbed again), in every table; prints what it cleared per field."""
    settings = get_settings()
    with acting(actor) as (session, who):
        report = purge(session, settings, actor=who)
    click.echo(report.summary(settings.retention_days))
