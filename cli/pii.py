"""`supportloop pii scan [FILE|-]`: check the PII scrubber on your own data.

Reads one text per line (UTF-8) and writes one JSON object per line:
{"text": cleaned, "entities": [{"type", "start", "end", "score"}], "safe": bool}.
"""

from __future__ import annotations

import json
import sys

import click
from tqdm import tqdm

from cli import handle_errors, main
from core.platform.config import get_settings
from core.platform.pii import get_scrubber

_BATCH = 256


@main.group("pii")
def pii_group() -> None:
    """Scrub personal data from text."""


@pii_group.command("scan")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--progress/--no-progress", default=None,
              help="Show a progress bar on stderr (default: when reading a file).")
@handle_errors
def scan(source, progress: bool | None) -> None:  # noqa: ANN001
    """Scrub every line of SOURCE (a file, or - for stdin) and print one JSON object per line."""
    scrubber = get_scrubber(get_settings())
    show = progress if progress is not None else source.name not in ("<stdin>", "-")
    bar = tqdm(unit=" lines", file=sys.stderr, disable=not show)
    batch: list[str] = []

    def flush() -> None:
        for res in scrubber.scrub_batch(batch):
            click.echo(json.dumps(res.to_dict(), ensure_ascii=False))
        bar.update(len(batch))
        batch.clear()

    for line in source:
        batch.append(line.rstrip("\r\n"))
        if len(batch) >= _BATCH:
            flush()
    flush()
    bar.close()
