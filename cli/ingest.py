"""`supportloop import` (conversations from files) and `supportloop purge` (retention)."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from cli import handle_errors, main, open_db
from core.platform.config import get_settings
from core.platform.errors import ImportFailed


@main.command("import")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv", "vtt", "turns"]),
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
    from core.conversations.ingest import import_file
    from core.enrichment import enrich
    from core.experiments.lifecycle import production_embedder
    from core.platform.db import session_scope
    from core.platform.pii import get_scrubber

    settings = get_settings()
    _engine, factory = open_db()
    click.echo("loading the PII scrubber and the embedding model ...", err=True)
    scrubber = get_scrubber(settings)
    with factory() as s:
        enricher = enrich.get_enricher(settings, production_embedder(s, settings))
    bar = tqdm(total=0, unit="msg", desc="importing", disable=None)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        with session_scope(factory) as session:
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
@handle_errors
def purge_cmd() -> None:
    """Delete raw message text older than the retention window (redacted text stays)."""
    from core.conversations.retention import purge_raw
    from core.platform.db import session_scope

    settings = get_settings()
    _engine, factory = open_db()
    with session_scope(factory) as session:
        count = purge_raw(session, settings)
    click.echo(f"purged the raw text of {count} message(s) older than {settings.retention_days} days")
