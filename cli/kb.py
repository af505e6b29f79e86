"""`supportloop kb ...` (the knowledge base) and `supportloop ask`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli import handle_errors, main, open_db
from core.platform.config import get_settings
from core.platform.db import session_scope
from core.platform.errors import ValidationError


def _embedder():
    """The embedder production serves: an embedding model an experiment promoted, else the
    settings' (``core.experiments.lifecycle.production_embedder``)."""
    from core.experiments.lifecycle import production_embedder

    _engine, factory = open_db()
    with factory() as s:
        return production_embedder(s, get_settings())


def _label(chunk_id: int, external_id: str | None) -> str:
    return external_id or f"#{chunk_id}"


@main.group()
def kb() -> None:
    """The knowledge base: chunks, versions, refresh, search."""


@kb.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--status",
    type=click.Choice(["active", "proposed"]),
    default="active",
    show_default=True,
    help="active: part of the next build; proposed: deduplicated by the next refresh.",
)
@click.option("--skip-invalid", is_flag=True, help="Import the valid lines and report the invalid ones.")
@click.option("--scrub", is_flag=True, help="Redact personal data in title and text (loads the PII model).")
@click.option("--actor", default="cli", show_default=True)
@handle_errors
def kb_import(file: Path, status: str, skip_invalid: bool, scrub: bool, actor: str) -> None:
    """Import chunks from a JSONL FILE (title, text, category, optional external_id, metadata)."""
    from core.knowledge.chunks import import_chunks_file

    scrubber = None
    if scrub:
        from core.platform.pii import get_scrubber

        scrubber = get_scrubber(get_settings())
    _, factory = open_db()
    with session_scope(factory) as s:
        rep = import_chunks_file(
            s, file, actor=actor, status=status, skip_invalid=skip_invalid, scrubber=scrubber
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
    default=["active"],
    show_default=True,
    type=click.Choice(["active", "proposed", "archived"]),
)
@handle_errors
def kb_export(file: Path | None, statuses: tuple[str, ...]) -> None:
    """Write chunks as JSONL to FILE (or stdout); the file imports back with `kb import`."""
    from core.knowledge.chunks import export_chunks

    _, factory = open_db()
    with session_scope(factory) as s:
        rows = export_chunks(s, statuses=statuses)
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
    from core.answering.responder import search

    _, factory = open_db()
    embedder = _embedder()
    with session_scope(factory) as s:
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
    from core.knowledge.evaluation import summary
    from core.knowledge.versions import list_versions

    _, factory = open_db()
    with session_scope(factory) as s:
        rows = list_versions(s, limit)
        if not rows:
            click.echo("no KB versions yet: `supportloop kb import FILE` then `supportloop kb refresh`")
        for v in rows:
            mark = "*" if v.status == "active" else " "
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
@click.option("--actor", default="cli", show_default=True)
@handle_errors
def kb_activate(version_id: int, force: bool, actor: str) -> None:
    """Make VERSION_ID the active KB version (its index file is verified first)."""
    from core.knowledge.versions import activate_version

    _, factory = open_db()
    with session_scope(factory) as s:
        v = activate_version(
            s, version_id, get_settings(), actor=actor, force=force, reason="activated by hand"
        )
    click.echo(f"KB version {v.id} is active")


@kb.command("rollback")
@click.option(
    "--to", "to_version", type=int, default=None, help="Version to go back to (default: the previous)."
)
@click.option("--actor", default="cli", show_default=True)
@handle_errors
def kb_rollback(to_version: int | None, actor: str) -> None:
    """Activate the previously active KB version in one step."""
    from core.knowledge.versions import rollback

    _, factory = open_db()
    with session_scope(factory) as s:
        v = rollback(s, get_settings(), actor=actor, to_version_id=to_version)
    click.echo(f"rolled back: KB version {v.id} is active")


