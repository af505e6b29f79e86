"""`supportloop pii scan [FILE|-]`: check the PII scrubber on your own data;
`supportloop pii check [FILE|-]`: run the independent export check over it;
`supportloop pii approve`: an admin lets a flagged text leave (dataset line or chunk).

Reads one text per line (UTF-8) and writes one JSON object per line:
{"text": cleaned, "entities": [{"type", "start", "end", "score"}], "safe": bool}.
"""

from __future__ import annotations

import json
import sys

import click
from tqdm import tqdm

from cli import acting, actor_option, handle_errors, main
from core.knowledge.chunks import approve_chunk_text
from core.platform.config import get_settings
from core.platform.pii import get_scrubber
from core.platform.pii_check import get_checker
from core.training.datasets import approve_example, approve_line

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


@pii_group.command("check")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@handle_errors
def check(source) -> None:  # noqa: ANN001
    """Run the independent export check (not the scrubber) over every line of SOURCE; print the
    flagged lines with their entity types; exit 1 when anything is flagged."""
    lines = [line.rstrip("\r\n") for line in source]
    flagged = get_checker(get_settings()).check_lines(lines)
    for f in flagged:
        click.echo(f.describe())
    if flagged:
        raise SystemExit(1)
    click.echo(f"{len(lines)} line(s) checked, nothing flagged")


@pii_group.command("approve")
@click.option("--dataset", "dataset_id", type=int, help="A dataset version (with --split and --line).")
@click.option("--split", default="train", show_default=True)
@click.option("--line", type=int, help="The 1-based line of the dataset file.")
@click.option("--chunk", "chunk_id", type=int, help="A chunk (its current title and text).")
@click.option("--example", "example_id", type=int, help="A training example a dataset build refused.")
@actor_option()
@handle_errors
def approve(dataset_id: int | None, split: str, line: int | None, chunk_id: int | None,
            example_id: int | None, actor: str | None) -> None:
    """An admin approves a text the independent PII check flagged, after reading it: exactly
    that (redacted) text may then leave (dataset build and export, KB promotion and export)."""
    given = [x for x in (dataset_id, chunk_id, example_id) if x is not None]
    if len(given) != 1 or (dataset_id is not None and line is None):
        raise click.UsageError("Give --dataset ID --line N [--split S], --chunk ID or --example ID.")
    with acting(actor) as (s, who):
        if example_id is not None:
            keys = approve_example(s, example_id, get_scrubber(get_settings()), actor=who)
            what = f"training example {example_id}"
        elif chunk_id is not None:
            keys = [approve_chunk_text(s, chunk_id, actor=who)]
            what = f"chunk {chunk_id}"
        else:
            keys = approve_line(s, get_settings(), dataset_id, split, line, actor=who)
            what = f"dataset {dataset_id} {split} line {line}"
    click.echo(f"approved {len(keys)} text(s) of {what} for export (recorded in the audit log)")
