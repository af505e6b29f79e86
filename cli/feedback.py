"""`supportloop feedback ...`, `supportloop review ...`, `supportloop delivery ...`: the
feedback loop from a shell (e-mail footer, stats, review queue, reply retries)."""

from __future__ import annotations

import json

import click

from cli import acting, actor_option, choice, handle_errors, main, transaction
from core.feedback import links, stats
from core.platform.config import get_settings
from core.platform.notify import Notifier
from core.platform.statuses import ReviewKind
from core.review import decisions, delivery
from core.review import queue as review


@main.group("feedback")
def feedback_group() -> None:
    """Customer feedback: e-mail footer with signed links, statistics."""


@feedback_group.command("footer")
@click.argument("message_id", type=int)
@click.option(
    "--format", "fmt", type=click.Choice(["both", "html", "text"]), default="both", show_default=True
)
@handle_errors
def footer_cmd(message_id: int, fmt: str) -> None:
    """Print the "Was this response helpful?" footer of an assistant message."""
    with transaction() as s:
        f = links.email_footer(message_id, session=s, settings=get_settings())
    if fmt in ("both", "text"):
        click.echo(f.text)
    if fmt in ("both", "html"):
        click.echo(f.html)


@feedback_group.command("stats")
@click.option("--days", type=int, default=7, show_default=True)
@handle_errors
def stats_cmd(days: int) -> None:
    """Votes, feedback rate and CSAT of the last DAYS days, by channel (JSON)."""
    with transaction() as s:
        click.echo(json.dumps(stats.feedback_stats(s, days), default=str, indent=2))


@main.group("review")
def review_group() -> None:
    """The review queue (approve / edit / reject answers, pre-send approval)."""


@review_group.command("refresh")
@click.option("--days", type=int, default=30, show_default=True)
@actor_option()
@handle_errors
def review_refresh(days: int, actor: str | None) -> None:
    """Queue answers with a down vote, low confidence, escalation, low CSAT or stale chunk."""
    with acting(actor) as (s, who):
        added = review.refresh_queue(s, get_settings(), days=days, actor=who)
    click.echo(f"{added} new review reason(s) queued")


@review_group.command("list")
@click.option("--kind", type=choice(ReviewKind), default=None)
@click.option("--limit", type=int, default=20, show_default=True)
@handle_errors
def review_list(kind: str | None, limit: int) -> None:
    """Open items, highest expected value first (redacted text)."""
    with transaction() as s:
        rows = review.list_queue(s, kind=kind, limit=limit)
    for r in rows:
        click.echo(
            f"#{r.id} [{r.kind}] value={r.expected_value:.2f} {','.join(r.reasons)} msg={r.message_id}"
        )
        click.echo(f"   Q: {r.question[:120]}")
        click.echo(f"   A: {r.answer[:120]}")
    if not rows:
        click.echo("the review queue is empty")


@review_group.command("approve")
@click.argument("item_id", type=int)
@actor_option(required=True)
@click.option("--propose-chunk", is_flag=True, help="Also propose the answer as a KB chunk.")
@handle_errors
def review_approve(item_id: int, actor: str, propose_chunk: bool) -> None:
    """Approve an answer (gold training example; a held draft is sent)."""
    settings = get_settings()
    with acting(actor) as (s, who):
        d = decisions.approve(
            s, item_id, who, propose_chunk=propose_chunk, notifier=Notifier(settings), settings=settings
        )
    click.echo(
        f"approved #{d.item_id}: training example {d.training_example_id}"
        + (f", proposed chunk {d.proposed_chunk_id}" if d.proposed_chunk_id else "")
        + (f", delivery {d.delivery_status}" if d.delivery_status else "")
    )
    for note in d.notes:
        click.echo(f"note: {note}")


@review_group.command("reject")
@click.argument("item_id", type=int)
@actor_option(required=True)
@click.option("--reason", required=True)
@handle_errors
def review_reject(item_id: int, actor: str, reason: str) -> None:
    """Reject an answer with a reason (a held draft is never sent)."""
    with acting(actor) as (s, who):
        d = decisions.reject(s, item_id, who, reason)
    click.echo(f"rejected #{d.item_id}" + (f", delivery {d.delivery_status}" if d.delivery_status else ""))


@main.group("delivery")
def delivery_group() -> None:
    """Replies sent through their channel."""


@delivery_group.command("retry")
@handle_errors
def delivery_retry() -> None:
    """Send every reply whose retry time has come."""
    settings = get_settings()
    with transaction() as s:
        r = delivery.retry_due(s, Notifier(settings), settings)
    click.echo(f"attempted {r.attempted}, sent {r.sent}, gave up {r.failed}")