@kb.command("refresh")
@click.option("--force", is_flag=True, help="Build a candidate even when nothing changed.")
@click.option("--actor", default="cli", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@handle_errors
def kb_refresh(force: bool, actor: str, as_json: bool) -> None:
    """Run the weekly refresh now: dedupe proposals, build, evaluate, activate or reject."""
    from core.knowledge.refresh import weekly_refresh

    _, factory = open_db()
    embedder = _embedder()
    with session_scope(factory) as s:
        rep = weekly_refresh(
            s,
            embedder,
            get_settings(),
            actor=actor,
            reason="refresh from the command line",
            force=force,
            progress=True,
        )
    click.echo(json.dumps(rep.as_dict(), indent=2, default=str) if as_json else rep.summary())


@kb.command("propose")
@click.option("--text", required=True)
@click.option("--title", default="")
@click.option("--category", default=None)
@click.option("--actor", default="cli", show_default=True)
@handle_errors
def kb_propose(text: str, title: str, category: str | None, actor: str) -> None:
    """Propose a chunk for the next refresh."""
    from core.knowledge.chunks import propose_chunk

    _, factory = open_db()
    with session_scope(factory) as s:
        c = propose_chunk(
            s, text=text, title=title, category=category, source_type="manual", proposed_by=actor
        )
    click.echo(f"chunk {c.id} proposed; it joins the KB at the next `supportloop kb refresh`")


@kb.command("proposals")
@handle_errors
def kb_proposals() -> None:
    """List proposed chunks, and update proposals for existing chunks."""
    from core.knowledge.chunks import list_chunks

    _, factory = open_db()
    with session_scope(factory) as s:
        rows = list_chunks(s, status="proposed", limit=1000)
        for c in rows:
            kind = f"update of #{c.duplicate_of_id}" if c.duplicate_of_id else "new"
            click.echo(f"#{c.id:<6} {kind:<16} [{c.category}] {c.title or c.text[:60]}")
        if not rows:
            click.echo("no proposals")


@kb.command("apply-update")
@click.argument("proposal_id", type=int)
@click.option("--actor", default="cli", show_default=True)
@handle_errors
def kb_apply_update(proposal_id: int, actor: str) -> None:
    """Accept an update proposal: the existing chunk takes its text."""
    from core.knowledge.chunks import apply_update_proposal

    _, factory = open_db()
    with session_scope(factory) as s:
        c = apply_update_proposal(s, proposal_id, actor=actor)
    click.echo(f"chunk {c.id} updated; re-embedded at the next refresh")


@kb.command("stale")
@handle_errors
def kb_stale() -> None:
    """Flag and list chunks not updated or reviewed for SUPPORTLOOP_KB_STALE_DAYS days."""
    from core.knowledge.chunks import flag_stale_chunks

    _, factory = open_db()
    with session_scope(factory) as s:
        rows = flag_stale_chunks(s, get_settings())
    for r in rows:
        click.echo(
            f"{_label(r['id'], r['external_id']):<28} {r['days']:>4} days  [{r['category']}] {r['title']}"
        )
    click.echo(f"{len(rows)} stale chunk(s); mark one checked with `supportloop kb reviewed ID`")


@kb.command("reviewed")
@click.argument("chunk_id", type=int)
@click.option("--actor", default="cli", show_default=True)
@handle_errors
def kb_reviewed(chunk_id: int, actor: str) -> None:
    """Record that CHUNK_ID was checked and is still right (clears its stale flag)."""
    from core.knowledge.chunks import mark_reviewed

    _, factory = open_db()
    with session_scope(factory) as s:
        mark_reviewed(s, chunk_id, actor=actor)
    click.echo(f"chunk {chunk_id} marked reviewed")


@kb.command("eval-import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--actor", default="cli", show_default=True)
@handle_errors
def kb_eval_import(file: Path, actor: str) -> None:
    """Add evaluation questions from JSONL: question plus expected_external_id, expected_answer
    or should_escalate."""
    from core.knowledge.evaluation import import_questions, read_jsonl

    _, factory = open_db()
    with session_scope(factory) as s:
        n = import_questions(s, read_jsonl(file), source="manual", created_by=actor, file=str(file))
    click.echo(f"{n} evaluation questions added")


@kb.command("evaluate")
@click.option("--version", "version_id", type=int, default=None, help="Default: the active version.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def kb_evaluate(version_id: int | None, as_json: bool) -> None:
    """Score a KB version on the evaluation set (hit@1, hit@5, MRR, escalation, accuracy)."""
    from core.knowledge.evaluation import active_questions, evaluate, summary
    from core.knowledge.index import read_index_file
    from core.knowledge.versions import active_version, get_version

    settings = get_settings()
    _, factory = open_db()
    embedder = _embedder()
    with session_scope(factory) as s:
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
    help="Answer one question per line; prints one JSON line per question.",
)
@handle_errors
def ask(question: str | None, file: Path | None) -> None:
    """Answer QUESTION (or every line of --file) from the active KB version, as JSON lines."""
    from core.answering.responder import answer

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
    _, factory = open_db()
    embedder = _embedder()
    with session_scope(factory) as s:
        for q in questions:
            a = answer(s, q, embedder=embedder, settings=settings)
            d = a.as_dict()
            out = {
                "question": q,
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
            click.echo(json.dumps(out, ensure_ascii=False))
            sys.stdout.flush()
