"""`supportloop conversations ...`: conversations from the shell (``close``; see docs/conversations.md;
``list`` and ``show``: the read-back, redacted text only, like ``GET /api/v1/conversations``)."""

from __future__ import annotations

import json

import click

from cli import acting, actor_option, choice, handle_errors, main, transaction
from core.conversations import lifecycle, queries
from core.platform.statuses import Channel, ConversationStatus


@main.group("conversations")
def conversations_group() -> None:
    """Read and close conversations."""


@conversations_group.command("close")
@click.argument("conversation_id", type=click.IntRange(min=1))
@click.option("--resolution", default=None, help="How it ended (free text, up to 200 characters).")
@actor_option()
@handle_errors
def close(conversation_id: int, resolution: str | None, actor: str | None) -> None:
    """Close conversation CONVERSATION_ID now and recompute its outcome (a later customer
    message reopens it). Needs the review right."""
    with acting(actor) as (session, who):
        conv = lifecycle.close_conversation(session, conversation_id, actor=who, resolution=resolution)
        out = {
            "conversation_id": conv.id,
            "status": str(conv.status),
            "closed_at": conv.closed_at.isoformat() if conv.closed_at else None,
            "resolution": conv.resolution,
            "handed_off": conv.escalated_at is not None,
            "successful_outcome": bool(conv.outcome.successful_outcome) if conv.outcome else False,
        }
    click.echo(json.dumps(out))


SINCE_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]


def _table_row(item: dict) -> str:
    created = (item["created_at"] or "")[:16].replace("T", " ")
    text = item["first_message"].replace("\n", " ")[:60]
    head = f"{item['id']:>7}  {item['channel']:<9} {item['status']:<9} {created:<16}"
    return f"{head} {item['messages']:>4}  {text}"


@conversations_group.command("list")
@click.option("--channel", type=choice(Channel), default=None, help="Only this channel.")
@click.option("--status", type=choice(ConversationStatus), default=None, help="Only this status.")
@click.option("--since", type=click.DateTime(SINCE_FORMATS), default=None,
              help="Only conversations started at or after this UTC date/time.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=queries.DEFAULT_PAGE, show_default=True,
              help="How many (newest stored first).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@handle_errors
def list_cmd(channel: str | None, status: str | None, since, limit: int, as_json: bool) -> None:
    """Conversations, newest stored first, with their first (redacted) message."""
    left, cursor = limit, None
    with transaction() as session:
        if not as_json:
            click.echo(f"{'id':>7}  {'channel':<9} {'status':<9} {'started (UTC)':<16} {'msgs':>4}  "
                       "first message")
        while left > 0:
            page = queries.conversation_page(session, channel=channel, status=status, since=since,
                                             limit=min(left, queries.MAX_PAGE), cursor=cursor)
            for item in page.items:
                click.echo(json.dumps(item) if as_json else _table_row(item))
            left -= len(page.items)
            cursor = page.next_cursor
            if cursor is None:
                break


@conversations_group.command("show")
@click.argument("conversation_id", type=click.IntRange(min=1))
@click.option("--json", "as_json", is_flag=True, help="Print the conversation as one JSON object.")
@handle_errors
def show_cmd(conversation_id: int, as_json: bool) -> None:
    """One conversation, its outcome and its messages (redacted text only)."""
    with transaction() as session:
        detail = queries.conversation_detail(session, conversation_id)
    if as_json:
        click.echo(json.dumps(detail))
        return
    click.echo(f"conversation {detail['id']} ({detail['channel']}, {detail['status']}), started "
               f"{detail['created_at']}" + (f", closed {detail['closed_at']}" if detail["closed_at"] else ""))
    if detail["escalated_at"]:
        click.echo(f"  handed off {detail['escalated_at']}: {detail['escalation_reason'] or ''}")
    out = detail["outcome"]
    if out:
        click.echo(f"  booked {'yes' if out['booking_converted'] else 'no'}, CSAT {out['csat'] or '-'}, "
                   f"down votes {out['down_votes']}, "
                   f"successful {'yes' if out['successful_outcome'] else 'no'}")
    for m in detail["transcript"]:
        click.echo(f"  [{(m['created_at'] or '')[:19]}] {m['role']:<9} {m['text']}")
