"""`supportloop apikey ...`: API keys for machine callers (metrics readers, channel ingest)."""

from __future__ import annotations

import click

from cli import handle_errors, main, open_db
from core.access import apikeys
from core.platform.db import session_scope
from core.platform.models import CHANNELS


@main.group("apikey")
def apikey_group() -> None:
    """Create, list and revoke API keys (only their SHA-256 is stored)."""


@apikey_group.command("create")
@click.option("--scope", default=None, help="read, or ingest:<channel>.")
@click.option("--channel", type=click.Choice(CHANNELS), default=None,
              help="An ingest key for this channel (same as --scope ingest:<channel>).")
@click.option("--name", default=None, help="Who uses the key (default: the scope).")
@handle_errors
def apikey_create(scope: str | None, channel: str | None, name: str | None) -> None:
    """Create a key and print it once."""
    scope = apikeys.scope_for(scope or ("read" if not channel else None), channel)
    _, factory = open_db()
    with session_scope(factory) as s:
        key_id, plaintext = apikeys.create_api_key(s, scope, name or scope)
    click.echo(f"created key {key_id} with scope {scope}; store it now, it is not shown again:")
    click.echo(plaintext)


@apikey_group.command("list")
@handle_errors
def apikey_list() -> None:
    """Every key: id, scope, name, prefix, last use, revoked."""
    _, factory = open_db()
    with session_scope(factory) as s:
        rows = apikeys.list_api_keys(s)
    if not rows:
        click.echo("no API keys")
    for k in rows:
        state = f"revoked {k.revoked_at}" if k.revoked_at else f"last used {k.last_used_at or 'never'}"
        click.echo(f"{k.id:>4} {k.scope:<16} {k.name:<24} {k.prefix}...  {state}")


@apikey_group.command("revoke")
@click.argument("key_id", type=int)
@handle_errors
def apikey_revoke(key_id: int) -> None:
    """Revoke key KEY_ID; it stops working at once."""
    _, factory = open_db()
    with session_scope(factory) as s:
        apikeys.revoke_api_key(s, key_id)
    click.echo(f"revoked key {key_id}")
