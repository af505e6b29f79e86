"""The `supportloop` command line: what an operator does from a shell.

Every command works on the database in settings (SUPPORTLOOP_DATABASE_URL). Errors from core
are printed and the command exits 1. Shell access to the host is trusted (see ``main``); the
helpers here open the database, resolve ``--actor`` and print errors, so each command module
only parses options and prints results.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from functools import wraps

import click
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from core.access import auth
from core.answering.routing import production_embedder
from core.platform.actors import SYSTEM, Actor
from core.platform.config import describe_settings, get_settings
from core.platform.db import make_engine, require_current, session_factory, session_scope, upgrade
from core.platform.errors import SupportloopError
from core.platform.services import Embedder

# Who a command acts as without --actor: the trusted shell operator (admin rights; audit rows say "cli").
OPERATOR = dataclasses.replace(SYSTEM, name="cli")

ACTOR_HELP = (
    "The account this command acts as (it must exist and be active; its role decides what is "
    "allowed). Without it the command acts as the shell operator, recorded as 'cli'."
)
REQUIRED_ACTOR_HELP = "Your account name (it must exist and be active; its role decides what is allowed)."


def handle_errors(fn: Callable) -> Callable:
    """Print SupportloopError messages (not tracebacks) and exit 1."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SupportloopError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)

    return wrapper


def actor_option(*, required: bool = False, help: str | None = None) -> Callable:  # noqa: A002
    """The ``--actor NAME`` option of a command that changes state (``acting`` resolves it)."""
    default_help = REQUIRED_ACTOR_HELP if required else ACTOR_HELP
    return click.option("--actor", default=None, required=required, metavar="NAME", help=help or default_help)


def choice(*options: type[StrEnum] | StrEnum) -> click.Choice:
    """A click choice of StrEnum values: whole enums (``choice(ReviewKind)``) or single members.
    Defaults must be plain values (``ChunkStatus.ACTIVE.value``): click matches enum members by name."""
    values = []
    for option in options:
        values += [str(m) for m in option] if isinstance(option, type) else [str(option)]
    return click.Choice(values)


def open_db() -> tuple[Engine, sessionmaker[Session]]:
    """Engine and session factory for the configured database (migrated to head)."""
    settings = get_settings()
    settings.ensure_dirs()
    engine = make_engine(settings.database_url)
    require_current(engine)
    return engine, session_factory(engine)


@contextmanager
def transaction() -> Iterator[Session]:
    """A session on the configured database, committed when the block ends without error."""
    _, factory = open_db()
    with session_scope(factory) as session:
        yield session


@contextmanager
def acting(name: str | None) -> Iterator[tuple[Session, Actor]]:
    """A session (committed when the block ends without error) and the acting user of
    ``--actor NAME``: that account (``auth.actor_for`` refuses an unknown or inactive one), or
    the shell operator when no name was given."""
    with transaction() as session:
        yield session, OPERATOR if name is None else auth.actor_for(session, name)


def served_embedder() -> Embedder:
    """The embedder production serves: an embedding model an experiment promoted, else the
    settings' (``core.answering.routing.production_embedder``)."""
    _, factory = open_db()
    with factory() as session:
        return production_embedder(session, get_settings())


@click.group()
def main() -> None:
    """supportloop: the self-learning layer for an AI customer-support assistant.

    Shell access to the host is trusted: whoever can run this command can read the database
    settings anyway. A command that changes state acts as the account named with --actor NAME
    (which must exist and be active; the command is refused when that account's role lacks
    the right); without --actor it acts as the shell operator, recorded as "cli".
    """


# --- configuration and database -------------------------------------------------------
@main.command("config")
def config_cmd() -> None:
    """Print every setting: environment variable, default and meaning."""
    for row in describe_settings():
        click.echo(f"{row['env']}={row['default']}\n    {row['description']}")


@main.group()
def db() -> None:
    """Create or migrate the database."""


@db.command("upgrade")
@click.option("--revision", default="heads", show_default=True)
@handle_errors
def db_upgrade(revision: str) -> None:
    """Create the database if needed and migrate it to the latest revision."""
    settings = get_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url, revision)
    click.echo(f"database at {revision}: {settings.database_url}")


# The command modules add their commands to ``main``; they import the helpers above, so they load last.
from cli import (  # noqa: E402, F401
    apikeys,
    conversations,
    demo,
    enrich,
    experiments,
    feedback,
    ingest,
    jobs,
    kb,
    pii,
    serve,
    training,
    users,
)
