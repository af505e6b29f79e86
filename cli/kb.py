"""`supportloop kb ...` (the knowledge base) and `supportloop ask`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli import acting, actor_option, choice, handle_errors, main, served_embedder, transaction
from cli.jobs import enqueue_and_report
from core.answering.responder import Answer, answer, answer_many
from core.knowledge.chunks import (
    apply_update_proposal,
    export_checked,
    import_chunks_file,
    mark_reviewed,
    propose_chunk,
)
from core.knowledge.evaluation import active_questions, evaluate, import_questions, read_jsonl, summary
from core.knowledge.index import read_index_file, search
from core.knowledge.proposals import archive, list_proposals, reject_proposal, retitle
from core.knowledge.refresh import weekly_refresh
from core.knowledge.staleness import flag_stale_chunks
from core.knowledge.versions import (
    activate_version,
    active_version,
    get_version,
    list_versions,
    prune_index_files,
    rollback,
)
from core.platform.config import get_settings
from core.platform.errors import ValidationError
from core.platform.pii import get_scrubber
from core.platform.statuses import ChunkStatus, KBVersionStatus


def _label(chunk_id: int, external_id: str | None) -> str:
    return external_id or f"#{chunk_id}"


@main.group()
def kb() -> None:
    """The knowledge base: chunks, versions, refresh, search."""


@kb.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--status",
    type=choice(ChunkStatus.ACTIVE, ChunkStatus.PROPOSED),
    default=ChunkStatus.ACTIVE.value,
    show_default=True,
    help="active: part of the next build; proposed: deduplicated by the next refresh.",
)
@click.option("--skip-invalid", is_flag=True, help="Import the valid lines and report the invalid ones.")
@click.option("--scrub", is_flag=True, help="Redact personal data in title and text (loads the PII model).")
@actor_option()
@handle_errors
def kb_import(file: Path, status: str, skip_invalid: bool, scrub: bool, actor: str | None) -> None:
    """Import chunks from a JSONL FILE (title, text, category, optional external_id, metadata)."""
    scrubber = get_scrubber(get_settings()) if scrub else None
    with acting(actor) as (s, who):
        rep = import_chunks_file(
            s, file, actor=who, status=status, skip_invalid=skip_invalid, scrubber=scrubber
        )
    click.echo(
        f"chunks: {rep.created} created, {rep.updated} updated, {rep.unchanged} unchanged, "
        f"{len(rep.rejected)} rejected"
    )
    for p in rep.rejected:
        click.echo(f"  rejected {p}", err=True)
    click.echo("run `supportloop kb refresh` to build and activate a KB version with them")


@kb.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--status",
    "statuses",
    multiple=True,
    default=[ChunkStatus.ACTIVE.value],
    show_default=True,
    type=choice(ChunkStatus),
)
@handle_errors
def kb_export(file: Path | None, statuses: tuple[str, ...]) -> None:
    """Write chunks as JSONL to FILE (or stdout); the file imports back with `kb import`.
    The independent PII check runs first: flagged chunks stop the export."""
    with transaction() as s:
        rows = export_checked(s, statuses=statuses)
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if file:
        file.write_text(text, encoding="utf-8")
        click.echo(f"{len(rows)} chunks written to {file}")
    else:
        click.echo(text, nl=False)


@kb.command("search")
@click.argument("query")
@click.option("-k", default=5, show_default=True, help="How many chunks.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@handle_errors
def kb_search(query: str, k: int, as_json: bool) -> None:
    """Show the chunks of the active KB version closest to QUERY."""
    embedder = served_embedder()
    with transaction() as s:
        hits = search(s, query, k, embedder=embedder, settings=get_settings())
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "rank": h.rank,
                        "chunk_id": h.chunk_id,
                        "external_id": h.external_id,
                        "score": round(h.score, 4),
                        "category": h.category,
                        "title": h.title,
                    }
                    for h in hits
                ],
                indent=2,
            )
        )
        return
    for h in hits:
        click.echo(f"{h.rank}. {h.score:.3f}  {_label(h.chunk_id, h.external_id)}  [{h.category}] {h.title}")


@kb.command("versions")
@click.option("--limit", default=20, show_default=True)
@handle_errors
def kb_versions(limit: int) -> None:
    """List KB versions, newest first, with status and evaluation."""
    with transaction() as s:
        rows = list_versions(s, limit)
        if not rows:
            click.echo("no KB versions yet: `supportloop kb import FILE` then `supportloop kb refresh`")
        for v in rows:
            mark = "*" if v.status == KBVersionStatus.ACTIVE else " "
            click.echo(
                f"{mark} v{v.id:<4} {v.status:<9} {v.chunk_count:>7} chunks  {v.index_kind:<5} "
                f"{v.created_at:%Y-%m-%d %H:%M}  by {v.built_by}  {v.model_id}"
            )
            click.echo(f"         {summary(v.eval_report)}")
            if v.decision:
                click.echo(f"         decision: {v.decision}")


@kb.command("activate")
@click.argument("version_id", type=int)
@click.option("--force", is_flag=True, help="Activate even a version the gate rejected.")
@actor_option()
@handle_errors
def kb_activate(version_id: int, force: bool, actor: str | None) -> None:
    """Make VERSION_ID the active KB version (its index file is verified first)."""
    with acting(actor) as (s, who):
        v = activate_version(
            s, version_id, get_settings(), actor=who, force=force, reason="activated by hand"
        )
    click.echo(f"KB version {v.id} is active")


@kb.command("rollback")
@click.option(
    "--to", "to_version", type=int, default=None, help="Version to go back to (default: the previous)."
)
@actor_option()
@handle_errors
def kb_rollback(to_version: int | None, actor: str | None) -> None:
    """Activate the previously active KB version in one step."""
    with acting(actor) as (s, who):
        v = rollback(s, get_settings(), actor=who, to_version_id=to_version)
    click.echo(f"rolled back: KB version {v.id} is active")


@kb.command("prune")
@click.option("--dry-run", is_flag=True, help="Only list what would be deleted.")
@actor_option()
@handle_errors
def kb_prune(dry_run: bool, actor: str | None) -> None:
    """Delete index files no KB version needs (never the active or rollback versions)."""
    with acting(actor) as (s, who):
        report = prune_index_files(s, get_settings(), actor=who, dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    for name in report.deleted:
        click.echo(f"{verb} {name}")
    click.echo(f"{verb} {len(report.deleted)} file(s), {report.freed_bytes / 1e6:.1f} MB; "
               f"kept {len(report.kept)}")


@kb.command("refresh")
@click.option("--force", is_flag=True, help="Build a candidate even when nothing changed.")
@actor_option()
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--queue", "queued", is_flag=True,
              help="Enqueue a kb_refresh job for the job runner instead of running here.")
@click.option("--wait", is_flag=True, help="With --queue: follow the job with a progress bar.")
@handle_errors
def kb_refresh(force: bool, actor: str | None, as_json: bool, queued: bool, wait: bool) -> None:
    """Run the weekly refresh now: dedupe proposals, build, evaluate, activate or reject;
    ``--queue`` hands it to the job runner (``--wait`` follows it)."""
    if queued or wait:
        if force:
            raise ValidationError("--force runs here only; the queued refresh builds when something changed.")
        enqueue_and_report("kb_refresh", {}, actor, wait)
        return
    embedder = served_embedder()
    with acting(actor) as (s, who):
        rep = weekly_refresh(
            s,
            embedder,
            get_settings(),
            actor=who,
            reason="refresh from the command line",
            force=force,
            progress=True,
            checkpoint=s.commit,
        )
    click.echo(json.dumps(rep.as_dict(), indent=2, default=str) if as_json else rep.summary())


@kb.command("propose")
@click.option("--text", required=True)
@click.option("--title", default="")
@click.option("--category", default=None)
@actor_option()
@handle_errors
def kb_propose(text: str, title: str, category: str | None, actor: str | None) -> None:
    """Propose a chunk for the next refresh."""
    with acting(actor) as (s, who):
        c = propose_chunk(
            s, text=text, title=title, category=category, source_type="manual", actor=who
        )
    click.echo(f"chunk {c.id} proposed; it joins the KB at the next `supportloop kb refresh`")


@kb.command("proposals")
@handle_errors
def kb_proposals() -> None:
    """List proposed chunks, update proposals for existing chunks, and why a proposal waits."""
    with transaction() as s:
        rows = list_proposals(s, limit=1000)
        for p in rows:
            kind = f"update of #{p.update_of}" if p.update_of else "new"
            click.echo(f"#{p.id:<6} {kind:<16} [{p.category}] {p.title or p.text[:60]}")
            if p.waits_because:
                click.echo(f"        waits: {p.waits_because}")
        if not rows:
            click.echo("no proposals")


@kb.command("reject")
@click.argument("chunk_id", type=int)
@click.option("--reason", required=True, help="Why it never joins the KB (kept with it, scrubbed).")
@actor_option()
@handle_errors
def kb_reject(chunk_id: int, reason: str, actor: str | None) -> None:
    """Reject the proposed chunk CHUNK_ID: it is archived and never joins the KB."""
    with acting(actor) as (s, who):
        reject_proposal(s, chunk_id, actor=who, reason=reason)
    click.echo(f"proposal {chunk_id} rejected")


@kb.command("archive")
@click.argument("chunk_id", type=int)
@actor_option()
@handle_errors
def kb_archive(chunk_id: int, actor: str | None) -> None:
    """Archive CHUNK_ID: it leaves the KB from the next version on."""
    with acting(actor) as (s, who):
        archive(s, chunk_id, actor=who)
    click.echo(f"chunk {chunk_id} archived; the next `supportloop kb refresh` builds a version without it")


@kb.command("title")
@click.argument("chunk_id", type=int)
@click.argument("title")
@actor_option()
@handle_errors
def kb_title(chunk_id: int, title: str, actor: str | None) -> None:
    """Give CHUNK_ID (a proposal, or any chunk for an admin) the title TITLE."""
    with acting(actor) as (s, who):
        c = retitle(s, chunk_id, title, actor=who)
    click.echo(f"chunk {c.id} is titled {c.title!r}")


@kb.command("apply-update")
@click.argument("proposal_id", type=int)
@actor_option()
@handle_errors
def kb_apply_update(proposal_id: int, actor: str | None) -> None:
    """Accept an update proposal: the existing chunk takes its text."""
    with acting(actor) as (s, who):
        c = apply_update_proposal(s, proposal_id, actor=who)
    click.echo(f"chunk {c.id} updated; re-embedded at the next refresh")


@kb.command("stale")
@handle_errors
def kb_stale() -> None:
    """Flag and list chunks not updated or reviewed for SUPPORTLOOP_KB_STALE_DAYS days."""
    with transaction() as s:
        rows = flag_stale_chunks(s, get_settings())
    for r in rows:
        click.echo(
            f"{_label(r['id'], r['external_id']):<28} {r['days']:>4} days  [{r['category']}] {r['title']}"
        )
    click.echo(f"{len(rows)} stale chunk(s); mark one checked with `supportloop kb reviewed ID`")


@kb.command("reviewed")
@click.argument("chunk_id", type=int)
@actor_option()
@handle_errors
def kb_reviewed(chunk_id: int, actor: str | None) -> None:
    """Record that CHUNK_ID was checked and is still right (clears its stale flag)."""
    with acting(actor) as (s, who):
        mark_reviewed(s, chunk_id, actor=who)
    click.echo(f"chunk {chunk_id} marked reviewed")


@kb.command("eval-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@actor_option()
@handle_errors
def kb_eval_import(file: Path, actor: str | None) -> None:
    """Add evaluation questions from JSONL: question plus expected_external_id, expected_answer
    or should_escalate."""
    with acting(actor) as (s, who):
        n = import_questions(s, read_jsonl(file), source="manual", actor=who, file=str(file))
    click.echo(f"{n} evaluation questions added")


@kb.command("evaluate")
@click.option("--version", "version_id", type=int, default=None, help="Default: the active version.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def kb_evaluate(version_id: int | None, as_json: bool) -> None:
    """Score a KB version on the evaluation set (hit@1, hit@5, MRR, escalation, accuracy)."""
    settings = get_settings()
    embedder = served_embedder()
    with transaction() as s:
        v = get_version(s, version_id) if version_id else active_version(s)
        if v is None:
            raise ValidationError(
                "There is no active KB version; pass --version or run `supportloop kb refresh`."
            )
        idx = read_index_file(Path(settings.index_dir) / v.index_file, v.checksum, version_id=v.id)
        rep = evaluate(idx, active_questions(s), embedder, settings)
    click.echo(json.dumps(rep, indent=2) if as_json else f"v{v.id}: {summary(rep)}")


@main.command("ask")
@click.argument("question", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Answer one question per line, in batches; prints one JSON line per question.",
)
@click.option("--batch-size", type=click.IntRange(min=1), default=512, show_default=True,
              help="Questions per batch with --file (one embedding call and one index search each).")
@handle_errors
def ask(question: str | None, file: Path | None, batch_size: int) -> None:
    """Answer QUESTION (or every line of --file) from the active KB version, as JSON lines.

    With --file the questions are answered in batches (``core.answering.responder.answer_many``):
    the same decision ``answer`` makes for each, with ``latency_ms`` the batch's time per question."""
    if bool(question) == bool(file):
        raise ValidationError("Give a QUESTION or --file FILE (one of them).")
    questions = (
        [question]
        if question
        else [ln.strip() for ln in file.read_text(encoding="utf-8").splitlines() if ln.strip()]
    )
    if not questions:
        raise ValidationError(f"{file} has no questions (one per line).")
    settings = get_settings()
    embedder = served_embedder()
    with transaction() as s:
        answers = (
            answer_many(s, questions, embedder=embedder, settings=settings, batch_size=batch_size)
            if file
            else iter([answer(s, question, embedder=embedder, settings=settings)])
        )
        for q, a in zip(questions, answers, strict=True):
            click.echo(json.dumps(ask_line(q, a), ensure_ascii=False))
        sys.stdout.flush()


def ask_line(question: str, a: Answer) -> dict:
    """One JSON line of ``ask``."""
    d = a.as_dict()
    out = {
        "question": question,
        "answer": d["text"],
        "confidence": d["confidence"],
        "escalated": d["escalated"],
        "chunks": d["retrieved"],
        "used_chunk_ids": d["used_chunk_ids"],
        "kb_version_id": d["kb_version_id"],
        "model_used": d["model_used"],
        "latency_ms": d["latency_ms"],
    }
    if a.error:
        out["error"] = a.error
    return out
