"""`supportloop apikey ...`: API keys for machine callers (metrics readers, channel ingest)."""

from __future__ import annotations

import click

from cli import acting, actor_option, choice, handle_errors, main, transaction
from core.access import apikeys
from core.platform.statuses import Channel


@main.group("apikey")
def apikey_group() -> None:
    """Create, list and revoke API keys (only their SHA-256 is stored)."""


@apikey_group.command("create")
@click.option("--scope", default=None, help="read, or ingest:<channel>.")
@click.option("--channel", type=choice(Channel), default=None,
              help="An ingest key for this channel (same as --scope ingest:<channel>).")
@click.option("--name", default=None, help="Who uses the key (default: the scope).")
@actor_option()
@handle_errors
def apikey_create(scope: str | None, channel: str | None, name: str | None, actor: str | None) -> None:
    """Create a key and print it once."""
    scope = apikeys.scope_for(scope or ("read" if not channel else None), channel)
    with acting(actor) as (s, who):
        key_id, plaintext = apikeys.create_api_key(s, scope, name or scope, actor=who)
    click.echo(f"created key {key_id} with scope {scope}; store it now, it is not shown again:")
    click.echo(plaintext)


@apikey_group.command("list")
@handle_errors
def apikey_list() -> None:
    """Every key: id, scope, name, prefix, last use, revoked."""
    with transaction() as s:
        rows = apikeys.list_api_keys(s)
    if not rows:
        click.echo("no API keys")
    for k in rows:
        state = f"revoked {k.revoked_at}" if k.revoked_at else f"last used {k.last_used_at or 'never'}"
        click.echo(f"{k.id:>4} {k.scope:<16} {k.name:<24} {k.prefix}...  {state}")


@apikey_group.command("revoke")
@click.argument("key_id", type=int)
@actor_option()
@handle_errors
def apikey_revoke(key_id: int, actor: str | None) -> None:
    """Revoke key KEY_ID; it stops working at once."""
    with acting(actor) as (s, who):
        apikeys.revoke_api_key(s, key_id, actor=who)
    click.echo(f"revoked key {key_id}")
