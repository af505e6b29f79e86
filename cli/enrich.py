"""`supportloop enrich` (intents, flags, tone scores), `supportloop intents ...` and
`supportloop gaps ...` (knowledge gaps)."""

from __future__ import annotations

import datetime as dt
import json

import click
from tqdm import tqdm

from cli import OPERATOR, acting, actor_option, handle_errors, main, served_embedder, transaction
from cli.jobs import enqueue_and_report
from core.enrichment import enrich, intents
from core.enrichment.gaps import list_gaps, refresh_gaps
from core.platform.config import get_settings
from core.platform.errors import ValidationError


def _since(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            f"--since {value!r} is not a date; use YYYY-MM-DD or YYYY-MM-DDTHH:MM."
        ) from exc


@main.command("enrich")
@click.option("--since", "since", default=None, metavar="DATE",
              help="Enrich messages created on or after DATE (YYYY-MM-DD, UTC); default: all.")
@click.option("--missing", is_flag=True, help="Only messages not enriched yet.")
@click.option("--retrain", is_flag=True, help="Retrain the intent classifier first.")
@click.option("--queue", "queued", is_flag=True,
              help="Enqueue an enrich_backfill job for the job runner instead of running here.")
@click.option("--wait", is_flag=True, help="With --queue: follow the job with a progress bar.")
@handle_errors
def enrich_cmd(since: str | None, missing: bool, retrain: bool, queued: bool, wait: bool) -> None:
    """Back-fill intents, profanity/abuse flags and tone scores (with a progress bar), committing
    every batch; ``--queue`` hands it to the job runner."""
    settings = get_settings()
    when = _since(since)
    if queued or wait:
        if retrain:
            raise ValidationError("--retrain runs here, not with --queue (the queued kb_refresh retrains).")
        params = {"only_missing": missing, **({"since": when.isoformat()} if when else {})}
        enqueue_and_report("enrich_backfill", params, None, wait)
        return
    click.echo("loading the embedding model ...", err=True)
    enricher = enrich.get_enricher(settings, served_embedder())
    if retrain:
        with transaction() as s:
            rep = intents.train_intent_model(s, enricher.embedder, settings, actor=OPERATOR,
                                             reason="enrich --retrain")
        click.echo(f"intent model: {rep.status} ({rep.examples} examples, {len(rep.by_intent)} intents)"
                   + (f": {rep.reason}" if rep.status != "trained" else ""))
    bar = tqdm(total=0, unit="msg", desc="enrich", disable=None)

    try:
        with transaction() as s:

            def progress(done: int, total: int) -> None:
                s.commit()  # one short transaction per batch: readers and the API never wait
                bar.total = total
                bar.update(done - bar.n)

            report = enrich.backfill(s, enricher, when, only_missing=missing, progress=progress)
    finally:
        bar.close()
    click.echo(report.summary())


@main.group("intents")
def intents_group() -> None:
    """The intent classifier: train it, list its versions, correct an intent."""


@intents_group.command("train")
@actor_option()
@handle_errors
def intents_train(actor: str | None) -> None:
    """Train the intent classifier from KB categories, gold examples and admin corrections."""
    embedder = served_embedder()
    with acting(actor) as (s, who):
        rep = intents.train_intent_model(s, embedder, get_settings(), actor=who, reason="manual")
    if rep.status != "trained":
        raise ValidationError(f"Intent model not trained: {rep.reason}.")
    click.echo(f"intent model #{rep.model_id} on {rep.embedder}: {rep.examples} examples, "
               f"train accuracy {rep.train_accuracy:.3f}")
    click.echo("intents: " + ", ".join(f"{k} {v}" for k, v in rep.by_intent.items()))


@intents_group.command("list")
@handle_errors
def intents_list() -> None:
    """Intent models, newest first."""
    with transaction() as s:
        for m in intents.list_models(s):
            click.echo(f"#{m.id} {m.status:8} {m.created_at:%Y-%m-%d %H:%M} {m.model_id} "
                       f"examples={m.examples} intents={len(m.labels)} train_acc={m.train_accuracy}")


@intents_group.command("correct")
@click.argument("intent")
@click.option("--message", "message_id", type=int, default=None, help="Customer message id.")
@click.option("--conversation", "conversation_id", type=int, default=None, help="Conversation id.")
@actor_option(required=True)
@handle_errors
def intents_correct(
    intent: str, message_id: int | None, conversation_id: int | None, actor: str | None
) -> None:
    """Set the INTENT of a message or conversation (training data for the next retrain)."""
    with acting(actor) as (s, who):
        out = intents.correct_intent(
            s, intent, who, message_id=message_id, conversation_id=conversation_id
        )
    click.echo(json.dumps(out))


@main.group("gaps")
def gaps_group() -> None:
    """Knowledge gaps: clusters of questions the assistant handled badly."""


@gaps_group.command("refresh")
@actor_option()
@handle_errors
def gaps_refresh(actor: str | None) -> None:
    """Recluster escalated, low-confidence and down-voted questions now."""
    settings = get_settings()
    embedder = served_embedder()
    with acting(actor) as (s, who):
        rep = refresh_gaps(s, embedder, settings, actor=who)
    click.echo(rep.summary())


@gaps_group.command("list")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines.")
@handle_errors
def gaps_list(limit: int, as_json: bool) -> None:
    """The stored knowledge gaps, biggest first."""
    with transaction() as s:
        rows = list_gaps(s, limit=limit)
    if not rows:
        click.echo("No knowledge gaps stored; run `supportloop gaps refresh`.")
    for g in rows:
        if as_json:
            click.echo(json.dumps(g, default=str))
            continue
        chunk = f"closest chunk #{g['closest_chunk_id']} ({g['closest_chunk_score']:.2f})" \
            if g["closest_chunk_id"] else "no close chunk"
        click.echo(f"#{g['id']} {g['question_count']:4} questions, {g['trend']:7} "
                   f"({g['this_week']} this week / {g['last_week']} last), {g['intent'] or '-'}; {chunk}")
        click.echo(f"    {g['label'][:120]}")
